//! The audit chain without a global lock: audited transactions write their row with its content
//! hash only and never wait for each other; the sealer links committed rows into one gap-free
//! chain, never skipping a row that commits late, and nothing is lost when it is not running.

use std::sync::Arc;
use std::time::Duration;

use gad_store::audit::{ChainProblem, verify};
use gad_testkit::TestApp;
use reqwest::StatusCode;
use sqlx::{Connection, Executor, PgConnection};

/// The database owner's connection (what the migrations and a DBA use).
async fn owner(app: &TestApp) -> PgConnection {
    PgConnection::connect(&app.db_url).await.unwrap()
}

async fn unsealed(app: &TestApp) -> i64 {
    sqlx::query_scalar("SELECT count(*) FROM audit_logs WHERE chain_seq IS NULL")
        .fetch_one(&app.pool)
        .await
        .unwrap()
}

async fn head_seq(app: &TestApp) -> i64 {
    sqlx::query_scalar("SELECT last_seq FROM audit_chain_head WHERE id = 1")
        .fetch_one(&app.pool)
        .await
        .unwrap()
}

/// Holds the sealer's advisory lock (what a sealer pass takes): while held, no pass can seal.
async fn stop_the_sealer(app: &TestApp) -> PgConnection {
    let mut c = owner(app).await;
    c.execute("SELECT pg_advisory_lock(7345031)").await.unwrap();
    c
}

fn sql_state(e: &sqlx::Error) -> Option<String> {
    e.as_database_error()
        .and_then(|d| d.code())
        .map(|c| c.to_string())
}

#[tokio::test]
async fn audited_transactions_do_not_wait_for_each_other_and_all_end_up_in_one_chain() {
    let app = TestApp::spawn().await;
    // 16 connections each insert an audit row and then wait until all 16 hold an uncommitted
    // audit row before committing: with a lock on the chain's head (the old trigger) the second
    // insert would wait for the first commit, which waits for the second insert.
    const CONNS: usize = 16;
    const ROUNDS: usize = 5;
    let barrier = Arc::new(tokio::sync::Barrier::new(CONNS));
    let writers = (0..CONNS).map(|i| {
        let (url, barrier) = (app.db_url.clone(), Arc::clone(&barrier));
        async move {
            // One connection each, as the server's role.
            let mut conn = PgConnection::connect(&url).await.unwrap();
            conn.execute("SET ROLE gad_app").await.unwrap();
            for round in 0..ROUNDS {
                let mut tx = conn.begin().await.unwrap();
                sqlx::query(
                    "INSERT INTO audit_logs (event_type, resource_id) VALUES ('concurrente', $1)",
                )
                .bind(format!("{i}-{round}"))
                .execute(&mut *tx)
                .await
                .unwrap();
                barrier.wait().await;
                if (i + round) % 4 == 0 {
                    tx.rollback().await.unwrap();
                } else {
                    tx.commit().await.unwrap();
                }
            }
        }
    });
    // Meanwhile another pass seals as fast as it can, racing the server's own sealer.
    let done = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let racer = {
        let (url, done) = (app.db_url.clone(), Arc::clone(&done));
        tokio::spawn(async move {
            let mut c = PgConnection::connect(&url).await.unwrap();
            while !done.load(std::sync::atomic::Ordering::SeqCst) {
                gad_store::audit::seal(&mut c, 7).await.unwrap();
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        })
    };
    tokio::time::timeout(Duration::from_secs(60), futures::future::join_all(writers))
        .await
        .expect("audited transactions waited for each other");
    done.store(true, std::sync::atomic::Ordering::SeqCst);
    racer.await.unwrap();

    gad_testkit::audit::seal(&app.db_url).await;
    let committed = (0..CONNS)
        .flat_map(|i| (0..ROUNDS).map(move |r| (i, r)))
        .filter(|(i, r)| (i + r) % 4 != 0)
        .count() as i64;
    let seqs: Vec<i64> = sqlx::query_scalar(
        "SELECT chain_seq FROM audit_logs WHERE event_type = 'concurrente' ORDER BY chain_seq",
    )
    .fetch_all(&app.pool)
    .await
    .unwrap();
    assert_eq!(seqs.len() as i64, committed);
    let all: Vec<i64> = sqlx::query_scalar("SELECT chain_seq FROM audit_logs ORDER BY chain_seq")
        .fetch_all(&app.pool)
        .await
        .unwrap();
    let n = all.len() as i64;
    assert_eq!(all, (1..=n).collect::<Vec<i64>>(), "one chain, no gap");
    assert_eq!(head_seq(&app).await, n);
    let mut c = owner(&app).await;
    let report = verify(&mut c).await.unwrap();
    assert_eq!(report.problem, None, "{report:?}");
    assert_eq!((report.rows as i64, report.unsealed), (n, 0));
}

#[tokio::test]
async fn a_row_of_a_long_transaction_that_commits_after_later_rows_is_still_chained() {
    let app = TestApp::spawn().await;
    gad_testkit::audit::seal(&app.db_url).await;
    let before = head_seq(&app).await;
    // A long transaction takes the lower id first and stays open…
    let mut long = app.pool.begin().await.unwrap();
    let early_id: i64 =
        sqlx::query_scalar("INSERT INTO audit_logs (event_type) VALUES ('larga') RETURNING id")
            .fetch_one(&mut *long)
            .await
            .unwrap();
    // …while later rows commit (without waiting for it) and are sealed.
    let later = tokio::time::timeout(Duration::from_secs(5), async {
        let mut ids = Vec::new();
        for _ in 0..3 {
            let id: i64 = sqlx::query_scalar(
                "INSERT INTO audit_logs (event_type) VALUES ('corta') RETURNING id",
            )
            .fetch_one(&app.pool)
            .await
            .unwrap();
            ids.push(id);
        }
        ids
    })
    .await
    .expect("a commit waited for an open audited transaction");
    assert!(later.iter().all(|id| *id > early_id));
    gad_testkit::audit::seal(&app.db_url).await;
    assert_eq!(head_seq(&app).await, before + 3);
    let early: Option<i64> = sqlx::query_scalar("SELECT chain_seq FROM audit_logs WHERE id = $1")
        .bind(early_id)
        .fetch_optional(&app.pool)
        .await
        .unwrap()
        .flatten();
    assert_eq!(
        early, None,
        "an uncommitted row is not visible, let alone sealed"
    );
    // The long transaction commits: its row, with the lowest id, is chained next, not skipped.
    long.commit().await.unwrap();
    gad_testkit::audit::seal(&app.db_url).await;
    let seq: Option<i64> = sqlx::query_scalar("SELECT chain_seq FROM audit_logs WHERE id = $1")
        .bind(early_id)
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(seq, Some(before + 4));
    assert_eq!(unsealed(&app).await, 0);
    let mut c = owner(&app).await;
    let report = verify(&mut c).await.unwrap();
    assert_eq!(report.problem, None, "{report:?}");
    assert_eq!(report.head_seq, before + 4);
}

#[tokio::test]
async fn rows_committed_while_the_sealer_is_down_are_sealed_on_its_next_pass() {
    let app =
        TestApp::spawn_with(gad_testkit::Options::default().env("AUDIT_SEAL_INTERVAL_MS", "100"))
            .await;
    let u = app.create_user(1).await;
    gad_testkit::audit::seal(&app.db_url).await;
    let before = head_seq(&app).await;
    // No sealer can run: audited requests still commit, with their content hash only.
    let held = stop_the_sealer(&app).await;
    for _ in 0..3 {
        let r = app.login(&u.email, &u.password).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    }
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert_eq!(unsealed(&app).await, 3);
    assert_eq!(head_seq(&app).await, before);
    let hashed: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM audit_logs
         WHERE chain_seq IS NULL AND prev_hash IS NULL AND row_hash IS NULL
           AND content_hash = audit_content_hash(audit_logs)",
    )
    .fetch_one(&app.pool)
    .await
    .unwrap();
    assert_eq!(hashed, 3);
    // The server's passes saw the backlog (the metrics say so) but could not seal it.
    assert_eq!(
        app.state
            .ctx
            .metrics
            .audit_unsealed_rows
            .load(std::sync::atomic::Ordering::Relaxed),
        3
    );
    let mut c = owner(&app).await;
    let report = verify(&mut c).await.unwrap();
    assert_eq!((report.problem, report.unsealed), (None, 3));
    // The sealer comes back (the lock's holder dies): its next pass seals the backlog.
    drop(held);
    let mut left = 3;
    for _ in 0..50 {
        left = unsealed(&app).await;
        if left == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(left, 0, "the server's sealer did not seal the backlog");
    assert_eq!(head_seq(&app).await, before + 3);
    let report = verify(&mut c).await.unwrap();
    assert_eq!(report.problem, None, "{report:?}");
    assert_eq!((report.head_seq, report.unsealed), (before + 3, 0));
}

#[tokio::test]
async fn only_the_sealer_may_fill_the_chain_columns_and_a_sealed_row_never_changes() {
    let app = TestApp::spawn().await;
    let held = stop_the_sealer(&app).await;
    for e in ["uno", "dos"] {
        sqlx::query("INSERT INTO audit_logs (event_type, chain_seq, prev_hash, row_hash) VALUES ($1, 99, 'x', 'y')")
            .bind(e)
            .execute(&app.pool)
            .await
            .unwrap();
    }
    // Whatever the inserter wrote, the chain columns wait for the sealer.
    assert_eq!(unsealed(&app).await, 2);
    // The server's role cannot fill them, even with the sealer's marker.
    let mut a = app.pool.acquire().await.unwrap();
    a.execute("SET gad.audit_seal = 'on'").await.unwrap();
    let e = a
        .execute("UPDATE audit_logs SET chain_seq = 1, prev_hash = 'a', row_hash = 'b' WHERE chain_seq IS NULL")
        .await
        .unwrap_err();
    assert_eq!(sql_state(&e).as_deref(), Some("42501"), "{e}");
    a.execute("RESET gad.audit_seal").await.unwrap();
    drop(a);
    // Nor may the owner without the marker, or change the content with it.
    let mut c = owner(&app).await;
    let e = c
        .execute("UPDATE audit_logs SET chain_seq = 1, prev_hash = 'a', row_hash = 'b' WHERE event_type = 'uno'")
        .await
        .unwrap_err();
    assert!(e.to_string().contains("append-only"), "{e}");
    let mut tx = c.begin().await.unwrap();
    tx.execute("SET LOCAL gad.audit_seal = 'on'").await.unwrap();
    let e = tx
        .execute("UPDATE audit_logs SET chain_seq = 1, prev_hash = 'a', row_hash = 'b', event_type = 'otro' WHERE event_type = 'uno'")
        .await
        .unwrap_err();
    assert!(e.to_string().contains("append-only"), "{e}");
    tx.rollback().await.unwrap();
    drop(held);
    gad_testkit::audit::seal(&app.db_url).await;
    assert_eq!(unsealed(&app).await, 0);
    // A sealed row never changes again: not its chain columns, not with the marker.
    let mut tx = c.begin().await.unwrap();
    tx.execute("SET LOCAL gad.audit_seal = 'on'").await.unwrap();
    let e = tx
        .execute("UPDATE audit_logs SET prev_hash = prev_hash WHERE event_type = 'dos'")
        .await
        .unwrap_err();
    assert!(e.to_string().contains("append-only"), "{e}");
    tx.rollback().await.unwrap();
    let e = sqlx::query("UPDATE audit_logs SET event_type = 'x' WHERE event_type = 'dos'")
        .execute(&app.pool)
        .await
        .unwrap_err();
    assert_eq!(sql_state(&e).as_deref(), Some("42501"), "{e}");
    // Tampering with a sealed row behind the triggers' back is still named by verify.
    c.execute("SET session_replication_role = replica")
        .await
        .unwrap();
    let (id, seq): (i64, i64) = sqlx::query_as(
        "UPDATE audit_logs SET event_type = 'retocado' WHERE event_type = 'dos' RETURNING id, chain_seq",
    )
    .fetch_one(&mut c)
    .await
    .unwrap();
    c.execute("SET session_replication_role = origin")
        .await
        .unwrap();
    let report = verify(&mut c).await.unwrap();
    assert_eq!(
        report.problem,
        Some(ChainProblem::Altered { id, chain_seq: seq })
    );
}

#[tokio::test]
async fn an_unsealed_row_altered_behind_the_triggers_is_named_and_never_sealed() {
    let app = TestApp::spawn().await;
    let held = stop_the_sealer(&app).await;
    let id: i64 =
        sqlx::query_scalar("INSERT INTO audit_logs (event_type) VALUES ('original') RETURNING id")
            .fetch_one(&app.pool)
            .await
            .unwrap();
    let mut c = owner(&app).await;
    c.execute("SET session_replication_role = replica")
        .await
        .unwrap();
    sqlx::query("UPDATE audit_logs SET event_type = 'retocado' WHERE id = $1")
        .bind(id)
        .execute(&mut c)
        .await
        .unwrap();
    c.execute("SET session_replication_role = origin")
        .await
        .unwrap();
    let report = verify(&mut c).await.unwrap();
    assert_eq!(report.problem, Some(ChainProblem::AlteredUnsealed { id }));
    assert!(
        report
            .problem
            .unwrap()
            .to_string()
            .contains(&format!("id={id}"))
    );
    // The sealer refuses to vouch for it: the pass fails whole, nothing is chained.
    drop(held);
    let mut refused = None;
    for _ in 0..100 {
        match gad_store::audit::seal(&mut c, 100).await {
            // The server's own pass holds the lock (and fails the same way): try again.
            Ok(None) => tokio::time::sleep(Duration::from_millis(10)).await,
            other => {
                refused = Some(other);
                break;
            }
        }
    }
    let e = refused.expect("a pass ran").unwrap_err();
    assert_eq!(sql_state(&e).as_deref(), Some("XX001"), "{e}");
    let seq: Option<i64> = sqlx::query_scalar("SELECT chain_seq FROM audit_logs WHERE id = $1")
        .bind(id)
        .fetch_one(&mut c)
        .await
        .unwrap();
    assert_eq!(seq, None);
}
