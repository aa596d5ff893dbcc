//! Government rate limiter (contract §10): a sliding 60 s window per client IP and class.
//!
//! With Redis up, one atomic round trip per request (a Lua script over a sorted set) shares the
//! window between every instance. When Redis is not configured, or any command fails or times
//! out, the bounded in-process windows of `ratelimit_state` take over; Redis trouble is never a
//! 5xx. The client is the socket peer; forwarding headers count only from trusted proxies.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::LazyLock;
use std::sync::atomic::Ordering;

use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::Response;
use chrono::{SecondsFormat, Utc};
use serde_json::json;

use crate::error::json_response;
use crate::ratelimit_state::{WINDOW_MS, WindowResult};
use crate::state::AppState;
use gad_service::config::{Config, RateLimits};
use gad_service::metrics::Metrics;

pub const WINDOW_SECONDS: u32 = 60;
pub const POLICY: &str = "government_citizen_protection";
pub const GOVERNMENT_SERVICE: &str = "GRUPO_GAD";

/// Outcome of the limiter for one request.
pub enum LimitOutcome {
    /// Not limited (exempt path or limiter off).
    Exempt,
    /// Admitted: headers to add to the response.
    Admitted { limit: u32, remaining: u32 },
    /// Rejected: the complete 429 response.
    Rejected(Response),
}

/// Limiter classes (contract §10), each with its own counter and limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Class {
    Auth,
    WsHandshake,
    AdminServices,
    CitizenServices,
    GeneralApi,
}

impl Class {
    pub fn as_str(self) -> &'static str {
        match self {
            Class::Auth => "auth",
            Class::WsHandshake => "ws_handshake",
            Class::AdminServices => "admin_services",
            Class::CitizenServices => "citizen_services",
            Class::GeneralApi => "general_api",
        }
    }

    pub fn limit(self, l: &RateLimits) -> u32 {
        match self {
            Class::Auth => l.auth,
            Class::WsHandshake => l.ws_handshake,
            Class::AdminServices => l.admin,
            Class::CitizenServices => l.citizen,
            Class::GeneralApi => l.general,
        }
    }

    fn id(self) -> u8 {
        self as u8
    }
}

/// The class of a path, or `None` when the path is exempt.
pub fn classify(path: &str) -> Option<Class> {
    // The detailed and government checks ping the database and Redis on every call: public,
    // but limited like any other API call so they cannot be used to load the dependencies.
    let probes_dependencies = matches!(
        path,
        "/api/v1/health/detailed" | "/health/detailed" | "/api/v1/health/government"
    );
    let exempt = !probes_dependencies
        && (path.starts_with("/health")
            || path.starts_with("/api/v1/health")
            || path == "/metrics"
            || path.starts_with("/api/v1/metrics/")
            || path.starts_with("/docs")
            || path == "/redoc"
            || path == "/openapi.json"
            || path == "/api/v1/openapi.json"
            || path.starts_with("/static/")
            || path.starts_with("/assets/"));
    if exempt {
        return None;
    }
    Some(if path.starts_with("/api/v1/auth/login") {
        Class::Auth
    } else if path.starts_with("/ws/connect") {
        Class::WsHandshake
    } else if path.starts_with("/api/v1/admin") || path.starts_with("/api/v1/cache") {
        Class::AdminServices
    } else if path.starts_with("/api/v1/servicios")
        || path.starts_with("/api/v1/ciudadano")
        || path.starts_with("/api/v1/tramites")
    {
        Class::CitizenServices
    } else {
        Class::GeneralApi
    })
}

fn parse_ip(s: &str) -> Option<IpAddr> {
    let s = s.trim().trim_matches('"');
    s.parse::<IpAddr>()
        .or_else(|_| s.parse::<SocketAddr>().map(|a| a.ip()))
        .or_else(|_| {
            s.trim_start_matches('[')
                .trim_end_matches(']')
                .parse::<IpAddr>()
        })
        .ok()
        .map(|ip| ip.to_canonical())
}

/// The client address: the socket peer, or — only when the peer is a trusted proxy — the
/// rightmost X-Forwarded-For entry that is not itself a trusted proxy (else X-Real-IP).
pub fn client_ip(config: &Config, peer: Option<SocketAddr>, headers: &HeaderMap) -> IpAddr {
    let Some(peer) = peer.map(|p| p.ip().to_canonical()) else {
        return IpAddr::V4(Ipv4Addr::UNSPECIFIED);
    };
    if !config.is_trusted_proxy(peer) {
        return peer;
    }
    let xff: Vec<&str> = headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .collect();
    if !xff.is_empty() {
        let mut candidate = None;
        for entry in xff.iter().rev() {
            match parse_ip(entry) {
                Some(ip) if config.is_trusted_proxy(ip) => candidate = Some(ip),
                Some(ip) => return ip,
                // Garbage: nothing left of it can be trusted.
                None => break,
            }
        }
        return candidate.unwrap_or(peer);
    }
    headers
        .get("x-real-ip")
        .and_then(|v| v.to_str().ok())
        .and_then(parse_ip)
        .unwrap_or(peer)
}

/// The address a client is limited by: IPv4 as is, IPv6 by its /64 (one host usually holds
/// a whole /64, so per-address keys would let it rotate through 2^64 fresh windows).
pub fn limit_key(ip: IpAddr) -> IpAddr {
    match ip.to_canonical() {
        IpAddr::V6(v6) => {
            let mut seg = v6.segments();
            for s in &mut seg[4..] {
                *s = 0;
            }
            IpAddr::V6(std::net::Ipv6Addr::from(seg))
        }
        v4 => v4,
    }
}

/// ZREMRANGEBYSCORE + ZCARD + conditional ZADD + PEXPIRE in one atomic step, on Redis time
/// so instances with skewed clocks share one window. Returns {admitted, count, oldest_ms, now_ms}.
static SCRIPT: LazyLock<redis::Script> = LazyLock::new(|| {
    redis::Script::new(
        r#"
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local window = tonumber(ARGV[1])
local limit = tonumber(ARGV[2])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - window)
local count = redis.call('ZCARD', KEYS[1])
local admitted = 0
if count < limit then
  redis.call('ZADD', KEYS[1], now, ARGV[3])
  count = count + 1
  admitted = 1
end
redis.call('PEXPIRE', KEYS[1], window)
local oldest = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
local oldest_ms = now
if oldest[2] then oldest_ms = tonumber(oldest[2]) end
return {admitted, count, oldest_ms, now}
"#,
    )
});

async fn redis_hit(state: &AppState, class: Class, ip: IpAddr, limit: u32) -> Option<WindowResult> {
    let mut conn = state.redis.conn()?;
    let key = format!(
        "{}rl:{}:{}",
        state.config.redis_namespace,
        class.as_str(),
        ip
    );
    let member = format!(
        "{}-{}",
        state.ratelimit.member_prefix,
        state.ratelimit.seq.fetch_add(1, Ordering::Relaxed)
    );
    let mut inv = SCRIPT.prepare_invoke();
    inv.key(key).arg(WINDOW_MS).arg(limit).arg(member);
    let (admitted, count, oldest, now): (i64, i64, i64, i64) =
        gad_service::redis_conn::with_timeout(&state.redis, inv.invoke_async(&mut conn)).await?;
    Some(WindowResult {
        admitted: admitted == 1,
        count: count.clamp(0, u32::MAX as i64) as u32,
        oldest_expires_in_ms: (oldest + WINDOW_MS as i64 - now).max(0) as u64,
    })
}

pub async fn check(
    state: &AppState,
    peer: Option<SocketAddr>,
    headers: &HeaderMap,
    path: &str,
) -> LimitOutcome {
    if !state.config.rate_limits.enabled {
        return LimitOutcome::Exempt;
    }
    let Some(class) = classify(path) else {
        return LimitOutcome::Exempt;
    };
    let limit = class.limit(&state.config.rate_limits);
    let ip = limit_key(client_ip(&state.config, peer, headers));
    let result = match redis_hit(state, class, ip, limit).await {
        Some(r) => r,
        None => state.ratelimit.hit(class.id(), ip, limit),
    };
    if result.admitted {
        LimitOutcome::Admitted {
            limit,
            remaining: limit.saturating_sub(result.count),
        }
    } else {
        Metrics::inc(&state.metrics.rate_limit_rejected, class.as_str());
        let retry_after = result.oldest_expires_in_ms.div_ceil(1000).max(1);
        LimitOutcome::Rejected(rejected_response(limit, retry_after))
    }
}

/// The contract's 429 (§10), headers and exact body.
pub fn rejected_response(limit: u32, retry_after: u64) -> Response {
    rejected_response_in(u64::from(limit), u64::from(WINDOW_SECONDS), retry_after)
}

/// The contract's 429 (§10) for a bound counted over `window` seconds (the request limiter's
/// minute, or a dispatch bound such as emergencies per rolling hour).
pub fn rejected_response_in(limit: u64, window: u64, retry_after: u64) -> Response {
    let body = json!({
        "error": "rate_limit_exceeded",
        "message": "Ha excedido el límite de solicitudes para servicios gubernamentales.",
        "details": "Los servicios digitales tienen límites para garantizar disponibilidad equitativa.",
        "retry_after_seconds": retry_after,
        "rate_limit": limit,
        "window_seconds": window,
        "government_service": GOVERNMENT_SERVICE,
        "citizen_support": "Para asistencia, contacte soporte ciudadano.",
        "timestamp": Utc::now().to_rfc3339_opts(SecondsFormat::Secs, true),
    });
    let mut r = json_response(StatusCode::TOO_MANY_REQUESTS, &body);
    let h = r.headers_mut();
    h.insert("retry-after", HeaderValue::from(retry_after));
    h.insert("x-ratelimit-limit", HeaderValue::from(limit));
    h.insert("x-ratelimit-remaining", HeaderValue::from_static("0"));
    h.insert("x-ratelimit-window", HeaderValue::from(window));
    h.insert("x-ratelimit-policy", HeaderValue::from_static(POLICY));
    h.insert(
        "x-government-service",
        HeaderValue::from_static(GOVERNMENT_SERVICE),
    );
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classes_and_exemptions() {
        for p in [
            "/health",
            "/health/ready",
            "/api/v1/health",
            "/api/v1/health/ready",
            "/metrics",
            "/api/v1/metrics/prometheus",
            "/docs",
            "/docs/swagger-ui.css",
            "/redoc",
            "/openapi.json",
            "/api/v1/openapi.json",
            "/static/app.js",
        ] {
            assert_eq!(classify(p), None, "{p}");
        }
        assert_eq!(classify("/api/v1/auth/login"), Some(Class::Auth));
        assert_eq!(classify("/api/v1/auth/me"), Some(Class::GeneralApi));
        assert_eq!(classify("/ws/connect"), Some(Class::WsHandshake));
        assert_eq!(classify("/api/v1/admin/audit"), Some(Class::AdminServices));
        assert_eq!(classify("/api/v1/cache/stats"), Some(Class::AdminServices));
        assert_eq!(classify("/api/v1/tramites/1"), Some(Class::CitizenServices));
        assert_eq!(classify("/api/v1/tasks"), Some(Class::GeneralApi));
        assert_eq!(classify("/metrics/x"), Some(Class::GeneralApi));
        for p in [
            "/api/v1/health/detailed",
            "/health/detailed",
            "/api/v1/health/government",
        ] {
            assert_eq!(classify(p), Some(Class::GeneralApi), "{p}");
        }
    }

    #[test]
    fn forwarded_headers_only_from_trusted_peers() {
        let cfg = Config::for_tests("postgres://x/y", None);
        let mut h = HeaderMap::new();
        h.insert(
            "x-forwarded-for",
            HeaderValue::from_static("6.6.6.6, 203.0.113.9, 127.0.0.1"),
        );
        h.insert("x-real-ip", HeaderValue::from_static("7.7.7.7"));
        let trusted: SocketAddr = "127.0.0.1:5000".parse().unwrap();
        let untrusted: SocketAddr = "198.51.100.1:5000".parse().unwrap();
        assert_eq!(
            client_ip(&cfg, Some(trusted), &h),
            "203.0.113.9".parse::<IpAddr>().unwrap()
        );
        assert_eq!(client_ip(&cfg, Some(untrusted), &h), untrusted.ip());
        h.remove("x-forwarded-for");
        assert_eq!(
            client_ip(&cfg, Some(trusted), &h),
            "7.7.7.7".parse::<IpAddr>().unwrap()
        );
        let mapped: SocketAddr = "[::ffff:198.51.100.1]:1".parse().unwrap();
        assert_eq!(client_ip(&cfg, Some(mapped), &h), untrusted.ip());
    }
}
