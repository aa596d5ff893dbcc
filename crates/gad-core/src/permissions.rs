//! The permission rules of contract §4 that are not "minimum level for a route"
//! (those are enforced by the `RequireLevel` extractor in gad-api).

use crate::{EstadoTarea, Nivel};

/// May `actor` set a user's level to `target`? Nobody raises their own level (handled by
/// the caller, who knows whose record it is); level 2 never grants level 3; level 1 grants nothing.
pub fn can_grant_level(actor: Nivel, target: Nivel) -> bool {
    match actor {
        Nivel::Administrador => true,
        Nivel::Supervisor => target < Nivel::Administrador,
        Nivel::Efectivo => false,
    }
}

/// May `actor` change their own level to `target`? Only downwards (or unchanged).
pub fn can_change_own_level(current: Nivel, target: Nivel) -> bool {
    target <= current
}

/// May `actor` move a task to `to`? An emergency is closed (finalizada, cancelada) by the desk,
/// as in every CAD: the unit reports, the dispatcher closes. One officer switching it off would
/// leave nobody called; the officer's way out is to decline the dispatch, which calls the next.
pub fn can_set_task_state(actor: Nivel, es_emergencia: bool, to: EstadoTarea) -> bool {
    let closes = matches!(to, EstadoTarea::Finalizada | EstadoTarea::Cancelada);
    !(es_emergencia && closes) || actor >= Nivel::Supervisor
}

#[cfg(test)]
mod tests {
    use super::*;
    #[test]
    fn supervisors_cannot_grant_admin() {
        assert!(!can_grant_level(Nivel::Supervisor, Nivel::Administrador));
        assert!(can_grant_level(Nivel::Supervisor, Nivel::Supervisor));
        assert!(can_grant_level(Nivel::Administrador, Nivel::Administrador));
        assert!(!can_grant_level(Nivel::Efectivo, Nivel::Efectivo));
        assert!(!can_change_own_level(Nivel::Efectivo, Nivel::Supervisor));
    }
    #[test]
    fn only_the_desk_closes_an_emergency() {
        for to in [EstadoTarea::Finalizada, EstadoTarea::Cancelada] {
            assert!(!can_set_task_state(Nivel::Efectivo, true, to));
            assert!(can_set_task_state(Nivel::Supervisor, true, to));
            assert!(can_set_task_state(Nivel::Efectivo, false, to));
        }
        assert!(can_set_task_state(
            Nivel::Efectivo,
            true,
            EstadoTarea::Pausada
        ));
    }
}
