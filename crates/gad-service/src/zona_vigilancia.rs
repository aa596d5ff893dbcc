//! Patrols kept in their cuadrante.
//!
//! A shift (`turnos.zona_id`) or an open task (`cuadrante_id`, to its assigned officers) may name
//! a cuadrante. An officer on such an assignment who is outside it for longer than
//! `ZONA_SALIDA_MINUTOS` raises one `zona_salida` alert, and one `zona_entrada` when back, to the
//! supervisors of the cuadrante's comisaría (on the task's timeline when a task names it).
//!
//! The job ([`spawn`]) keeps the watched set (`zona_vigilancias`) and each instance's copy of
//! its officer ids ([`Vigilados`]): the location-ingest path ([`on_fix`]) asks the database only
//! about officers in that copy, one GiST-backed `ST_Covers` under the row's lock. An exit whose
//! delay elapses without a new fix is alerted by the job's pass. Exit state changes only under
//! the row's lock (`FOR UPDATE`, `SKIP LOCKED` in the pass), so with any number of instances an
//! exit is alerted once.

use std::collections::HashSet;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use chrono::{DateTime, Utc};
use gad_store::zona_vigilancias::{self as store, Vigilancia};
use serde_json::json;

use crate::ctx::Ctx;
use crate::events::{Alert, AlertLevel, Audience, DomainEvent, Event, ZonaAlert};

pub const KIND_SALIDA: &str = "zona_salida";
pub const KIND_ENTRADA: &str = "zona_entrada";
const TITLE_SALIDA: &str = "Efectivo fuera de su cuadrante";
const TITLE_ENTRADA: &str = "Efectivo de regreso en su cuadrante";

/// Exits one pass alerts at most (the rest wait for the next pass).
const BATCH: i64 = 100;

/// This instance's copy of the watched officers' ids, refreshed by every pass of the job: the
/// cheap test that keeps the ingest path of everybody else free of any zone work.
#[derive(Debug, Default, Clone)]
pub struct Vigilados(Arc<RwLock<HashSet<i64>>>);

impl Vigilados {
    pub fn contains(&self, efectivo_id: i64) -> bool {
        self.0
            .read()
            .map(|s| s.contains(&efectivo_id))
            .unwrap_or(false)
    }

    fn replace(&self, ids: Vec<i64>) {
        if let Ok(mut s) = self.0.write() {
            *s = ids.into_iter().collect();
        }
    }
}

/// How often a pass runs: a quarter of the delay, between 200 ms and 15 s, so an exit without
/// new fixes is alerted at most that late, and a new assignment is watched as soon.
fn period(ctx: &Ctx) -> Duration {
    (ctx.config.zona_salida / 4).clamp(Duration::from_millis(200), Duration::from_secs(15))
}

/// Starts the zone watch job (it ends with the application).
pub fn spawn(state: Ctx) {
    let every = period(&state);
    crate::jobs::every(
        state,
        Duration::ZERO,
        every,
        |state| async move { run_due(&state).await },
        |pass| match pass {
            Ok(Ok(0)) => {}
            Ok(Ok(n)) => tracing::info!(alerts = n, "zone watch: exits alerted"),
            Ok(Err(e)) => tracing::warn!(error = %e, "zone watch: pass failed"),
            Err(e) => tracing::error!(error = %e, "zone watch: pass aborted"),
        },
    );
}

/// One pass: recomputes the watched officers, then alerts the exits whose delay elapsed.
/// Returns the alerts raised.
pub async fn run_due(ctx: &Ctx) -> Result<usize, gad_store::DbError> {
    {
        let mut conn = ctx.db.acquire().await?;
        let ids = store::sync(&mut conn).await?;
        ctx.vigilados.replace(ids);
    }
    let mut tx = ctx.db.begin().await?;
    let due = store::claim_due(&mut tx, ctx.config.zona_salida.as_secs_f64(), BATCH).await?;
    let mut raised = Vec::with_capacity(due.len());
    for v in &due {
        let fuera = v.fuera_desde.unwrap_or(v.ahora);
        store::set_state(&mut tx, v.efectivo_id, Some(fuera), true).await?;
        raised.push(record(&mut tx, v, KIND_SALIDA, fuera).await?);
    }
    tx.commit().await?;
    let n = raised.len();
    publish(ctx, raised).await;
    Ok(n)
}

/// After a committed fix: for a watched officer, notes an exit or a return and alerts it once
/// due. Errors are logged, never the fix's: the position is already stored.
pub async fn on_fix(ctx: &Ctx, efectivo_id: i64, lat: f64, lng: f64, at: DateTime<Utc>) {
    if !ctx.vigilados.contains(efectivo_id) {
        return;
    }
    match check(ctx, efectivo_id, lat, lng, at).await {
        Ok(raised) => publish(ctx, raised).await,
        Err(e) => tracing::warn!(error = %e, efectivo_id, "zone watch: fix not checked"),
    }
}

async fn check(
    ctx: &Ctx,
    efectivo_id: i64,
    lat: f64,
    lng: f64,
    at: DateTime<Utc>,
) -> Result<Vec<(Vigilancia, ZonaAlert)>, gad_store::DbError> {
    let mut tx = ctx.db.begin().await?;
    let Some(v) = store::lock_at(&mut tx, efectivo_id, lat, lng).await? else {
        return Ok(Vec::new());
    };
    let mut raised = Vec::new();
    if v.dentro {
        if v.fuera_desde.is_some() || v.alertado {
            store::set_state(&mut tx, efectivo_id, None, false).await?;
        }
        if v.alertado {
            let fuera = v.fuera_desde.unwrap_or(v.ahora);
            raised.push(record(&mut tx, &v, KIND_ENTRADA, fuera).await?);
        }
    } else {
        // A fix from the device's future does not shorten the delay.
        let fuera = v.fuera_desde.unwrap_or(at.min(v.ahora));
        let demora = chrono::Duration::from_std(ctx.config.zona_salida).unwrap_or_default();
        if !v.alertado && fuera + demora <= v.ahora {
            store::set_state(&mut tx, efectivo_id, Some(fuera), true).await?;
            raised.push(record(&mut tx, &v, KIND_SALIDA, fuera).await?);
        } else if v.fuera_desde.is_none() {
            store::set_state(&mut tx, efectivo_id, Some(fuera), false).await?;
        }
    }
    tx.commit().await?;
    Ok(raised)
}

/// Writes the alert row of an exit or a return (in the transaction holding the watch row).
async fn record(
    conn: &mut gad_store::Conn,
    v: &Vigilancia,
    kind: &str,
    fuera: DateTime<Utc>,
) -> Result<(Vigilancia, ZonaAlert), gad_store::DbError> {
    let salida = kind == KIND_SALIDA;
    let payload = json!({"zona_id": v.zona_id, "zona_nombre": v.zona_nombre,
                         "usuario_id": v.usuario_id, "codigo_interno": v.codigo_interno,
                         "turno_id": v.turno_id,
                         "fuera_desde": gad_core::time::rfc3339(fuera)});
    let row = store::insert_alerta(
        conn,
        kind,
        if salida { "warning" } else { "info" },
        !salida,
        v.tarea_id,
        v.efectivo_id,
        &payload,
    )
    .await?;
    if salida {
        tracing::warn!(
            efectivo_id = v.efectivo_id,
            zona_id = v.zona_id,
            "officer outside their cuadrante: supervisors alerted"
        );
    }
    let alert = ZonaAlert {
        title: if salida { TITLE_SALIDA } else { TITLE_ENTRADA }.into(),
        level: if salida {
            AlertLevel::Warning
        } else {
            AlertLevel::Info
        },
        kind: kind.into(),
        alerta_id: row.id,
        zona_id: v.zona_id,
        zona_nombre: v.zona_nombre.clone(),
        efectivo_id: v.efectivo_id,
        usuario_id: v.usuario_id,
        codigo_interno: v.codigo_interno.clone(),
        task_id: v.tarea_id,
        turno_id: v.turno_id,
        fuera_desde: fuera,
        at: row.created_at,
    };
    Ok((v.clone(), alert))
}

/// Sends committed alerts to the supervisors of the cuadrante's comisaría (every supervisor
/// when none is assigned it).
async fn publish(ctx: &Ctx, raised: Vec<(Vigilancia, ZonaAlert)>) {
    for (v, alert) in raised {
        let excepto = crate::jurisdiccion::supervisors_elsewhere(ctx, v.comisaria_id).await;
        let mut e: DomainEvent = Event::Alert(Alert::Zona(alert))
            .to(Audience::Jurisdiccion {
                user_ids: Vec::new(),
                excepto,
            })
            .topic("alertas");
        if let Some(t) = v.tarea_id {
            e = e.topic(format!("task:{t}"));
        }
        ctx.events.publish(e);
    }
}
