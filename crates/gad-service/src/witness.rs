//! Witnessed heads of the audit chain. The hash chain proves that rows were not edited one by
//! one, but a database superuser can rewrite the whole chain and recompute every hash. So every
//! `AUDIT_WITNESS_INTERVAL_SECONDS` the server signs the chain's head (position, hash, time) with
//! an Ed25519 key that is not in the database (`AUDIT_SIGNING_KEY`) and appends it, one JSON
//! object per line, to a file outside PostgreSQL (`AUDIT_WITNESS_FILE`). `gad audit verify
//! --witness FILE` then checks that every witnessed head is still in the chain — or was purged
//! by retention, which is possible only once the head's row is older than the floor of
//! [`RETENTION_FLOOR_DAYS`].

use std::io::Write;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use chrono::{DateTime, SecondsFormat, Utc};
use gad_store::audit::{self as store, ChainHead};
use gad_store::{Conn, DbError};
use ring::rand::{SecureRandom, SystemRandom};
use ring::signature::{ED25519, Ed25519KeyPair, KeyPair, UnparsedPublicKey};
use serde::{Deserialize, Serialize};

use crate::ctx::Ctx;

/// No audit row is kept for less than this (`AUDIT_RETENTION_DAYS` and the database's
/// `audit_settings` refuse less): a witnessed head younger than this cannot have been purged.
pub const RETENTION_FLOOR_DAYS: i64 = 365;

/// `AUDIT_WITNESS_INTERVAL_SECONDS` default.
pub const DEFAULT_INTERVAL_SECONDS: u64 = 300;

/// `AUDIT_WITNESS_FILE` default: under the data directory of the server's working directory.
pub const DEFAULT_FILE: &str = "data/audit-witness.jsonl";

/// The private Ed25519 key (its 32-byte seed). Never printed by `Debug`.
#[derive(Clone, PartialEq, Eq)]
pub struct SigningKey([u8; 32]);

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SigningKey(public {})", self.public_key())
    }
}

impl SigningKey {
    /// A new random key.
    pub fn generate() -> Option<SigningKey> {
        let mut seed = [0u8; 32];
        SystemRandom::new().fill(&mut seed).ok()?;
        Some(SigningKey(seed))
    }

    /// The 32-byte seed in base64 (what `gad audit keygen` prints) or hex.
    pub fn parse(s: &str) -> Result<SigningKey, String> {
        let s = s.trim();
        let bytes = if s.len() == 64 && s.bytes().all(|b| b.is_ascii_hexdigit()) {
            hex::decode(s).ok()
        } else {
            B64.decode(s).ok()
        };
        let seed: [u8; 32] = bytes
            .and_then(|b| b.try_into().ok())
            .ok_or("must be 32 bytes in base64 or hex (make one with `gad audit keygen`)")?;
        Ed25519KeyPair::from_seed_unchecked(&seed).map_err(|_| "is not an Ed25519 key")?;
        Ok(SigningKey(seed))
    }

    /// The seed in base64: the value of `AUDIT_SIGNING_KEY`.
    pub fn encode(&self) -> String {
        B64.encode(self.0)
    }

    fn pair(&self) -> Ed25519KeyPair {
        // A 32-byte seed is always a valid key: checked in `parse`.
        #[allow(clippy::expect_used)]
        Ed25519KeyPair::from_seed_unchecked(&self.0).expect("32-byte Ed25519 seed")
    }

    /// The public key in base64 (in every witness line; pin it with `--public-key`).
    pub fn public_key(&self) -> String {
        B64.encode(self.pair().public_key().as_ref())
    }

    /// Signs the chain head `head`, witnessed now.
    pub fn sign(&self, head: &ChainHead) -> WitnessLine {
        let mut line = WitnessLine {
            seq: head.seq,
            hash: head.hash.clone(),
            at: head.at.to_rfc3339_opts(SecondsFormat::Micros, true),
            signed_at: Utc::now().to_rfc3339_opts(SecondsFormat::Secs, true),
            public_key: self.public_key(),
            sig: String::new(),
        };
        line.sig = B64.encode(self.pair().sign(&line.message()).as_ref());
        line
    }
}

/// One witnessed head: a line of the witness file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WitnessLine {
    /// The head's chain position.
    pub seq: i64,
    /// The head row's hash.
    pub hash: String,
    /// When the head row was written (UTC, RFC 3339): its retention cannot end before this
    /// plus the floor.
    pub at: String,
    /// When the line was written (not signed: informative).
    pub signed_at: String,
    /// The signer's public key, base64.
    pub public_key: String,
    /// Ed25519 signature of "gad-audit-head\n<seq>\n<hash>\n<at>", base64.
    pub sig: String,
}

impl WitnessLine {
    fn message(&self) -> Vec<u8> {
        format!("gad-audit-head\n{}\n{}\n{}", self.seq, self.hash, self.at).into_bytes()
    }

    /// Checks the signature against `public_key` (base64), or the line's own key.
    pub fn check_signature(&self, public_key: Option<&str>) -> Result<(), &'static str> {
        let key = B64
            .decode(public_key.unwrap_or(&self.public_key))
            .map_err(|_| "the public key is not base64")?;
        let sig = B64
            .decode(&self.sig)
            .map_err(|_| "the signature is not base64")?;
        UnparsedPublicKey::new(&ED25519, key)
            .verify(&self.message(), &sig)
            .map_err(|_| "bad signature")
    }

    fn at(&self) -> Option<DateTime<Utc>> {
        DateTime::parse_from_rfc3339(&self.at)
            .ok()
            .map(|t| t.with_timezone(&Utc))
    }
}

/// Appends `line` to the witness file (created with its directory), flushed to disk.
pub fn append(path: &Path, line: &WitnessLine) -> std::io::Result<()> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)?;
    }
    let mut text = serde_json::to_string(line).map_err(std::io::Error::other)?;
    text.push('\n');
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)?;
    // One write: lines of several instances appending to one file do not interleave.
    f.write_all(text.as_bytes())?;
    f.sync_data()
}

/// Signs the chain's current head, unless it is `last_seq` (already witnessed by this process).
/// The caller records the new position once the line is safely delivered.
async fn sign_new_head(
    db: &mut Conn,
    key: &SigningKey,
    last_seq: &AtomicI64,
) -> Result<Option<WitnessLine>, String> {
    let head = store::chain_head(db).await.map_err(|e| e.to_string())?;
    if last_seq.load(Ordering::SeqCst) == head.seq {
        return Ok(None);
    }
    Ok(Some(key.sign(&head)))
}

/// Every `AUDIT_WITNESS_INTERVAL_SECONDS` (first right away), hands the chain's head, signed, to
/// `deliver` when it moved since the last head delivered: the server appends it to the witness
/// file, the bot posts it to the operators' chat (`TELEGRAM_ADMIN_CHAT_ID`), a witness outside
/// both PostgreSQL and the server's disk. A head `deliver` could not take is signed and handed
/// again on the next pass. Off without `AUDIT_SIGNING_KEY`.
pub fn spawn_delivery<D, Fut>(state: Ctx, deliver: D)
where
    D: Fn(WitnessLine) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = bool> + Send + 'static,
{
    let w = &state.config.audit_witness;
    let Some(key) = w.key.clone() else {
        return;
    };
    let period = Duration::from_secs(w.interval_seconds);
    let last = Arc::new(AtomicI64::new(-1));
    let deliver = Arc::new(deliver);
    crate::jobs::every(
        state,
        Duration::ZERO,
        period,
        move |state| {
            let (key, last, deliver) = (key.clone(), Arc::clone(&last), Arc::clone(&deliver));
            async move {
                let mut conn = state.db.acquire().await.map_err(|e| e.to_string())?;
                let Some(line) = sign_new_head(&mut conn, &key, &last).await? else {
                    return Ok(false);
                };
                drop(conn);
                let seq = line.seq;
                if deliver(line).await {
                    last.store(seq, Ordering::SeqCst);
                    return Ok(true);
                }
                Err(format!("the head at chain_seq {seq} was not delivered"))
            }
        },
        |pass: Result<Result<bool, String>, tokio::task::JoinError>| match pass {
            Ok(Ok(_)) => {}
            Ok(Err(e)) => tracing::warn!(error = %e, "audit witness delivery failed"),
            Err(e) => tracing::error!(error = %e, "audit witness delivery task aborted"),
        },
    );
}

/// Starts the witness (every `AUDIT_WITNESS_INTERVAL_SECONDS`, first right away) when
/// `AUDIT_SIGNING_KEY` is set; otherwise says it is off (a warning outside development).
pub fn spawn(state: Ctx) {
    let w = &state.config.audit_witness;
    let Some(key) = w.key.clone() else {
        if state.config.environment.is_development() {
            tracing::info!("audit witness off: AUDIT_SIGNING_KEY is not set");
        } else {
            tracing::warn!(
                "audit witness off: AUDIT_SIGNING_KEY is not set, so a rewrite of the whole audit chain by a database superuser would go unnoticed (make a key with `gad audit keygen`)"
            );
        }
        return;
    };
    let path = Arc::new(w.file.clone());
    tracing::info!(file = %path.display(), public_key = %key.public_key(), "audit witness on");
    spawn_delivery(state, move |line| {
        let path = Arc::clone(&path);
        async move {
            let seq = line.seq;
            let written = tokio::task::spawn_blocking(move || append(&path, &line)).await;
            match written {
                Ok(Ok(())) => {
                    tracing::debug!(seq, "audit head witnessed");
                    true
                }
                Ok(Err(e)) => {
                    tracing::warn!(error = %e, "audit witness: cannot append to the file");
                    false
                }
                Err(e) => {
                    tracing::error!(error = %e, "audit witness: append task aborted");
                    false
                }
            }
        }
    });
}

/// Why a witnessed head does not hold.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WitnessProblem {
    /// The line is not a witness line.
    Unreadable { line: usize, reason: String },
    /// The signature does not hold (the line was forged or altered).
    BadSignature { line: usize, seq: i64 },
    /// The head's position is past the chain's head: rows were removed from its end.
    BeyondHead {
        line: usize,
        seq: i64,
        head_seq: i64,
    },
    /// The row at the head's position no longer has the witnessed hash: the chain was rewritten.
    Rewritten {
        line: usize,
        seq: i64,
        id: Option<i64>,
    },
    /// The head's row was deleted before it could have expired.
    PurgedEarly { line: usize, seq: i64, at: String },
}

impl std::fmt::Display for WitnessProblem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            WitnessProblem::Unreadable { line, reason } => {
                write!(f, "witness line {line} is unreadable: {reason}")
            }
            WitnessProblem::BadSignature { line, seq } => write!(
                f,
                "witnessed head chain_seq {seq} (line {line}) has a bad signature: the witness file was altered"
            ),
            WitnessProblem::BeyondHead {
                line,
                seq,
                head_seq,
            } => write!(
                f,
                "witnessed head chain_seq {seq} (line {line}) is past the chain's head {head_seq}: rows were removed from its end"
            ),
            WitnessProblem::Rewritten { line, seq, id } => match id {
                Some(id) => write!(
                    f,
                    "witnessed head chain_seq {seq} (line {line}) does not match row id={id}: the chain was rewritten"
                ),
                None => write!(
                    f,
                    "witnessed head chain_seq {seq} (line {line}) does not match the chain's anchor: the chain was rewritten"
                ),
            },
            WitnessProblem::PurgedEarly { line, seq, at } => write!(
                f,
                "witnessed head chain_seq {seq} (line {line}, written {at}) was deleted before it could expire (retention floor {RETENTION_FLOOR_DAYS} days)"
            ),
        }
    }
}

/// What checking a witness file found.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct WitnessReport {
    /// Heads still in the chain with their witnessed hash.
    pub matched: u64,
    /// Heads purged by retention (older than the floor, before the anchor).
    pub purged: u64,
    /// The first head that does not hold.
    pub problem: Option<WitnessProblem>,
}

/// Checks every line of a witness file (in order) against the chain; stops at the first head
/// that does not hold. `public_key` pins the signer (base64); without it each line's own key
/// is used. Run it after [`gad_store::audit::verify`] found the chain itself intact.
pub async fn check(
    db: &mut Conn,
    text: &str,
    public_key: Option<&str>,
    now: DateTime<Utc>,
) -> Result<WitnessReport, DbError> {
    let head = store::chain_head(&mut *db).await?;
    let (anchor_seq, anchor_hash) = store::chain_anchor(&mut *db).await?;
    let mut report = WitnessReport::default();
    for (i, raw) in text.lines().enumerate() {
        let line = i + 1;
        if raw.trim().is_empty() {
            continue;
        }
        let w: WitnessLine = match serde_json::from_str(raw) {
            Ok(w) => w,
            Err(e) => {
                report.problem = Some(WitnessProblem::Unreadable {
                    line,
                    reason: e.to_string(),
                });
                break;
            }
        };
        if w.check_signature(public_key).is_err() {
            report.problem = Some(WitnessProblem::BadSignature { line, seq: w.seq });
            break;
        }
        let problem = if w.seq > head.seq {
            Some(WitnessProblem::BeyondHead {
                line,
                seq: w.seq,
                head_seq: head.seq,
            })
        } else if w.seq > anchor_seq {
            match store::row_hash_at(&mut *db, w.seq).await? {
                Some((_, hash)) if hash == w.hash => None,
                found => Some(WitnessProblem::Rewritten {
                    line,
                    seq: w.seq,
                    id: found.map(|(id, _)| id),
                }),
            }
        } else if w.seq == anchor_seq && w.hash != anchor_hash {
            Some(WitnessProblem::Rewritten {
                line,
                seq: w.seq,
                id: None,
            })
        } else if w.seq < anchor_seq
            && w.at()
                .is_none_or(|at| at + chrono::Duration::days(RETENTION_FLOOR_DAYS) > now)
        {
            Some(WitnessProblem::PurgedEarly {
                line,
                seq: w.seq,
                at: w.at.clone(),
            })
        } else {
            None
        };
        match problem {
            Some(p) => {
                report.problem = Some(p);
                break;
            }
            None if w.seq > anchor_seq || w.seq == anchor_seq && anchor_seq == 0 => {
                report.matched += 1
            }
            None => report.purged += 1,
        }
    }
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn head(seq: i64) -> ChainHead {
        ChainHead {
            seq,
            hash: "ab".repeat(32),
            at: Utc::now(),
        }
    }

    #[test]
    fn a_witness_line_verifies_only_with_its_key_and_unaltered() {
        let key = SigningKey::generate().unwrap();
        let line = key.sign(&head(7));
        assert_eq!(line.check_signature(None), Ok(()));
        assert_eq!(line.check_signature(Some(&key.public_key())), Ok(()));
        let other = SigningKey::generate().unwrap();
        assert!(line.check_signature(Some(&other.public_key())).is_err());
        for altered in [
            WitnessLine {
                seq: 8,
                ..line.clone()
            },
            WitnessLine {
                hash: "cd".repeat(32),
                ..line.clone()
            },
            WitnessLine {
                at: "2020-01-01T00:00:00.000000Z".into(),
                ..line.clone()
            },
        ] {
            assert!(altered.check_signature(None).is_err(), "{altered:?}");
        }
        // The line round-trips through its JSON form.
        let json = serde_json::to_string(&line).unwrap();
        for field in ["seq", "hash", "at", "sig", "public_key"] {
            assert!(json.contains(&format!("\"{field}\"")), "{json}");
        }
        let back: WitnessLine = serde_json::from_str(&json).unwrap();
        assert_eq!(back.check_signature(None), Ok(()));
    }

    #[test]
    fn signing_keys_parse_from_base64_or_hex_and_never_print() {
        let key = SigningKey::generate().unwrap();
        assert_eq!(SigningKey::parse(&key.encode()).unwrap(), key);
        assert_eq!(SigningKey::parse(&hex::encode(key.0)).unwrap(), key);
        for bad in ["", "short", &B64.encode([1u8; 31]), &"zz".repeat(32)] {
            assert!(SigningKey::parse(bad).is_err(), "{bad}");
        }
        assert!(!format!("{key:?}").contains(&key.encode()));
    }
}
