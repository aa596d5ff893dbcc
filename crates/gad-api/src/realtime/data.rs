//! Real data for the socket: the snapshot on connect, dashboard and metrics answers.

use std::sync::atomic::Ordering::Relaxed;

use gad_core::{EstadoDisponibilidad, EstadoTarea, Nivel, Prioridad, TipoTarea};
use serde_json::{Map, Value, json};

use super::socket::Identity;
use crate::state::AppState;

/// Most efectivo positions sent in one snapshot.
const SNAPSHOT_EFECTIVOS: i64 = 5000;
const SNAPSHOT_TASKS: i64 = 500;

#[derive(sqlx::FromRow)]
struct TaskRow {
    id: i64,
    codigo: String,
    titulo: String,
    estado: String,
    prioridad: String,
}

fn task_json(t: TaskRow) -> Value {
    json!({
        "id": t.id,
        "codigo": t.codigo,
        "titulo": t.titulo,
        "estado": EstadoTarea::from_db(&t.estado).map(|e| e.as_wire()).unwrap_or(t.estado.as_str()),
        "prioridad": Prioridad::from_db(&t.prioridad).map(|p| json!(p.as_i16())).unwrap_or(json!(t.prioridad)),
    })
}

#[derive(sqlx::FromRow)]
struct PosRow {
    id: i64,
    lat: f64,
    lng: f64,
    estado: String,
}

async fn own_open_tasks(state: &AppState, who: &Identity) -> Result<Vec<Value>, sqlx::Error> {
    let Some(uid) = who.user_id else {
        return Ok(Vec::new());
    };
    let rows: Vec<TaskRow> = sqlx::query_as(
        "SELECT t.id, t.codigo, t.titulo, t.estado::text AS estado, t.prioridad::text AS prioridad
         FROM tareas t
         WHERE t.deleted_at IS NULL AND t.estado NOT IN ('COMPLETED', 'CANCELLED')
           AND (t.delegado_usuario_id = $1
                OR ($2::bigint IS NOT NULL AND $2 = ANY (t.efectivos_asignados))
                OR EXISTS (SELECT 1 FROM tarea_efectivos te JOIN efectivos e ON e.id = te.efectivo_id
                           WHERE te.tarea_id = t.id AND e.usuario_id = $1))
         ORDER BY t.created_at DESC, t.id DESC
         LIMIT $3",
    )
    .bind(uid)
    .bind(who.efectivo_id)
    .bind(SNAPSHOT_TASKS)
    .fetch_all(&state.db)
    .await?;
    Ok(rows.into_iter().map(task_json).collect())
}

async fn supervisor_snapshot(state: &AppState) -> Result<Value, sqlx::Error> {
    let emergencies: Vec<TaskRow> = sqlx::query_as(
        "SELECT t.id, t.codigo, t.titulo, t.estado::text AS estado, t.prioridad::text AS prioridad
         FROM tareas t
         WHERE t.deleted_at IS NULL AND t.estado NOT IN ('COMPLETED', 'CANCELLED')
           AND t.codigo LIKE 'EMG-%'
         ORDER BY t.created_at DESC, t.id DESC
         LIMIT $1",
    )
    .bind(SNAPSHOT_TASKS)
    .fetch_all(&state.db)
    .await?;
    let positions: Vec<PosRow> = sqlx::query_as(
        "SELECT id, ST_Y(geom::geometry) AS lat, ST_X(geom::geometry) AS lng,
                estado_disponibilidad::text AS estado
         FROM efectivos
         WHERE deleted_at IS NULL AND geom IS NOT NULL
         ORDER BY id
         LIMIT $1",
    )
    .bind(SNAPSHOT_EFECTIVOS)
    .fetch_all(&state.db)
    .await?;
    Ok(json!({
        "emergencias_activas": emergencies.into_iter().map(task_json).collect::<Vec<_>>(),
        "efectivos": positions.into_iter().map(|p| json!({
            "id": p.id,
            "lat": p.lat,
            "lng": p.lng,
            "estado": EstadoDisponibilidad::from_db(&p.estado).map(|e| e.as_wire()).unwrap_or(p.estado.as_str()),
        })).collect::<Vec<_>>(),
    }))
}

/// What this user may see now (contract §13): own open tasks, or for level 2+ the active
/// emergencies and efectivo positions.
pub(crate) async fn snapshot(state: &AppState, who: &Identity) -> Value {
    let res = if who.nivel >= Nivel::Supervisor {
        supervisor_snapshot(state).await
    } else {
        own_open_tasks(state, who)
            .await
            .map(|t| json!({"tareas_abiertas": t}))
    };
    match res {
        Ok(v) => v,
        Err(e) => {
            tracing::warn!(error = %e, "realtime: snapshot query failed");
            if who.nivel >= Nivel::Supervisor {
                json!({"emergencias_activas": [], "efectivos": [], "error": "snapshot unavailable"})
            } else {
                json!({"tareas_abiertas": [], "error": "snapshot unavailable"})
            }
        }
    }
}

/// Most officers and emergencies in one `system_status` frame: 500 positions (~40 KB) and 200
/// emergencies (~30 KB) stay under the socket's 64 KiB frame limit.
const PART_EFECTIVOS: usize = 500;
const PART_EMERGENCIAS: usize = 200;

/// Splits a snapshot too large for one frame into parts `{"part": i, "parts": n, …}` (1-based),
/// each with its share of `efectivos` and `emergencias_activas` and the other keys repeated; a
/// client concatenates the arrays of parts 1..n. A snapshot that fits is sent as it is.
pub(crate) fn snapshot_parts(snapshot: Value) -> Vec<Value> {
    let Value::Object(mut obj) = snapshot else {
        return vec![snapshot];
    };
    if !obj.contains_key("efectivos") {
        return vec![Value::Object(obj)];
    }
    let mut take = |key: &str| match obj.remove(key) {
        Some(Value::Array(a)) => a,
        _ => Vec::new(),
    };
    let efectivos = take("efectivos");
    let emergencias = take("emergencias_activas");
    let parts = efectivos
        .len()
        .div_ceil(PART_EFECTIVOS)
        .max(emergencias.len().div_ceil(PART_EMERGENCIAS))
        .max(1);
    let mut ef = efectivos.chunks(PART_EFECTIVOS);
    let mut em = emergencias.chunks(PART_EMERGENCIAS);
    (1..=parts)
        .map(|i| {
            let mut part = obj.clone();
            part.insert("efectivos".into(), json!(ef.next().unwrap_or_default()));
            part.insert(
                "emergencias_activas".into(),
                json!(em.next().unwrap_or_default()),
            );
            if parts > 1 {
                part.insert("part".into(), json!(i));
                part.insert("parts".into(), json!(parts));
            }
            Value::Object(part)
        })
        .collect()
}

async fn counts(state: &AppState, sql: &str) -> Result<Vec<(String, i64)>, sqlx::Error> {
    sqlx::query_as(sql).fetch_all(&state.db).await
}

fn keyed(rows: Vec<(String, i64)>, wire: impl Fn(&str) -> Option<String>, all: &[String]) -> Value {
    let mut m = Map::new();
    for k in all {
        m.insert(k.clone(), json!(0));
    }
    for (k, n) in rows {
        m.insert(wire(&k).unwrap_or(k), json!(n));
    }
    Value::Object(m)
}

/// The overview figures of `/api/v1/stats/overview` (contract §9), queried directly.
pub(crate) async fn overview(state: &AppState) -> Result<Value, sqlx::Error> {
    let por_estado = counts(
        state,
        "SELECT estado::text, count(*) FROM tareas WHERE deleted_at IS NULL GROUP BY 1",
    )
    .await?;
    let por_tipo = counts(
        state,
        "SELECT tipo::text, count(*) FROM tareas WHERE deleted_at IS NULL GROUP BY 1",
    )
    .await?;
    let por_prioridad = counts(
        state,
        "SELECT prioridad::text, count(*) FROM tareas WHERE deleted_at IS NULL GROUP BY 1",
    )
    .await?;
    let por_disp = counts(
        state,
        "SELECT estado_disponibilidad::text, count(*) FROM efectivos WHERE deleted_at IS NULL GROUP BY 1",
    )
    .await?;
    let (con_ubicacion, emergencias_24h, mediana): (i64, i64, Option<f64>) = sqlx::query_as(
        "SELECT (SELECT count(*) FROM efectivos WHERE deleted_at IS NULL AND geom IS NOT NULL),
                (SELECT count(*) FROM tareas WHERE deleted_at IS NULL AND codigo LIKE 'EMG-%'
                   AND created_at > now() - interval '24 hours'),
                (SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY ST_Distance(t.geom, e.geom))
                   FROM tareas t JOIN tarea_efectivos te ON te.tarea_id = t.id
                   JOIN efectivos e ON e.id = te.efectivo_id
                  WHERE t.codigo LIKE 'EMG-%' AND t.deleted_at IS NULL
                    AND t.geom IS NOT NULL AND e.geom IS NOT NULL)",
    )
    .fetch_one(&state.db)
    .await?;
    let estados: Vec<String> = [
        EstadoTarea::Programada,
        EstadoTarea::EnCurso,
        EstadoTarea::Pausada,
        EstadoTarea::Finalizada,
        EstadoTarea::Cancelada,
    ]
    .iter()
    .map(|e| e.as_wire().to_string())
    .collect();
    let tipos: Vec<String> = [
        TipoTarea::Patrullaje,
        TipoTarea::Investigacion,
        TipoTarea::Vigilancia,
        TipoTarea::Intervencion,
        TipoTarea::Administrativa,
        TipoTarea::Entrenamiento,
    ]
    .iter()
    .map(|e| e.as_wire().to_string())
    .collect();
    let disp: Vec<String> = [
        EstadoDisponibilidad::Disponible,
        EstadoDisponibilidad::EnTarea,
        EstadoDisponibilidad::FueraServicio,
        EstadoDisponibilidad::NoDisponible,
    ]
    .iter()
    .map(|e| e.as_wire().to_string())
    .collect();
    let prios: Vec<String> = (1..=5).map(|n: i64| n.to_string()).collect();
    Ok(json!({
        "tareas": {
            "por_estado": keyed(por_estado, |k| EstadoTarea::from_db(k).map(|e| e.as_wire().to_string()), &estados),
            "por_tipo": keyed(por_tipo, |k| TipoTarea::from_db(k).map(|e| e.as_wire().to_string()), &tipos),
            "por_prioridad": keyed(por_prioridad, |k| Prioridad::from_db(k).map(|p| p.as_i16().to_string()), &prios),
        },
        "efectivos": {
            "por_disponibilidad": keyed(por_disp, |k| EstadoDisponibilidad::from_db(k).map(|e| e.as_wire().to_string()), &disp),
            "con_ubicacion": con_ubicacion,
        },
        "emergencias_24h": emergencias_24h,
        "distancia_mediana_emergencias_m": mediana,
        "calculated_at": crate::time::now_rfc3339(),
    }))
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
        "timestamp": crate::time::now_rfc3339(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn positions(n: usize) -> Vec<Value> {
        (0..n)
            .map(|i| json!({"id": i, "lat": -34.6, "lng": -58.38, "estado": "disponible"}))
            .collect()
    }

    #[test]
    fn small_snapshot_is_one_frame_without_part_keys() {
        let snap = json!({"emergencias_activas": [{"id": 1}], "efectivos": positions(500)});
        let parts = snapshot_parts(snap.clone());
        assert_eq!(parts, vec![snap]);
    }

    #[test]
    fn large_snapshot_is_split_and_fits_a_frame() {
        let emergencias: Vec<Value> = (0..450).map(|i| json!({"id": i, "codigo": format!("EMG-{i}"), "titulo": "Emergencia", "estado": "en_curso", "prioridad": 5})).collect();
        let snap =
            json!({"emergencias_activas": emergencias, "efectivos": positions(5001), "error": "x"});
        let parts = snapshot_parts(snap);
        assert_eq!(parts.len(), 11);
        let mut ids = Vec::new();
        let mut emg = 0;
        for (i, p) in parts.iter().enumerate() {
            assert_eq!(p["part"], i + 1);
            assert_eq!(p["parts"], 11);
            assert_eq!(p["error"], "x");
            assert!(p.to_string().len() < 64 * 1024, "part {i} too large");
            ids.extend(
                p["efectivos"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|e| e["id"].as_i64().unwrap()),
            );
            emg += p["emergencias_activas"].as_array().unwrap().len();
        }
        assert_eq!(ids, (0..5001).collect::<Vec<i64>>());
        assert_eq!(emg, 450);
    }

    #[test]
    fn level_one_snapshot_is_untouched() {
        let snap = json!({"tareas_abiertas": []});
        let parts = snapshot_parts(snap.clone());
        assert_eq!(parts, vec![snap]);
    }
}
