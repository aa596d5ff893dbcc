//! What the realtime socket (`/ws/connect`) reads and writes: the snapshot a socket gets on
//! connect, the overview of `dashboard_update`, and the single-use tickets a browser connects
//! with. The hub itself (sockets, fan-out) lives in the HTTP adapter.

use gad_core::positions::BBox;
use gad_core::{Actor, EstadoDisponibilidad, EstadoTarea, Nivel, Prioridad};
use gad_store::tareas::{self, Scope};
use rand::RngCore;
use sha2::{Digest, Sha256};

use crate::ctx::Ctx;
use crate::error::{ServiceError, ServiceResult};
use crate::events::{OfficerDot, OwnTasks, Snapshot, SnapshotPart, TaskLine};
use crate::wire::Ticket;

pub use gad_store::Pool;
pub use gad_store::stats::Overview;

/// Lifetime of a WebSocket ticket (seconds).
pub const TICKET_TTL: i64 = 30;
/// Open tasks a snapshot lists at most.
const SNAPSHOT_TASKS: i64 = 500;
/// A snapshot frame carries at most this many officers…
pub const PART_EFECTIVOS: usize = 500;
/// …and at most this many bytes of items, so every frame fits the socket's write buffer
/// whatever the deployment's size (a 100 000-officer snapshot is ~200 frames).
pub const PART_BYTES: usize = 48 * 1024;

/// Only the SHA-256 of a ticket is stored.
fn ticket_hash(ticket: &str) -> String {
    hex::encode(Sha256::digest(ticket.as_bytes()))
}

/// A single-use ticket for `/ws/connect?ticket=…`, valid `TICKET_TTL` seconds on every instance.
pub async fn issue_ticket(ctx: &Ctx, me: &Actor) -> ServiceResult<Ticket> {
    let mut raw = [0u8; 32];
    rand::thread_rng().fill_bytes(&mut raw);
    let ticket = hex::encode(raw);
    gad_store::tickets::insert(&ctx.db, &ticket_hash(&ticket), me.id, TICKET_TTL as f64).await?;
    Ok(Ticket {
        ticket,
        expires_in: TICKET_TTL,
    })
}

/// The user a ticket was issued to, as it stands now; the ticket is consumed (the first
/// instance that sees it wins). An unknown, used or expired ticket, or a user no longer active,
/// is `InvalidCredentials`.
pub async fn redeem_ticket(ctx: &Ctx, ticket: &str) -> ServiceResult<Actor> {
    let row = gad_store::tickets::consume(&ctx.db, &ticket_hash(ticket))
        .await?
        .ok_or(ServiceError::InvalidCredentials)?;
    let nivel = Nivel::from_db(&row.nivel).ok_or(ServiceError::InvalidCredentials)?;
    if !row.active {
        return Err(ServiceError::InvalidCredentials);
    }
    Ok(Actor {
        id: row.id,
        nivel,
        efectivo_id: row.efectivo_id,
    })
}

/// Deletes tickets expired for more than a minute; how many.
pub async fn purge_tickets(db: &Pool) -> ServiceResult<u64> {
    Ok(gad_store::tickets::purge_expired(db).await?)
}

/// The statistics overview (`dashboard_update`, the same object as `GET /stats/overview`).
pub async fn overview(db: &Pool) -> ServiceResult<Overview> {
    Ok(gad_store::stats::overview(db).await?)
}

fn task_line(t: tareas::TaskLine) -> Option<TaskLine> {
    let (Some(estado), Some(prioridad)) = (
        EstadoTarea::from_db(&t.estado),
        Prioridad::from_db(&t.prioridad),
    ) else {
        tracing::warn!(
            task_id = t.id,
            "realtime: task with an unknown label left out"
        );
        return None;
    };
    Some(TaskLine {
        id: t.id,
        codigo: t.codigo,
        titulo: t.titulo,
        estado,
        prioridad,
    })
}

async fn own_open_tasks(ctx: &Ctx, me: &Actor) -> ServiceResult<Vec<TaskLine>> {
    // An officer's snapshot shows what it is involved in, whatever its level.
    let scope = Scope {
        user_id: me.id,
        efectivo_id: me.efectivo_id,
        all: false,
    };
    let rows = tareas::open_lines(&ctx.db, scope, false, SNAPSHOT_TASKS).await?;
    Ok(rows.into_iter().filter_map(task_line).collect())
}

async fn supervisor_snapshot(ctx: &Ctx, bbox: Option<BBox>) -> ServiceResult<Vec<Snapshot>> {
    let everything = Scope {
        user_id: 0,
        efectivo_id: None,
        all: true,
    };
    let emergencies = tareas::open_lines(&ctx.db, everything, true, SNAPSHOT_TASKS).await?;
    // Current positions only (efectivos); the history is never read here.
    let positions = gad_store::positions::located(&ctx.db, bbox).await?;
    let emergencies = emergencies.into_iter().filter_map(task_line).collect();
    let efectivos = positions
        .into_iter()
        .map(|p| OfficerDot {
            id: p.id,
            lat: p.lat,
            lng: p.lng,
            estado: EstadoDisponibilidad::from_db(&p.estado)
                .unwrap_or(EstadoDisponibilidad::NoDisponible),
            nombre: p.nombre,
        })
        .collect();
    Ok(split_parts(emergencies, efectivos))
}

/// Packs the supervisor snapshot into frames of bounded size: every part has both lists (maybe
/// empty) plus `part` (1-based) and `parts`; emergencies come first, officers after.
pub fn split_parts(emergencies: Vec<TaskLine>, efectivos: Vec<OfficerDot>) -> Vec<Snapshot> {
    enum Item {
        Task(TaskLine),
        Officer(OfficerDot),
    }
    fn json_len(v: &impl serde::Serialize) -> usize {
        serde_json::to_string(v).map(|s| s.len()).unwrap_or(0) + 1
    }
    let new_part = || SnapshotPart {
        emergencias_activas: Vec::new(),
        efectivos: Vec::new(),
        part: 0,
        parts: 0,
        error: None,
    };
    // Each part with the bytes of its items so far.
    let mut parts = vec![(new_part(), 0usize)];
    let items = emergencies
        .into_iter()
        .map(Item::Task)
        .chain(efectivos.into_iter().map(Item::Officer));
    for item in items {
        let size = match &item {
            Item::Task(t) => json_len(t),
            Item::Officer(o) => json_len(o),
        };
        let full = parts.last().is_some_and(|(p, bytes)| {
            (*bytes > 0 && bytes + size > PART_BYTES)
                || (matches!(item, Item::Officer(_)) && p.efectivos.len() >= PART_EFECTIVOS)
        });
        if full {
            parts.push((new_part(), 0));
        }
        if let Some((p, bytes)) = parts.last_mut() {
            *bytes += size;
            match item {
                Item::Task(t) => p.emergencias_activas.push(t),
                Item::Officer(o) => p.efectivos.push(o),
            }
        }
    }
    let n = parts.len();
    parts
        .into_iter()
        .enumerate()
        .map(|(i, (mut p, _))| {
            p.part = i + 1;
            p.parts = n;
            Snapshot::Part(p)
        })
        .collect()
}

/// What a socket may see now (contract §13), as one or more `system_status` payloads: for level
/// 2+ the open emergencies and every located officer (inside `bbox` when given), in parts (see
/// `split_parts`); otherwise the viewer's own open tasks, in one (none for an anonymous socket,
/// development only). A failed read is reported inside the payload, never as an error.
pub async fn snapshot(ctx: &Ctx, viewer: Option<&Actor>, bbox: Option<BBox>) -> Vec<Snapshot> {
    let supervisor = viewer.is_some_and(Actor::is_supervisor);
    let res = match viewer {
        Some(_) if supervisor => supervisor_snapshot(ctx, bbox).await,
        Some(me) => own_open_tasks(ctx, me).await.map(own),
        None => Ok(own(Vec::new())),
    };
    res.unwrap_or_else(|e| {
        tracing::warn!(error = %e, "realtime: snapshot query failed");
        let error = Some("snapshot unavailable".to_string());
        if supervisor {
            vec![Snapshot::Part(SnapshotPart {
                emergencias_activas: Vec::new(),
                efectivos: Vec::new(),
                part: 1,
                parts: 1,
                error,
            })]
        } else {
            vec![Snapshot::Own(OwnTasks {
                tareas_abiertas: Vec::new(),
                error,
            })]
        }
    })
}

fn own(tareas_abiertas: Vec<TaskLine>) -> Vec<Snapshot> {
    vec![Snapshot::Own(OwnTasks {
        tareas_abiertas,
        error: None,
    })]
}
