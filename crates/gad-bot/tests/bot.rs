//! End to end: the real app (its own database, Redis) and the bot as a second process of the same
//! deployment (own service layer on the same database and Redis namespace), talking to a fake
//! Telegram Bot API on loopback.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use gad_bot::{BotConfig, BotHandle};
use gad_testkit::fake_telegram::{FakeError, FakeTelegram, buttons, message_id};
use gad_testkit::ws::WsClient;
use gad_testkit::{Options, TestApp, TestUser};
use serde_json::{Value, json};

const SOL: (f64, f64) = (-34.6037, -58.3816);

struct Env {
    app: TestApp,
    fake: Arc<FakeTelegram>,
    bot: Option<BotHandle>,
}

impl Drop for Env {
    fn drop(&mut self) {
        self.fake.stop();
    }
}

async fn start_bot(app: &TestApp, fake: &FakeTelegram, extra: &[(&str, &str)]) -> BotHandle {
    let mut env: HashMap<String, String> = [
        ("TELEGRAM_TOKEN", fake.token.as_str()),
        ("TELEGRAM_API_URL", fake.url().as_str()),
        ("TELEGRAM_POLL_TIMEOUT", "1"),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    for (k, v) in extra {
        env.insert(k.to_string(), v.to_string());
    }
    let cfg = BotConfig::from_map(&env).unwrap();
    // The bot's own service layer: same database, same Redis and namespace as the app.
    let state = app.service_ctx(4);
    if state.redis.configured() {
        state.redis.wait_up(Duration::from_secs(5)).await;
    }
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let bot = gad_bot::start(cfg, state, listener).await.unwrap();
    let started = Instant::now();
    while !bot.push_ready.load(Ordering::SeqCst) {
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "push never subscribed"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    bot
}

async fn env() -> Env {
    let app = TestApp::spawn_with_redis().await;
    let fake = FakeTelegram::start().await;
    let bot = start_bot(&app, &fake, &[]).await;
    Env {
        app,
        fake,
        bot: Some(bot),
    }
}

static TG_IDS: std::sync::atomic::AtomicI64 = std::sync::atomic::AtomicI64::new(5_000_000);

fn tg_id() -> i64 {
    TG_IDS.fetch_add(1, Ordering::Relaxed)
}

async fn link_code(app: &TestApp, u: &TestUser) -> String {
    let r = app
        .post(
            "/api/v1/users/me/telegram-link",
            Some(&u.token),
            json!({"current_password": u.password}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    r.body["code"].as_str().unwrap().to_string()
}

/// Links `u` to a new Telegram account; returns its id (= its private chat id).
async fn linked(e: &Env, u: &TestUser) -> i64 {
    let tg = tg_id();
    let code = link_code(&e.app, u).await;
    e.fake.send_text(tg, &format!("/vincular {code}"));
    let ask = e.fake.wait_text(tg, "¿Vincular esta cuenta?").await;
    press(e, tg, &ask, "lk:1", "Cuenta vinculada").await;
    tg
}

async fn telegram_id_of(app: &TestApp, user_id: i64) -> Option<i64> {
    sqlx::query_scalar("SELECT telegram_id FROM usuarios WHERE id = $1")
        .bind(user_id)
        .fetch_one(&app.pool)
        .await
        .unwrap()
}

fn texts_to(fake: &FakeTelegram, chat: i64) -> Vec<String> {
    fake.messages_to(chat)
        .iter()
        .map(|m| m["text"].as_str().unwrap_or("").to_string())
        .collect()
}

/// Presses the button whose callback data starts with `prefix` on `msg`; returns the next
/// message or edit in that chat.
async fn press(e: &Env, chat: i64, msg: &Value, prefix: &str, expect: &str) -> Value {
    let data = buttons(msg)
        .into_iter()
        .map(|(_, d)| d)
        .find(|d| d.starts_with(prefix))
        .unwrap_or_else(|| panic!("no button {prefix} in {msg:#}"));
    assert!(data.len() <= 64);
    let before = e.fake.messages_to(chat).len();
    e.fake.press(chat, message_id(msg), &data);
    next_message(e, chat, before, expect).await
}

/// The first message or edit to `chat` after the first `before` ones that contains `expect`.
async fn next_message(e: &Env, chat: i64, before: usize, expect: &str) -> Value {
    let started = Instant::now();
    loop {
        let msgs = e.fake.messages_to(chat);
        if let Some(m) = msgs
            .iter()
            .skip(before)
            .find(|m| m["text"].as_str().is_some_and(|t| t.contains(expect)))
        {
            return m.clone();
        }
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "no answer with {expect:?}: {:#?}",
            texts_to(&e.fake, chat)
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn linking_is_single_use_expires_and_unlinked_or_inactive_users_are_refused() {
    let mut e = env().await;
    let officer = e.app.create_efectivo(None).await;
    let code = link_code(&e.app, &officer).await;

    // An unlinked account is refused politely, with how to link.
    let stranger = tg_id();
    e.fake.send_text(stranger, "/tareas");
    e.fake.wait_text(stranger, "no está vinculada").await;

    let tg = tg_id();
    e.fake.send_text(tg, &format!("/start {code}"));
    let ask = e.fake.wait_text(tg, "¿Vincular esta cuenta?").await;
    press(&e, tg, &ask, "lk:1", "Cuenta vinculada").await;
    assert_eq!(telegram_id_of(&e.app, officer.id).await, Some(tg));
    let used: bool = sqlx::query_scalar(
        "SELECT used_at IS NOT NULL FROM telegram_link_codes
         WHERE code = encode(sha256(convert_to($1, 'UTF8')), 'hex')",
    )
    .bind(&code)
    .fetch_one(&e.app.pool)
    .await
    .unwrap();
    assert!(used);

    // The same code again, from another account: refused, the link stays.
    let other = tg_id();
    e.fake.send_text(other, &format!("/vincular {code}"));
    e.fake.wait_text(other, "ya fue usado o venció").await;
    assert_eq!(telegram_id_of(&e.app, officer.id).await, Some(tg));

    // An expired code: refused.
    let late = e.app.create_efectivo(None).await;
    sqlx::query("INSERT INTO telegram_link_codes (code, user_id, expires_at) VALUES (encode(sha256('EXPIRED1'::bytea), 'hex'), $1, now() - interval '1 second')")
        .bind(late.id)
        .execute(&e.app.pool)
        .await
        .unwrap();
    let late_tg = tg_id();
    e.fake.send_text(late_tg, "/vincular expired1");
    e.fake.wait_text(late_tg, "ya fue usado o venció").await;
    assert_eq!(telegram_id_of(&e.app, late.id).await, None);

    // A linked user who is deactivated loses access at once.
    sqlx::query("UPDATE usuarios SET verificado = false WHERE id = $1")
        .bind(officer.id)
        .execute(&e.app.pool)
        .await
        .unwrap();
    e.fake.send_text(tg, "/tareas");
    e.fake.wait_text(tg, "no está vinculada").await;

    // /desvincular drops the link.
    let second = e.app.create_efectivo(None).await;
    let tg2 = linked(&e, &second).await;
    e.fake.send_text(tg2, "/desvincular");
    e.fake.wait_text(tg2, "ya no está vinculada").await;
    assert_eq!(telegram_id_of(&e.app, second.id).await, None);
    if let Some(b) = e.bot.take() {
        b.stop().await;
    }
}

/// The audit rows of `event` about `user_id`: their values never hold the Telegram id in
/// clear (it is sealed with the person's key), yet they name the field.
async fn audited_with_sealed_telegram_id(app: &TestApp, event: &str, user_id: i64, tg: i64) {
    let rows: Vec<(Option<Value>, Option<Value>)> = sqlx::query_as(
        "SELECT old_values, new_values FROM audit_logs
         WHERE event_type = $1 AND resource_type = 'usuario' AND resource_id = $2",
    )
    .bind(event)
    .bind(user_id.to_string())
    .fetch_all(&app.pool)
    .await
    .unwrap();
    assert_eq!(rows.len(), 1, "one {event} row");
    let (old, new) = &rows[0];
    let stored = format!("{old:?}{new:?}");
    assert!(stored.contains("telegram_id"), "{stored}");
    assert!(!stored.contains(&tg.to_string()), "in clear: {stored}");
}

#[tokio::test]
async fn redeeming_a_code_asks_to_confirm_with_the_account_name_and_only_si_links() {
    let e = env().await;
    let officer = e.app.create_efectivo(None).await;
    let nombre = format!("Agente{}", tg_id());
    sqlx::query("UPDATE usuarios SET nombre = $2 WHERE id = $1")
        .bind(officer.id)
        .bind(&nombre)
        .execute(&e.app.pool)
        .await
        .unwrap();
    let tg = tg_id();

    // The code only asks: the account's name, [Sí] [No], and nothing linked yet.
    let code = link_code(&e.app, &officer).await;
    e.fake.send_text(tg, &format!("/vincular {code}"));
    let ask = e.fake.wait_text(tg, "¿Vincular esta cuenta?").await;
    assert!(ask["text"].as_str().unwrap().contains(&nombre), "{ask:#}");
    let labels: Vec<String> = buttons(&ask).into_iter().map(|(l, _)| l).collect();
    assert_eq!(labels, ["Sí", "No"]);
    assert_eq!(telegram_id_of(&e.app, officer.id).await, None);

    // No: nothing linked, and that code is spent.
    press(&e, tg, &ask, "lk:0", "No se vinculó").await;
    assert_eq!(telegram_id_of(&e.app, officer.id).await, None);
    let before = e.fake.messages_to(tg).len();
    e.fake.send_text(tg, &format!("/vincular {code}"));
    next_message(&e, tg, before, "ya fue usado o venció").await;

    // A fresh code and Sí: linked, announced in the chat and in the audit trail.
    let code = link_code(&e.app, &officer).await;
    let before = e.fake.messages_to(tg).len();
    e.fake.send_text(tg, &format!("/vincular {code}"));
    let ask = next_message(&e, tg, before, "¿Vincular esta cuenta?").await;
    press(&e, tg, &ask, "lk:1", "Cuenta vinculada").await;
    assert_eq!(telegram_id_of(&e.app, officer.id).await, Some(tg));
    audited_with_sealed_telegram_id(&e.app, "telegram_linked", officer.id, tg).await;

    // A second press of an old Sí links nothing more.
    let before = e.fake.messages_to(tg).len();
    e.fake.press(tg, message_id(&ask), "lk:1");
    next_message(&e, tg, before, "ya fue usado o venció").await;
}

#[tokio::test]
async fn an_unlink_by_the_server_is_announced_to_the_chat_by_the_bot() {
    let e = env().await;
    let officer = e.app.create_efectivo(None).await;
    let tg = linked(&e, &officer).await;
    let before = e.fake.messages_to(tg).len();
    let r = e
        .app
        .post(
            "/api/v1/auth/logout-everywhere",
            Some(&officer.token),
            json!({}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let notice = next_message(&e, tg, before, "ya no está vinculada").await;
    assert!(
        notice["text"].as_str().unwrap().contains("cerraste"),
        "{notice:#}"
    );
    assert_eq!(telegram_id_of(&e.app, officer.id).await, None);
    let left: i64 = sqlx::query_scalar("SELECT count(*) FROM telegram_notices")
        .fetch_one(&e.app.pool)
        .await
        .unwrap();
    assert_eq!(left, 0, "a delivered notice is not kept");
    // The chat is no longer the officer's.
    let before = e.fake.messages_to(tg).len();
    e.fake.send_text(tg, "/tareas");
    next_message(&e, tg, before, "no está vinculada a GAD").await;
}

#[tokio::test]
async fn unlinking_in_the_bot_is_audited_with_the_telegram_id_sealed() {
    let e = env().await;
    let officer = e.app.create_efectivo(None).await;
    let tg = linked(&e, &officer).await;
    e.fake.send_text(tg, "/desvincular");
    e.fake.wait_text(tg, "ya no está vinculada").await;
    assert_eq!(telegram_id_of(&e.app, officer.id).await, None);
    audited_with_sealed_telegram_id(&e.app, "telegram_unlinked", officer.id, tg).await;
}

#[tokio::test]
async fn an_officer_lists_starts_and_finishes_a_task_through_buttons() {
    let e = env().await;
    let supervisor = e.app.create_user(2).await;
    let officer = e.app.create_efectivo(None).await;
    let tg = linked(&e, &officer).await;
    let r = e
        .app
        .create_task(
            &supervisor,
            officer.id,
            json!({"titulo": "Control de tránsito", "efectivos_asignados": [officer.efectivo_id]}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    let task_id = r.body["id"].as_i64().unwrap();
    let codigo = r.body["codigo"].as_str().unwrap().to_string();
    let mut ws = WsClient::connect(&e.app, Some(&supervisor.token)).await;
    ws.handshake().await;

    e.fake.send_text(tg, "/tareas");
    let list = e.fake.wait_text(tg, "Tus tareas abiertas").await;
    assert!(
        list["text"]
            .as_str()
            .unwrap()
            .contains("Control de tránsito")
    );
    for (_, data) in buttons(&list) {
        assert!(data.len() <= 64 && !data.contains("Control"), "{data}");
    }
    // Iniciar → confirmation → Sí.
    let ask = press(
        &e,
        tg,
        &list,
        &format!("ta:{task_id}:en_curso"),
        "Confirmás",
    )
    .await;
    press(
        &e,
        tg,
        &ask,
        &format!("tc:{task_id}:en_curso"),
        "pasó de programada a en curso",
    )
    .await;

    // A second look offers Pausar / Finalizar / Cancelar; declining changes nothing, even when
    // Telegram answers "message is not modified".
    let before = e.fake.messages_to(tg).len();
    e.fake.send_text(tg, "📋 Mis tareas");
    let list = next_message(&e, tg, before, "Estado: en curso").await;
    let labels: Vec<String> = buttons(&list).into_iter().map(|(t, _)| t).collect();
    assert!(labels.iter().any(|l| l.contains("Pausar")), "{labels:?}");
    let ask = press(
        &e,
        tg,
        &list,
        &format!("ta:{task_id}:finalizada"),
        "Finalizar",
    )
    .await;
    e.fake.fail_next("editMessageText", FakeError::NotModified);
    e.fake.press(tg, message_id(&ask), "tx");
    e.fake.wait_drained().await;
    let ask = press(
        &e,
        tg,
        &list,
        &format!("ta:{task_id}:finalizada"),
        "Confirmás",
    )
    .await;
    press(
        &e,
        tg,
        &ask,
        &format!("tc:{task_id}:finalizada"),
        "pasó de en curso a finalizada",
    )
    .await;

    // The database row and its history changed, and the WebSocket saw it.
    let estado: String = sqlx::query_scalar("SELECT estado::text FROM tareas WHERE id = $1")
        .bind(task_id)
        .fetch_one(&e.app.pool)
        .await
        .unwrap();
    assert_eq!(estado, "COMPLETED");
    let hist: Vec<(String, Option<String>, i64)> = sqlx::query_as(
        "SELECT estado_nuevo::text, nota, usuario_id FROM historial_estados WHERE tarea_id = $1 ORDER BY id",
    )
    .bind(task_id)
    .fetch_all(&e.app.pool)
    .await
    .unwrap();
    let tail: Vec<&str> = hist.iter().rev().take(2).map(|h| h.0.as_str()).collect();
    assert_eq!(tail, ["COMPLETED", "IN_PROGRESS"], "{hist:?}");
    assert!(hist.iter().rev().take(2).all(|h| h.2 == officer.id));
    let mut seen = None;
    for _ in 0..4 {
        let ev = ws
            .wait_for("task_status_changed", Duration::from_secs(5))
            .await
            .expect("task_status_changed on the WebSocket");
        if ev["data"]["estado_nuevo"] == "finalizada" {
            seen = Some(ev);
            break;
        }
    }
    assert_eq!(seen.unwrap()["data"]["codigo"], codigo.as_str());

    // History and statistics.
    e.fake.send_text(tg, "/historial finalizadas");
    let h = e.fake.wait_text(tg, "Historial (finalizadas)").await;
    assert!(h["text"].as_str().unwrap().contains(&codigo));
    e.fake.send_text(tg, "/estadisticas");
    e.fake.wait_text(tg, "Finalizadas: 1").await;
    let before = e.fake.messages_to(tg).len();
    e.fake.send_text(tg, "/tareas");
    next_message(&e, tg, before, "No tenés tareas abiertas").await;
}

#[tokio::test]
async fn an_emergency_from_a_location_dispatches_once_even_when_the_update_comes_twice() {
    let e = env().await;
    let reporter = e.app.create_efectivo(None).await;
    let responder = e.app.create_efectivo(Some(SOL)).await;
    let bystander = e.app.create_efectivo(None).await;
    let tg = linked(&e, &reporter).await;
    let tg_responder = linked(&e, &responder).await;
    let tg_bystander = linked(&e, &bystander).await;

    let update = e.fake.location_update(tg, -34.6040, -58.3820);
    e.fake.push_update(update.clone());
    let first = e.fake.wait_text(tg, "Emergencia despachada").await;
    let text = first["text"].as_str().unwrap();
    assert!(text.contains("Test User") && text.contains(" m."), "{text}");
    // Telegram delivers the same update again (the bot did not confirm it in time).
    e.fake.push_update(update);
    e.fake
        .wait_message(tg, Duration::from_secs(10), |_| {
            texts_to(&e.fake, tg)
                .iter()
                .filter(|t| t.contains("Emergencia despachada"))
                .count()
                == 2
        })
        .await
        .expect("the retried update is answered too");
    let n: i64 = sqlx::query_scalar("SELECT count(*) FROM tareas WHERE codigo LIKE 'EMG-%'")
        .fetch_one(&e.app.pool)
        .await
        .unwrap();
    assert_eq!(n, 1, "one dispatch for one update");
    let replies: Vec<String> = texts_to(&e.fake, tg)
        .into_iter()
        .filter(|t| t.contains("Emergencia despachada"))
        .collect();
    assert_eq!(replies[0], replies[1]);

    // The assigned officer gets the emergency pushed, once, with Aceptar / Rechazar; nobody else
    // gets it.
    let alert = e
        .fake
        .wait_text(tg_responder, "EMERGENCIA asignada a vos")
        .await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let pushes = texts_to(&e.fake, tg_responder)
        .into_iter()
        .filter(|t| t.contains("EMERGENCIA"))
        .count();
    assert_eq!(pushes, 1);
    assert!(
        texts_to(&e.fake, tg_bystander)
            .iter()
            .all(|t| !t.contains("EMERGENCIA"))
    );

    // Aceptar runs the acknowledgement: the officer is on the way.
    let task_id: i64 = sqlx::query_scalar("SELECT id FROM tareas WHERE codigo LIKE 'EMG-%'")
        .fetch_one(&e.app.pool)
        .await
        .unwrap();
    press(
        &e,
        tg_responder,
        &alert,
        &format!("ak:{task_id}:1"),
        "Aceptaste",
    )
    .await;
    let estado: String =
        sqlx::query_scalar("SELECT estado_disponibilidad::text FROM efectivos WHERE id = $1")
            .bind(responder.efectivo_id.unwrap())
            .fetch_one(&e.app.pool)
            .await
            .unwrap();
    assert_eq!(estado, "EN_CAMINO");
    // A second answer is refused in plain Spanish.
    press(
        &e,
        tg_responder,
        &alert,
        &format!("ak:{task_id}:0"),
        "ya no espera tu respuesta",
    )
    .await;
}

#[tokio::test]
async fn rechazar_calls_the_next_nearest_officer_who_gets_the_push() {
    let e = env().await;
    let reporter = e.app.create_efectivo(None).await;
    let nearest = e.app.create_efectivo(Some(SOL)).await;
    let next = e.app.create_efectivo(Some((-34.6100, -58.3900))).await;
    let tg = linked(&e, &reporter).await;
    let tg_nearest = linked(&e, &nearest).await;
    let tg_next = linked(&e, &next).await;
    e.fake
        .push_update(e.fake.location_update(tg, -34.6040, -58.3820));
    e.fake.wait_text(tg, "Emergencia despachada").await;
    let alert = e
        .fake
        .wait_text(tg_nearest, "EMERGENCIA asignada a vos")
        .await;
    let data = buttons(&alert)
        .into_iter()
        .map(|(_, d)| d)
        .find(|d| d.ends_with(":0"))
        .unwrap();
    let before = e.fake.messages_to(tg_nearest).len();
    e.fake.press(tg_nearest, message_id(&alert), &data);
    next_message(&e, tg_nearest, before, "Rechazaste").await;
    let second = e.fake.wait_text(tg_next, "EMERGENCIA asignada a vos").await;
    assert!(buttons(&second).iter().any(|(t, _)| t.contains("Aceptar")));
}

#[tokio::test]
async fn push_on_assignment_reaches_the_officer_once_across_two_instances_and_nobody_else() {
    let e = env().await;
    let second = TestApp::spawn_with(Options::sibling_of(&e.app)).await;
    let supervisor = e.app.create_user(2).await;
    let officer = e.app.create_efectivo(None).await;
    let other = e.app.create_efectivo(None).await;
    let tg = linked(&e, &officer).await;
    let tg_other = linked(&e, &other).await;

    // Assigned through the second API instance.
    let started = Instant::now();
    let r = second
        .create_task(
            &supervisor,
            supervisor.id,
            json!({"titulo": "Custodia", "efectivos_asignados": [officer.efectivo_id]}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    let codigo = r.body["codigo"].as_str().unwrap().to_string();
    e.fake.wait_text(tg, "Te asignaron la tarea").await;
    let latency = started.elapsed();
    eprintln!("assignment push reached the chat {latency:?} after the request was sent");
    assert!(latency < Duration::from_secs(2), "{latency:?}");
    tokio::time::sleep(Duration::from_millis(700)).await;
    let got: Vec<String> = texts_to(&e.fake, tg)
        .into_iter()
        .filter(|t| t.contains(&codigo))
        .collect();
    assert_eq!(got.len(), 1, "exactly once: {got:?}");
    assert!(
        texts_to(&e.fake, tg_other)
            .iter()
            .all(|t| !t.contains(&codigo))
    );

    // Cancellation by the supervisor reaches the officer too.
    let task_id = r.body["id"].as_i64().unwrap();
    let r = second
        .post(
            &format!("/api/v1/tasks/{task_id}/status"),
            Some(&supervisor.token),
            json!({"estado": "cancelada"}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    e.fake.wait_text(tg, "fue cancelada").await;
}

#[tokio::test]
async fn live_location_and_availability_update_the_officer() {
    let e = env().await;
    let officer = e.app.create_efectivo(None).await;
    let tg = linked(&e, &officer).await;
    let id = e.fake.send_live_location(tg, -34.60, -58.38);
    e.fake.wait_text(tg, "ubicación en tiempo real").await;
    e.fake.edit_live_location(tg, id, -34.61, -58.39);
    let efectivo = officer.efectivo_id.unwrap();
    let started = Instant::now();
    loop {
        let lat: Option<f64> =
            sqlx::query_scalar("SELECT ST_Y(geom::geometry) FROM efectivos WHERE id = $1")
                .bind(efectivo)
                .fetch_one(&e.app.pool)
                .await
                .unwrap();
        if lat.is_some_and(|l| (l + 34.61).abs() < 1e-6) {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "edit not applied: {lat:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    e.fake.send_text(tg, "/estado");
    let m = e.fake.wait_text(tg, "¿Cómo querés figurar?").await;
    press(&e, tg, &m, "ds:no_disponible", "No disponible").await;
    let estado: String =
        sqlx::query_scalar("SELECT estado_disponibilidad::text FROM efectivos WHERE id = $1")
            .bind(efectivo)
            .fetch_one(&e.app.pool)
            .await
            .unwrap();
    assert_eq!(estado, "NO_DISPONIBLE");
}

#[tokio::test]
async fn telegram_429_is_honoured_and_metrics_are_exposed() {
    let e = env().await;
    let chat = tg_id();
    e.fake.fail_next("sendMessage", FakeError::RetryAfter(1));
    e.fake.send_text(chat, "/tareas");
    e.fake.wait_text(chat, "no está vinculada").await;
    let sends = e.fake.calls_of("sendMessage");
    let to_chat: Vec<_> = sends
        .iter()
        .filter(|c| c.params["chat_id"].as_i64() == Some(chat))
        .collect();
    assert_eq!(to_chat.len(), 2, "one refused by 429, one retried");
    assert!(to_chat[0].failed && !to_chat[1].failed);
    let waited = to_chat[1].at.duration_since(to_chat[0].at);
    assert!(waited >= Duration::from_millis(950), "{waited:?}");

    let bot = e.bot.as_ref().unwrap();
    let body = reqwest::get(format!("http://{}/metrics", bot.addr))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    for needle in [
        "gad_bot_updates_total{kind=\"command\"}",
        "gad_bot_errors_total{cause=\"telegram_retry_after\"} 1",
        "gad_bot_errors_total{cause=\"unlinked\"}",
        "gad_bot_telegram_api_seconds_count{method=\"sendMessage\"} 2",
        "# TYPE gad_bot_service_seconds histogram",
    ] {
        assert!(body.contains(needle), "{needle} missing in\n{body}");
    }
    // Method names are matched case-insensitively, as teloxide sends them.
    assert!(!e.fake.calls_of("getMe").is_empty());
    assert!(!e.fake.calls_of("deleteWebhook").is_empty());
    assert!(!e.fake.calls_of("setMyCommands").is_empty());
}

#[tokio::test]
async fn webhook_mode_takes_only_updates_with_the_secret_token() {
    let app = TestApp::spawn().await;
    let fake = FakeTelegram::start().await;
    let secret = "webhook-secret-0123456789";
    let bot = start_bot(
        &app,
        &fake,
        &[
            (
                "TELEGRAM_WEBHOOK_URL",
                "https://gad.example/telegram/webhook",
            ),
            ("TELEGRAM_WEBHOOK_SECRET", secret),
        ],
    )
    .await;
    let set = fake.calls_of("setWebhook");
    assert_eq!(set.len(), 1);
    assert_eq!(set[0].params["secret_token"], secret);
    assert_eq!(set[0].params["url"], "https://gad.example/telegram/webhook");
    assert!(
        fake.calls_of("getUpdates").is_empty(),
        "no polling in webhook mode"
    );

    let chat = tg_id();
    let update =
        json!({"update_id": 1, "message": fake.message_json(chat, json!({"text": "/tareas"}))});
    let url = format!("http://{}{}", bot.addr, gad_bot::WEBHOOK_PATH);
    let client = reqwest::Client::new();
    let r = client.post(&url).json(&update).send().await.unwrap();
    assert_eq!(r.status(), 401);
    let r = client
        .post(&url)
        .header("X-Telegram-Bot-Api-Secret-Token", "wrong-secret-0123456789")
        .json(&update)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    assert!(fake.messages_to(chat).is_empty());
    let r = client
        .post(&url)
        .header("X-Telegram-Bot-Api-Secret-Token", secret)
        .json(&update)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    fake.wait_text(chat, "no está vinculada").await;
    bot.stop().await;
    fake.stop();
}

#[tokio::test]
async fn tasks_page_by_five_and_cancelar_really_cancels() {
    let e = env().await;
    let supervisor = e.app.create_user(2).await;
    let officer = e.app.create_efectivo(None).await;
    let tg = linked(&e, &officer).await;
    let mut ids = Vec::new();
    for i in 0..6 {
        let r = e
            .app
            .create_task(
                &supervisor,
                officer.id,
                json!({"titulo": format!("Ronda {i}"), "inicio_programado": format!("2026-12-0{}T10:00:00Z", i + 1)}),
            )
            .await;
        assert_eq!(r.status, 201, "{}", r.text);
        ids.push(r.body["id"].as_i64().unwrap());
    }
    let before = e.fake.messages_to(tg).len();
    e.fake.send_text(tg, "/tareas");
    let page1 = next_message(&e, tg, before, "página 1 de 2").await;
    let text = page1["text"].as_str().unwrap();
    assert!(text.contains("Ronda 0") && text.contains("Ronda 4") && !text.contains("Ronda 5"));
    let page2 = press(&e, tg, &page1, "tp:1", "página 2 de 2").await;
    assert!(page2["text"].as_str().unwrap().contains("Ronda 5"));
    let last = ids[5];
    let ask = press(&e, tg, &page2, &format!("ta:{last}:cancelada"), "Cancelar").await;
    press(
        &e,
        tg,
        &ask,
        &format!("tc:{last}:cancelada"),
        "pasó de programada a cancelada",
    )
    .await;
    let estado: String = sqlx::query_scalar("SELECT estado::text FROM tareas WHERE id = $1")
        .bind(last)
        .fetch_one(&e.app.pool)
        .await
        .unwrap();
    assert_eq!(estado, "CANCELLED");

    // A forged press on somebody else's task changes nothing.
    let stranger_task = e
        .app
        .create_task(&supervisor, supervisor.id, json!({}))
        .await
        .body["id"]
        .as_i64()
        .unwrap();
    let before = e.fake.messages_to(tg).len();
    e.fake.press(
        tg,
        message_id(&page1),
        &format!("tc:{stranger_task}:cancelada"),
    );
    next_message(&e, tg, before, "No encontré esa tarea").await;
    let estado: String = sqlx::query_scalar("SELECT estado::text FROM tareas WHERE id = $1")
        .bind(stranger_task)
        .fetch_one(&e.app.pool)
        .await
        .unwrap();
    assert_eq!(estado, "PROGRAMMED");
}

#[tokio::test]
async fn a_chat_over_its_rate_limit_is_warned_once_then_ignored() {
    let app = TestApp::spawn().await;
    let fake = FakeTelegram::start().await;
    let bot = start_bot(&app, &fake, &[("BOT_RATE_LIMIT_PER_MINUTE", "2")]).await;
    let chat = tg_id();
    for _ in 0..5 {
        fake.send_text(chat, "/tareas");
    }
    fake.wait_text(chat, "muchos mensajes").await;
    fake.wait_drained().await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let texts = texts_to(&fake, chat);
    assert_eq!(texts.len(), 3, "{texts:#?}");
    assert_eq!(
        texts
            .iter()
            .filter(|t| t.contains("no está vinculada"))
            .count(),
        2
    );
    // Another chat is not affected.
    let other = tg_id();
    fake.send_text(other, "/tareas");
    fake.wait_text(other, "no está vinculada").await;
    bot.stop().await;
    fake.stop();
}

#[tokio::test]
async fn without_redis_the_bot_pushes_what_its_own_service_layer_did() {
    let app = TestApp::spawn().await;
    let fake = FakeTelegram::start().await;
    let bot = start_bot(&app, &fake, &[]).await;
    let e = Env {
        app,
        fake,
        bot: Some(bot),
    };
    let reporter = e.app.create_efectivo(None).await;
    let responder = e.app.create_efectivo(Some(SOL)).await;
    let tg = linked(&e, &reporter).await;
    let tg_responder = linked(&e, &responder).await;
    e.fake
        .push_update(e.fake.location_update(tg, -34.6040, -58.3820));
    e.fake.wait_text(tg, "Emergencia despachada").await;
    e.fake
        .wait_text(tg_responder, "EMERGENCIA asignada a vos")
        .await;
}

/// Issue 19: an Alertmanager alert posted to the API reaches the operators' Telegram chat
/// (TELEGRAM_ADMIN_CHAT_ID), and no officer's chat.
#[tokio::test]
async fn monitoring_alerts_reach_the_admin_chat_and_nobody_else() {
    const SECRET: &str = "alertmanager-webhook-secret-0123456789-abcdef";
    let app =
        TestApp::spawn_with(Options::with_redis().env("ALERTMANAGER_WEBHOOK_TOKEN", SECRET)).await;
    let fake = FakeTelegram::start().await;
    let admin_chat = -100_555_000_111i64;
    let admin_chat_s = admin_chat.to_string();
    let bot = start_bot(
        &app,
        &fake,
        &[("TELEGRAM_ADMIN_CHAT_ID", admin_chat_s.as_str())],
    )
    .await;
    let e = Env {
        app,
        fake,
        bot: Some(bot),
    };
    let officer = e.app.create_efectivo(None).await;
    let tg = linked(&e, &officer).await;
    let body = json!({
        "receiver": "gad", "status": "firing", "version": "4", "groupKey": "{}:{alertname=\"GadDown\"}",
        "alerts": [{
            "status": "firing",
            "labels": {"alertname": "GadDown", "severity": "critical"},
            "annotations": {"summary": "gad1 no responde", "description": "Prometheus no puede leer gad1:8000."},
            "startsAt": "2026-12-01T04:00:00.000Z", "endsAt": "0001-01-01T00:00:00Z"
        }]
    });
    let r = e
        .app
        .client
        .post(e.app.url("/api/v1/alerts/alertmanager"))
        .bearer_auth(SECRET)
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let m = e.fake.wait_text(admin_chat, "gad1 no responde").await;
    assert!(
        m["text"]
            .as_str()
            .unwrap()
            .contains("Prometheus no puede leer"),
        "{m}"
    );
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(
        texts_to(&e.fake, tg).iter().all(|t| !t.contains("gad1")),
        "an officer's chat got a monitoring alert"
    );
}

/// With a signing key and an operators' chat, every new witnessed head of the audit chain is
/// posted to that chat, as a line `gad audit verify --witness` accepts: a witness outside both
/// the database and the server's disk.
#[tokio::test]
async fn witnessed_audit_heads_are_posted_to_the_operators_chat() {
    let key = gad_service::witness::SigningKey::generate().unwrap();
    let file = std::env::temp_dir().join(format!("gad-witness-bot-{}.jsonl", tg_id()));
    let app = TestApp::spawn_with(
        Options::with_redis()
            .env("AUDIT_SIGNING_KEY", &key.encode())
            .env("AUDIT_WITNESS_INTERVAL_SECONDS", "1")
            .env("AUDIT_WITNESS_FILE", file.to_str().unwrap()),
    )
    .await;
    let fake = FakeTelegram::start().await;
    let admin_chat = -100_555_000_222i64;
    let admin_chat_s = admin_chat.to_string();
    let bot = start_bot(
        &app,
        &fake,
        &[("TELEGRAM_ADMIN_CHAT_ID", admin_chat_s.as_str())],
    )
    .await;
    let e = Env {
        app,
        fake,
        bot: Some(bot),
    };
    // Audited rows move the head; the next pass posts it.
    let u = e.app.create_user(1).await;
    e.app.login(&u.email, &u.password).await;
    let m = e
        .fake
        .wait_text(admin_chat, "Testigo de la auditoría")
        .await;
    let text = m["text"].as_str().unwrap();
    let line = text.lines().last().unwrap();
    let w: gad_service::witness::WitnessLine = serde_json::from_str(line).unwrap();
    assert_eq!(w.public_key, key.public_key());
    let mut db = <sqlx::PgConnection as sqlx::Connection>::connect(&e.app.db_url)
        .await
        .unwrap();
    let report =
        gad_service::witness::check(&mut db, line, Some(&key.public_key()), chrono::Utc::now())
            .await
            .unwrap();
    assert_eq!(report.problem, None, "{report:?}");
    assert_eq!(report.matched, 1);
    let _ = std::fs::remove_file(&file);
}

/// "table.column" of every text-like column in which some row contains `marker`.
async fn columns_containing(app: &TestApp, marker: &str) -> Vec<String> {
    let cols: Vec<(String, String)> = sqlx::query_as(
        "SELECT c.table_name::text, c.column_name::text FROM information_schema.columns c
         JOIN information_schema.tables t ON t.table_schema = c.table_schema AND t.table_name = c.table_name
         WHERE c.table_schema = 'public' AND t.table_type = 'BASE TABLE'
           AND c.table_name NOT IN ('spatial_ref_sys', '_sqlx_migrations')
           AND c.udt_name NOT IN ('geography', 'geometry')",
    )
    .fetch_all(&app.pool)
    .await
    .unwrap();
    let mut found = Vec::new();
    for (t, c) in cols {
        let hit: bool = sqlx::query_scalar(&format!(
            "SELECT EXISTS (SELECT 1 FROM \"{t}\" WHERE \"{c}\"::text LIKE '%' || $1 || '%')"
        ))
        .bind(marker)
        .fetch_one(&app.pool)
        .await
        .unwrap();
        if hit {
            found.push(format!("{t}.{c}"));
        }
    }
    found
}

#[tokio::test]
async fn erasure_clears_what_the_bot_wrote_about_the_reporter() {
    let e = env().await;
    let admin = e.app.create_user(3).await;
    let reporter = e.app.create_efectivo(None).await;
    let _responder = e.app.create_efectivo(Some(SOL)).await;
    let nombre = format!("Reportante{}", tg_id());
    sqlx::query("UPDATE usuarios SET nombre = $2 WHERE id = $1")
        .bind(reporter.id)
        .bind(&nombre)
        .execute(&e.app.pool)
        .await
        .unwrap();
    let tg = linked(&e, &reporter).await;
    e.fake
        .push_update(e.fake.location_update(tg, -34.6040, -58.3820));
    e.fake.wait_text(tg, "Emergencia despachada").await;
    // The responder has no Telegram: their call is passed on at once; the erasure comes after.
    let started = Instant::now();
    while sqlx::query_scalar::<_, i64>("SELECT count(*) FROM despachos WHERE estado = 'PENDIENTE'")
        .fetch_one(&e.app.pool)
        .await
        .unwrap()
        > 0
    {
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "call never passed on"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let task = || async {
        sqlx::query_as::<_, (Option<String>, Value)>(
            "SELECT descripcion, extra_data FROM tareas WHERE codigo LIKE 'EMG-%'",
        )
        .fetch_one(&e.app.pool)
        .await
        .unwrap()
    };
    let keys = || async {
        sqlx::query_scalar::<_, i64>("SELECT count(*) FROM idempotency_keys WHERE user_id = $1")
            .bind(reporter.id)
            .fetch_one(&e.app.pool)
            .await
            .unwrap()
    };
    // What the bot wrote about the reporter: the name in the description, the Telegram id in
    // the task's data and in the update's idempotency key.
    let (desc, extra) = task().await;
    assert!(desc.unwrap_or_default().contains(&nombre));
    assert_eq!(extra["telegram_id"], tg);
    assert_eq!(keys().await, 1);

    let r = e
        .app
        .post(
            &format!("/api/v1/gdpr/users/{}/erase", reporter.id),
            Some(&admin.token),
            json!({"motivo": "Solicitud del titular"}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let (desc, extra) = task().await;
    let desc = desc.unwrap_or_default();
    assert!(
        !desc.contains(&nombre) && desc.contains("[borrado]"),
        "{desc}"
    );
    assert!(extra.get("telegram_id").is_none(), "{extra}");
    assert_eq!(keys().await, 0);
    for marker in [nombre, tg.to_string()] {
        let cols = columns_containing(&e.app, &marker).await;
        assert!(cols.is_empty(), "{marker} still in {cols:?}");
    }
}

#[tokio::test]
async fn an_emergency_in_the_tasks_list_offers_no_finalizar_or_cancelar() {
    let e = env().await;
    let reporter = e.app.create_efectivo(None).await;
    let responder = e.app.create_efectivo(Some(SOL)).await;
    let tg = linked(&e, &responder).await;
    let r = e
        .app
        .post(
            "/api/v1/tasks/emergency",
            Some(&reporter.token),
            json!({"lat": -34.6040, "lng": -58.3820}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    let task_id = r.body["task_id"].as_i64().unwrap();
    let before = e.fake.messages_to(tg).len();
    e.fake.send_text(tg, "/tareas");
    let list = next_message(&e, tg, before, "Tus tareas abiertas").await;
    let offered: Vec<String> = buttons(&list)
        .into_iter()
        .map(|(_, d)| d)
        .filter(|d| d.starts_with(&format!("ta:{task_id}:")))
        .collect();
    assert!(
        offered
            .iter()
            .all(|d| !d.ends_with(":finalizada") && !d.ends_with(":cancelada")),
        "{offered:?}"
    );
    // A stale button still cannot close it: the desk closes emergencies.
    let before = e.fake.messages_to(tg).len();
    e.fake
        .press(tg, message_id(&list), &format!("tc:{task_id}:cancelada"));
    next_message(&e, tg, before, "solo la cierra la central").await;
    let estado: String = sqlx::query_scalar("SELECT estado::text FROM tareas WHERE id = $1")
        .bind(task_id)
        .fetch_one(&e.app.pool)
        .await
        .unwrap();
    assert_eq!(estado, "IN_PROGRESS");
}

#[tokio::test]
async fn an_sos_beyond_the_hourly_bound_is_refused_with_the_reason_in_spanish() {
    let app = TestApp::spawn_with(Options::with_redis().env("EMERGENCY_MAX_PER_HOUR", "1")).await;
    let fake = FakeTelegram::start().await;
    let bot = start_bot(&app, &fake, &[]).await;
    let e = Env {
        app,
        fake,
        bot: Some(bot),
    };
    let reporter = e.app.create_efectivo(None).await;
    e.app.create_efectivo(Some(SOL)).await;
    e.app.create_efectivo(Some(SOL)).await;
    let tg = linked(&e, &reporter).await;
    e.fake
        .push_update(e.fake.location_update(tg, -34.6040, -58.3820));
    e.fake.wait_text(tg, "Emergencia despachada").await;
    e.fake
        .push_update(e.fake.location_update(tg, -34.6041, -58.3821));
    let refused = e.fake.wait_text(tg, "en la última hora").await;
    let text = refused["text"].as_str().unwrap();
    assert!(text.contains("central fue avisada"), "{text}");
    let n: i64 = sqlx::query_scalar("SELECT count(*) FROM tareas WHERE es_emergencia")
        .fetch_one(&e.app.pool)
        .await
        .unwrap();
    assert_eq!(n, 1, "the second SOS dispatched nobody");
}

// ---------------------------------------------------------------------------------------------
// Notes and evidence from the field, desk notes to the field

/// An emergency at SOL raised through the API; returns its task id and the push the officer
/// at SOL (chat `tg`) got, once the bot has remembered that message as the incident's.
async fn dispatched(e: &Env, tg: i64) -> (i64, Value) {
    let reporter = e.app.create_user(1).await;
    let r = e
        .app
        .post(
            "/api/v1/tasks/emergency",
            Some(&reporter.token),
            json!({"lat": SOL.0, "lng": SOL.1, "descripcion": "Disturbios"}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    let task = r.body["task_id"].as_i64().unwrap();
    let push = e.fake.wait_text(tg, "EMERGENCIA asignada a vos").await;
    remembered(e, tg, &push, task).await;
    (task, push)
}

/// Waits until the bot has remembered `msg` (sent to chat `tg`) as a message about `task`: the
/// fake records a send before the bot hears Telegram's answer.
async fn remembered(e: &Env, tg: i64, msg: &Value, task: i64) {
    let started = Instant::now();
    loop {
        let known: Option<i64> = sqlx::query_scalar(
            "SELECT tarea_id FROM telegram_mensajes_tarea WHERE chat_id = $1 AND message_id = $2",
        )
        .bind(tg)
        .bind(message_id(msg))
        .fetch_optional(&e.app.pool)
        .await
        .unwrap();
        if known == Some(task) {
            return;
        }
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "message not remembered"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn jpeg_bytes() -> Vec<u8> {
    let mut v = vec![0xFF, 0xD8, 0xFF, 0xE1, 0x00, 0x10];
    v.extend((0..4000u32).map(|i| (i % 251) as u8));
    v.extend([0xFF, 0xD9]);
    v
}

#[tokio::test]
async fn a_reply_to_the_dispatch_push_and_nota_become_notes_the_dashboard_shows() {
    let e = env().await;
    let sup = e.app.create_user(2).await;
    let officer = e.app.create_efectivo(Some(SOL)).await;
    let tg = linked(&e, &officer).await;
    let mut ws = WsClient::connect(&e.app, Some(&sup.token)).await;
    ws.handshake().await;
    let (task, push) = dispatched(&e, tg).await;

    e.fake
        .reply_text(tg, &push, "Voy en camino, llego en 5 minutos");
    e.fake.wait_text(tg, "Nota agregada").await;
    let f = ws
        .wait_for("task_note_added", Duration::from_secs(5))
        .await
        .expect("the dashboard gets the note");
    assert_eq!(f["data"]["task_id"], task);
    assert_eq!(
        f["data"]["nota"]["texto"],
        "Voy en camino, llego en 5 minutos"
    );
    assert_eq!(f["data"]["nota"]["origen"], "telegram");
    assert_eq!(f["data"]["nota"]["autor"]["usuario_id"], officer.id);

    // /nota goes to the officer's current incident.
    let before = e.fake.messages_to(tg).len();
    e.fake.send_text(tg, "/nota Hay dos heridos leves");
    next_message(&e, tg, before, "Nota agregada").await;
    let r = e
        .app
        .get(&format!("/api/v1/tasks/{task}/timeline"), Some(&sup.token))
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let notas: Vec<&str> = r.body["entradas"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|x| x["tipo"] == "nota")
        .map(|x| x["datos"]["texto"].as_str().unwrap())
        .collect();
    assert_eq!(
        notas,
        ["Voy en camino, llego en 5 minutos", "Hay dos heridos leves"]
    );

    // Nothing to attach a note to: told so in Spanish.
    let idle = e.app.create_efectivo(None).await;
    let tg_idle = linked(&e, &idle).await;
    e.fake.send_text(tg_idle, "/nota hola");
    e.fake
        .wait_text(tg_idle, "No tenés un incidente en curso")
        .await;
}

#[tokio::test]
async fn a_photo_in_reply_to_the_incident_becomes_an_attachment_hashed_in_the_audit() {
    let e = env().await;
    let officer = e.app.create_efectivo(Some(SOL)).await;
    let tg = linked(&e, &officer).await;
    let (task, push) = dispatched(&e, tg).await;

    let photo = jpeg_bytes();
    e.fake.send_photo(tg, photo.clone(), Some(&push), None);
    e.fake.wait_text(tg, "Archivo agregado").await;
    let sha = {
        use sha2::Digest;
        hex::encode(sha2::Sha256::digest(&photo))
    };
    let (stored, origen): (String, String) =
        sqlx::query_as("SELECT sha256, origen FROM tarea_adjuntos WHERE tarea_id = $1")
            .bind(task)
            .fetch_one(&e.app.pool)
            .await
            .unwrap();
    assert_eq!(stored, sha, "the largest size was kept");
    assert_eq!(origen, "telegram");
    let audited: String = sqlx::query_scalar(
        "SELECT new_values->>'sha256' FROM audit_logs WHERE event_type = 'task_attachment_added'",
    )
    .fetch_one(&e.app.pool)
    .await
    .unwrap();
    assert_eq!(audited, sha);

    // A document that is not a JPEG, PNG or PDF is refused in Spanish.
    e.fake.send_document(
        tg,
        b"<html>no</html>".to_vec(),
        "x.html",
        "text/html",
        Some(&push),
        None,
    );
    e.fake.wait_text(tg, "Solo se aceptan fotos").await;
}

#[tokio::test]
async fn a_note_written_at_the_desk_reaches_the_officers_chat() {
    let e = env().await;
    let sup = e.app.create_user(2).await;
    let officer = e.app.create_efectivo(Some(SOL)).await;
    let tg = linked(&e, &officer).await;
    let (task, _) = dispatched(&e, tg).await;
    let codigo = e
        .app
        .get(&format!("/api/v1/tasks/{task}"), Some(&sup.token))
        .await
        .body["nro_incidente"]
        .as_str()
        .unwrap()
        .to_string();
    let r = e
        .app
        .post(
            &format!("/api/v1/tasks/{task}/notas"),
            Some(&sup.token),
            json!({"texto": "El sospechoso viste campera roja"}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    let m = e.fake.wait_text(tg, "Nota de la central sobre").await;
    let text = m["text"].as_str().unwrap();
    assert!(text.contains(&codigo), "{text}");
    assert!(text.contains("El sospechoso viste campera roja"), "{text}");

    // Answering that message is a note on the same incident.
    remembered(&e, tg, &m, task).await;
    e.fake.reply_text(tg, &m, "Recibido");
    e.fake.wait_text(tg, "Nota agregada").await;
    let n: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM tarea_notas WHERE tarea_id = $1 AND origen = 'telegram'",
    )
    .bind(task)
    .fetch_one(&e.app.pool)
    .await
    .unwrap();
    assert_eq!(n, 1);
}

#[tokio::test]
async fn the_dispatch_push_carries_the_case_number_type_priority_and_address() {
    let e = env().await;
    let officer = e.app.create_efectivo(Some(SOL)).await;
    let tg = linked(&e, &officer).await;
    let desk = e.app.create_user(2).await;
    let r = e
        .app
        .post(
            "/api/v1/tasks/emergency",
            Some(&desk.token),
            json!({"lat": SOL.0, "lng": SOL.1, "tipo_incidente": "robo", "prioridad": 5,
                   "direccion": "Av. Corrientes 1234", "referencia": "entre Talcahuano y Libertad"}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    let nro = r.body["nro_incidente"].as_str().unwrap().to_string();
    let push = e.fake.wait_text(tg, "EMERGENCIA asignada a vos").await;
    let text = push["text"].as_str().unwrap();
    for part in [
        nro.as_str(),
        "Robo",
        "5",
        "Av. Corrientes 1234",
        "entre Talcahuano y Libertad",
    ] {
        assert!(text.contains(part), "{part:?} missing from {text}");
    }
}

/// Messages to `chat` whose text contains `needle`.
fn count_texts(fake: &FakeTelegram, chat: i64, needle: &str) -> usize {
    texts_to(fake, chat)
        .iter()
        .filter(|t| t.contains(needle))
        .count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn todo_bien_is_asked_once_across_two_instances_and_both_buttons_work() {
    let opts = Options::with_redis()
        .env("CHECKIN_MINUTOS", "0.02")
        .env("CHECKIN_GRACIA_MINUTOS", "0.1");
    let app = TestApp::spawn_with(opts).await;
    let second = TestApp::spawn_with(Options::sibling_of(&app)).await;
    let fake = FakeTelegram::start().await;
    let bot = start_bot(&app, &fake, &[]).await;
    let e = Env {
        app,
        fake,
        bot: Some(bot),
    };
    let officer = e.app.create_efectivo(Some(SOL)).await;
    let backup = e.app.create_efectivo(Some((SOL.0 + 0.002, SOL.1))).await;
    let tg = linked(&e, &officer).await;
    let tg_backup = linked(&e, &backup).await;
    let (task, push) = dispatched(&e, tg).await;
    press(&e, tg, &push, &format!("ak:{task}:1"), "Aceptaste").await;

    // About 1.2 s later, the question with its two buttons, sent once although three
    // processes (two API instances and the bot) run the check-in job.
    let ask = e.fake.wait_text(tg, "¿Todo bien?").await;
    let labels: Vec<String> = buttons(&ask).into_iter().map(|(t, _)| t).collect();
    assert_eq!(labels, ["👍 Estoy bien", "🆘 Necesito apoyo"]);
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(count_texts(&e.fake, tg, "¿Todo bien?"), 1, "asked once");
    let sends = e
        .fake
        .calls_of("sendMessage")
        .iter()
        .filter(|c| {
            c.params["text"]
                .as_str()
                .is_some_and(|t| t.contains("Todo bien"))
        })
        .count();
    assert_eq!(sends, 1, "one sendMessage for the question");

    press(
        &e,
        tg,
        &ask,
        &format!("ck:{task}:1"),
        "Registrado: estás bien",
    )
    .await;
    let ok: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM checkins WHERE tarea_id = $1 AND paso = 'ok' AND usuario_id = $2",
    )
    .bind(task)
    .bind(officer.id)
    .fetch_one(&e.app.pool)
    .await
    .unwrap();
    assert_eq!(ok, 1, "Estoy bien is recorded");

    // The clock started again: the next question, answered "Necesito apoyo".
    let started = Instant::now();
    let ask2 = loop {
        let asks: Vec<Value> = e
            .fake
            .messages_to(tg)
            .into_iter()
            .filter(|m| {
                m["text"]
                    .as_str()
                    .is_some_and(|t| t.contains("¿Todo bien?"))
            })
            .collect();
        if asks.len() >= 2 {
            break asks[1].clone();
        }
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "no second question"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    press(
        &e,
        tg,
        &ask2,
        &format!("ck:{task}:0"),
        "Pedido de apoyo registrado",
    )
    .await;
    // Backup is dispatched: the nearest other officer gets the call with its buttons.
    let call = e.fake.wait_text(tg_backup, "asignada a vos").await;
    assert!(buttons(&call).iter().any(|(t, _)| t.contains("Aceptar")));
    let kinds: Vec<String> = sqlx::query_scalar(
        "SELECT kind FROM alertas WHERE tarea_id = $1 AND kind LIKE 'checkin_%' ORDER BY id",
    )
    .bind(task)
    .fetch_all(&e.app.pool)
    .await
    .unwrap();
    assert_eq!(kinds, ["checkin_apoyo"]);
    drop(second);
}

#[tokio::test]
async fn turno_clocks_in_and_out_and_licencia_asks_for_leave() {
    let e = env().await;
    let officer = e.app.create_efectivo(None).await;
    let sup = e.app.create_user(2).await;
    let tg = linked(&e, &officer).await;
    e.fake.send_text(tg, "/turno");
    e.fake.wait_text(tg, "No tenés turnos").await;
    let now = chrono::Utc::now();
    let r = e
        .app
        .post(
            "/api/v1/turnos",
            Some(&sup.token),
            json!({"efectivo_id": officer.efectivo_id,
                   "inicio": gad_core::time::rfc3339(now - chrono::Duration::minutes(45)),
                   "fin": gad_core::time::rfc3339(now + chrono::Duration::hours(7)),
                   "unidad": "Móvil 3"}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    e.fake.send_text(tg, "/turno");
    let m = e.fake.wait_text(tg, "Tu turno").await;
    press(&e, tg, &m, "tu:", "marcado como tarde").await;
    let tarde: bool = sqlx::query_scalar("SELECT ingreso_tarde FROM turnos WHERE efectivo_id = $1")
        .bind(officer.efectivo_id.unwrap())
        .fetch_one(&e.app.pool)
        .await
        .unwrap();
    assert!(tarde);
    let before = e.fake.messages_to(tg).len();
    e.fake.send_text(tg, "/turno");
    let m = next_message(&e, tg, before, "ingreso registrado (tarde)").await;
    press(&e, tg, &m, "tu:", "Egreso registrado").await;

    let before = e.fake.messages_to(tg).len();
    e.fake.send_text(tg, "/licencia");
    next_message(&e, tg, before, "/licencia <tipo>").await;
    e.fake.send_text(
        tg,
        "/licencia vacaciones 2027-02-01 2027-02-05 viaje familiar",
    );
    e.fake
        .wait_text(tg, "Pediste licencia por vacaciones")
        .await;
    let (tipo, motivo): (String, Option<String>) = sqlx::query_as(
        "SELECT tipo, motivo FROM licencias WHERE efectivo_id = $1 AND estado = 'pendiente'",
    )
    .bind(officer.efectivo_id.unwrap())
    .fetch_one(&e.app.pool)
    .await
    .unwrap();
    assert_eq!(tipo, "vacaciones");
    assert_eq!(motivo.as_deref(), Some("viaje familiar"));
}

/// In DUTY_MODE=turnos a task notice reaches only the officers on duty; the off-duty one
/// assigned with them hears nothing (a dispatch call is another matter: the rule already keeps
/// them from being called).
#[tokio::test]
async fn in_turnos_mode_task_pushes_skip_officers_off_duty() {
    let app = TestApp::spawn_with(Options::with_redis().env("DUTY_MODE", "turnos")).await;
    let fake = FakeTelegram::start().await;
    let bot = start_bot(&app, &fake, &[]).await;
    let e = Env {
        app,
        fake,
        bot: Some(bot),
    };
    let sup = e.app.create_user(2).await;
    let on = e.app.create_efectivo(None).await;
    let off = e.app.create_efectivo(None).await;
    let tg_on = linked(&e, &on).await;
    let tg_off = linked(&e, &off).await;
    let now = chrono::Utc::now();
    let r = e
        .app
        .post(
            "/api/v1/turnos",
            Some(&sup.token),
            json!({"efectivo_id": on.efectivo_id,
                   "inicio": gad_core::time::rfc3339(now - chrono::Duration::minutes(5)),
                   "fin": gad_core::time::rfc3339(now + chrono::Duration::hours(2))}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    let r = e
        .app
        .post(
            &format!("/api/v1/turnos/{}/ingreso", r.body["id"]),
            Some(&on.token),
            json!({}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);

    let r = e
        .app
        .create_task(
            &sup,
            sup.id,
            json!({"titulo": "Custodia", "efectivos_asignados": [on.efectivo_id, off.efectivo_id]}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    let codigo = r.body["codigo"].as_str().unwrap().to_string();
    e.fake.wait_text(tg_on, "Te asignaron la tarea").await;
    tokio::time::sleep(Duration::from_millis(700)).await;
    assert!(
        texts_to(&e.fake, tg_off)
            .iter()
            .all(|t| !t.contains(&codigo)),
        "{:?}",
        texts_to(&e.fake, tg_off)
    );
}
// ---------------------------------------------------------------------------------------------
// Messages from the desk (`/api/v1/mensajes`) delivered through the bot.

/// Links `u` to a Telegram chat directly (the linking dialogue is tested above).
async fn linked_sql(app: &TestApp, u: &TestUser) -> i64 {
    let tg = tg_id();
    sqlx::query("UPDATE usuarios SET telegram_id = $1 WHERE id = $2")
        .bind(tg)
        .bind(u.id)
        .execute(&app.pool)
        .await
        .unwrap();
    tg
}

async fn send_message(app: &TestApp, by: &TestUser, body: Value) -> i64 {
    let r = app.post("/api/v1/mensajes", Some(&by.token), body).await;
    assert_eq!(r.status, 201, "{}", r.text);
    r.body["id"].as_i64().unwrap()
}

/// Waits until no recipient of the message is pending; returns the message.
async fn settled(app: &TestApp, by: &TestUser, id: i64, within: Duration) -> Value {
    let started = Instant::now();
    loop {
        let r = app
            .get(&format!("/api/v1/mensajes/{id}"), Some(&by.token))
            .await;
        assert_eq!(r.status, 200, "{}", r.text);
        if r.body["totales"]["pendiente"] == 0 {
            return r.body;
        }
        assert!(
            started.elapsed() < within,
            "still pending: {}",
            r.body["totales"]
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn estado_of(m: &Value, efectivo_id: i64) -> Value {
    m["destinatarios"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["efectivo_id"] == efectivo_id)
        .cloned()
        .unwrap_or_else(|| panic!("{efectivo_id} not a recipient of {m:#}"))
}

#[tokio::test]
async fn a_message_to_a_unit_reaches_exactly_its_linked_officers_blocked_fail_and_recibido_confirms()
 {
    let e = env().await;
    let sup = e.app.create_user(2).await;
    let mut ws = WsClient::connect(&e.app, Some(&sup.token)).await;
    let a = e.app.create_efectivo(None).await;
    let blocked = e.app.create_efectivo(None).await;
    let unlinked = e.app.create_efectivo(None).await;
    let other = e.app.create_efectivo(None).await;
    for u in [&a, &blocked, &unlinked] {
        sqlx::query("UPDATE efectivos SET unidad = 'Móvil 9' WHERE id = $1")
            .bind(u.efectivo_id.unwrap())
            .execute(&e.app.pool)
            .await
            .unwrap();
    }
    let tg_a = linked_sql(&e.app, &a).await;
    let tg_blocked = linked_sql(&e.app, &blocked).await;
    let tg_other = linked_sql(&e.app, &other).await;
    e.fake.block_chat(tg_blocked);
    let id = send_message(
        &e.app,
        &sup,
        json!({"destino": {"unidad": "Móvil 9"}, "texto": "Todos reporten estado",
               "prioridad": "urgente", "requiere_confirmacion": true}),
    )
    .await;
    let m = settled(&e.app, &sup, id, Duration::from_secs(10)).await;
    let got = estado_of(&m, a.efectivo_id.unwrap());
    assert_eq!(got["estado"], "enviado", "{m:#}");
    assert!(got["message_id"].as_i64().is_some() && got["enviado_at"].is_string());
    let b = estado_of(&m, blocked.efectivo_id.unwrap());
    assert_eq!(
        (b["estado"].as_str(), b["motivo"].as_str()),
        (Some("fallido"), Some("bloqueó el bot"))
    );
    let u = estado_of(&m, unlinked.efectivo_id.unwrap());
    assert_eq!(
        (u["estado"].as_str(), u["motivo"].as_str()),
        (Some("fallido"), Some("sin vincular"))
    );
    assert_eq!(m["totales"]["total"], 3);
    // Exactly the linked officer of the unit got it, marked urgent, with the button.
    let sent = e.fake.wait_text(tg_a, "URGENTE").await;
    assert!(
        sent["text"]
            .as_str()
            .unwrap()
            .contains("Todos reporten estado")
    );
    assert!(texts_to(&e.fake, tg_other).is_empty());
    assert_eq!(e.fake.messages_to(tg_a).len(), 1);
    // "Recibido" → confirmado, with its time; the desk sees each change live.
    press(&e, tg_a, &sent, "mr:", "Recibido (confirmado)").await;
    let m = e
        .app
        .get(&format!("/api/v1/mensajes/{id}"), Some(&sup.token))
        .await
        .body;
    let got = estado_of(&m, a.efectivo_id.unwrap());
    assert_eq!(got["estado"], "confirmado");
    assert!(got["confirmado_at"].is_string());
    let mut seen = Vec::new();
    let started = Instant::now();
    while !seen.contains(&"confirmado".to_string()) && started.elapsed() < Duration::from_secs(5) {
        if let Some(f) = ws.wait_for("message", Duration::from_secs(5)).await
            && f["data"]["kind"] == "estado"
        {
            seen.push(f["data"]["estado"].as_str().unwrap_or("").to_string());
        }
    }
    assert!(seen.contains(&"enviado".to_string()), "{seen:?}");
    assert!(seen.contains(&"confirmado".to_string()), "{seen:?}");
}

#[tokio::test]
async fn an_officers_reply_and_slash_mensaje_reach_the_desks_socket() {
    let e = env().await;
    let sup = e.app.create_user(2).await;
    let off = e.app.create_efectivo(None).await;
    let tg = linked_sql(&e.app, &off).await;
    let id = send_message(
        &e.app,
        &sup,
        json!({"destino": {"efectivos": [off.efectivo_id]}, "texto": "¿Cómo está la zona?"}),
    )
    .await;
    let sent = e.fake.wait_text(tg, "¿Cómo está la zona?").await;
    // A reply is matched to the delivery record, written just after Telegram answers the send:
    // reply once the record says so, as a person (who needs more than those milliseconds) does.
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        let m = e
            .app
            .get(&format!("/api/v1/mensajes/{id}"), Some(&sup.token))
            .await;
        if m.body["destinatarios"][0]["estado"] == "enviado" {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "{}", m.text);
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let mut ws = WsClient::connect(&e.app, Some(&sup.token)).await;
    e.fake.reply_text(tg, &sent, "Todo tranquilo");
    e.fake.wait_text(tg, "llegó a la central").await;
    let f = loop {
        let f = ws
            .wait_for("message", Duration::from_secs(5))
            .await
            .expect("no message frame");
        if f["data"]["kind"] == "nuevo" {
            break f;
        }
    };
    assert_eq!(f["data"]["texto"], "Todo tranquilo");
    assert_eq!(f["data"]["centro"], true);
    assert_eq!(f["data"]["en_respuesta_a"], id);
    assert_eq!(f["data"]["autor_usuario_id"], off.id);
    let before = e.fake.messages_to(tg).len();
    e.fake.send_text(tg, "/mensaje Necesito combustible");
    next_message(&e, tg, before, "llegó a la central").await;
    let l = e.app.get("/api/v1/mensajes", Some(&sup.token)).await;
    assert!(
        l.body.as_array().unwrap().iter().any(
            |m| m["texto"] == "Necesito combustible" && m["destino"] == json!({"centro": true})
        ),
        "{}",
        l.text
    );
}

#[tokio::test]
async fn telegrams_429_retry_after_is_honoured() {
    let e = env().await;
    let sup = e.app.create_user(2).await;
    let off = e.app.create_efectivo(None).await;
    let tg = linked_sql(&e.app, &off).await;
    e.fake.fail_next("sendMessage", FakeError::RetryAfter(2));
    let id = send_message(
        &e.app,
        &sup,
        json!({"destino": {"efectivos": [off.efectivo_id]}, "texto": "Esperar"}),
    )
    .await;
    let m = settled(&e.app, &sup, id, Duration::from_secs(10)).await;
    assert_eq!(estado_of(&m, off.efectivo_id.unwrap())["estado"], "enviado");
    let calls: Vec<_> = e
        .fake
        .calls_of("sendMessage")
        .into_iter()
        .filter(|c| c.params["chat_id"].as_i64() == Some(tg))
        .collect();
    assert_eq!(calls.len(), 2, "{calls:#?}");
    assert!(calls[0].failed && !calls[1].failed);
    let gap = calls[1].at.duration_since(calls[0].at);
    assert!(gap >= Duration::from_secs(2), "retried after {gap:?}");
}

#[tokio::test]
async fn many_recipients_are_all_delivered_once_across_a_bot_restart_mid_send() {
    const N: usize = 1000;
    // Raised from the production 30/s so a thousand sends take about 5 s.
    const RATE: u32 = 200;
    let app = TestApp::spawn_with_redis().await;
    let fake = FakeTelegram::start().await;
    let rate = RATE.to_string();
    let extra = [("BOT_MENSAJES_POR_SEGUNDO", rate.as_str())];
    let bot = start_bot(&app, &fake, &extra).await;
    let sup = app.create_user(2).await;
    let mut ids = Vec::new();
    for _ in 0..N {
        let u = app.create_efectivo(None).await;
        linked_sql(&app, &u).await;
        ids.push(u.efectivo_id.unwrap());
    }
    let started = Instant::now();
    let id = send_message(
        &app,
        &sup,
        json!({"destino": {"efectivos": ids}, "texto": "Convocatoria general"}),
    )
    .await;
    // Stop the bot part-way, then start another: the queue survives in the database.
    while fake.calls_of("sendMessage").len() < N / 4 {
        assert!(started.elapsed() < Duration::from_secs(20));
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    bot.stop().await;
    let bot = start_bot(&app, &fake, &extra).await;
    let m = settled(&app, &sup, id, Duration::from_secs(30)).await;
    let elapsed = started.elapsed();
    assert_eq!(m["totales"]["enviado"], N, "{}", m["totales"]);
    let sends = fake.calls_of("sendMessage");
    let mut chats: Vec<i64> = sends
        .iter()
        .filter_map(|c| c.params["chat_id"].as_i64())
        .collect();
    chats.sort_unstable();
    chats.dedup();
    assert_eq!(chats.len(), N);
    assert_eq!(sends.len(), N, "a chat got the message twice");
    // Within the configured rate: N sends need at least (N - 1) / RATE seconds.
    let first = sends.first().unwrap().at;
    let last = sends.last().unwrap().at;
    let span = last.duration_since(first).as_secs_f64();
    let per_s = (N as f64 - 1.0) / span;
    assert!(per_s <= f64::from(RATE) * 1.1, "{per_s:.1} messages/s");
    // The figures for docs/PERFORMANCE.md (p99 from the request to `enviado`).
    let created: chrono::DateTime<chrono::Utc> = m["created_at"].as_str().unwrap().parse().unwrap();
    let mut lat: Vec<i64> = m["destinatarios"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| {
            let at: chrono::DateTime<chrono::Utc> =
                d["enviado_at"].as_str().unwrap().parse().unwrap();
            (at - created).num_milliseconds()
        })
        .collect();
    lat.sort_unstable();
    let p99 = lat[(lat.len() * 99).div_ceil(100) - 1];
    eprintln!(
        "mensajes: {N} recipients, {per_s:.1} messages/s to the fake API, p99 request→enviado {p99} ms, total {elapsed:?} (with a restart)"
    );
    bot.stop().await;
    fake.stop();
}

/// An app (Redis) whose dispatch deadline is far away, so only the push's failure can pass a
/// call on quickly, with the bot running.
async fn env_with_long_ack() -> Env {
    let app =
        TestApp::spawn_with(Options::with_redis().env("DISPATCH_ACK_TIMEOUT_SECONDS", "60")).await;
    let fake = FakeTelegram::start().await;
    let bot = start_bot(&app, &fake, &[]).await;
    Env {
        app,
        fake,
        bot: Some(bot),
    }
}

async fn raise_emergency(app: &TestApp) -> i64 {
    let reporter = app.create_user(1).await;
    let r = app
        .post(
            "/api/v1/tasks/emergency",
            Some(&reporter.token),
            json!({"lat": SOL.0, "lng": SOL.1, "descripcion": "Disturbios"}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    r.body["task_id"].as_i64().unwrap()
}

/// The incident timeline's entries, once `ready` holds for them (deliveries are recorded after
/// Telegram answers the send).
async fn timeline_when(
    app: &TestApp,
    token: &str,
    task: i64,
    ready: impl Fn(&[Value]) -> bool,
) -> Vec<Value> {
    let started = Instant::now();
    loop {
        let r = app
            .get(&format!("/api/v1/tasks/{task}/timeline"), Some(token))
            .await;
        assert_eq!(r.status, 200, "{}", r.text);
        let entradas = r.body["entradas"].as_array().unwrap().clone();
        if ready(&entradas) {
            return entradas;
        }
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "timeline never ready: {entradas:#?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn entregas_of(entradas: &[Value], efectivo_id: i64) -> Vec<Value> {
    entradas
        .iter()
        .filter(|e| e["tipo"] == "entrega" && e["datos"]["efectivo_id"] == efectivo_id)
        .map(|e| e["datos"].clone())
        .collect()
}

fn entry<'a>(entradas: &'a [Value], tipo: &str, efectivo_id: i64) -> Option<&'a Value> {
    entradas
        .iter()
        .find(|e| e["tipo"] == tipo && e["datos"]["efectivo_id"] == efectivo_id)
}

#[tokio::test]
async fn a_dispatch_push_telegram_refuses_with_403_passes_to_the_next_officer_at_once() {
    let e = env_with_long_ack().await;
    let sup = e.app.create_user(2).await;
    let nearest = e.app.create_efectivo(Some(SOL)).await;
    let next = e.app.create_efectivo(Some((-34.6100, -58.3900))).await;
    let tg_nearest = linked(&e, &nearest).await;
    let tg_next = linked(&e, &next).await;
    e.fake.block_chat(tg_nearest);

    let started = Instant::now();
    let task = raise_emergency(&e.app).await;
    let call = e.fake.wait_text(tg_next, "EMERGENCIA asignada a vos").await;
    let latency = started.elapsed();
    eprintln!("the call reached the next officer {latency:?} after the emergency was raised");
    assert!(latency < Duration::from_secs(2), "{latency:?}");
    assert!(buttons(&call).iter().any(|(t, _)| t.contains("Aceptar")));

    let entradas = timeline_when(&e.app, &sup.token, task, |en| {
        entregas_of(en, next.efectivo_id.unwrap()).len() == 1
    })
    .await;
    let failed = entregas_of(&entradas, nearest.efectivo_id.unwrap());
    assert_eq!(failed.len(), 1, "{failed:#?}");
    assert_eq!(failed[0]["canal"], "telegram");
    assert_eq!(failed[0]["tipo"], "despacho");
    assert_eq!(failed[0]["estado"], "fallido");
    assert_eq!(failed[0]["motivo"], "bloqueó el bot");
    assert_eq!(failed[0]["message_id"], Value::Null);
    assert!(failed[0]["despacho_id"].is_i64());
    let declined = entry(
        &entradas,
        "despacho_rechazado",
        nearest.efectivo_id.unwrap(),
    )
    .expect("the blocked officer's call is closed");
    assert_eq!(declined["datos"]["motivo"], "push fallido: bloqueó el bot");
    assert_eq!(declined["actor"], Value::Null, "the system declined it");
    let second = entry(&entradas, "despacho_enviado", next.efectivo_id.unwrap())
        .expect("the next officer is dispatched");
    assert_eq!(second["datos"]["intento"], 2);
    let sent = &entregas_of(&entradas, next.efectivo_id.unwrap())[0];
    assert_eq!(sent["estado"], "enviado");
    assert_eq!(sent["message_id"], message_id(&call));

    // Passed on exactly once: one decline, one call to the next officer.
    let rows: Vec<(i64, String)> =
        sqlx::query_as("SELECT efectivo_id, estado FROM despachos WHERE tarea_id = $1 ORDER BY id")
            .bind(task)
            .fetch_all(&e.app.pool)
            .await
            .unwrap();
    assert_eq!(
        rows,
        [
            (nearest.efectivo_id.unwrap(), "RECHAZADO".to_string()),
            (next.efectivo_id.unwrap(), "PENDIENTE".to_string())
        ]
    );
}

#[tokio::test]
async fn a_dispatch_to_an_officer_without_telegram_passes_to_the_next_officer_at_once() {
    let e = env_with_long_ack().await;
    let sup = e.app.create_user(2).await;
    let nearest = e.app.create_efectivo(Some(SOL)).await; // never linked
    let next = e.app.create_efectivo(Some((-34.6100, -58.3900))).await;
    let tg_next = linked(&e, &next).await;

    let started = Instant::now();
    let task = raise_emergency(&e.app).await;
    e.fake.wait_text(tg_next, "EMERGENCIA asignada a vos").await;
    let latency = started.elapsed();
    assert!(latency < Duration::from_secs(2), "{latency:?}");

    let entradas = timeline_when(&e.app, &sup.token, task, |en| {
        entry(en, "despacho_enviado", next.efectivo_id.unwrap()).is_some()
    })
    .await;
    let failed = entregas_of(&entradas, nearest.efectivo_id.unwrap());
    assert_eq!(failed.len(), 1, "{failed:#?}");
    assert_eq!(failed[0]["estado"], "fallido");
    assert_eq!(failed[0]["motivo"], "sin vincular");
    let declined = entry(
        &entradas,
        "despacho_rechazado",
        nearest.efectivo_id.unwrap(),
    )
    .unwrap();
    assert_eq!(declined["datos"]["motivo"], "push fallido: sin vincular");
}

#[tokio::test]
async fn a_delivered_dispatch_push_records_its_message_id_and_the_officers_answer() {
    let e = env_with_long_ack().await;
    let sup = e.app.create_user(2).await;
    let officer = e.app.create_efectivo(Some(SOL)).await;
    let efectivo = officer.efectivo_id.unwrap();
    let tg = linked(&e, &officer).await;
    let (task, push) = dispatched(&e, tg).await;

    let entradas = timeline_when(&e.app, &sup.token, task, |en| {
        entregas_of(en, efectivo).len() == 1
    })
    .await;
    let rec = &entregas_of(&entradas, efectivo)[0];
    assert_eq!(rec["canal"], "telegram");
    assert_eq!(rec["tipo"], "despacho");
    assert_eq!(rec["estado"], "enviado");
    assert_eq!(rec["message_id"], message_id(&push));
    assert_eq!(rec["usuario_id"], officer.id);
    assert!(rec["enviado_at"].as_str().unwrap().ends_with('Z'));
    assert_eq!(rec["respuesta"], Value::Null, "sin respuesta yet");
    assert_eq!(rec["respondido_at"], Value::Null);
    assert_eq!(rec["motivo"], Value::Null);

    press(&e, tg, &push, &format!("ak:{task}:1"), "Aceptaste").await;
    let entradas = timeline_when(&e.app, &sup.token, task, |en| {
        entregas_of(en, efectivo)[0]["respuesta"] == "aceptado"
    })
    .await;
    let rec = &entregas_of(&entradas, efectivo)[0];
    let enviado =
        chrono::DateTime::parse_from_rfc3339(rec["enviado_at"].as_str().unwrap()).unwrap();
    let respondido =
        chrono::DateTime::parse_from_rfc3339(rec["respondido_at"].as_str().unwrap()).unwrap();
    assert!(respondido >= enviado, "{rec:#}");
    assert!(entry(&entradas, "despacho_aceptado", efectivo).is_some());
}

#[tokio::test]
async fn a_checkin_questions_delivery_and_its_answer_are_on_the_timeline() {
    let opts = Options::with_redis()
        .env("CHECKIN_MINUTOS", "0.02")
        .env("CHECKIN_GRACIA_MINUTOS", "1");
    let app = TestApp::spawn_with(opts).await;
    let fake = FakeTelegram::start().await;
    let bot = start_bot(&app, &fake, &[]).await;
    let e = Env {
        app,
        fake,
        bot: Some(bot),
    };
    let sup = e.app.create_user(2).await;
    let officer = e.app.create_efectivo(Some(SOL)).await;
    let efectivo = officer.efectivo_id.unwrap();
    let tg = linked(&e, &officer).await;
    let (task, push) = dispatched(&e, tg).await;
    press(&e, tg, &push, &format!("ak:{task}:1"), "Aceptaste").await;
    let ask = e.fake.wait_text(tg, "¿Todo bien?").await;

    let checkin_of = |en: &[Value]| -> Option<Value> {
        entregas_of(en, efectivo)
            .into_iter()
            .find(|d| d["tipo"] == "checkin")
    };
    let entradas = timeline_when(&e.app, &sup.token, task, |en| checkin_of(en).is_some()).await;
    let rec = checkin_of(&entradas).unwrap();
    assert_eq!(rec["estado"], "enviado");
    assert_eq!(rec["message_id"], message_id(&ask));
    assert_eq!(rec["respuesta"], Value::Null);

    press(
        &e,
        tg,
        &ask,
        &format!("ck:{task}:1"),
        "Registrado: estás bien",
    )
    .await;
    let entradas = timeline_when(&e.app, &sup.token, task, |en| {
        checkin_of(en).is_some_and(|d| d["respuesta"] == "estoy_bien")
    })
    .await;
    assert!(checkin_of(&entradas).unwrap()["respondido_at"].is_string());
}

#[tokio::test]
async fn erasure_keeps_the_delivery_record_but_not_the_chat_it_went_to() {
    let e = env_with_long_ack().await;
    let admin = e.app.create_user(3).await;
    let officer = e.app.create_efectivo(Some(SOL)).await;
    let tg = linked(&e, &officer).await;
    let (task, push) = dispatched(&e, tg).await;
    press(&e, tg, &push, &format!("ak:{task}:0"), "Rechazaste").await;
    let chat: Option<i64> =
        sqlx::query_scalar("SELECT chat_id FROM entregas WHERE usuario_id = $1")
            .bind(officer.id)
            .fetch_one(&e.app.pool)
            .await
            .unwrap();
    assert_eq!(chat, Some(tg));
    // Erasure waits for the emergency to be closed.
    let r = e
        .app
        .post(
            &format!("/api/v1/tasks/{task}/cierre"),
            Some(&admin.token),
            json!({"codigo_cierre": "sin_novedad", "resumen": null}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);

    let r = e
        .app
        .post(
            &format!("/api/v1/gdpr/users/{}/erase", officer.id),
            Some(&admin.token),
            json!({"motivo": "Solicitud del titular"}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let kept: Vec<(Option<i64>, Option<String>)> =
        sqlx::query_as("SELECT chat_id, respuesta FROM entregas WHERE usuario_id = $1")
            .bind(officer.id)
            .fetch_all(&e.app.pool)
            .await
            .unwrap();
    assert_eq!(kept, [(None, Some("rechazado".to_string()))]);
    let cols = columns_containing(&e.app, &tg.to_string()).await;
    assert!(
        !cols.contains(&"entregas.chat_id".to_string()),
        "{tg} still in {cols:?}"
    );
}
