//! Device cookies (OWASP "slow down online guessing attacks with device cookies"): a browser that
//! signed in to an account gets a cookie naming that account and a random device id, signed with
//! a key derived from the server secret. A login that presents a valid one for the account it
//! names is counted against that cookie only, so an outsider's flood, which locks the account for
//! unknown clients, cannot lock its owner out; guessing with a stolen cookie locks the cookie.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use ring::hmac;
use uuid::Uuid;

/// The cookie's name (the adapter sets it with Path=/api/v1/auth, HttpOnly, SameSite=Strict).
pub const COOKIE_NAME: &str = "gad_device";
/// How long a browser keeps its device cookie (renewed at each login).
pub const MAX_AGE_DAYS: i64 = 180;

/// A device cookie whose signature holds: the account it was issued to and its id.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Device {
    pub usuario_id: i64,
    pub id: Uuid,
}

/// The signing key, derived from the server secret for this purpose only (a token key never
/// signs a device cookie and the other way round).
pub struct DeviceKey(hmac::Key);

impl DeviceKey {
    pub fn derive(server_secret: &str) -> DeviceKey {
        let base = hmac::Key::new(hmac::HMAC_SHA256, server_secret.as_bytes());
        let derived = hmac::sign(&base, b"gad device cookie v1");
        DeviceKey(hmac::Key::new(hmac::HMAC_SHA256, derived.as_ref()))
    }

    /// `<usuario_id>.<device id>.<signature>`: cookie-safe characters only.
    pub fn issue(&self, device: Device) -> String {
        let payload = format!("{}.{}", device.usuario_id, device.id);
        let tag = hmac::sign(&self.0, payload.as_bytes());
        format!("{payload}.{}", B64.encode(tag.as_ref()))
    }

    /// The device a cookie value speaks for, when its signature holds.
    pub fn verify(&self, value: &str) -> Option<Device> {
        let (payload, tag) = value.rsplit_once('.')?;
        let tag = B64.decode(tag).ok()?;
        hmac::verify(&self.0, payload.as_bytes(), &tag).ok()?;
        let (user, id) = payload.split_once('.')?;
        Some(Device {
            usuario_id: user.parse().ok()?,
            id: Uuid::parse_str(id).ok()?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_device_cookie_verifies_only_unaltered_and_under_its_own_key() {
        let key = DeviceKey::derive("server-secret-a");
        let device = Device {
            usuario_id: 42,
            id: Uuid::new_v4(),
        };
        let cookie = key.issue(device);
        assert_eq!(key.verify(&cookie), Some(device));
        let forged = cookie.replacen("42.", "43.", 1);
        assert_eq!(key.verify(&forged), None, "another account");
        assert_eq!(DeviceKey::derive("server-secret-b").verify(&cookie), None);
        assert_eq!(key.verify("42.not-a-uuid"), None);
        assert_eq!(key.verify(""), None);
    }
}
