//! The officer's own tasks, a page at a time. Visibility is the store's own rule
//! (`tareas::push_visible`) with "sees all" off: even a supervisor's bot shows only the tasks
//! delegated or assigned to them.

use gad_api::AppState;
use gad_api::store::tareas::{self, PageOrder, Scope, Tarea};
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
    order: PageOrder,
    page: i64,
    size: i64,
) -> Result<Page, Failure> {
    let (tasks, page, pages) = tareas::page(&state.db, own(o), estados, order, page, size)
        .await
        .map_err(db_failure)?;
    Ok(Page { tasks, page, pages })
}

/// The bot shows only the officer's own tasks, even to a supervisor.
fn own(o: &Officer) -> Scope {
    Scope {
        user_id: o.user.id,
        efectivo_id: o.user.efectivo_id,
        all: false,
    }
}

/// Open tasks (programada, en curso, pausada), soonest first.
pub async fn open_tasks(state: &AppState, o: &Officer, page: i64) -> Result<Page, Failure> {
    let estados: Vec<&str> = OPEN.iter().map(|e| e.as_db()).collect();
    page_of(state, o, &estados, PageOrder::Soonest, page, OPEN_PAGE).await
}

/// History, newest first.
pub async fn history(
    state: &AppState,
    o: &Officer,
    f: HistFilter,
    page: i64,
) -> Result<Page, Failure> {
    page_of(state, o, &states(f), PageOrder::Newest, page, HISTORY_PAGE).await
}

/// One visible task of the officer (for confirmation texts).
pub async fn own_task(state: &AppState, o: &Officer, id: i64) -> Result<Option<Tarea>, Failure> {
    tareas::find(&state.db, own(o), tareas::Key::Id(id), false)
        .await
        .map_err(db_failure)
}
