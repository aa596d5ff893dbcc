//! Nearest-first ordering, and what to do when PostGIS refuses its own index order.
//!
//! Every "nearest first" query (dispatch, next officer after a decline, suggestions, the map's
//! surroundings, the list's `near=`) orders by the KNN operator `geom <-> point`, so the GiST
//! index walks outwards from the point and a `LIMIT` stops early. For geography the index's
//! distance is an estimate from a float box that PostgreSQL re-checks against the exact one;
//! when a point has a geocentric coordinate that is tiny but not zero (a latitude or longitude
//! within ~1e-11° of 0°, ±90° or ±180°, on either side: the stored officer or the asked point),
//! the estimate can come out a rounding *above* the exact distance, and PostgreSQL stops the
//! query with "index returned tuples in wrong order" (XX000). Field coordinates never come close,
//! but any client can send them, and an emergency must not answer 500.
//!
//! So each such query runs first as it always did; on that one refusal it runs again ordered by
//! the exact spherical distance (`ST_Distance(.., false)`, what `<->` computes for geography):
//! the same answer, found by sorting the candidates within the radius instead of walking the
//! index. Inside a transaction the first attempt runs under a savepoint, so the refusal does not
//! abort the transaction — except the keyed emergency dispatch, a hot path, which retries its
//! whole transaction instead (a savepoint around every dispatch cost 14 % of its throughput).

use std::sync::OnceLock;

use sqlx::postgres::{PgArguments, PgRow};
use sqlx::query::QueryAs;
use sqlx::{Connection, FromRow, PgConnection, PgPool, Postgres};

/// How a nearest-first query orders its rows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Order {
    /// The KNN operator: the index walks outwards from the point.
    Index,
    /// The exact spherical distance, sorted: the fallback after a refusal.
    Exact,
}

impl Order {
    /// The `ORDER BY` key of the geography column `col` by its distance to the point `pt`.
    pub fn key(self, col: &str, pt: &str) -> String {
        match self {
            Order::Index => format!("{col} <-> {pt}"),
            Order::Exact => format!("ST_Distance({col}, {pt}, false)"),
        }
    }
}

/// Whether PostgreSQL refused the index's order (see the module's comment).
pub fn refused(e: &sqlx::Error) -> bool {
    matches!(e, sqlx::Error::Database(db)
        if db.code().as_deref() == Some("XX000")
            && db.message().contains("index returned tuples in wrong order"))
}

/// Says that a query fell back to the exact order (a warning: it should be rare).
pub fn log_fallback() {
    tracing::warn!(
        "nearest-first query: PostGIS refused its index order (a point within ~1e-11° of 0°, 90° or 180°); answered by exact distance"
    );
}

/// A query's parameters, bound onto the statement text it is given (once per attempt).
pub type Query<'q, O> = QueryAs<'q, Postgres, O, PgArguments>;

/// The two texts of one nearest-first statement: ordered by the index (written at once), and by
/// exact distance (written only if a refusal needs it: no extra work on the normal path).
pub struct NearestSql<F> {
    build: F,
    index: String,
    exact: OnceLock<String>,
}

impl<F: Fn(Order) -> String> NearestSql<F> {
    /// `build(order)` writes the statement with `order.key(..)` in its `ORDER BY`.
    pub fn new(build: F) -> Self {
        NearestSql {
            index: build(Order::Index),
            build,
            exact: OnceLock::new(),
        }
    }

    fn exact(&self) -> &str {
        self.exact.get_or_init(|| (self.build)(Order::Exact))
    }
}

/// Runs a nearest-first query outside a transaction with `bind`'s parameters: by the index, and
/// once more by the exact distance if PostGIS refuses the index's order.
pub async fn nearest_first<'q, O>(
    db: &PgPool,
    sql: &'q NearestSql<impl Fn(Order) -> String + Sync>,
    bind: impl Fn(Query<'q, O>) -> Query<'q, O>,
) -> Result<Vec<O>, sqlx::Error>
where
    O: Send + Unpin + for<'r> FromRow<'r, PgRow>,
{
    match bind(sqlx::query_as(&sql.index)).fetch_all(db).await {
        Err(e) if refused(&e) => {
            log_fallback();
            bind(sqlx::query_as(sql.exact())).fetch_all(db).await
        }
        other => other,
    }
}

/// The same inside a transaction: the index attempt runs under a savepoint (two more round
/// trips), so a refusal leaves the transaction usable for the exact attempt.
pub async fn nearest_first_in<'q, O>(
    conn: &mut PgConnection,
    sql: &'q NearestSql<impl Fn(Order) -> String + Sync>,
    bind: impl Fn(Query<'q, O>) -> Query<'q, O>,
) -> Result<Vec<O>, sqlx::Error>
where
    O: Send + Unpin + for<'r> FromRow<'r, PgRow>,
{
    let mut savepoint = conn.begin().await?;
    match bind(sqlx::query_as(&sql.index))
        .fetch_all(&mut *savepoint)
        .await
    {
        Ok(v) => {
            savepoint.commit().await?;
            Ok(v)
        }
        Err(e) if refused(&e) => {
            savepoint.rollback().await?;
            log_fallback();
            bind(sqlx::query_as(sql.exact())).fetch_all(conn).await
        }
        Err(e) => Err(e),
    }
}
