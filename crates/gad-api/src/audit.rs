//! Audit trail (audit_logs). Written in the same transaction as the change it records, so an
//! audited change and its audit row commit or roll back together.

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

pub async fn record<'e, E: PgExecutor<'e>>(exec: E, e: &AuditEntry) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO audit_logs (event_type, severity, user_id, ip_address, user_agent, request_id,
            resource_type, resource_id, action_description, old_values, new_values, success, response_status)
         VALUES ($1, $2, $3, $4::inet, $5, $6, $7, $8, $9, $10, $11, $12, $13)",
    )
    .bind(&e.event_type)
    .bind(e.severity)
    .bind(e.user_id)
    .bind(&e.ip_address)
    .bind(&e.user_agent)
    .bind(&e.request_id)
    .bind(&e.resource_type)
    .bind(&e.resource_id)
    .bind(&e.action_description)
    .bind(&e.old_values)
    .bind(&e.new_values)
    .bind(e.success)
    .bind(e.response_status)
    .execute(exec)
    .await?;
    Ok(())
}
