//! Maintenance purge (`gad_service::jobs::run_once`): rows past their retention go, fresh rows stay.
//! (The position history is retired by whole day partitions: tests/api/positions.rs.)

use gad_service::jobs::{PurgeCounts, run_once};
use gad_testkit::TestApp;
use sqlx::PgPool;

async fn count(pool: &PgPool, sql: &str) -> i64 {
    sqlx::query_scalar(sql).fetch_one(pool).await.unwrap()
}

async fn exec(pool: &PgPool, sql: &str, a: i64, b: i64) {
    sqlx::query(sql)
        .bind(a)
        .bind(b)
        .execute(pool)
        .await
        .unwrap();
}

#[tokio::test]
async fn purge_removes_only_expired_rows() {
    let app = TestApp::spawn().await;
    let p = &app.pool;
    let user = app.create_user(1).await.id;

    // Idempotency keys: 25 h old goes, 23 h old and brand new stay.
    exec(
        p,
        "INSERT INTO idempotency_keys (user_id, key, request_hash, created_at) VALUES
           ($1, 'old', 'h', now() - interval '25 hours'),
           ($1, 'recent', 'h', now() - interval '23 hours'),
           ($1, 'new', 'h', now())",
        user,
        0,
    )
    .await;

    // Revoked tokens: expired goes, still valid stays.
    exec(
        p,
        "INSERT INTO revoked_tokens (jti, user_id, expires_at) VALUES
           (gen_random_uuid(), $1, now() - interval '1 second'),
           (gen_random_uuid(), $1, now() + interval '10 minutes')",
        user,
        0,
    )
    .await;

    // WebSocket tickets: expired goes, valid stays.
    exec(
        p,
        "INSERT INTO ws_tickets (ticket, user_id, expires_at) VALUES
           ('t-old', $1, now() - interval '1 second'),
           ('t-new', $1, now() + interval '30 seconds')",
        user,
        0,
    )
    .await;

    // Telegram link codes: expired > 1 day ago and used > 1 day ago go; expired recently,
    // used recently and still valid stay.
    exec(
        p,
        "INSERT INTO telegram_link_codes (code, user_id, expires_at, used_at, created_at) VALUES
           ('c-expired-old', $1, now() - interval '2 days', NULL, now() - interval '2 days'),
           ('c-used-old', $1, now() + interval '1 hour', now() - interval '25 hours', now() - interval '26 hours'),
           ('c-expired-recent', $1, now() - interval '1 hour', NULL, now() - interval '2 hours'),
           ('c-used-recent', $1, now() + interval '1 hour', now() - interval '1 hour', now() - interval '2 hours'),
           ('c-valid', $1, now() + interval '10 minutes', NULL, now())",
        user,
        0,
    )
    .await;

    let counts = run_once(&app.state.ctx).await.unwrap();
    assert_eq!(
        counts,
        PurgeCounts {
            idempotency_keys: 1,
            revoked_tokens: 1,
            ws_tickets: 1,
            telegram_link_codes: 2,
            ..PurgeCounts::default()
        }
    );

    let keys: Vec<String> = sqlx::query_scalar("SELECT key FROM idempotency_keys ORDER BY key")
        .fetch_all(p)
        .await
        .unwrap();
    assert_eq!(keys, ["new", "recent"]);
    assert_eq!(
        count(
            p,
            "SELECT count(*) FROM revoked_tokens WHERE expires_at > now()"
        )
        .await,
        1
    );
    assert_eq!(count(p, "SELECT count(*) FROM revoked_tokens").await, 1);
    let tickets: Vec<String> = sqlx::query_scalar("SELECT ticket FROM ws_tickets")
        .fetch_all(p)
        .await
        .unwrap();
    assert_eq!(tickets, ["t-new"]);
    let codes: Vec<String> =
        sqlx::query_scalar("SELECT code FROM telegram_link_codes ORDER BY code")
            .fetch_all(p)
            .await
            .unwrap();
    assert_eq!(codes, ["c-expired-recent", "c-used-recent", "c-valid"]);

    // A second pass finds nothing.
    assert_eq!(
        run_once(&app.state.ctx).await.unwrap(),
        PurgeCounts::default()
    );
}
