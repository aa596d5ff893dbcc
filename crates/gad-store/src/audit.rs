//! The audit trail: the append-only insert, the hash-chain walk behind
//! `gad audit verify`, the export behind `gad audit export`, and the retention purge.
//!
//! The chain itself is built by the database: the insert trigger (`zz_audit_logs_chain`) fixes
//! each row's content hash, and the sealer (`audit_seal`, migration 20261208050001, run by
//! [`seal`]) links committed rows into the chain in batches. [`verify`] recomputes every hash
//! here, in Rust, from the raw columns, so a replaced SQL function cannot vouch for altered rows.

use chrono::{DateTime, Utc};
use futures::TryStreamExt;
use serde::Serialize;
use sha2::{Digest, Sha256};
use sqlx::{PgConnection, PgExecutor};

pub use gad_core::request_context::RequestContext;

use serde_json::Value;

/// One audit entry; build with `AuditEntry::new(..)` and the setters.
#[derive(Debug, Default, Clone)]
pub struct AuditEntry {
    pub event_type: String,
    pub severity: &'static str,
    pub user_id: Option<i64>,
    pub ip_address: Option<String>,
    pub user_agent: Option<String>,
    pub request_id: Option<String>,
    pub resource_type: Option<String>,
    pub resource_id: Option<String>,
    pub action_description: Option<String>,
    pub old_values: Option<Value>,
    pub new_values: Option<Value>,
    pub success: bool,
    pub response_status: Option<i32>,
}

impl AuditEntry {
    pub fn new(event_type: &str, user_id: Option<i64>) -> AuditEntry {
        AuditEntry {
            event_type: event_type.into(),
            severity: "info",
            user_id,
            success: true,
            ..Default::default()
        }
    }
    pub fn resource(mut self, kind: &str, id: impl ToString) -> Self {
        self.resource_type = Some(kind.into());
        self.resource_id = Some(id.to_string());
        self
    }
    pub fn describe(mut self, d: impl Into<String>) -> Self {
        self.action_description = Some(d.into());
        self
    }
    pub fn values(mut self, old: Option<Value>, new: Option<Value>) -> Self {
        self.old_values = old;
        self.new_values = new;
        self
    }
    pub fn failed(mut self, status: i32) -> Self {
        self.success = false;
        self.severity = "warning";
        self.response_status = Some(status);
        self
    }
    pub fn status(mut self, status: i32) -> Self {
        self.response_status = Some(status);
        self
    }
    pub fn severity(mut self, s: &'static str) -> Self {
        self.severity = s;
        self
    }
    pub fn context(mut self, ctx: &RequestContext) -> Self {
        self.ip_address = ctx.ip.clone();
        self.user_agent = ctx.user_agent.clone();
        self.request_id = ctx.request_id.clone();
        self
    }
}

/// Writes one audit row through the executor it is given: pass the transaction of the change
/// it records, so both commit or roll back together.
pub use self::insert as record;

/// The keys of `old_values`/`new_values` that hold a person's identifying data. Their values are
/// stored encrypted with that person's key (`gad_service::audit::record` seals them), so that
/// erasure can make them unreadable without touching the hash-chained rows.
pub const PERSONAL_FIELDS: [&str; 6] = [
    "email",
    "nombre",
    "apellido",
    "dni",
    "telefono",
    "telegram_id",
];

/// The key of a sealed value: `{"cifrado": "aes-256-gcm", "persona": <usuario id>, "dato": "…"}`.
pub const SEALED_TAG: &str = "cifrado";

/// What a personal value reads as once its person's key is gone (and what is written for a
/// person who has already been erased, who has no key any more).
pub const ERASED: &str = "[borrado]";

/// True when `v` may be stored under a personal key: nothing, a sealed value, or the erased mark.
pub fn is_storable_personal(v: &Value) -> bool {
    match v {
        Value::Null => true,
        Value::Object(m) => m.contains_key(SEALED_TAG),
        Value::String(s) => s == ERASED,
        _ => false,
    }
}

/// The first personal field `e` would store in clear, if any.
pub fn clear_personal_field(e: &AuditEntry) -> Option<&'static str> {
    [&e.old_values, &e.new_values]
        .into_iter()
        .flatten()
        .filter_map(Value::as_object)
        .find_map(|m| {
            PERSONAL_FIELDS
                .into_iter()
                .find(|f| m.get(*f).is_some_and(|v| !is_storable_personal(v)))
        })
}

/// Inserts one audit row (its content hash is fixed by the trigger, its chain fields by the
/// sealer once it has committed). Refuses an entry that
/// would store a personal value in clear: such an entry goes through
/// `gad_service::audit::record`, which encrypts it first.
pub async fn insert<'e, E: PgExecutor<'e>>(exec: E, e: &AuditEntry) -> Result<(), sqlx::Error> {
    if let Some(field) = clear_personal_field(e) {
        return Err(sqlx::Error::Protocol(format!(
            "audit entry {} would store the personal field {field} in clear",
            e.event_type
        )));
    }
    sqlx::query(
        "INSERT INTO audit_logs (event_type, severity, user_id, ip_address, user_agent, request_id,
            resource_type, resource_id, action_description, old_values, new_values, success, response_status)
         VALUES ($1, $2, $3, $4::inet, $5, $6, $7, $8, $9, $10, $11, $12, $13)",
    )
    .bind(&e.event_type)
    .bind(e.severity)
    .bind(e.user_id)
    .bind(&e.ip_address)
    .bind(&e.user_agent)
    .bind(&e.request_id)
    .bind(&e.resource_type)
    .bind(&e.resource_id)
    .bind(&e.action_description)
    .bind(&e.old_values)
    .bind(&e.new_values)
    .bind(e.success)
    .bind(e.response_status)
    .execute(exec)
    .await?;
    Ok(())
}

/// The hash of the first link (before any row).
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// One row as the chain sees it: every hashed field as PostgreSQL renders it to text.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ChainRow {
    pub id: i64,
    pub chain_seq: i64,
    pub prev_hash: String,
    pub row_hash: String,
    /// The content hash fixed at insert (NULL on rows chained before the sealer existed).
    pub content_hash: Option<String>,
    /// The hashed fields, in the canonical order (NULL = None).
    pub uuid: Option<String>,
    pub event_type: Option<String>,
    pub severity: Option<String>,
    pub user_id: Option<String>,
    pub ip_address: Option<String>,
    pub user_agent: Option<String>,
    pub request_id: Option<String>,
    pub resource_type: Option<String>,
    pub resource_id: Option<String>,
    pub action_description: Option<String>,
    pub old_values: Option<String>,
    pub new_values: Option<String>,
    pub success: Option<String>,
    pub response_status: Option<String>,
    pub retention_until: Option<String>,
    pub created_at: Option<String>,
}

/// The hashed fields of a row, each rendered to text as the SQL hash functions render it.
const CONTENT_COLUMNS: &str = "uuid::text AS uuid, event_type, severity,
    user_id::text AS user_id, ip_address::text AS ip_address, user_agent, request_id, resource_type,
    resource_id, action_description, old_values::text AS old_values, new_values::text AS new_values,
    success::text AS success, response_status::text AS response_status,
    to_char(retention_until AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US') AS retention_until,
    to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US') AS created_at";

/// Feeds `fields` in the canonical form: each as '-' (NULL) or '<octets>:<text>', joined by '|'.
fn hash_fields<'a>(h: &mut Sha256, fields: impl IntoIterator<Item = Option<&'a str>>) {
    for (i, f) in fields.into_iter().enumerate() {
        if i > 0 {
            h.update(b"|");
        }
        match f {
            None => h.update(b"-"),
            Some(v) => {
                h.update(v.len().to_string().as_bytes());
                h.update(b":");
                h.update(v.as_bytes());
            }
        }
    }
}

impl ChainRow {
    /// sha256(prev_hash | canonical content), hex: the same rule as `audit_row_hash` in SQL.
    pub fn compute_hash(&self, prev: &str) -> String {
        let id = self.id.to_string();
        let seq = self.chain_seq.to_string();
        let mut h = Sha256::new();
        h.update(prev.as_bytes());
        h.update(b"|");
        hash_fields(&mut h, self.fields(&id, Some(&seq)));
        hex::encode(h.finalize())
    }

    /// sha256(canonical content without the chain position), hex: the rule of
    /// `audit_content_hash` in SQL, fixed at insert.
    pub fn compute_content_hash(&self) -> String {
        let id = self.id.to_string();
        let mut h = Sha256::new();
        hash_fields(&mut h, self.fields(&id, None));
        hex::encode(h.finalize())
    }

    /// The hashed fields in the canonical order; the chain position (third) only when given.
    fn fields<'a>(&'a self, id: &'a str, seq: Option<&'a str>) -> Vec<Option<&'a str>> {
        let mut fields = vec![Some(id), self.uuid.as_deref()];
        if seq.is_some() {
            fields.push(seq);
        }
        fields.extend([
            self.event_type.as_deref(),
            self.severity.as_deref(),
            self.user_id.as_deref(),
            self.ip_address.as_deref(),
            self.user_agent.as_deref(),
            self.request_id.as_deref(),
            self.resource_type.as_deref(),
            self.resource_id.as_deref(),
            self.action_description.as_deref(),
            self.old_values.as_deref(),
            self.new_values.as_deref(),
            self.success.as_deref(),
            self.response_status.as_deref(),
            self.retention_until.as_deref(),
            self.created_at.as_deref(),
        ]);
        fields
    }
}

/// What a walk of the chain found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct VerifyReport {
    /// Rows checked.
    pub rows: u64,
    /// First chain position checked (after the purged prefix).
    pub first_seq: i64,
    /// Last chain position recorded by the head.
    pub head_seq: i64,
    /// Committed rows not sealed into the chain yet (their content hash was checked).
    pub unsealed: u64,
    /// None: the chain is intact.
    pub problem: Option<ChainProblem>,
}

/// The first defect, naming the row.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ChainProblem {
    /// The row's content no longer matches its hash (altered by hand).
    Altered { id: i64, chain_seq: i64 },
    /// The row does not link to the previous row's hash: the previous row (`prev_id`) was
    /// rewritten with a recomputed hash, or this row's link was.
    BrokenLink {
        id: i64,
        chain_seq: i64,
        prev_id: Option<i64>,
    },
    /// A row not sealed yet no longer matches the content hash fixed when it was written.
    AlteredUnsealed { id: i64 },
    /// Positions `from..=to` are missing (rows deleted by hand); `next_id` is the row after.
    Missing {
        from: i64,
        to: i64,
        next_id: Option<i64>,
    },
}

impl std::fmt::Display for ChainProblem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ChainProblem::Altered { id, chain_seq } => write!(
                f,
                "row id={id} (chain_seq {chain_seq}) was altered: its content does not match its hash"
            ),
            ChainProblem::AlteredUnsealed { id } => write!(
                f,
                "row id={id} (not sealed yet) was altered: its content does not match its content hash"
            ),
            ChainProblem::BrokenLink {
                id,
                chain_seq,
                prev_id,
            } => match prev_id {
                Some(p) => write!(
                    f,
                    "row id={id} (chain_seq {chain_seq}) does not link to the hash of row id={p}: one of them was rewritten"
                ),
                None => write!(
                    f,
                    "row id={id} (chain_seq {chain_seq}) does not link to the chain's anchor"
                ),
            },
            ChainProblem::Missing { from, to, next_id } => match next_id {
                Some(n) => write!(
                    f,
                    "rows missing: chain_seq {from}..={to} (deleted before row id={n})"
                ),
                None => write!(
                    f,
                    "rows missing: chain_seq {from}..={to} (end of the chain)"
                ),
            },
        }
    }
}

/// Walks the whole chain in order (streamed: constant memory), then the rows not sealed yet
/// (their content hashes), and reports the first defect. Seal first ([`seal_pending`]) to walk
/// every committed row as part of the chain.
pub async fn verify(db: &mut PgConnection) -> Result<VerifyReport, sqlx::Error> {
    let (first_after, mut expected_prev): (i64, String) = sqlx::query_as(
        "SELECT purged_through_seq, purged_through_hash FROM audit_chain_anchor WHERE id = 1",
    )
    .fetch_optional(&mut *db)
    .await?
    .unwrap_or((0, GENESIS.to_string()));
    let head_seq: i64 = sqlx::query_scalar("SELECT last_seq FROM audit_chain_head WHERE id = 1")
        .fetch_optional(&mut *db)
        .await?
        .unwrap_or(0);
    let sql = format!(
        "SELECT id, chain_seq, prev_hash, row_hash, content_hash, {CONTENT_COLUMNS}
         FROM audit_logs WHERE chain_seq IS NOT NULL ORDER BY chain_seq"
    );
    let mut rows = sqlx::query_as::<_, ChainRow>(&sql).fetch(&mut *db);
    let mut expected_seq = first_after + 1;
    let mut n = 0u64;
    let mut prev_id: Option<i64> = None;
    let mut problem = None;
    while let Some(r) = rows.try_next().await? {
        n += 1;
        if r.chain_seq != expected_seq {
            problem = Some(ChainProblem::Missing {
                from: expected_seq,
                to: r.chain_seq - 1,
                next_id: Some(r.id),
            });
            break;
        }
        // Once sealed, the row hash covers the content: the content hash vouched for the row
        // only until then (checked for the rows still waiting, below).
        if r.row_hash != r.compute_hash(&r.prev_hash) {
            problem = Some(ChainProblem::Altered {
                id: r.id,
                chain_seq: r.chain_seq,
            });
            break;
        }
        if r.prev_hash != expected_prev {
            problem = Some(ChainProblem::BrokenLink {
                id: r.id,
                chain_seq: r.chain_seq,
                prev_id,
            });
            break;
        }
        prev_id = Some(r.id);
        expected_prev = r.row_hash;
        expected_seq += 1;
    }
    drop(rows);
    if problem.is_none() && expected_seq <= head_seq {
        problem = Some(ChainProblem::Missing {
            from: expected_seq,
            to: head_seq,
            next_id: None,
        });
    }
    let sql = format!(
        "SELECT id, 0::bigint AS chain_seq, '' AS prev_hash, '' AS row_hash, content_hash,
                {CONTENT_COLUMNS}
         FROM audit_logs WHERE chain_seq IS NULL ORDER BY id"
    );
    let mut rows = sqlx::query_as::<_, ChainRow>(&sql).fetch(&mut *db);
    let mut unsealed = 0u64;
    while let Some(r) = rows.try_next().await? {
        unsealed += 1;
        if problem.is_none() && r.content_hash.as_deref() != Some(&r.compute_content_hash()) {
            problem = Some(ChainProblem::AlteredUnsealed { id: r.id });
        }
    }
    Ok(VerifyReport {
        rows: n,
        first_seq: first_after + 1,
        head_seq,
        unsealed,
        problem,
    })
}

/// One audit row for `gad audit export` and the data-subject export.
#[derive(Debug, Clone, Default, Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct AuditExportRow {
    pub id: i64,
    /// None while the row waits for the sealer (at most about a second after its commit).
    pub chain_seq: Option<i64>,
    pub event_type: String,
    pub severity: String,
    pub user_id: Option<i64>,
    pub ip_address: Option<String>,
    pub user_agent: Option<String>,
    pub request_id: Option<String>,
    pub resource_type: Option<String>,
    pub resource_id: Option<String>,
    pub action_description: Option<String>,
    #[schema(value_type = Option<Object>)]
    pub old_values: Option<serde_json::Value>,
    #[schema(value_type = Option<Object>)]
    pub new_values: Option<serde_json::Value>,
    pub success: bool,
    pub response_status: Option<i32>,
    #[serde(serialize_with = "gad_core::time::ser")]
    pub created_at: DateTime<Utc>,
    pub row_hash: Option<String>,
}

pub const EXPORT_COLUMNS: &str =
    "id, chain_seq, event_type, severity, user_id, host(ip_address) AS ip_address,
    user_agent, request_id, resource_type, resource_id, action_description, old_values, new_values,
    success, response_status, created_at, row_hash";

/// Audit rows created in [desde, hasta], oldest first, as a stream.
pub fn export_range<'c>(
    db: &'c mut PgConnection,
    desde: Option<DateTime<Utc>>,
    hasta: Option<DateTime<Utc>>,
) -> futures::stream::BoxStream<'c, Result<AuditExportRow, sqlx::Error>> {
    // The SQL text is 'static: built from constants only.
    static SQL: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    let sql = SQL.get_or_init(|| {
        format!(
            "SELECT {EXPORT_COLUMNS} FROM audit_logs
             WHERE ($1::timestamptz IS NULL OR created_at >= $1)
               AND ($2::timestamptz IS NULL OR created_at <= $2)
             ORDER BY chain_seq NULLS LAST, id"
        )
    });
    sqlx::query_as::<_, AuditExportRow>(sql.as_str())
        .bind(desde)
        .bind(hasta)
        .fetch(db)
}

/// Retention: deletes (at most `batch` rows of) the prefix of the chain past its
/// `retention_until` through the database's `audit_purge_expired` (the only path by which the
/// server's role can delete audit rows; it takes no age: each row's expiry was fixed at insert).
pub async fn purge_expired<'e, E: PgExecutor<'e>>(exec: E, batch: i32) -> Result<u64, sqlx::Error> {
    let n: i64 = sqlx::query_scalar("SELECT audit_purge_expired($1)")
        .bind(batch)
        .fetch_one(exec)
        .await?;
    Ok(u64::try_from(n).unwrap_or(0))
}

/// Rows one sealer pass links at most (`audit_seal`'s batch).
pub const SEAL_BATCH: i32 = 10_000;

/// One sealer pass: links (at most `batch` of) the committed rows not yet in the chain, in id
/// order after the head, through the database's `audit_seal` (SECURITY DEFINER: the only way the
/// server's role can fill the chain columns). Returns the rows sealed, or None when another
/// pass (another instance) holds the sealer's lock.
pub async fn seal<'e, E: PgExecutor<'e>>(exec: E, batch: i32) -> Result<Option<u64>, sqlx::Error> {
    let n: Option<i64> = sqlx::query_scalar("SELECT audit_seal($1)")
        .bind(batch)
        .fetch_one(exec)
        .await?;
    Ok(n.map(|n| u64::try_from(n).unwrap_or(0)))
}

/// Committed rows not sealed yet, and the age in seconds of the oldest of them (0 when none):
/// the sealer's backlog and lag.
pub async fn unsealed<'e, E: PgExecutor<'e>>(exec: E) -> Result<(i64, f64), sqlx::Error> {
    sqlx::query_as(
        "SELECT count(*), coalesce(extract(epoch FROM now() - min(created_at))::float8, 0)
         FROM audit_logs WHERE chain_seq IS NULL",
    )
    .fetch_one(exec)
    .await
}

/// Seals every row committed before the call, waiting (up to about `patience`) for a pass of
/// another instance that holds the lock. Returns the rows this call sealed.
pub async fn seal_pending(
    db: &mut PgConnection,
    patience: std::time::Duration,
) -> Result<u64, sqlx::Error> {
    let deadline = std::time::Instant::now() + patience;
    let mut total = 0u64;
    loop {
        match seal(&mut *db, SEAL_BATCH).await? {
            Some(n) => {
                total += n;
                if n < SEAL_BATCH as u64 {
                    return Ok(total);
                }
            }
            None if std::time::Instant::now() >= deadline => return Ok(total),
            None => tokio::time::sleep(std::time::Duration::from_millis(20)).await,
        }
    }
}

/// The retention new audit rows get (`audit_settings`, never below 365 days).
pub async fn retention_days<'e, E: PgExecutor<'e>>(exec: E) -> Result<i32, sqlx::Error> {
    sqlx::query_scalar("SELECT retention_days FROM audit_settings WHERE id = 1")
        .fetch_one(exec)
        .await
}

/// Sets the retention of rows inserted from now on; the owner's connection only (the server's
/// role may not). Returns the previous value when it changed.
pub async fn set_retention_days<'e, E: PgExecutor<'e>>(
    exec: E,
    days: i32,
) -> Result<Option<i32>, sqlx::Error> {
    sqlx::query_scalar(
        "WITH old AS (SELECT retention_days FROM audit_settings WHERE id = 1)
         UPDATE audit_settings SET retention_days = $1, updated_at = now()
         WHERE id = 1 AND retention_days <> $1
         RETURNING (SELECT retention_days FROM old)",
    )
    .bind(days)
    .fetch_optional(exec)
    .await
}

/// The end of the chain: its last position, that row's hash, and when it was written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChainHead {
    pub seq: i64,
    pub hash: String,
    /// When the head row was written as its retention knows it (its `retention_until` minus the
    /// 365-day floor, never later than the seal): its retention cannot end before this plus the
    /// floor.
    pub at: DateTime<Utc>,
}

/// The chain's head, as the sealer keeps it (the last sealed row).
pub async fn chain_head<'e, E: PgExecutor<'e>>(exec: E) -> Result<ChainHead, sqlx::Error> {
    let (seq, hash, at): (i64, String, DateTime<Utc>) =
        sqlx::query_as("SELECT last_seq, last_hash, updated_at FROM audit_chain_head WHERE id = 1")
            .fetch_one(exec)
            .await?;
    Ok(ChainHead { seq, hash, at })
}

/// Where the remaining chain starts: the last purged position and its hash (0 and
/// [`GENESIS`] before any purge).
pub async fn chain_anchor<'e, E: PgExecutor<'e>>(exec: E) -> Result<(i64, String), sqlx::Error> {
    sqlx::query_as(
        "SELECT purged_through_seq, purged_through_hash FROM audit_chain_anchor WHERE id = 1",
    )
    .fetch_one(exec)
    .await
}

/// The id and stored hash of the row at `chain_seq`, if it is still there.
pub async fn row_hash_at<'e, E: PgExecutor<'e>>(
    exec: E,
    chain_seq: i64,
) -> Result<Option<(i64, String)>, sqlx::Error> {
    sqlx::query_as("SELECT id, row_hash FROM audit_logs WHERE chain_seq = $1")
        .bind(chain_seq)
        .fetch_optional(exec)
        .await
}

/// One audit_logs row on the wire.
#[derive(Debug, serde::Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct AuditRow {
    pub id: i64,
    pub uuid: String,
    pub event_type: String,
    pub severity: String,
    pub user_id: Option<i64>,
    pub ip_address: Option<String>,
    pub user_agent: Option<String>,
    pub request_id: Option<String>,
    pub resource_type: Option<String>,
    pub resource_id: Option<String>,
    pub action_description: Option<String>,
    #[schema(value_type = Option<Object>)]
    pub old_values: Option<serde_json::Value>,
    #[schema(value_type = Option<Object>)]
    pub new_values: Option<serde_json::Value>,
    pub success: bool,
    pub response_status: Option<i32>,
    #[serde(serialize_with = "gad_core::time::ser")]
    pub retention_until: chrono::DateTime<chrono::Utc>,
    #[serde(serialize_with = "gad_core::time::ser")]
    pub created_at: chrono::DateTime<chrono::Utc>,
    #[serde(serialize_with = "gad_core::time::ser")]
    pub updated_at: chrono::DateTime<chrono::Utc>,
}

/// Filters of the audit list (`GET /admin/audit`).
pub struct ListFilter<'a> {
    pub desde: Option<chrono::DateTime<chrono::Utc>>,
    pub hasta: Option<chrono::DateTime<chrono::Utc>>,
    pub user_id: Option<i64>,
    pub event_type: Option<&'a str>,
    pub resource_type: Option<&'a str>,
    pub resource_id: Option<&'a str>,
    /// Only entries about tasks in this zone (`zona_id` or `comisaria_id`): the task's own
    /// entries and those of its notes, attachments and alerts (which name it in new_values).
    pub zona_id: Option<i64>,
    pub skip: i64,
    pub limit: i64,
}

/// Audit entries, newest first.
pub async fn list<'e, E: PgExecutor<'e>>(
    exec: E,
    f: &ListFilter<'_>,
) -> Result<Vec<AuditRow>, sqlx::Error> {
    sqlx::query_as(
        "SELECT id, uuid::text AS uuid, event_type, severity, user_id, host(ip_address) AS ip_address,
                user_agent, request_id, resource_type, resource_id, action_description, old_values,
                new_values, success, response_status, retention_until, created_at, updated_at
         FROM audit_logs
         WHERE ($1::timestamptz IS NULL OR created_at >= $1)
           AND ($2::timestamptz IS NULL OR created_at <= $2)
           AND ($3::bigint IS NULL OR user_id = $3)
           AND ($4::text IS NULL OR event_type = $4)
           AND ($5::text IS NULL OR resource_type = $5)
           AND ($6::text IS NULL OR resource_id = $6)
           AND ($9::bigint IS NULL OR
                COALESCE(CASE WHEN resource_type = 'tarea' THEN resource_id END,
                         new_values->>'task_id', new_values->>'tarea_id',
                         old_values->>'task_id', old_values->>'tarea_id')
                IN (SELECT t.id::text FROM tareas t WHERE t.zona_id = $9 OR t.comisaria_id = $9))
         ORDER BY created_at DESC, id DESC
         OFFSET $7 LIMIT $8",
    )
    .bind(f.desde)
    .bind(f.hasta)
    .bind(f.user_id)
    .bind(f.event_type)
    .bind(f.resource_type)
    .bind(f.resource_id)
    .bind(f.skip)
    .bind(f.limit)
    .bind(f.zona_id)
    .fetch_all(exec)
    .await
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn personal_values_in_clear_are_refused_and_sealed_ones_accepted() {
        let clear = AuditEntry::new("user_updated", Some(1))
            .values(Some(json!({"nivel": 1, "dni": "123"})), None);
        assert_eq!(clear_personal_field(&clear), Some("dni"));
        let number = AuditEntry::new("x", None).values(None, Some(json!({"telegram_id": 5})));
        assert_eq!(clear_personal_field(&number), Some("telegram_id"));
        let sealed = AuditEntry::new("user_updated", Some(1)).values(
            Some(
                json!({"dni": {"cifrado": "aes-256-gcm", "persona": 1, "dato": "x"},
                        "telefono": null, "email": "[borrado]", "nivel": 1}),
            ),
            Some(json!({"motivo": "no personal key", "nombre": null})),
        );
        assert_eq!(clear_personal_field(&sealed), None);
        assert_eq!(clear_personal_field(&AuditEntry::new("login", None)), None);
    }
}
