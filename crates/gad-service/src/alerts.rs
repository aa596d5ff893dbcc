//! Monitoring alerts into the platform: Alertmanager's webhook receiver (deploy/alertmanager.yml)
//! posts here, and every alert of the group is forwarded as an `alert` event to level 2+ over the
//! WebSocket, so a firing rule reaches the supervisors on duty and not only a dashboard.
//!
//! Alertmanager is a machine, not a user: it authenticates with a shared bearer secret
//! (`ALERTMANAGER_WEBHOOK_TOKEN`), compared here in constant time. Without the variable every
//! secret is refused.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use gad_core::FieldError;
use gad_core::validate::Validate;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::ctx::Ctx;
use crate::error::{ServiceError, ServiceResult};
use crate::events::{Alert, AlertLevel, AlertSource, Audience, Event, MonitoringAlert};

/// Titles shown to supervisors (es-AR), one per alert status.
const TITLE_FIRING: &str = "Alerta de monitoreo";
const TITLE_RESOLVED: &str = "Alerta de monitoreo resuelta";

/// Alertmanager's zero time for alerts that have not ended (`endsAt` of a firing alert).
const GO_ZERO_TIME_YEAR: i32 = 1;

/// Firing or resolved (Alertmanager's `status`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum AlertStatus {
    Firing,
    Resolved,
}

impl AlertStatus {
    fn as_str(self) -> &'static str {
        match self {
            AlertStatus::Firing => "firing",
            AlertStatus::Resolved => "resolved",
        }
    }
}

/// One alert of the group (Alertmanager webhook payload, version 4).
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AlertmanagerAlert {
    pub status: AlertStatus,
    /// Must contain `alertname`; `severity` (critical|warning|info) sets the event's level.
    pub labels: BTreeMap<String, String>,
    #[serde(default)]
    pub annotations: BTreeMap<String, String>,
    pub starts_at: DateTime<Utc>,
    /// `0001-01-01T00:00:00Z` while the alert is firing.
    #[serde(default)]
    pub ends_at: Option<DateTime<Utc>>,
    #[serde(default, rename = "generatorURL")]
    pub generator_url: Option<String>,
    #[serde(default)]
    pub fingerprint: Option<String>,
}

/// The body Alertmanager's `webhook_configs` receiver posts (version "4").
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AlertmanagerWebhook {
    /// Payload format version; only "4" exists.
    #[schema(pattern = r"^4$")]
    pub version: String,
    pub status: AlertStatus,
    pub receiver: String,
    pub group_key: String,
    #[serde(default)]
    pub truncated_alerts: u64,
    #[serde(default)]
    pub group_labels: BTreeMap<String, String>,
    #[serde(default)]
    pub common_labels: BTreeMap<String, String>,
    #[serde(default)]
    pub common_annotations: BTreeMap<String, String>,
    #[serde(default, rename = "externalURL")]
    pub external_url: Option<String>,
    #[schema(min_items = 1)]
    pub alerts: Vec<AlertmanagerAlert>,
}

impl Validate for AlertmanagerWebhook {
    fn validate(&self, errors: &mut Vec<FieldError>) {
        if self.version != "4" {
            errors.push(FieldError::body(
                "version",
                "value_error",
                "Only Alertmanager webhook version '4' is supported",
                Value::String(self.version.clone()),
            ));
        }
        if self.alerts.is_empty() {
            errors.push(FieldError::body(
                "alerts",
                "too_short",
                "List should have at least 1 item after validation, not 0",
                json!([]),
            ));
        }
        for (i, a) in self.alerts.iter().enumerate() {
            if a.labels
                .get("alertname")
                .is_none_or(|n| n.trim().is_empty())
            {
                errors.push(FieldError {
                    kind: "missing".into(),
                    loc: vec![
                        json!("body"),
                        json!("alerts"),
                        json!(i),
                        json!("labels"),
                        json!("alertname"),
                    ],
                    msg: "Field required".into(),
                    input: Value::Null,
                });
            }
        }
    }
}

/// Accepts the webhook secret `presented` only when it equals `ALERTMANAGER_WEBHOOK_TOKEN`
/// (401 "Could not validate credentials" otherwise, and always when the variable is not set).
pub fn check_token(ctx: &Ctx, presented: &str) -> ServiceResult<()> {
    let Some(expected) = ctx.config.alertmanager_webhook_token.as_deref() else {
        tracing::warn!("alertmanager webhook called but ALERTMANAGER_WEBHOOK_TOKEN is not set");
        return Err(ServiceError::InvalidCredentials);
    };
    if constant_time_eq(presented.as_bytes(), expected.as_bytes()) {
        Ok(())
    } else {
        Err(ServiceError::InvalidCredentials)
    }
}

/// Equal-length comparison that does not stop at the first difference (the secret's prefix
/// must not be guessable by timing).
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Level of the `alert` event from the rule's `severity` label.
fn level_of(a: &AlertmanagerAlert) -> AlertLevel {
    if a.status == AlertStatus::Resolved {
        return AlertLevel::Info;
    }
    match a.labels.get("severity").map(String::as_str) {
        Some("critical") => AlertLevel::Critical,
        Some("warning") => AlertLevel::Warning,
        _ => AlertLevel::Info,
    }
}

fn event_data(body: &AlertmanagerWebhook, a: &AlertmanagerAlert) -> MonitoringAlert {
    let alertname = a.labels.get("alertname").cloned().unwrap_or_default();
    let summary = a.annotations.get("summary").cloned();
    let prefix = match a.status {
        AlertStatus::Firing => TITLE_FIRING,
        AlertStatus::Resolved => TITLE_RESOLVED,
    };
    MonitoringAlert {
        title: format!("{prefix}: {}", summary.as_deref().unwrap_or(&alertname)),
        level: level_of(a),
        source: AlertSource::Alertmanager,
        status: a.status,
        alertname,
        severity: a.labels.get("severity").cloned(),
        summary,
        description: a.annotations.get("description").cloned(),
        labels: a.labels.clone(),
        starts_at: a.starts_at,
        ends_at: a
            .ends_at
            .filter(|t| chrono::Datelike::year(t) > GO_ZERO_TIME_YEAR),
        generator_url: a.generator_url.clone(),
        fingerprint: a.fingerprint.clone(),
        receiver: body.receiver.clone(),
        group_key: body.group_key.clone(),
    }
}

/// Publishes every alert of the group to the supervisors (topic `monitoreo`) and says how many
/// went out. The caller has checked the webhook secret ([`check_token`]).
pub fn forward(ctx: &Ctx, body: &AlertmanagerWebhook) -> Reenviadas {
    for a in &body.alerts {
        tracing::warn!(
            alertname = a.labels.get("alertname").map(String::as_str).unwrap_or(""),
            status = a.status.as_str(),
            severity = a.labels.get("severity").map(String::as_str).unwrap_or(""),
            "alertmanager alert received"
        );
        ctx.events.publish(
            Event::Alert(Alert::Monitoring(event_data(body, a)))
                .to(Audience::Supervisors)
                .topic("monitoreo"),
        );
    }
    Reenviadas {
        status: "accepted",
        group_status: body.status.as_str(),
        forwarded: body.alerts.len(),
        truncated_alerts: body.truncated_alerts,
    }
}

/// What the webhook answers.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Reenviadas {
    /// Always `accepted`.
    pub status: &'static str,
    /// `firing` or `resolved`.
    pub group_status: &'static str,
    /// Alerts published to the supervisors.
    pub forwarded: usize,
    pub truncated_alerts: u64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn constant_time_eq_compares_whole_values() {
        assert!(constant_time_eq(b"abc", b"abc"));
        assert!(!constant_time_eq(b"abc", b"abd"));
        assert!(!constant_time_eq(b"abc", b"abcd"));
        assert!(!constant_time_eq(b"", b"a"));
    }
}
