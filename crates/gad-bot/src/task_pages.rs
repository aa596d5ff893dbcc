//! The officer's own tasks, a page at a time. Visibility is the store's own predicate
//! (`tareas::VISIBLE_SQL`) with "sees all" off: even a supervisor's bot shows only the tasks
//! delegated or assigned to them.

use gad_api::AppState;
use gad_api::store::tareas::{TAREA_COLUMNS, Tarea, VISIBLE_SQL};
use gad_core::EstadoTarea;

use crate::callback::HistFilter;
use crate::service::{Failure, Officer, db_failure};

pub const OPEN_PAGE: i64 = 5;
pub const HISTORY_PAGE: i64 = 10;

pub const OPEN: [EstadoTarea; 3] = [
    EstadoTarea::Programada,
    EstadoTarea::EnCurso,
    EstadoTarea::Pausada,
];

pub struct Page {
    pub tasks: Vec<Tarea>,
    pub page: i64,
    pub pages: i64,
}

fn states(f: HistFilter) -> Vec<&'static str> {
    match f {
        HistFilter::Todas => EstadoTarea::ALL.iter().map(|e| e.as_db()).collect(),
        HistFilter::Activas => OPEN.iter().map(|e| e.as_db()).collect(),
        HistFilter::Finalizadas => vec![EstadoTarea::Finalizada.as_db()],
    }
}

async fn page_of(
    state: &AppState,
    o: &Officer,
    estados: &[&str],
    order: &str,
    page: i64,
    size: i64,
) -> Result<Page, Failure> {
    let filter = format!(
        "FROM tareas t WHERE t.deleted_at IS NULL AND {VISIBLE_SQL}
           AND t.estado::text = ANY($4::text[])"
    );
    let total: i64 = sqlx::query_scalar(&format!("SELECT count(*) {filter}"))
        .bind(o.user.id)
        .bind(o.user.efectivo_id)
        .bind(false)
        .bind(estados)
        .fetch_one(&state.db)
        .await
        .map_err(db_failure)?;
    let pages = ((total + size - 1) / size).max(1);
    let page = page.clamp(0, pages - 1);
    let tasks: Vec<Tarea> = sqlx::query_as(&format!(
        "SELECT {TAREA_COLUMNS} {filter} ORDER BY {order} OFFSET $5 LIMIT $6"
    ))
    .bind(o.user.id)
    .bind(o.user.efectivo_id)
    .bind(false)
    .bind(estados)
    .bind(page * size)
    .bind(size)
    .fetch_all(&state.db)
    .await
    .map_err(db_failure)?;
    Ok(Page { tasks, page, pages })
}

/// Open tasks (programada, en curso, pausada), soonest first.
pub async fn open_tasks(state: &AppState, o: &Officer, page: i64) -> Result<Page, Failure> {
    let estados: Vec<&str> = OPEN.iter().map(|e| e.as_db()).collect();
    page_of(
        state,
        o,
        &estados,
        "t.inicio_programado, t.id",
        page,
        OPEN_PAGE,
    )
    .await
}

/// History, newest first.
pub async fn history(
    state: &AppState,
    o: &Officer,
    f: HistFilter,
    page: i64,
) -> Result<Page, Failure> {
    page_of(
        state,
        o,
        &states(f),
        "t.created_at DESC, t.id DESC",
        page,
        HISTORY_PAGE,
    )
    .await
}

/// One visible task of the officer (for confirmation texts).
pub async fn own_task(state: &AppState, o: &Officer, id: i64) -> Result<Option<Tarea>, Failure> {
    sqlx::query_as(&format!(
        "SELECT {TAREA_COLUMNS} FROM tareas t WHERE t.id = $4 AND t.deleted_at IS NULL AND {VISIBLE_SQL}"
    ))
    .bind(o.user.id)
    .bind(o.user.efectivo_id)
    .bind(false)
    .bind(id)
    .fetch_optional(&state.db)
    .await
    .map_err(db_failure)
}
