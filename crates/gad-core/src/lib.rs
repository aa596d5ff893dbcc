//! GAD domain: enums with their database labels and wire values, the task state machine,
//! the permission rules and validated values. No I/O lives here, so every rule can be
//! property-tested without a database.

pub mod actor;
pub mod adjunto;
pub mod enums;
pub mod field_error;
pub mod geo;
pub mod lugares;
pub mod permissions;
pub mod positions;
pub mod request_context;
pub mod state_machine;
pub mod text;
pub mod time;
pub mod validate;
pub mod zonas;

pub use actor::Actor;
pub use enums::{
    CodigoCierre, EstadoDisponibilidad, EstadoTarea, Nivel, Prioridad, TipoTarea, TipoZona,
};
pub use field_error::FieldError;
