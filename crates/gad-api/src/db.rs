//! The pool, migrations and ping (`gad_service::pool`); this path is kept for the CLI and the test kit.

pub use gad_service::pool::*;
