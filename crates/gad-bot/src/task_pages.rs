//! The officer's own tasks, a page at a time. Visibility is the store's own rule
//! (`tareas::push_visible`) with "sees all" off: even a supervisor's bot shows only the tasks
//! delegated or assigned to them.

use gad_core::EstadoTarea;
use gad_service::telegram::{self as field, LinkedOfficer as Officer};
use gad_service::telegram::{PageOrder, Tarea};
use gad_service::{Ctx, ServiceError};

use crate::callback::HistFilter;

type Failure = ServiceError;

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

fn states(f: HistFilter) -> Vec<EstadoTarea> {
    match f {
        HistFilter::Todas => EstadoTarea::ALL.to_vec(),
        HistFilter::Activas => OPEN.to_vec(),
        HistFilter::Finalizadas => vec![EstadoTarea::Finalizada],
    }
}

async fn page_of(
    state: &Ctx,
    o: &Officer,
    estados: &[EstadoTarea],
    order: PageOrder,
    page: i64,
    size: i64,
) -> Result<Page, Failure> {
    let (tasks, page, pages) =
        field::own_tasks_page(state, &o.actor, estados, order, page, size).await?;
    Ok(Page { tasks, page, pages })
}

/// Open tasks (programada, en curso, pausada), soonest first.
pub async fn open_tasks(state: &Ctx, o: &Officer, page: i64) -> Result<Page, Failure> {
    page_of(state, o, &OPEN, PageOrder::Soonest, page, OPEN_PAGE).await
}

/// History, newest first.
pub async fn history(state: &Ctx, o: &Officer, f: HistFilter, page: i64) -> Result<Page, Failure> {
    page_of(state, o, &states(f), PageOrder::Newest, page, HISTORY_PAGE).await
}

/// One visible task of the officer (for confirmation texts).
pub async fn own_task(state: &Ctx, o: &Officer, id: i64) -> Result<Option<Tarea>, Failure> {
    field::own_task(state, &o.actor, id).await
}
