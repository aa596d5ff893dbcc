//! Database access, one module per aggregate. Queries return plain structs; handlers turn them
//! into wire objects.

pub mod efectivos;
pub mod tareas;
pub mod telegram;
pub mod usuarios;
