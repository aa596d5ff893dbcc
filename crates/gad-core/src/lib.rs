//! GAD domain: enums with their database labels and wire values, the task state machine,
//! the permission rules and validated values. No I/O lives here, so every rule can be
//! property-tested without a database.

pub mod enums;
pub mod geo;
pub mod permissions;
pub mod positions;
pub mod state_machine;

pub use enums::{EstadoDisponibilidad, EstadoTarea, Nivel, Prioridad, TipoTarea};
