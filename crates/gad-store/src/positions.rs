//! Positions at fleet scale: the batched write of location fixes, the day partitions
//! of `efectivo_ubicaciones`, the trail read and the located officers of the map snapshot.
//!
//! History is partitioned by UTC day (`efectivo_ubicaciones_pYYYYMMDD`, migration
//! 20261201002001). Partitions are created ahead by `efectivo_ubicaciones_ensure_partitions`
//! (one SQL function, called by the migration, the job and the writer's safety net) and retired
//! whole with `DETACH PARTITION … CONCURRENTLY` + `DROP TABLE`, which never blocks inserts.

use std::collections::HashMap;

use chrono::{DateTime, NaiveDate, Utc};
use gad_core::positions::BBox;
use sqlx::{PgConnection, PgPool};

use super::efectivos::{EFECTIVO_COLUMNS, EfectivoRow, PuntoTrayecto};

/// One location fix as reported by a device (HTTP, Telegram, a future gateway).
#[derive(Debug, Clone, PartialEq)]
pub struct Fix {
    pub efectivo_id: i64,
    pub lat: f64,
    pub lng: f64,
    pub accuracy_m: Option<f64>,
    pub heading: Option<f64>,
    pub speed: Option<f64>,
    /// When the device took the fix; the newest one wins the officer's current position.
    pub recorded_at: DateTime<Utc>,
}

/// What a batch did for one fix.
#[derive(Debug, Clone)]
pub enum Written {
    /// No live efectivo with that id: nothing stored.
    NotFound,
    /// Stored in the history; `applied` when it became the officer's current position (it is
    /// the newest fix known), `row` is the officer after the batch.
    Stored {
        row: Box<EfectivoRow>,
        applied: bool,
    },
}

/// Writes a batch of fixes in one transaction: every fix of a live officer goes into the
/// history, and per officer the newest fix of the batch becomes the current position unless
/// the stored one is newer (`recorded_at` compared, so an older fix never overwrites a newer
/// one, whatever order batches commit in). Returns one answer per fix, in order.
///
/// Statements: lock the officers' rows in id order (concurrent batches, on this instance or
/// another, never deadlock), one multi-row statement for history + current position, one read
/// of the resulting rows, commit.
pub async fn write_batch(db: &PgPool, fixes: &[Fix]) -> Result<Vec<Written>, sqlx::Error> {
    let mut ids: Vec<i64> = fixes.iter().map(|f| f.efectivo_id).collect();
    ids.sort_unstable();
    ids.dedup();
    let mut tx = db.begin().await?;
    let live: Vec<i64> = sqlx::query_scalar(
        "SELECT id FROM efectivos WHERE id = ANY($1) AND deleted_at IS NULL
         ORDER BY id FOR NO KEY UPDATE",
    )
    .bind(&ids)
    .fetch_all(&mut *tx)
    .await?;
    if !live.is_empty() {
        let n = fixes.len();
        let mut id = Vec::with_capacity(n);
        let mut lng = Vec::with_capacity(n);
        let mut lat = Vec::with_capacity(n);
        let mut acc = Vec::with_capacity(n);
        let mut head = Vec::with_capacity(n);
        let mut speed = Vec::with_capacity(n);
        let mut at = Vec::with_capacity(n);
        let mut ord = Vec::with_capacity(n);
        for (i, f) in fixes.iter().enumerate() {
            id.push(f.efectivo_id);
            lng.push(f.lng);
            lat.push(f.lat);
            acc.push(f.accuracy_m);
            head.push(f.heading);
            speed.push(f.speed);
            at.push(f.recorded_at);
            ord.push(i as i32);
        }
        sqlx::query(
            "WITH input AS (
                SELECT * FROM unnest($1::bigint[], $2::float8[], $3::float8[], $4::float8[],
                                     $5::float8[], $6::float8[], $7::timestamptz[], $8::int[])
                    AS t(efectivo_id, lng, lat, accuracy_m, heading, speed, recorded_at, ord)
                WHERE efectivo_id = ANY($9::bigint[])),
             hist AS (
                INSERT INTO efectivo_ubicaciones (efectivo_id, geom, accuracy_m, heading, speed, recorded_at)
                SELECT efectivo_id, ST_SetSRID(ST_MakePoint(lng, lat), 4326)::geography,
                       accuracy_m, heading, speed, recorded_at
                FROM input ORDER BY recorded_at, efectivo_id
                RETURNING 1),
             latest AS (
                SELECT DISTINCT ON (efectivo_id) * FROM input
                ORDER BY efectivo_id, recorded_at DESC, ord DESC)
             UPDATE efectivos e
             SET geom = ST_SetSRID(ST_MakePoint(l.lng, l.lat), 4326)::geography,
                 ubicacion_accuracy_m = l.accuracy_m, ubicacion_heading = l.heading,
                 ubicacion_speed = l.speed, ubicacion_updated_at = l.recorded_at
             FROM latest l
             WHERE e.id = l.efectivo_id
               AND (e.ubicacion_updated_at IS NULL OR e.ubicacion_updated_at <= l.recorded_at)",
        )
        .bind(&id)
        .bind(&lng)
        .bind(&lat)
        .bind(&acc)
        .bind(&head)
        .bind(&speed)
        .bind(&at)
        .bind(&ord)
        .bind(&live)
        .execute(&mut *tx)
        .await?;
    }
    let sql = format!(
        "SELECT {EFECTIVO_COLUMNS}, NULL::float8 AS distance_m
         FROM efectivos e JOIN usuarios u ON u.id = e.usuario_id
         WHERE e.id = ANY($1)"
    );
    let rows: Vec<EfectivoRow> = if live.is_empty() {
        Vec::new()
    } else {
        sqlx::query_as(&sql).bind(&live).fetch_all(&mut *tx).await?
    };
    tx.commit().await?;
    let by_id: HashMap<i64, &EfectivoRow> = rows.iter().map(|r| (r.id, r)).collect();
    // The fix each officer's position was taken from, by the statement's rule: newest
    // recorded_at, then the latest submitted.
    let mut newest: HashMap<i64, usize> = HashMap::new();
    for (i, f) in fixes.iter().enumerate() {
        let e = newest.entry(f.efectivo_id).or_insert(i);
        if fixes[*e].recorded_at <= f.recorded_at {
            *e = i;
        }
    }
    Ok(fixes
        .iter()
        .enumerate()
        .map(|(i, f)| match by_id.get(&f.efectivo_id) {
            None => Written::NotFound,
            Some(row) => Written::Stored {
                applied: newest.get(&f.efectivo_id) == Some(&i)
                    && row.ubicacion_updated_at == Some(f.recorded_at),
                row: Box::new((*row).clone()),
            },
        })
        .collect())
}

/// True when the error is an insert that found no partition for its day.
pub fn is_missing_partition(e: &sqlx::Error) -> bool {
    match e {
        sqlx::Error::Database(d) => {
            d.code().as_deref() == Some("23514") && d.message().contains("no partition")
        }
        _ => false,
    }
}

/// True for the transient conflicts a retried batch gets past (deadlock, serialization).
pub fn is_retryable(e: &sqlx::Error) -> bool {
    match e {
        sqlx::Error::Database(d) => matches!(d.code().as_deref(), Some("40P01" | "40001")),
        _ => false,
    }
}

/// Creates the missing day partitions from `first` to `last` (inclusive); returns how many.
pub async fn ensure_partitions(
    db: &PgPool,
    first: NaiveDate,
    last: NaiveDate,
) -> Result<i32, sqlx::Error> {
    sqlx::query_scalar("SELECT efectivo_ubicaciones_ensure_partitions($1, $2)")
        .bind(first)
        .bind(last)
        .fetch_one(db)
        .await
}

/// One day partition of the history.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct Partition {
    pub name: String,
    pub day: NaiveDate,
    /// A `DETACH … CONCURRENTLY` was interrupted: it must be finalised before the drop.
    pub detach_pending: bool,
}

/// The day partitions attached to `efectivo_ubicaciones`, oldest first (catalog only).
pub async fn partitions(db: &PgPool) -> Result<Vec<Partition>, sqlx::Error> {
    sqlx::query_as(
        "SELECT c.relname::text AS name,
                to_date(substring(c.relname from 'p([0-9]{8})$'), 'YYYYMMDD') AS day,
                i.inhdetachpending AS detach_pending
         FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
         WHERE i.inhparent = 'efectivo_ubicaciones'::regclass
           AND c.relname ~ '^efectivo_ubicaciones_p[0-9]{8}$'
         ORDER BY day",
    )
    .fetch_all(db)
    .await
}

/// Rows in one partition (for reports and tests; an estimate would do for monitoring).
pub async fn partition_rows(db: &PgPool, p: &Partition) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar(&format!("SELECT count(*) FROM \"{}\"", quote(&p.name)))
        .fetch_one(db)
        .await
}

fn quote(name: &str) -> String {
    name.replace('"', "\"\"")
}

/// Retires one day partition: detached concurrently (inserts and reads of other days go on;
/// the detach waits only for queries that could see this day), then dropped as a standalone
/// table. An interrupted earlier detach is finalised instead.
pub async fn drop_partition(db: &mut PgConnection, p: &Partition) -> Result<(), sqlx::Error> {
    let name = quote(&p.name);
    let detach = if p.detach_pending {
        format!("ALTER TABLE efectivo_ubicaciones DETACH PARTITION \"{name}\" FINALIZE")
    } else {
        format!("ALTER TABLE efectivo_ubicaciones DETACH PARTITION \"{name}\" CONCURRENTLY")
    };
    // CONCURRENTLY cannot run inside a transaction block: plain simple-protocol statements.
    let drop = format!("DROP TABLE IF EXISTS \"{name}\"");
    // A &str without arguments goes over the simple protocol, like raw_sql.
    sqlx::Executor::execute(&mut *db, detach.as_str()).await?;
    sqlx::Executor::execute(&mut *db, drop.as_str()).await?;
    Ok(())
}

/// Session advisory lock taken by the instance that retires partitions, so that several
/// instances never detach the same day at once (the others skip the pass). Returns whether
/// this connection got it.
pub async fn try_lock_retention(db: &mut PgConnection) -> Result<bool, sqlx::Error> {
    sqlx::query_scalar("SELECT pg_try_advisory_lock(7345021)")
        .fetch_one(db)
        .await
}

pub async fn unlock_retention(db: &mut PgConnection) -> Result<(), sqlx::Error> {
    sqlx::query("SELECT pg_advisory_unlock(7345021)")
        .execute(db)
        .await?;
    Ok(())
}

/// Windows longer than this are pre-sampled in SQL (see [`trail`]).
pub const RAW_WINDOW_HOURS: i64 = 48;
/// Time buckets of a pre-sampled window: at most this many rows come back.
pub const PRESAMPLE: i64 = 20_000;

/// An officer's fixes in `[desde, hasta]`, oldest first, and how many fixes the window holds.
/// Only the day partitions of the window are read (pruning on `recorded_at`), through the
/// (efectivo_id, recorded_at) index, in index order (no sort). A window longer than
/// `RAW_WINDOW_HOURS` is cut into `PRESAMPLE` equal time buckets and only the first fix of
/// each comes back (a month at one fix per 10 s is 268 000 rows; the answer holds at most
/// 5 000 anyway).
pub async fn trail(
    db: &PgPool,
    id: i64,
    desde: DateTime<Utc>,
    hasta: DateTime<Utc>,
) -> Result<(Vec<PuntoTrayecto>, i64), sqlx::Error> {
    if hasta - desde <= chrono::Duration::hours(RAW_WINDOW_HOURS) {
        let rows: Vec<PuntoTrayecto> = sqlx::query_as(
            "SELECT ST_Y(geom::geometry) AS lat, ST_X(geom::geometry) AS lng,
                    accuracy_m, heading, speed, recorded_at
             FROM efectivo_ubicaciones
             WHERE efectivo_id = $1 AND recorded_at BETWEEN $2 AND $3
             ORDER BY recorded_at",
        )
        .bind(id)
        .bind(desde)
        .bind(hasta)
        .fetch_all(db)
        .await?;
        let total = rows.len() as i64;
        return Ok((rows, total));
    }
    let span_s = ((hasta - desde).num_milliseconds() as f64 / 1000.0).max(0.001);
    let bucket_s = span_s / PRESAMPLE as f64;
    #[derive(sqlx::FromRow)]
    struct Row {
        #[sqlx(flatten)]
        p: PuntoTrayecto,
        total: i64,
    }
    let rows: Vec<Row> = sqlx::query_as(
        "SELECT ST_Y(geom::geometry) AS lat, ST_X(geom::geometry) AS lng,
                accuracy_m, heading, speed, recorded_at, total
         FROM (SELECT DISTINCT ON (b) geom, accuracy_m, heading, speed, recorded_at, total
               FROM (SELECT *, floor(extract(epoch FROM recorded_at - $2) / $4)::bigint AS b,
                            count(*) OVER () AS total
                     FROM efectivo_ubicaciones
                     WHERE efectivo_id = $1 AND recorded_at BETWEEN $2 AND $3) w
               ORDER BY b, recorded_at) s
         ORDER BY recorded_at",
    )
    .bind(id)
    .bind(desde)
    .bind(hasta)
    .bind(bucket_s)
    .fetch_all(db)
    .await?;
    let total = rows.first().map_or(0, |r| r.total);
    Ok((rows.into_iter().map(|r| r.p).collect(), total))
}

/// One located officer for the map snapshot.
#[derive(Debug, sqlx::FromRow)]
pub struct Located {
    pub id: i64,
    pub lat: f64,
    pub lng: f64,
    pub estado: String,
    /// The officer's first and last name (null when the user row is gone).
    pub nombre: Option<String>,
}

/// Every located, live officer (inside `bbox` when given), by id, with its name. Reads
/// `efectivos` (and each one's `usuarios` row) — the current position lives there; the history
/// is never scanned.
pub async fn located(db: &PgPool, bbox: Option<BBox>) -> Result<Vec<Located>, sqlx::Error> {
    let (w, s, e, n) = match bbox {
        Some(b) => (Some(b.w), Some(b.s), Some(b.e), Some(b.n)),
        None => (None, None, None, None),
    };
    sqlx::query_as(
        "SELECT id, lat, lng, estado, nombre FROM (
            SELECT e.id, ST_Y(e.geom::geometry) AS lat, ST_X(e.geom::geometry) AS lng,
                   e.estado_disponibilidad::text AS estado,
                   NULLIF(btrim(concat_ws(' ', u.nombre, u.apellido)), '') AS nombre
            FROM efectivos e LEFT JOIN usuarios u ON u.id = e.usuario_id
            WHERE e.deleted_at IS NULL AND e.geom IS NOT NULL) x
         WHERE $1::float8 IS NULL
            OR (lat BETWEEN $2 AND $4
                AND CASE WHEN $1 <= $3 THEN lng BETWEEN $1 AND $3 ELSE lng >= $1 OR lng <= $3 END)
         ORDER BY id",
    )
    .bind(w)
    .bind(s)
    .bind(e)
    .bind(n)
    .fetch_all(db)
    .await
}

/// Locks the officer's row (inside the caller's transaction) and tells whether it is on the
/// way, so that its new position may be an arrival.
pub async fn lock_if_en_camino(db: &mut PgConnection, id: i64) -> Result<bool, sqlx::Error> {
    let estado: Option<String> = sqlx::query_scalar(
        "SELECT estado_disponibilidad::text FROM efectivos
         WHERE id = $1 AND deleted_at IS NULL FOR UPDATE",
    )
    .bind(id)
    .fetch_optional(db)
    .await?;
    Ok(estado.as_deref() == Some("EN_CAMINO"))
}
