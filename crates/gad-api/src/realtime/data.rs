//! Figures for the socket's `metrics_update` answer (the snapshot and the overview are read by
//! `gad_service::realtime`).

use std::sync::atomic::Ordering::Relaxed;

use chrono::Utc;
use gad_service::events::{ByLevel, HttpFigures, MetricsUpdate, SocketFigures};

use crate::state::AppState;

/// Request and WebSocket figures of this instance.
pub(crate) fn metrics(state: &AppState) -> MetricsUpdate {
    let m = &state.metrics;
    let (requests, errors) = m.http_totals();
    let (by_role, users) = state.hub.breakdown();
    MetricsUpdate {
        http: HttpFigures {
            requests_total: requests,
            errors_5xx_total: errors,
            p95_ms: (m.http_quantile_all(0.95) * 1e6).round() / 1e3,
        },
        websocket: SocketFigures {
            active_connections: m.ws_connections_active.load(Relaxed),
            connections_total: m.ws_connections_total.load(Relaxed),
            connections_by_role: ByLevel {
                efectivo: by_role[0],
                supervisor: by_role[1],
                administrador: by_role[2],
            },
            unique_users: users,
            messages_sent: m.ws_messages_sent.load(Relaxed),
            broadcasts: m.ws_broadcasts.load(Relaxed),
            send_errors: m.ws_send_errors.load(Relaxed),
            message_latency_p95_ms: (m.ws_message_latency.quantile(0.95) * 1e6).round() / 1e3,
            fanout: state.hub.fanout_mode().to_string(),
        },
        uptime_seconds: m.uptime_seconds().round(),
        timestamp: Utc::now(),
    }
}
