//! The pool, migrations and ping live in `gad_store::pool`; this path is kept for the CLI and the test kit.

pub use gad_store::pool::*;
