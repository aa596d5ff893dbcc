//! Completes the OpenAPI document with what every route shares, so that it states every status a
//! route can return (issue 14) without each handler repeating them:
//! - the error body (`ErrorBody`) on every 4xx/5xx response that did not name a schema;
//! - 401 and 403 on every authenticated operation (bad/expired/revoked token; inactive user or
//!   level too low), `security: []` on public ones — read from the "Level: …" that every
//!   operation's description starts with;
//! - 404 where the path names a resource, 413 and 422 where a body or parameters are read, and
//!   429 (rate limiter) and 503 (request timeout, database unavailable) everywhere, since the
//!   gateway can answer those for any route.

use serde::Serialize;
use serde_json::{Map, Value, json};
use utoipa::openapi::OpenApi;

use crate::error::FieldError;

/// The contract's error body (§2). `detail` is always there; the other keys appear with the
/// errors that carry them.
#[derive(Serialize, utoipa::ToSchema)]
pub struct ErrorBody {
    /// What went wrong, for people: a string; an object with the failed checks for the
    /// readiness and health 503s.
    pub detail: Value,
    /// 409 on a unique value: the field that collides.
    pub field: Option<String>,
    /// 409 on a state transition: the states that are allowed from here.
    pub allowed: Option<Vec<String>>,
    /// 423: when the account lock ends (RFC 3339).
    pub locked_until: Option<String>,
    /// 422: one entry per invalid input.
    pub errors: Option<Vec<FieldError>>,
}

/// The contract's rate-limit body (§10): the request limiter's 429, and the dispatch bounds'
/// (emergencies per hour, backup per task and per minute).
#[derive(Serialize, utoipa::ToSchema)]
pub struct RateLimitBody {
    /// `rate_limit_exceeded`.
    pub error: String,
    pub message: String,
    pub details: String,
    /// Seconds until the same request may succeed (also in `Retry-After`).
    pub retry_after_seconds: u64,
    /// The bound that was reached.
    pub rate_limit: u64,
    /// The window it is counted in (60, or 3600 for emergencies per hour).
    pub window_seconds: u64,
    /// `GRUPO_GAD`.
    pub government_service: String,
    pub citizen_support: String,
    /// RFC 3339.
    pub timestamp: String,
}

/// RFC 3339 timestamps as `chrono` parses them (UTC `Z` or an offset, optional fraction), in
/// the years 1900–2999 (the API accepts 1000–9999, `rules::plausible_time`).
const RFC3339_PATTERN: &str = r"^(19|2\d)\d\d-(0[1-9]|1[0-2])-(0[1-9]|1\d|2[0-8])T([01]\d|2[0-3]):[0-5]\d:[0-5]\d(\.\d{1,9})?(Z|[+-]([01]\d|2[0-3]):[0-5]\d)$";

const METHODS: [&str; 5] = ["get", "post", "put", "delete", "patch"];

/// The document of `api` with the shared statuses and the error body on every operation. JSON,
/// because utoipa's types do not read back every schema they write.
pub fn complete(api: &OpenApi) -> Value {
    let mut doc = serde_json::to_value(api).unwrap_or_else(|_| json!({}));
    complete_json(&mut doc);
    doc
}

fn error_ref() -> Value {
    schema_ref("ErrorBody")
}

fn schema_ref(name: &str) -> Value {
    json!({"application/json": {"schema": {"$ref": format!("#/components/schemas/{name}")}}})
}

/// Strings never hold NUL (PostgreSQL text cannot, and the API answers 422 `string_nul`): every
/// free-text string schema says so with a pattern, unless it already has a pattern, a format or
/// an enum.
fn no_nul(v: &mut Value) {
    match v {
        Value::Object(m) => {
            let is_free_string = m.get("type").is_some_and(|t| {
                t == "string"
                    || t.as_array()
                        .is_some_and(|a| a.iter().any(|x| x == "string"))
            }) && !m.contains_key("pattern")
                && !m.contains_key("format")
                && !m.contains_key("enum");
            if is_free_string {
                m.insert("pattern".into(), json!("^[^\\x00]*$"));
            }
            for (_, x) in m.iter_mut() {
                no_nul(x);
            }
        }
        Value::Array(a) => a.iter_mut().for_each(no_nul),
        _ => {}
    }
}

/// `format` is only an annotation in JSON Schema; in what clients send, a pattern makes the
/// RFC 3339 form the API parses part of the contract (days ≤ 28 keep generated dates real).
fn rfc3339_inputs(v: &mut Value) {
    match v {
        Value::Object(m) => {
            if m.get("format").is_some_and(|f| f == "date-time") && !m.contains_key("pattern") {
                m.insert("pattern".into(), json!(RFC3339_PATTERN));
            }
            m.values_mut().for_each(rfc3339_inputs);
        }
        Value::Array(a) => a.iter_mut().for_each(rfc3339_inputs),
        _ => {}
    }
}

/// Names of the component schemas that request bodies refer to.
fn request_components(paths: &Map<String, Value>) -> Vec<String> {
    let mut names = Vec::new();
    for item in paths.values() {
        for method in METHODS {
            let body = &item[method]["requestBody"]["content"];
            if let Some(contents) = body.as_object() {
                for c in contents.values() {
                    if let Some(r) = c["schema"]["$ref"].as_str()
                        && let Some(name) = r.strip_prefix("#/components/schemas/")
                    {
                        names.push(name.to_string());
                    }
                }
            }
        }
    }
    names
}

fn complete_json(doc: &mut Value) {
    no_nul(doc);
    let inputs = doc
        .get("paths")
        .and_then(Value::as_object)
        .map(request_components)
        .unwrap_or_default();
    if let Some(schemas) = doc
        .pointer_mut("/components/schemas")
        .and_then(Value::as_object_mut)
    {
        for name in inputs {
            if let Some(s) = schemas.get_mut(&name) {
                rfc3339_inputs(s);
            }
        }
    }
    let Some(paths) = doc.get_mut("paths").and_then(Value::as_object_mut) else {
        return;
    };
    for (path, item) in paths.iter_mut() {
        for method in METHODS {
            if let Some(op) = item.get_mut(method).and_then(Value::as_object_mut) {
                complete_operation(path, op);
            }
        }
    }
}

fn complete_operation(path: &str, op: &mut Map<String, Value>) {
    let level = op
        .get("description")
        .and_then(Value::as_str)
        .and_then(|d| d.strip_prefix("Level: "))
        .unwrap_or("")
        .to_string();
    let public = level.starts_with("public");
    if public {
        op.insert("security".into(), json!([]));
    }
    // Blank query values (`?estado=`) count as absent, as browsers send them for blank fields.
    if let Some(params) = op.get_mut("parameters").and_then(Value::as_array_mut) {
        for p in params.iter_mut() {
            if p["in"] == "query" && p["required"] != json!(true) {
                p["allowEmptyValue"] = json!(true);
            }
            rfc3339_inputs(p);
        }
    }
    let has_body = op.contains_key("requestBody");
    let has_params = op
        .get("parameters")
        .and_then(Value::as_array)
        .is_some_and(|p| !p.is_empty());
    let mut add: Vec<(&str, &str)> = vec![
        ("429", "Too many requests (rate limit); see Retry-After"),
        (
            "503",
            "Service unavailable (request timeout or database unreachable)",
        ),
    ];
    if !public {
        add.push((
            "401",
            "Not authenticated (missing, invalid, expired or revoked credentials)",
        ));
        if !level.starts_with("machine") {
            add.push(("403", "Inactive user, or level too low"));
        }
    }
    if path.contains('{') {
        add.push(("404", "Not found"));
    }
    if has_body {
        add.push(("413", "Request body too large"));
    }
    if has_body || has_params {
        add.push(("422", "Validation error"));
    }
    let responses = op
        .entry("responses")
        .or_insert_with(|| json!({}))
        .as_object_mut();
    let Some(responses) = responses else { return };
    for (code, description) in add {
        responses
            .entry(code)
            .or_insert_with(|| json!({"description": description}));
    }
    for (code, resp) in responses.iter_mut() {
        if !(code.starts_with('4') || code.starts_with('5')) {
            continue;
        }
        let Some(resp) = resp.as_object_mut() else {
            continue;
        };
        let untyped = match resp.get("content") {
            None => true,
            Some(c) => c
                .get("application/json")
                .and_then(|j| j.get("schema"))
                .is_none_or(|s| s.as_object().is_some_and(Map::is_empty)),
        };
        if untyped {
            // The request limiter answers every 429 with the contract's rate-limit body.
            let body = if code == "429" {
                schema_ref("RateLimitBody")
            } else {
                error_ref()
            };
            resp.insert("content".into(), body);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_operation_documents_the_shared_statuses() -> Result<(), String> {
        let (_, api) = crate::app::api_router().split_for_parts();
        let done = complete(&api);
        let op = &done["paths"]["/api/v1/tasks/{task_id}"]["get"]["responses"];
        for code in ["401", "403", "404", "429", "503"] {
            assert!(op.get(code).is_some(), "{code} missing: {op}");
        }
        assert_eq!(
            op["404"]["content"]["application/json"]["schema"]["$ref"],
            "#/components/schemas/ErrorBody"
        );
        assert_eq!(
            op["429"]["content"]["application/json"]["schema"]["$ref"],
            "#/components/schemas/RateLimitBody",
            "the request limiter's 429 is documented with the body it sends"
        );
        assert_eq!(
            done["paths"]["/api/v1/health"]["get"]["security"],
            json!([])
        );
        Ok(())
    }
}
