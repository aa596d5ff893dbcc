//! Second factor (TOTP, RFC 6238: HMAC-SHA1, 30-second steps, 6 digits, one step of clock drift
//! either way): enrolment and its confirmation, the codes' check with replay refusal, recovery
//! codes, and an administrator's reset. The secret is stored sealed (AES-256-GCM) under a key
//! derived from the audit master secret, bound to its user; recovery codes and login challenges
//! are stored as SHA-256 hashes (they are random, so a fast hash suffices).

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use gad_core::request_context::RequestContext;
use gad_core::validate::Validate;
use gad_core::{Actor, FieldError, Nivel};
use gad_store::audit::AuditEntry;
use gad_store::{totp as store, usuarios};
use rand::Rng;
use ring::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use ring::hmac;
use ring::rand::{SecureRandom, SystemRandom};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::{Digest, Sha256};
use totp_rs::{Algorithm, TOTP};

use crate::audit;
use crate::authorize::require;
use crate::ctx::Ctx;
use crate::error::{ServiceError, ServiceResult};
use crate::stats::USER_NOT_FOUND;

/// The issuer authenticator apps show beside the account.
const ISSUER: &str = "GAD";
const STEP_SECONDS: u64 = 30;
const DIGITS: usize = 6;
const SECRET_BYTES: usize = 20;
const RECOVERY_CODES: usize = 10;

/// What an authenticator app needs: the `otpauth://` URI and the same as a QR code (SVG).
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Enrolment {
    pub otpauth_uri: String,
    pub qr_svg: String,
}

/// A code typed by the user (6 digits, or a recovery code at login).
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct CodeBody {
    #[schema(min_length = 1, max_length = 32)]
    pub code: String,
}

impl Validate for CodeBody {
    fn validate(&self, errors: &mut Vec<FieldError>) {
        let len = self.code.chars().count();
        if len == 0 || len > 32 {
            errors.push(FieldError::body(
                "code",
                "string_length",
                "code must be 1 to 32 characters",
                Value::Null,
            ));
        }
    }
}

/// The recovery codes, shown once: each signs in once instead of a code.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct RecoveryCodes {
    pub recovery_codes: Vec<String>,
}

/// An administrator's reset of a user's factor.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct TotpReset {
    pub user_id: i64,
    /// Whether the user had a factor (confirmed or pending) before.
    pub tenia_totp: bool,
}

/// The key that seals TOTP secrets, derived for this purpose only.
fn sealing_key(ctx: &Ctx) -> ServiceResult<LessSafeKey> {
    let base = hmac::Key::new(hmac::HMAC_SHA256, ctx.config.audit_master_secret.as_bytes());
    let derived = hmac::sign(&base, b"gad totp secret v1");
    UnboundKey::new(&AES_256_GCM, derived.as_ref())
        .map(LessSafeKey::new)
        .map_err(|_| ServiceError::internal("totp sealing key"))
}

fn seal(ctx: &Ctx, usuario_id: i64, secret: &[u8]) -> ServiceResult<Vec<u8>> {
    let mut nonce = [0u8; NONCE_LEN];
    SystemRandom::new()
        .fill(&mut nonce)
        .map_err(|_| ServiceError::internal("random nonce"))?;
    let mut buf = secret.to_vec();
    sealing_key(ctx)?
        .seal_in_place_append_tag(
            Nonce::assume_unique_for_key(nonce),
            Aad::from(usuario_id.to_be_bytes()),
            &mut buf,
        )
        .map_err(|_| ServiceError::internal("totp seal"))?;
    Ok([nonce.as_slice(), &buf].concat())
}

fn open(ctx: &Ctx, usuario_id: i64, sealed: &[u8]) -> ServiceResult<Vec<u8>> {
    if sealed.len() < NONCE_LEN {
        return Err(ServiceError::internal("sealed totp secret too short"));
    }
    let (nonce, body) = sealed.split_at(NONCE_LEN);
    let nonce = Nonce::try_assume_unique_for_key(nonce)
        .map_err(|_| ServiceError::internal("totp nonce"))?;
    let mut buf = body.to_vec();
    let plain = sealing_key(ctx)?
        .open_in_place(nonce, Aad::from(usuario_id.to_be_bytes()), &mut buf)
        .map_err(|_| ServiceError::internal("totp secret does not open (master key changed?)"))?;
    Ok(plain.to_vec())
}

fn totp(secret: Vec<u8>, account: &str) -> ServiceResult<TOTP> {
    // The label may not contain ':' (it separates issuer and account).
    let account = account.replace(':', "_");
    TOTP::new(
        Algorithm::SHA1,
        DIGITS,
        0,
        STEP_SECONDS,
        secret,
        Some(ISSUER.to_string()),
        account,
    )
    .map_err(|e| ServiceError::internal(format!("totp: {e}")))
}

fn now_unix() -> u64 {
    u64::try_from(chrono::Utc::now().timestamp()).unwrap_or(0)
}

/// The time step a 6-digit `code` belongs to (now, or one step before or after), if any.
fn matching_step(totp: &TOTP, code: &str) -> Option<i64> {
    let code = code.trim();
    if code.len() != DIGITS || !code.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let now = now_unix();
    [now.saturating_sub(STEP_SECONDS), now, now + STEP_SECONDS]
        .into_iter()
        .find(|t| totp.check(code, *t))
        .and_then(|t| i64::try_from(t / STEP_SECONDS).ok())
}

/// A recovery code as stored: lower case, without separators, hashed.
pub fn recovery_hash(code: &str) -> String {
    let normal: String = code
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .map(|c| c.to_ascii_lowercase())
        .collect();
    hex::encode(Sha256::digest(normal.as_bytes()))
}

/// Ten codes of 10 characters from a 32-letter alphabet without look-alikes (50 bits each).
fn new_recovery_codes() -> Vec<String> {
    const ALPHABET: &[u8] = b"abcdefghjkmnpqrstuvwxyz23456789";
    let mut rng = rand::thread_rng();
    (0..RECOVERY_CODES)
        .map(|_| {
            let raw: String = (0..10)
                .map(|_| char::from(ALPHABET[rng.gen_range(0..ALPHABET.len())]))
                .collect();
            format!("{}-{}", &raw[..5], &raw[5..])
        })
        .collect()
}

/// A login challenge: random, returned to the client once, stored hashed.
pub fn new_challenge() -> (String, String) {
    let mut raw = [0u8; 32];
    rand::thread_rng().fill(&mut raw);
    let challenge = B64.encode(raw);
    let hash = challenge_hash(&challenge);
    (challenge, hash)
}

pub fn challenge_hash(challenge: &str) -> String {
    hex::encode(Sha256::digest(challenge.as_bytes()))
}

fn enrolment_of(secret: Vec<u8>, email: &str) -> ServiceResult<Enrolment> {
    let t = totp(secret, email)?;
    let otpauth_uri = t.get_url();
    let qr_svg = qrcode::QrCode::new(otpauth_uri.as_bytes())
        .map_err(|e| ServiceError::internal(format!("qr: {e}")))?
        .render::<qrcode::render::svg::Color>()
        .min_dimensions(200, 200)
        .build();
    Ok(Enrolment {
        otpauth_uri,
        qr_svg,
    })
}

/// Starts the caller's enrolment (or restarts one not yet confirmed) with a new secret. A
/// confirmed factor is not replaced (409): an administrator resets a lost one.
pub async fn enrol(ctx: &Ctx, me: &Actor, origin: &RequestContext) -> ServiceResult<Enrolment> {
    let user = usuarios::by_id(&ctx.db, me.id, false)
        .await?
        .ok_or_else(|| ServiceError::NotFound(USER_NOT_FOUND.into()))?;
    let enrolment = start(ctx, me.id, &user.email).await?;
    let entry = AuditEntry::new("totp_enrolment_started", Some(me.id))
        .resource("usuario", me.id)
        .status(201)
        .context(origin);
    let mut conn = ctx.db.acquire().await?;
    audit::record(ctx, &mut conn, &entry).await?;
    Ok(enrolment)
}

/// A new pending factor for `usuario_id`; its `otpauth://` URI and QR code. Also the CLI's
/// (`gad create-admin --totp`).
pub async fn start(ctx: &Ctx, usuario_id: i64, email: &str) -> ServiceResult<Enrolment> {
    let mut secret = vec![0u8; SECRET_BYTES];
    SystemRandom::new()
        .fill(&mut secret)
        .map_err(|_| ServiceError::internal("random secret"))?;
    let sealed = seal(ctx, usuario_id, &secret)?;
    if !store::start_enrolment(&ctx.db, usuario_id, &sealed).await? {
        return Err(ServiceError::Refused(
            "El segundo factor ya está activo; un administrador puede restablecerlo".into(),
        ));
    }
    enrolment_of(secret, email)
}

/// Confirms the caller's pending enrolment with a current code; answers the recovery codes
/// (shown once, stored hashed). From now on login asks for a code.
pub async fn confirm(
    ctx: &Ctx,
    me: &Actor,
    origin: &RequestContext,
    body: &CodeBody,
) -> ServiceResult<RecoveryCodes> {
    let row = store::get(&ctx.db, me.id).await?;
    let Some(row) = row.filter(|r| !r.confirmed) else {
        return Err(ServiceError::Refused(
            "No hay una inscripción del segundo factor pendiente".into(),
        ));
    };
    let t = totp(open(ctx, me.id, &row.secret_sealed)?, "confirm")?;
    let accepted = match matching_step(&t, &body.code) {
        Some(step) => store::accept_step(&ctx.db, me.id, step).await?,
        None => false,
    };
    if !accepted {
        return Err(ServiceError::BadRequest("Código incorrecto".into()));
    }
    let codes = new_recovery_codes();
    let hashes: Vec<String> = codes.iter().map(|c| recovery_hash(c)).collect();
    let mut tx = ctx.db.begin().await?;
    if !store::confirm(&mut tx, me.id, &hashes).await? {
        return Err(ServiceError::Refused(
            "No hay una inscripción del segundo factor pendiente".into(),
        ));
    }
    let entry = AuditEntry::new("totp_enabled", Some(me.id))
        .resource("usuario", me.id)
        .status(200)
        .context(origin);
    audit::record(ctx, &mut tx, &entry).await?;
    tx.commit().await?;
    Ok(RecoveryCodes {
        recovery_codes: codes,
    })
}

/// Checks a login's second factor for `usuario_id`: a current code not used before, or an
/// unused recovery code (then spent). `Ok(None)`: wrong; `Ok(Some(how))`: accepted.
pub async fn check_login_code(
    ctx: &Ctx,
    usuario_id: i64,
    code: &str,
) -> ServiceResult<Option<&'static str>> {
    let Some(row) = store::get(&ctx.db, usuario_id).await? else {
        return Ok(None);
    };
    let t = totp(open(ctx, usuario_id, &row.secret_sealed)?, "login")?;
    if let Some(step) = matching_step(&t, code) {
        return Ok(store::accept_step(&ctx.db, usuario_id, step)
            .await?
            .then_some("totp"));
    }
    Ok(
        store::use_recovery_code(&ctx.db, usuario_id, &recovery_hash(code))
            .await?
            .then_some("recovery code"),
    )
}

/// Removes a user's factor (lost phone): administrators only, audited. The user enrols again.
pub async fn reset(
    ctx: &Ctx,
    me: &Actor,
    origin: &RequestContext,
    user_id: i64,
) -> ServiceResult<TotpReset> {
    require(me, Nivel::Administrador)?;
    let mut tx = ctx.db.begin().await?;
    if usuarios::by_id(&mut *tx, user_id, false).await?.is_none() {
        return Err(ServiceError::NotFound(USER_NOT_FOUND.into()));
    }
    let had = store::reset(&mut tx, user_id).await?;
    let entry = AuditEntry::new("totp_reset", Some(me.id))
        .resource("usuario", user_id)
        .describe(format!("second factor reset (had one: {had})"))
        .severity("warning")
        .status(200)
        .context(origin);
    audit::record(ctx, &mut tx, &entry).await?;
    tx.commit().await?;
    Ok(TotpReset {
        user_id,
        tenia_totp: had,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_of_the_previous_current_and_next_step_match_and_others_do_not() {
        let t = totp(vec![7u8; SECRET_BYTES], "a@b.c").unwrap();
        let now = now_unix();
        for (offset, ok) in [
            (-60i64, false),
            (-30, true),
            (0, true),
            (30, true),
            (60, false),
        ] {
            let at = now.saturating_add_signed(offset);
            let code = t.generate(at);
            assert_eq!(matching_step(&t, &code).is_some(), ok, "offset {offset}");
        }
        assert_eq!(matching_step(&t, "12345"), None);
        assert_eq!(matching_step(&t, "abcdef"), None);
    }

    #[test]
    fn recovery_codes_are_ten_distinct_and_hash_regardless_of_case_and_dashes() {
        let codes = new_recovery_codes();
        assert_eq!(codes.len(), 10);
        let distinct: std::collections::HashSet<_> = codes.iter().collect();
        assert_eq!(distinct.len(), 10);
        let c = &codes[0];
        assert_eq!(
            recovery_hash(c),
            recovery_hash(&c.to_uppercase().replace('-', " "))
        );
    }
}
