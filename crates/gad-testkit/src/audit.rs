//! Audit-trail fixtures that only the database owner can make: rows already past their
//! retention, and a chain rewritten wholesale with every hash recomputed (what a superuser who
//! wanted to hide an edit would do). And [`seal`]: what a test calls before it reads the chain
//! columns of rows it has just written (the server's sealer links them within a period).

use sqlx::{Connection, Executor, PgConnection};

/// Links every committed audit row into the chain now (waiting for a pass of the server's
/// sealer in progress); returns the rows this call sealed.
pub async fn seal(db_url: &str) -> u64 {
    let mut c = PgConnection::connect(db_url).await.unwrap();
    let n = gad_store::audit::seal_pending(&mut c, std::time::Duration::from_secs(10))
        .await
        .unwrap();
    let _ = c.close().await;
    n
}

/// Appends one chained audit row per event type, already past its retention (a day ago), and
/// seals it (with every row committed before it). As the owner, with the trigger that fixes
/// `retention_until` at insert switched off for the insert.
pub async fn insert_expired_rows(db_url: &str, event_types: &[&str]) {
    let mut c = PgConnection::connect(db_url).await.unwrap();
    let mut tx = c.begin().await.unwrap();
    tx.execute("ALTER TABLE audit_logs DISABLE TRIGGER zy_audit_logs_retention")
        .await
        .unwrap();
    for e in event_types {
        sqlx::query(
            "INSERT INTO audit_logs (event_type, retention_until) VALUES ($1, now() - interval '1 day')",
        )
        .bind(e)
        .execute(&mut *tx)
        .await
        .unwrap();
    }
    tx.execute("ALTER TABLE audit_logs ENABLE TRIGGER zy_audit_logs_retention")
        .await
        .unwrap();
    tx.commit().await.unwrap();
    let _ = c.close().await;
    seal(db_url).await;
}

/// As a superuser: changes the event type of the row at `chain_seq`, then recomputes every
/// link and hash from there on with the sealer's own function and moves the head, so that
/// `gad audit verify` alone finds nothing (rows committed before are sealed first).
pub async fn rewrite_chain_from(db_url: &str, chain_seq: i64, event_type: &str) {
    seal(db_url).await;
    let mut c = PgConnection::connect(db_url).await.unwrap();
    c.execute("SET session_replication_role = replica")
        .await
        .unwrap();
    sqlx::query("UPDATE audit_logs SET event_type = $2 WHERE chain_seq = $1")
        .bind(chain_seq)
        .bind(event_type)
        .execute(&mut c)
        .await
        .unwrap();
    sqlx::query(
        "DO $$
         DECLARE
             r audit_logs;
             prev text;
         BEGIN
             SELECT purged_through_hash
             INTO prev FROM audit_chain_anchor WHERE id = 1;
             FOR r IN SELECT * FROM audit_logs WHERE chain_seq IS NOT NULL ORDER BY chain_seq LOOP
                 UPDATE audit_logs SET prev_hash = prev, row_hash = audit_row_hash(prev, r)
                 WHERE id = r.id RETURNING row_hash INTO prev;
             END LOOP;
             UPDATE audit_chain_head SET last_hash = prev WHERE id = 1;
         END $$",
    )
    .execute(&mut c)
    .await
    .unwrap();
    let _ = c.close().await;
}
