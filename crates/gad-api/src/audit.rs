//! The audit trail's HTTP face: who/where of a request, taken from the gateway's extensions.
//! Use cases write the audit rows (`gad_service`); the chain lives in the store's audit module.

pub use gad_core::request_context::RequestContext;

/// The request's origin as an extractor (`Origin(ctx): Origin`).
pub struct Origin(pub RequestContext);

impl<S: Send + Sync> axum::extract::FromRequestParts<S> for Origin {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        _: &S,
    ) -> Result<Self, Self::Rejection> {
        let ip = match parts.extensions.get::<crate::middleware::ClientIp>() {
            Some(c) => Some(c.0.to_string()),
            None => parts
                .extensions
                .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
                .map(|c| c.0.ip().to_string()),
        };
        let user_agent = parts
            .headers
            .get(axum::http::header::USER_AGENT)
            .and_then(|v| v.to_str().ok())
            .map(|s| s.chars().take(500).collect());
        let request_id = parts
            .extensions
            .get::<crate::middleware::RequestId>()
            .map(|r| r.0.clone());
        Ok(Origin(RequestContext {
            ip,
            user_agent,
            request_id,
        }))
    }
}
