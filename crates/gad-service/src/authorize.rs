//! The level rule every use case checks itself, whatever door it was called through.

use gad_core::{Actor, Nivel};

use crate::error::{ServiceError, ServiceResult};

/// `me` must be at least `level` (403 "not enough privileges" otherwise).
pub fn require(me: &Actor, level: Nivel) -> ServiceResult<()> {
    if me.nivel >= level {
        Ok(())
    } else {
        Err(ServiceError::InsufficientLevel)
    }
}
