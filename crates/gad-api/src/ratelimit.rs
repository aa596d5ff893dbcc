//! Government rate limiter (contract §10). Placeholder until the shared-state issue lands:
//! classifies requests and admits everything.

use std::net::SocketAddr;

use axum::http::HeaderMap;
use axum::response::Response;

use crate::state::AppState;

/// Outcome of the limiter for one request.
pub enum LimitOutcome {
    /// Not limited (exempt path or limiter off).
    Exempt,
    /// Admitted: headers to add to the response.
    Admitted { limit: u32, remaining: u32 },
    /// Rejected: the complete 429 response.
    Rejected(Response),
}

pub async fn check(
    _state: &AppState,
    _peer: Option<SocketAddr>,
    _headers: &HeaderMap,
    _path: &str,
) -> LimitOutcome {
    LimitOutcome::Exempt
}
