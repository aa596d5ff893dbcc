//! Crypto-shredding of personal values inside audit rows. Each person has a random 256-bit key
//! (AES-256-GCM), stored in `person_keys` only wrapped by the server's master key, which is
//! derived (HMAC-SHA256) from `AUDIT_MASTER_KEY` — or, unset, from `JWT_SECRET_KEY` — and never
//! stored. A personal value is sealed under its person's key with the person's id and the field
//! name as associated data (a sealed value moved to another person or field does not open);
//! erasure deletes the key, and every value sealed with it can no longer be read. The audit
//! chain hashes what is stored — the sealed form — so it verifies before and after.

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use ring::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use ring::hmac;
use ring::rand::{SecureRandom, SystemRandom};
use serde_json::{Value, json};

use gad_store::audit::SEALED_TAG;

/// The algorithm named in every sealed value.
pub const ALGORITHM: &str = "aes-256-gcm";
const KEY_LEN: usize = 32;

/// The key that wraps every person's key. Never stored, never printed.
#[derive(Clone)]
pub struct MasterKey([u8; KEY_LEN]);

impl std::fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("MasterKey(…)")
    }
}

/// One person's unwrapped key.
pub struct PersonKey {
    pub usuario_id: i64,
    raw: [u8; KEY_LEN],
}

fn random<const N: usize>() -> Option<[u8; N]> {
    let mut out = [0u8; N];
    SystemRandom::new().fill(&mut out).ok()?;
    Some(out)
}

fn aead(raw: &[u8; KEY_LEN]) -> Option<LessSafeKey> {
    UnboundKey::new(&AES_256_GCM, raw)
        .ok()
        .map(LessSafeKey::new)
}

/// `nonce || ciphertext || tag` of `plain` under `raw`.
fn seal(raw: &[u8; KEY_LEN], aad: &[u8], plain: &[u8]) -> Option<Vec<u8>> {
    let nonce = random::<NONCE_LEN>()?;
    let mut buf = plain.to_vec();
    aead(raw)?
        .seal_in_place_append_tag(
            Nonce::assume_unique_for_key(nonce),
            Aad::from(aad),
            &mut buf,
        )
        .ok()?;
    let mut out = nonce.to_vec();
    out.extend_from_slice(&buf);
    Some(out)
}

/// The plaintext of `nonce || ciphertext || tag`, or None when it does not authenticate.
fn open(raw: &[u8; KEY_LEN], aad: &[u8], sealed: &[u8]) -> Option<Vec<u8>> {
    if sealed.len() < NONCE_LEN {
        return None;
    }
    let (nonce, body) = sealed.split_at(NONCE_LEN);
    let nonce = Nonce::try_assume_unique_for_key(nonce).ok()?;
    let mut buf = body.to_vec();
    let plain = aead(raw)?
        .open_in_place(nonce, Aad::from(aad), &mut buf)
        .ok()?;
    Some(plain.to_vec())
}

fn wrap_aad(usuario_id: i64) -> Vec<u8> {
    format!("gad-person-key-v1|{usuario_id}").into_bytes()
}

fn value_aad(usuario_id: i64, field: &str) -> Vec<u8> {
    format!("gad-audit-value-v1|{usuario_id}|{field}").into_bytes()
}

impl MasterKey {
    /// Derives the master key from the configured secret (HMAC-SHA256 under a fixed label: the
    /// extract step of HKDF, whose 32-byte output is the AES-256 key).
    pub fn derive(secret: &str) -> MasterKey {
        let label = hmac::Key::new(hmac::HMAC_SHA256, b"gad-audit-master-key-v1");
        let mut raw = [0u8; KEY_LEN];
        raw.copy_from_slice(hmac::sign(&label, secret.as_bytes()).as_ref());
        MasterKey(raw)
    }

    /// A new key for `usuario_id`: the key and its wrapped form to store (None only if the
    /// system's random generator fails).
    pub fn new_person_key(&self, usuario_id: i64) -> Option<(PersonKey, Vec<u8>)> {
        let raw = random::<KEY_LEN>()?;
        let wrapped = seal(&self.0, &wrap_aad(usuario_id), &raw)?;
        Some((PersonKey { usuario_id, raw }, wrapped))
    }

    /// Unwraps a stored key; None when it does not authenticate (another master key, or
    /// altered).
    pub fn unwrap_key(&self, usuario_id: i64, wrapped: &[u8]) -> Option<PersonKey> {
        let raw = open(&self.0, &wrap_aad(usuario_id), wrapped)?;
        Some(PersonKey {
            usuario_id,
            raw: raw.try_into().ok()?,
        })
    }
}

impl PersonKey {
    /// `value` of `field` sealed: `{"cifrado": "aes-256-gcm", "persona": id, "dato": base64}`
    /// (None only if the system's random generator fails).
    pub fn seal(&self, field: &str, value: &Value) -> Option<Value> {
        let plain = value.to_string();
        let sealed = seal(
            &self.raw,
            &value_aad(self.usuario_id, field),
            plain.as_bytes(),
        )?;
        Some(json!({SEALED_TAG: ALGORITHM, "persona": self.usuario_id, "dato": B64.encode(sealed)}))
    }

    /// The value inside a sealed `field` of this person; None when it does not open.
    pub fn open(&self, field: &str, sealed: &Value) -> Option<Value> {
        if sealed_person(sealed)? != self.usuario_id {
            return None;
        }
        let bytes = B64.decode(sealed.get("dato")?.as_str()?).ok()?;
        let plain = open(&self.raw, &value_aad(self.usuario_id, field), &bytes)?;
        serde_json::from_slice(&plain).ok()
    }
}

/// The person a sealed value belongs to (None: not a sealed value).
pub fn sealed_person(v: &Value) -> Option<i64> {
    let m = v.as_object()?;
    m.get(SEALED_TAG)?;
    m.get("persona")?.as_i64()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sealed_value_opens_only_with_its_person_key_and_field() {
        let master = MasterKey::derive("a-server-secret-0123456789-abcdefghijkl");
        let (key, wrapped) = master.new_person_key(7).unwrap();
        let v = json!("ana@correo.gad");
        let sealed = key.seal("email", &v).unwrap();
        assert_eq!(sealed["cifrado"], ALGORITHM);
        assert_eq!(sealed_person(&sealed), Some(7));
        assert!(!sealed.to_string().contains("ana@"));
        assert_eq!(key.open("email", &sealed), Some(v));
        // The stored, wrapped key opens it after a round trip; a number stays a number.
        let again = master.unwrap_key(7, &wrapped).unwrap();
        let tg = key.seal("telegram_id", &json!(123456789)).unwrap();
        assert_eq!(again.open("telegram_id", &tg), Some(json!(123456789)));
        // Moved to another field or person, or under another master key: unreadable.
        assert_eq!(key.open("dni", &sealed), None);
        assert!(master.unwrap_key(8, &wrapped).is_none());
        let other = MasterKey::derive("another-server-secret-0123456789-abcdef");
        assert!(other.unwrap_key(7, &wrapped).is_none());
        let (key8, _) = master.new_person_key(8).unwrap();
        assert_eq!(key8.open("email", &sealed), None);
        // Two seals of one value differ (random nonce).
        assert_ne!(
            key.seal("email", &json!("x")),
            key.seal("email", &json!("x"))
        );
        assert_eq!(
            master.0,
            MasterKey::derive("a-server-secret-0123456789-abcdefghijkl").0
        );
    }
}
