//! The AsyncAPI 3 document of `/ws/connect` (committed as `docs/asyncapi.yaml`, served at
//! `/api/v1/asyncapi.yaml`), built from the types: one message per variant of
//! `gad_service::events::Event` (its doc comment is the summary, its payload type's `ToSchema`
//! the schema of `data`) and one per client [`Command`]. A test keeps the committed file equal
//! to [`yaml`].

use std::collections::BTreeMap;

use gad_service::events::{Delivery, Event, EventType};
use serde_json::{Map, Value, json};
use utoipa::openapi::RefOr;
use utoipa::openapi::schema::Schema;
use utoipa::{PartialSchema, ToSchema};

const DESCRIPTION: &str = "The WebSocket side of the GAD API; the HTTP side is the OpenAPI document
served at `/api/v1/openapi.json` (which links here). Every frame the server sends is one JSON
object: `event_type`, `data` (its payload, below) and the delivery fields `timestamp`,
`message_id`, `target_user_id`, `target_role`, `topic`. Events carry the same wire objects as
HTTP: `task_created.data` is a `Tarea` exactly as `GET /api/v1/tasks/{id}` returns it
(emergencies included, with `es_emergencia: true`).

Close codes: 1001 heartbeat timeout or shutdown, 1008 invalid credentials or session ended
(logout, password change, deactivation, level change), 1009 frame too big, 1011 server error
while authenticating, 1013 slow consumer.

Generated from the Rust types (gad-api `realtime::asyncapi`): do not edit by hand.
";

const CHANNEL: &str = "Authenticated socket. Auth, in order of preference: `?ticket=` (single use,
30 s, from `POST /api/v1/ws/ticket`), the `access_token` cookie, `Authorization: Bearer`, or
`?token=` (development only). Browsers must come from an allowed origin (CORS_ALLOWED_ORIGINS).
On connect the server sends `connection_ack`, then a `system_status` snapshot in parts
(`part`/`parts`, ≤ 500 officers and ≈ 48 KiB each): level 2+ gets open emergencies and located
officers, level 1 its own open tasks. `/ws/connect?bbox=w,s,e,n` sets the bounding box of
location events from the start (the first snapshot honours it).
";

/// What a client may send: one JSON object `{"event_type": …, "data": …}`. Anything else is
/// answered with an `error` frame and the socket stays open. (The socket reads these leniently,
/// see `socket::answer`: unknown event type names in a list are ignored.)
#[derive(ToSchema)]
#[serde(tag = "event_type", content = "data", rename_all = "snake_case")]
pub enum Command {
    /// Narrows the socket to these event types (the first subscription replaces "every type";
    /// `alert`, `error`, `ping` and `connection_ack` are always delivered), adds topics (at most
    /// 100 per socket) and sets or clears the bounding box. Answered with the `notification`
    /// "Suscripción confirmada" and, when it sets a `bbox` on a level 2+ socket, a fresh
    /// `system_status`.
    Subscribe(Subscribe),
    /// Removes event types and topics from the subscription; no answer.
    Unsubscribe(Unsubscribe),
    /// Answered with `pong`.
    Ping,
    /// The answer to the server's `ping` (any frame keeps the socket alive).
    Pong,
    /// Level 2+: answered with `dashboard_update`, at most once per second (else `error`).
    DashboardUpdate,
    /// Level 2+: answered with `metrics_update`.
    MetricsUpdate,
}

/// `data` of a `subscribe`.
#[derive(ToSchema)]
pub struct Subscribe {
    /// Event types to receive.
    pub events: Option<Vec<EventType>>,
    /// Topics to receive (`task:<id>`, `efectivo:<id>`, `emergencias`, `monitoreo`).
    pub topics: Option<Vec<String>>,
    /// `[w, s, e, n]` in degrees (`w > e` crosses the antimeridian, `s ≤ n`): location events
    /// only of officers inside it; `null` clears it.
    #[schema(min_items = 4, max_items = 4)]
    pub bbox: Option<Vec<f64>>,
}

/// `data` of an `unsubscribe`.
#[derive(ToSchema)]
pub struct Unsubscribe {
    pub events: Option<Vec<EventType>>,
    pub topics: Option<Vec<String>>,
}

fn to_value(s: &RefOr<Schema>) -> Value {
    serde_json::to_value(s).unwrap_or(Value::Null)
}

/// `task_created` → `taskCreated`.
fn camel(snake: &str) -> String {
    let mut out = String::with_capacity(snake.len());
    let mut upper = false;
    for c in snake.chars() {
        if c == '_' {
            upper = true;
        } else if upper {
            out.extend(c.to_uppercase());
            upper = false;
        } else {
            out.push(c);
        }
    }
    out
}

/// The doc comment of a variant, on one line.
fn one_line(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// The variants of an adjacently tagged enum's schema: (event_type, the variant's object
/// schema without its description, the description).
fn variants(schema: &RefOr<Schema>) -> Vec<(String, Value, String)> {
    let v = to_value(schema);
    let items = v["oneOf"].as_array().cloned().unwrap_or_default();
    items
        .into_iter()
        .filter_map(|mut item| {
            let tag = item["properties"]["event_type"]["enum"][0]
                .as_str()?
                .to_string();
            let description = item
                .as_object_mut()
                .and_then(|o| o.remove("description"))
                .and_then(|d| d.as_str().map(one_line))
                .unwrap_or_default();
            if let Some(props) = item["properties"].as_object_mut() {
                match props.get_mut("data") {
                    Some(Value::Object(data)) => {
                        data.remove("description");
                    }
                    // A variant without payload (`{"event_type": "ping"}`) has no `data`.
                    Some(Value::Null) => {
                        props.remove("data");
                    }
                    _ => {}
                }
            }
            Some((tag, item, description))
        })
        .collect()
}

/// The document, as JSON.
pub fn document() -> Value {
    let mut found: Vec<(String, RefOr<Schema>)> = Vec::new();
    Event::schemas(&mut found);
    Command::schemas(&mut found);
    found.push((Delivery::name().into(), Delivery::schema()));
    let schemas: BTreeMap<String, Value> = found
        .iter()
        .map(|(name, s)| (name.clone(), to_value(s)))
        .collect();

    let mut messages = Map::new();
    let mut sent = Vec::new();
    for (tag, object, summary) in variants(&Event::schema()) {
        let name = camel(&tag);
        messages.insert(
            name.clone(),
            json!({
                "name": tag,
                "summary": summary,
                "payload": {"allOf": [{"$ref": "#/components/schemas/Delivery"}, object]},
            }),
        );
        sent.push(name);
    }
    let mut received = Vec::new();
    for (tag, object, summary) in variants(&Command::schema()) {
        let name = format!("command{}", camel(&format!("_{tag}")));
        messages.insert(
            name.clone(),
            json!({"name": tag, "summary": summary, "payload": object}),
        );
        received.push(name);
    }
    let channel_messages: Map<String, Value> = messages
        .keys()
        .map(|m| {
            (
                m.clone(),
                json!({"$ref": format!("#/components/messages/{m}")}),
            )
        })
        .collect();
    let refs = |names: &[String]| -> Vec<Value> {
        names
            .iter()
            .map(|m| json!({"$ref": format!("#/channels/connect/messages/{m}")}))
            .collect()
    };
    json!({
        "asyncapi": "3.0.0",
        "info": {
            "title": "GAD realtime (WebSocket)",
            "version": env!("CARGO_PKG_VERSION"),
            "description": DESCRIPTION,
        },
        "servers": {
            "gad": {
                "host": "localhost:8000",
                "protocol": "ws",
                "security": [
                    {"$ref": "#/components/securitySchemes/ticket"},
                    {"$ref": "#/components/securitySchemes/bearer"},
                ],
            },
        },
        "channels": {
            "connect": {
                "address": "/ws/connect",
                "description": CHANNEL,
                "messages": channel_messages,
            },
        },
        "operations": {
            "sendEvents": {
                "action": "send",
                "summary": "What the server sends: events, the snapshot and answers.",
                "channel": {"$ref": "#/channels/connect"},
                "messages": refs(&sent),
            },
            "receiveCommands": {
                "action": "receive",
                "summary": "What a client may send.",
                "channel": {"$ref": "#/channels/connect"},
                "messages": refs(&received),
            },
        },
        "components": {
            "securitySchemes": {
                "ticket": {"type": "httpApiKey", "name": "ticket", "in": "query"},
                "bearer": {"type": "http", "scheme": "bearer"},
            },
            "schemas": schemas,
            "messages": messages,
        },
    })
}

/// The document as YAML (what `docs/asyncapi.yaml` holds).
pub fn yaml() -> String {
    let mut out = String::new();
    yaml_value(&mut out, &document(), 0);
    out
}

/// Keys written first, in this order, wherever they occur; the rest follow alphabetically.
const KEY_ORDER: [&str; 23] = [
    "asyncapi",
    "info",
    "title",
    "version",
    "address",
    "name",
    "summary",
    "description",
    "servers",
    "host",
    "protocol",
    "channels",
    "operations",
    "action",
    "channel",
    "components",
    "securitySchemes",
    "type",
    "format",
    "required",
    "properties",
    "payload",
    "messages",
];

fn ordered(map: &Map<String, Value>) -> Vec<(&String, &Value)> {
    let mut entries: Vec<(&String, &Value)> = map.iter().collect();
    entries.sort_by_key(|(k, _)| {
        (
            KEY_ORDER
                .iter()
                .position(|o| o == k)
                .unwrap_or(KEY_ORDER.len()),
            (*k).clone(),
        )
    });
    entries
}

fn is_block(v: &Value) -> bool {
    match v {
        Value::Object(m) => !m.is_empty(),
        Value::Array(a) => !a.is_empty(),
        _ => false,
    }
}

/// Writes `v` (a mapping or a sequence starts on the current line's continuation, indented
/// by `indent`).
fn yaml_value(out: &mut String, v: &Value, indent: usize) {
    let pad = " ".repeat(indent);
    match v {
        Value::Object(m) if !m.is_empty() => {
            for (k, child) in ordered(m) {
                out.push_str(&pad);
                out.push_str(&scalar_text(k, indent));
                out.push(':');
                if is_block(child) {
                    out.push('\n');
                    let inner = if child.is_array() { indent } else { indent + 2 };
                    yaml_value(out, child, inner);
                } else {
                    out.push(' ');
                    out.push_str(&inline(child, indent + 2));
                    out.push('\n');
                }
            }
        }
        Value::Array(a) if !a.is_empty() => {
            for item in a {
                out.push_str(&pad);
                out.push_str("- ");
                if is_block(item) {
                    // The item's first line goes after the dash, the rest aligned with it.
                    let mut nested = String::new();
                    yaml_value(&mut nested, item, indent + 2);
                    out.push_str(nested.trim_start());
                } else {
                    out.push_str(&inline(item, indent + 2));
                    out.push('\n');
                }
            }
        }
        other => {
            out.push_str(&pad);
            out.push_str(&inline(other, indent));
            out.push('\n');
        }
    }
}

/// A value written on one line (a multi-line string becomes a literal block indented by
/// `indent`).
fn inline(v: &Value, indent: usize) -> String {
    match v {
        Value::Null => "null".into(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => n.to_string(),
        Value::String(s) => scalar_text(s, indent),
        Value::Object(_) => "{}".into(),
        Value::Array(_) => "[]".into(),
    }
}

/// A string as YAML: plain when nothing in it can be misread, a literal block when it spans
/// lines, double-quoted (JSON escapes are valid YAML escapes) otherwise.
fn scalar_text(s: &str, indent: usize) -> String {
    if plain_ok(s) {
        return s.to_string();
    }
    let body = s.strip_suffix('\n').unwrap_or(s);
    let literal_ok = s.contains('\n')
        && !body.starts_with([' ', '\t', '\n'])
        && !body.ends_with('\n')
        && !body.lines().any(|l| l.ends_with([' ', '\t']))
        && !s.chars().any(|c| c.is_control() && c != '\n');
    if literal_ok {
        let pad = " ".repeat(indent);
        let mut out = String::from(if s.ends_with('\n') { "|" } else { "|-" });
        for line in body.split('\n') {
            out.push('\n');
            if !line.is_empty() {
                out.push_str(&pad);
                out.push_str(line);
            }
        }
        return out;
    }
    serde_json::to_string(s).unwrap_or_default()
}

/// Conservative: letters, digits and a few harmless characters, not starting like a number or
/// an indicator, and not a word YAML reads as something else.
fn plain_ok(s: &str) -> bool {
    let Some(first) = s.chars().next() else {
        return false;
    };
    let word = s.to_ascii_lowercase();
    let reserved = [
        "null", "~", "true", "false", "yes", "no", "on", "off", "y", "n",
    ];
    (first.is_alphabetic() || first == '/' || first == '$' || first == '_')
        && !reserved.contains(&word.as_str())
        && !s.ends_with(' ')
        && s.chars().all(|c| {
            c.is_alphanumeric()
                || matches!(c, ' ' | '_' | '-' | '.' | '/' | '$' | '(' | ')' | ',' | '+')
                || (!c.is_ascii() && !c.is_whitespace() && !c.is_control() && c != '\u{feff}')
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scalars_are_quoted_when_yaml_could_misread_them() {
        assert_eq!(scalar_text("task_created", 0), "task_created");
        assert_eq!(scalar_text("1", 0), "\"1\"");
        assert_eq!(scalar_text("yes", 0), "\"yes\"");
        assert_eq!(scalar_text("a: b", 0), "\"a: b\"");
        assert_eq!(scalar_text("#/components", 0), "\"#/components\"");
        assert_eq!(scalar_text("", 0), "\"\"");
        assert_eq!(scalar_text("one\ntwo", 2), "|-\n  one\n  two");
        assert_eq!(scalar_text("one\n\ntwo\n", 2), "|\n  one\n\n  two");
        assert_eq!(scalar_text(" lead\nx", 2), "\" lead\\nx\"");
    }

    #[test]
    fn every_event_type_sent_has_a_message() {
        let doc = document();
        for t in [
            "connection_ack",
            "system_status",
            "task_created",
            "task_updated",
            "task_status_changed",
            "task_assigned",
            "efectivo_status_changed",
            "efectivo_location_update",
            "alert",
            "notification",
            "dashboard_update",
            "metrics_update",
            "ping",
            "pong",
            "error",
            "task_note_added",
            "task_attachment_added",
            "shift_clock",
            "alert_seen",
        ] {
            assert_eq!(doc["components"]["messages"][camel(t)]["name"], t, "{t}");
        }
        assert_eq!(
            doc["components"]["messages"]["commandDashboardUpdate"]["name"],
            "dashboard_update"
        );
    }
}
