//! The database pool, migrations and ping live in `store::pool` (the store is the only module
//! that speaks SQL); this path is kept for the CLI and the test kit.

pub use crate::store::pool::*;
