//! Real data for the socket: the snapshot on connect, dashboard and metrics answers.

use std::sync::atomic::Ordering::Relaxed;

use gad_core::positions::BBox;
use gad_core::{EstadoDisponibilidad, EstadoTarea, Nivel, Prioridad};
use serde_json::{Value, json};

use super::socket::Identity;
use crate::state::AppState;
use gad_store::tareas::{self, Scope, TaskLine};

const SNAPSHOT_TASKS: i64 = 500;
/// A snapshot frame carries at most this many officers…
pub(crate) const PART_EFECTIVOS: usize = 500;
/// …and at most this many bytes of items, so every frame fits the socket's write buffer
/// whatever the deployment's size (issue 13: a 100 000-officer snapshot is ~200 frames).
pub(crate) const PART_BYTES: usize = 48 * 1024;

fn task_json(t: TaskLine) -> Value {
    json!({
        "id": t.id,
        "codigo": t.codigo,
        "titulo": t.titulo,
        "estado": EstadoTarea::from_db(&t.estado).map(|e| e.as_wire()).unwrap_or(t.estado.as_str()),
        "prioridad": Prioridad::from_db(&t.prioridad).map(|p| json!(p.as_i16())).unwrap_or(json!(t.prioridad)),
    })
}

async fn own_open_tasks(
    state: &AppState,
    who: &Identity,
) -> Result<Vec<Value>, gad_store::DbError> {
    let Some(uid) = who.user_id else {
        return Ok(Vec::new());
    };
    // An officer's snapshot shows what it is involved in, whatever its level.
    let scope = Scope {
        user_id: uid,
        efectivo_id: who.efectivo_id,
        all: false,
    };
    let rows = tareas::open_lines(&state.db, scope, false, SNAPSHOT_TASKS).await?;
    Ok(rows.into_iter().map(task_json).collect())
}

async fn supervisor_snapshot(
    state: &AppState,
    bbox: Option<BBox>,
) -> Result<Vec<Value>, gad_store::DbError> {
    let everything = Scope {
        user_id: 0,
        efectivo_id: None,
        all: true,
    };
    let emergencies = tareas::open_lines(&state.db, everything, true, SNAPSHOT_TASKS).await?;
    // Current positions only (efectivos); the history is never read here.
    let positions = gad_store::positions::located(&state.db, bbox).await?;
    let emergencies: Vec<Value> = emergencies.into_iter().map(task_json).collect();
    let efectivos: Vec<Value> = positions
        .into_iter()
        .map(|p| {
            json!({
                "id": p.id,
                "lat": p.lat,
                "lng": p.lng,
                "estado": EstadoDisponibilidad::from_db(&p.estado).map(|e| e.as_wire()).unwrap_or(p.estado.as_str()),
            })
        })
        .collect();
    Ok(split_parts(emergencies, efectivos))
}

/// Packs the supervisor snapshot into frames of bounded size: every part has both keys (maybe
/// empty) plus `part` (1-based) and `parts`; emergencies come first, officers after.
pub(crate) fn split_parts(emergencies: Vec<Value>, efectivos: Vec<Value>) -> Vec<Value> {
    struct Part {
        emergencias: Vec<Value>,
        efectivos: Vec<Value>,
        bytes: usize,
    }
    let new_part = || Part {
        emergencias: Vec::new(),
        efectivos: Vec::new(),
        bytes: 0,
    };
    let mut parts = vec![new_part()];
    for (is_officer, item) in emergencies
        .into_iter()
        .map(|v| (false, v))
        .chain(efectivos.into_iter().map(|v| (true, v)))
    {
        let size = serde_json::to_string(&item).map(|s| s.len()).unwrap_or(0) + 1;
        let full = parts.last().is_some_and(|p| {
            (p.bytes > 0 && p.bytes + size > PART_BYTES)
                || (is_officer && p.efectivos.len() >= PART_EFECTIVOS)
        });
        if full {
            parts.push(new_part());
        }
        if let Some(p) = parts.last_mut() {
            p.bytes += size;
            if is_officer {
                p.efectivos.push(item);
            } else {
                p.emergencias.push(item);
            }
        }
    }
    let n = parts.len();
    parts
        .into_iter()
        .enumerate()
        .map(|(i, p)| {
            json!({
                "emergencias_activas": p.emergencias,
                "efectivos": p.efectivos,
                "part": i + 1,
                "parts": n,
            })
        })
        .collect()
}

/// What this user may see now (contract §13): own open tasks, or for level 2+ the active
/// emergencies and every located officer (inside `bbox` when the socket subscribed to one), as one or more `system_status` frames (see
/// `split_parts`; docs/API.md "Snapshot in parts").
pub(crate) async fn snapshot(state: &AppState, who: &Identity, bbox: Option<BBox>) -> Vec<Value> {
    let res = if who.nivel >= Nivel::Supervisor {
        supervisor_snapshot(state, bbox).await
    } else {
        own_open_tasks(state, who)
            .await
            .map(|t| vec![json!({"tareas_abiertas": t})])
    };
    match res {
        Ok(v) => v,
        Err(e) => {
            tracing::warn!(error = %e, "realtime: snapshot query failed");
            if who.nivel >= Nivel::Supervisor {
                vec![
                    json!({"emergencias_activas": [], "efectivos": [], "part": 1, "parts": 1,
                            "error": "snapshot unavailable"}),
                ]
            } else {
                vec![json!({"tareas_abiertas": [], "error": "snapshot unavailable"})]
            }
        }
    }
}

/// Request and WebSocket figures of this instance.
pub(crate) fn metrics(state: &AppState) -> Value {
    let m = &state.metrics;
    let (requests, errors) = m.http_totals();
    let (by_role, users) = state.hub.breakdown();
    json!({
        "http": {
            "requests_total": requests,
            "errors_5xx_total": errors,
            "p95_ms": (m.http_quantile_all(0.95) * 1e6).round() / 1e3,
        },
        "websocket": {
            "active_connections": m.ws_connections_active.load(Relaxed),
            "connections_total": m.ws_connections_total.load(Relaxed),
            "connections_by_role": {"1": by_role[0], "2": by_role[1], "3": by_role[2]},
            "unique_users": users,
            "messages_sent": m.ws_messages_sent.load(Relaxed),
            "broadcasts": m.ws_broadcasts.load(Relaxed),
            "send_errors": m.ws_send_errors.load(Relaxed),
            "message_latency_p95_ms": (m.ws_message_latency.quantile(0.95) * 1e6).round() / 1e3,
            "fanout": state.hub.fanout_mode(),
        },
        "uptime_seconds": m.uptime_seconds().round(),
        "timestamp": gad_core::time::now_rfc3339(),
    })
}
