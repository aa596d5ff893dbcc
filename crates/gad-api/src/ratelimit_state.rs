//! Per-process state of the rate limiter (the in-process fallback windows).

use crate::config::Config;

pub struct LimiterState {}

impl LimiterState {
    pub fn new(_config: &Config) -> LimiterState {
        LimiterState {}
    }
}
