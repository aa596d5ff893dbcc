//! The one shape of a validation failure (contract §2's 422 entries), shared by every layer:
//! value types in this crate, the use cases and the HTTP extractors all build it with
//! `FieldError::at` (which never echoes a password).

use serde::Serialize;
use serde_json::Value;

/// One entry of a 422 body. What it echoes of the input is capped (`ECHO_LIMIT`) and a
/// password field is never echoed (see `echo`).
#[derive(Debug, Clone, Serialize, PartialEq, utoipa::ToSchema)]
pub struct FieldError {
    /// Machine-readable kind (`missing`, `enum`, `string_too_short`, `string_nul`, …).
    #[serde(rename = "type")]
    pub kind: String,
    /// Where: `["body"|"query"|"path"|"header", name, …]`.
    pub loc: Vec<Value>,
    pub msg: String,
    /// The offending input, capped (never a password).
    #[serde(serialize_with = "serialize_echo")]
    pub input: Value,
}

/// Most bytes of a client's input a validation error repeats back.
pub const ECHO_LIMIT: usize = 200;

/// What a 422 may repeat of `input`: the value itself when its JSON is at most `ECHO_LIMIT`
/// bytes, else the first bytes of that JSON as a string ending in "…" (≤ `ECHO_LIMIT` bytes).
pub fn echo(input: &Value) -> Value {
    let text = match input {
        Value::String(s) if s.len() <= ECHO_LIMIT => return input.clone(),
        Value::String(s) => s.clone(),
        Value::Null | Value::Bool(_) | Value::Number(_) => return input.clone(),
        other => {
            let t = other.to_string();
            if t.len() <= ECHO_LIMIT {
                return input.clone();
            }
            t
        }
    };
    let ellipsis = "…";
    let mut cut = ECHO_LIMIT - ellipsis.len();
    while !text.is_char_boundary(cut) {
        cut -= 1;
    }
    Value::String(format!("{}{ellipsis}", &text[..cut]))
}

fn serialize_echo<S: serde::Serializer>(input: &Value, s: S) -> Result<S::Ok, S::Error> {
    echo(input).serialize(s)
}

/// True for a `loc` that names a password field: its input is never echoed.
fn is_secret_loc(loc: &[Value]) -> bool {
    loc.iter()
        .filter_map(Value::as_str)
        .any(|k| k.to_ascii_lowercase().contains("password"))
}

impl FieldError {
    pub fn new(kind: &str, loc: &[&str], msg: impl Into<String>, input: Value) -> FieldError {
        FieldError::at(
            kind,
            loc.iter()
                .map(|s| Value::String((*s).to_string()))
                .collect(),
            msg,
            input,
        )
    }
    /// The one constructor: a password field's input is dropped here, so no path can echo it.
    pub fn at(kind: &str, loc: Vec<Value>, msg: impl Into<String>, input: Value) -> FieldError {
        let input = if is_secret_loc(&loc) {
            Value::Null
        } else {
            input
        };
        FieldError {
            kind: kind.to_string(),
            loc,
            msg: msg.into(),
            input,
        }
    }
    /// A body field error: `loc` = ["body", field].
    pub fn body(field: &str, kind: &str, msg: impl Into<String>, input: Value) -> FieldError {
        FieldError::new(kind, &["body", field], msg, input)
    }
    pub fn query(field: &str, kind: &str, msg: impl Into<String>, input: Value) -> FieldError {
        FieldError::new(kind, &["query", field], msg, input)
    }
}

/// A value type's refusal while it is deserialised (`text::Codigo`, `text::Email`): the 422
/// entry it stands for, without the `loc` that only the reader knows. serde carries errors as
/// text, so a refusal travels as `REFUSED` followed by its JSON; `from_serde_message` reads it
/// back, and a reader that does not know the format still shows a readable message.
///
/// `stand_in` is a valid value of the refusing type: a reader that wants every field's error,
/// as the contract's 422 lists them, puts it in place of the refused input and reads on.
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize)]
pub struct Refusal {
    #[serde(rename = "type")]
    pub kind: String,
    pub msg: String,
    pub input: Value,
    pub stand_in: Value,
}

/// How a refusal's text starts.
pub const REFUSED: &str = "refused: ";

impl Refusal {
    /// The serde error that carries this refusal.
    pub fn into_serde<E: serde::de::Error>(self) -> E {
        let json = serde_json::to_string(&self).unwrap_or_default();
        E::custom(format!("{REFUSED}{json}"))
    }

    /// The refusal a serde error message carries, if it is one. Text after the JSON (a
    /// deserializer's " at line … column …") is ignored.
    pub fn from_serde_message(msg: &str) -> Option<Refusal> {
        let json = msg.strip_prefix(REFUSED)?;
        serde_json::Deserializer::from_str(json)
            .into_iter::<Refusal>()
            .next()?
            .ok()
    }

    /// The 422 entry at `loc`.
    pub fn at(self, loc: Vec<Value>) -> FieldError {
        FieldError::at(&self.kind, loc, self.msg, self.input)
    }
}
