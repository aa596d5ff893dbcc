//! Database access, one module per aggregate. Queries return plain structs; handlers turn them
//! into wire objects.

pub mod dispatch;
pub mod efectivos;
pub mod positions;
pub mod stats;
pub mod tareas;
pub mod telegram;
pub mod usuarios;
