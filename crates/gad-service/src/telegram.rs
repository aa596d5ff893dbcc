//! The officer's face in Telegram, as use cases: who a Telegram account is (the verified link
//! becomes an `Actor`; linking and unlinking are `crate::telegram_link`), the officer's own tasks
//! a page at a time, and whom a push reaches. The bot adapter parses updates and calls these
//! and the shared use cases (emergency, tasks, efectivos, stats); it holds no SQL.

use gad_core::{Actor, EstadoDisponibilidad, EstadoTarea, Nivel};
use gad_store::tareas::{self, Scope};
use gad_store::telegram;

/// Row types the bot reads back (it names no store type itself).
pub use gad_store::tareas::{PageOrder, Tarea};

use crate::ctx::Ctx;
use crate::error::ServiceResult;

/// A Telegram account's linked, active user.
#[derive(Debug, Clone)]
pub struct LinkedOfficer {
    pub actor: Actor,
    pub nombre: String,
    pub telegram_id: i64,
}

/// The active user linked to `telegram_id`, loaded afresh for each update (so deactivation or
/// deletion takes effect at once); `None` when the account is not linked.
pub async fn officer_for(ctx: &Ctx, telegram_id: i64) -> ServiceResult<Option<LinkedOfficer>> {
    let row = telegram::linked_user(&ctx.db, telegram_id).await?;
    Ok(row.and_then(|r| {
        Some(LinkedOfficer {
            actor: Actor {
                id: r.id,
                nivel: Nivel::from_db(&r.nivel)?,
                efectivo_id: r.efectivo_id,
            },
            nombre: r.nombre,
            telegram_id,
        })
    }))
}

/// The chats a push to these users reaches (linked, live, verified users only).
pub async fn chats_of(ctx: &Ctx, users: &[i64]) -> ServiceResult<Vec<i64>> {
    Ok(telegram::chats_of(&ctx.db, users).await?)
}

/// "Nombre Apellido" and internal code of an officer, for "who is coming".
pub async fn officer_name(ctx: &Ctx, efectivo_id: i64) -> ServiceResult<Option<(String, String)>> {
    Ok(gad_store::efectivos::display_name(&ctx.db, efectivo_id).await?)
}

/// The officer's current availability, if they have an efectivo record.
pub async fn availability(ctx: &Ctx, me: &Actor) -> ServiceResult<Option<EstadoDisponibilidad>> {
    let Some(id) = me.efectivo_id else {
        return Ok(None);
    };
    let row = gad_store::efectivos::by_id(&ctx.db, id, false).await?;
    Ok(row.and_then(|e| EstadoDisponibilidad::from_wire(e.estado_wire())))
}

/// The field shows only the officer's own tasks, even to a supervisor.
fn own(me: &Actor) -> Scope {
    Scope {
        user_id: me.id,
        efectivo_id: me.efectivo_id,
        all: false,
    }
}

/// One page of the officer's own tasks in these states: (tasks, page, pages).
pub async fn own_tasks_page(
    ctx: &Ctx,
    me: &Actor,
    estados: &[EstadoTarea],
    order: PageOrder,
    page: i64,
    size: i64,
) -> ServiceResult<(Vec<Tarea>, i64, i64)> {
    let estados: Vec<&str> = estados.iter().map(|e| e.as_db()).collect();
    Ok(tareas::page(&ctx.db, own(me), &estados, order, page, size).await?)
}

/// One of the officer's own tasks (for confirmation texts).
pub async fn own_task(ctx: &Ctx, me: &Actor, id: i64) -> ServiceResult<Option<Tarea>> {
    Ok(tareas::find(&ctx.db, own(me), tareas::Key::Id(id), false).await?)
}
