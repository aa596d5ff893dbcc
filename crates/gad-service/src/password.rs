//! Password hashes: argon2id for new hashes (OWASP minimum m=19 MiB, t=2, p=1); legacy bcrypt
//! still verifies (and asks for a rehash). The async forms run on the `HashPool` threads, off
//! the async runtime; the blocking forms are for tools that hash outside a server.

use argon2::password_hash::{
    PasswordHash, PasswordHasher, PasswordVerifier, SaltString, rand_core::OsRng,
};
use argon2::{Algorithm, Argon2, Params, Version};

use crate::error::{ServiceError, ServiceResult};
use crate::hashing::HashPool;

fn argon() -> Argon2<'static> {
    let params = Params::new(19_456, 2, 1, None).unwrap_or_default();
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

pub fn hash_blocking(password: &str) -> Result<String, String> {
    let salt = SaltString::generate(&mut OsRng);
    argon()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| e.to_string())
}

/// (matches, needs_rehash)
pub fn verify_blocking(password: &str, hash: &str) -> (bool, bool) {
    if hash.starts_with("$2b$") || hash.starts_with("$2a$") || hash.starts_with("$2y$") {
        return (bcrypt::verify(password, hash).unwrap_or(false), true);
    }
    match PasswordHash::new(hash) {
        Ok(parsed) => {
            let ok = argon()
                .verify_password(password.as_bytes(), &parsed)
                .is_ok();
            (ok, ok && parsed.algorithm.as_str() != "argon2id")
        }
        Err(_) => (false, false),
    }
}

/// A valid argon2id hash of nothing useful: verified against when the user does not exist,
/// so response time does not reveal which e-mails are registered.
pub const DUMMY_HASH: &str = "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$ZP4ryzY+2dO1bm4BvVnGr+Jvt5dnl1gP1hKXJqVqUx8";

pub async fn hash(pool: &HashPool, password: String) -> ServiceResult<String> {
    pool.run(move || hash_blocking(&password))
        .await?
        .map_err(ServiceError::internal)
}

/// (matches, needs_rehash), computed on a hashing thread.
pub async fn verify(
    pool: &HashPool,
    password: String,
    hash: String,
) -> ServiceResult<(bool, bool)> {
    pool.run(move || verify_blocking(&password, &hash)).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_hash_and_verify_including_bcrypt() {
        let h = hash_blocking("correct horse").unwrap();
        assert!(h.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"));
        assert_eq!(verify_blocking("correct horse", &h), (true, false));
        assert!(!verify_blocking("wrong", &h).0);
        let b = bcrypt::hash("legacy-pass", 4).unwrap();
        assert_eq!(verify_blocking("legacy-pass", &b), (true, true));
        assert!(PasswordHash::new(DUMMY_HASH).is_ok());
    }
}
