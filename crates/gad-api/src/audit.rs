//! Audit trail (audit_logs). Written in the same transaction as the change it records, so an
//! audited change and its audit row commit or roll back together. Rows are append-only and
//! hash-chained by the database (issue 18; see `store::audit`).

use serde_json::Value;
use sqlx::PgExecutor;

/// One audit entry; build with `AuditEntry::new(..)` and the setters.
#[derive(Debug, Default, Clone)]
pub struct AuditEntry {
    pub event_type: String,
    pub severity: &'static str,
    pub user_id: Option<i64>,
    pub ip_address: Option<String>,
    pub user_agent: Option<String>,
    pub request_id: Option<String>,
    pub resource_type: Option<String>,
    pub resource_id: Option<String>,
    pub action_description: Option<String>,
    pub old_values: Option<Value>,
    pub new_values: Option<Value>,
    pub success: bool,
    pub response_status: Option<i32>,
}

impl AuditEntry {
    pub fn new(event_type: &str, user_id: Option<i64>) -> AuditEntry {
        AuditEntry {
            event_type: event_type.into(),
            severity: "info",
            user_id,
            success: true,
            ..Default::default()
        }
    }
    pub fn resource(mut self, kind: &str, id: impl ToString) -> Self {
        self.resource_type = Some(kind.into());
        self.resource_id = Some(id.to_string());
        self
    }
    pub fn describe(mut self, d: impl Into<String>) -> Self {
        self.action_description = Some(d.into());
        self
    }
    pub fn values(mut self, old: Option<Value>, new: Option<Value>) -> Self {
        self.old_values = old;
        self.new_values = new;
        self
    }
    pub fn failed(mut self, status: i32) -> Self {
        self.success = false;
        self.severity = "warning";
        self.response_status = Some(status);
        self
    }
    pub fn status(mut self, status: i32) -> Self {
        self.response_status = Some(status);
        self
    }
    pub fn severity(mut self, s: &'static str) -> Self {
        self.severity = s;
        self
    }
    pub fn context(mut self, ctx: &RequestContext) -> Self {
        self.ip_address = ctx.ip.clone();
        self.user_agent = ctx.user_agent.clone();
        self.request_id = ctx.request_id.clone();
        self
    }
}

/// Who/where of a request, for audit rows.
#[derive(Debug, Clone, Default)]
pub struct RequestContext {
    pub ip: Option<String>,
    pub user_agent: Option<String>,
    pub request_id: Option<String>,
}

impl<S: Send + Sync> axum::extract::FromRequestParts<S> for RequestContext {
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
        Ok(RequestContext {
            ip,
            user_agent,
            request_id,
        })
    }
}

/// Writes one audit row through the executor it is given: pass the transaction of the change
/// it records, so both commit or roll back together. The SQL is in `store::audit`.
pub async fn record<'e, E: PgExecutor<'e>>(exec: E, e: &AuditEntry) -> Result<(), sqlx::Error> {
    crate::store::audit::insert(exec, e).await
}
