//! Request extractors that turn bad input into the contract's 422 body (`loc` starting with
//! `body`, `query` or `path`). Put them after the auth extractor in a handler's arguments so
//! authentication is checked before the body is validated.

use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::error::{ApiError, ECHO_LIMIT, FieldError};
use gad_core::field_error::Refusal;
use gad_service::ServiceError;

pub use gad_core::validate::{Validate, rules};

/// JSON body, parsed and validated.
pub struct ValidJson<T>(pub T);

/// Query string, parsed and validated.
pub struct ValidQuery<T>(pub T);

/// Path parameters, parsed.
pub struct ValidPath<T>(pub T);

impl<S, T> FromRequest<S> for ValidJson<T>
where
    S: Send + Sync,
    T: DeserializeOwned + Validate,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, _state: &S) -> Result<Self, Self::Rejection> {
        let bytes = read_body(req.into_body()).await?;
        parse_json_body(&bytes).map(ValidJson)
    }
}

/// The raw request body, read within the route's limit (set by the gateway): 413 past it.
pub struct RawBody(pub Bytes);

impl<S: Send + Sync> FromRequest<S> for RawBody {
    type Rejection = ApiError;

    async fn from_request(req: Request, _state: &S) -> Result<Self, Self::Rejection> {
        read_body(req.into_body()).await.map(RawBody)
    }
}

/// Reads a whole body; a length-limit error anywhere in the chain is a 413, others a 400.
pub async fn read_body(body: axum::body::Body) -> Result<Bytes, ApiError> {
    use http_body_util::BodyExt;
    match body.collect().await {
        Ok(c) => Ok(c.to_bytes()),
        Err(e) => {
            let mut cur: Option<&(dyn std::error::Error + 'static)> = Some(&e);
            while let Some(err) = cur {
                if err.is::<http_body_util::LengthLimitError>() {
                    return Err(ApiError::PayloadTooLarge);
                }
                cur = err.source();
            }
            Err(ApiError::from(ServiceError::BadRequest(
                "Could not read request body".into(),
            )))
        }
    }
}

/// Parses and validates a JSON body from bytes (also used by handlers accepting several formats).
///
/// The body is deserialised straight into `T` (no `serde_json::Value` of the whole body): an
/// 8 MiB array costs a scan, not a tree. Only on the error path is the (route-limited) body
/// read as a `Value`, to point at the failing field and echo a capped part of it.
pub fn parse_json_body<T: DeserializeOwned + Validate>(bytes: &[u8]) -> Result<T, ApiError> {
    let Some(first) = bytes.iter().find(|b| !b.is_ascii_whitespace()) else {
        return Err(ApiError::validation(FieldError::new(
            "missing",
            &["body"],
            "Field required",
            Value::Null,
        )));
    };
    if *first != b'{' {
        // Well-formed JSON that is not an object, or not JSON at all: checked without building it.
        if let Err(e) = serde_json::from_slice::<serde::de::IgnoredAny>(bytes) {
            return Err(json_invalid(&e));
        }
        let text = String::from_utf8_lossy(&bytes[..bytes.len().min(2 * ECHO_LIMIT)]);
        return Err(ApiError::validation(FieldError::new(
            "model_attributes_type",
            &["body"],
            "Input should be a valid dictionary or object",
            Value::String(text.trim().to_string()),
        )));
    }
    if contains_escaped_nul(bytes) {
        let mut raw: Value = serde_json::from_slice(bytes).map_err(|e| json_invalid(&e))?;
        // Only what the body type reads can reach a query: unknown keys are ignored.
        if let (Some(fields), Value::Object(m)) = (struct_fields::<T>(), &mut raw) {
            m.retain(|k, _| fields.contains(&k.as_str()));
        }
        if let Some(err) = nul_error(&raw, vec![Value::String("body".into())]) {
            return Err(ApiError::validation(err));
        }
    }
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let value: T = match serde_path_to_error::deserialize(&mut de) {
        Ok(v) => v,
        Err(e) if e.inner().is_syntax() || e.inner().is_eof() => {
            return Err(json_invalid(e.inner()));
        }
        Err(_) => {
            // Error path only: locate the field and its input with a tree of the body.
            let mut raw: Value = serde_json::from_slice(bytes).map_err(|e| json_invalid(&e))?;
            // JSON has one number type: `3.0` is the integer 3 (JSON Schema agrees), which serde
            // refuses for an integer field. Read again with integral floats written as integers.
            integral_floats_to_integers(&mut raw);
            return read_every_refusal::<T>(raw, "body");
        }
    };
    de.end().map_err(|e| json_invalid(&e))?;
    run_validate(value)
}

fn json_invalid(e: &serde_json::Error) -> ApiError {
    ApiError::validation(FieldError::new(
        "json_invalid",
        &["body"],
        format!("JSON decode error: {e}"),
        Value::Null,
    ))
}

/// Rewrites every float with no fractional part (within i64) as an integer; true if any was.
fn integral_floats_to_integers(v: &mut Value) -> bool {
    match v {
        Value::Number(n) if n.is_f64() => match n.as_f64() {
            Some(f) if f.fract() == 0.0 && f.abs() < 9.0e15 => {
                *v = Value::from(f as i64);
                true
            }
            _ => false,
        },
        // Every element is rewritten (no short circuit), so a loop rather than `any`.
        Value::Array(a) => {
            let mut changed = false;
            for x in a.iter_mut() {
                changed |= integral_floats_to_integers(x);
            }
            changed
        }
        Value::Object(m) => {
            let mut changed = false;
            for x in m.values_mut() {
                changed |= integral_floats_to_integers(x);
            }
            changed
        }
        _ => false,
    }
}

/// The wire names of the fields a derived `Deserialize` struct reads, which serde hands to
/// `deserialize_struct`; `None` for anything else (maps, untagged or flattened types).
fn struct_fields<T: DeserializeOwned>() -> Option<&'static [&'static str]> {
    let mut found = None;
    let _ = T::deserialize(FieldNames(&mut found));
    found
}

/// A deserializer that only records the field list it is asked for, then stops.
struct FieldNames<'a>(&'a mut Option<&'static [&'static str]>);

impl<'de> serde::Deserializer<'de> for FieldNames<'_> {
    type Error = serde::de::value::Error;

    fn deserialize_any<V: serde::de::Visitor<'de>>(self, _v: V) -> Result<V::Value, Self::Error> {
        Err(serde::de::Error::custom("not a struct"))
    }

    fn deserialize_struct<V: serde::de::Visitor<'de>>(
        self,
        _name: &'static str,
        fields: &'static [&'static str],
        _v: V,
    ) -> Result<V::Value, Self::Error> {
        *self.0 = Some(fields);
        Err(serde::de::Error::custom("fields recorded"))
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes byte_buf
        option unit unit_struct newtype_struct seq tuple tuple_struct map enum identifier
        ignored_any
    }
}

/// Cheap pre-check for `\u0000` escapes (a raw NUL byte is not valid JSON anyway).
fn contains_escaped_nul(bytes: &[u8]) -> bool {
    bytes.windows(6).any(|w| w == b"\\u0000")
}

const NUL_MSG: &str = "String should not contain the NUL character (\\u0000)";

/// The first string (value or key) holding a NUL character, as a 422 entry at its path.
/// PostgreSQL text cannot store NUL, so such input is refused before it reaches a query.
pub fn nul_error(v: &Value, loc: Vec<Value>) -> Option<FieldError> {
    match v {
        Value::String(s) if s.contains('\0') => Some(FieldError::at(
            "string_nul",
            loc,
            NUL_MSG,
            Value::String(s.replace('\0', "")),
        )),
        Value::Array(items) => items.iter().enumerate().find_map(|(i, x)| {
            let mut l = loc.clone();
            l.push(Value::from(i as u64));
            nul_error(x, l)
        }),
        Value::Object(m) => m.iter().find_map(|(k, x)| {
            let mut l = loc.clone();
            l.push(Value::String(k.replace('\0', "")));
            if k.contains('\0') {
                return Some(FieldError::at("string_nul", l, NUL_MSG, Value::Null));
            }
            nul_error(x, l)
        }),
        _ => None,
    }
}

/// A 422 when any of `values` (name, value) holds a NUL character, located at [`root`, name].
pub fn reject_nul<'a>(
    root: &str,
    values: impl IntoIterator<Item = (&'a str, &'a str)>,
) -> Result<(), ApiError> {
    for (name, value) in values {
        if value.contains('\0') {
            return Err(ApiError::validation(FieldError::new(
                "string_nul",
                &[root, name],
                NUL_MSG,
                Value::String(value.replace('\0', "")),
            )));
        }
    }
    Ok(())
}

fn run_validate<T: Validate>(value: T) -> Result<T, ApiError> {
    run_validate_after(Vec::new(), value)
}

/// `Validate`'s errors after `errors` (the fields already refused while reading).
fn run_validate_after<T: Validate>(mut errors: Vec<FieldError>, value: T) -> Result<T, ApiError> {
    value.validate(&mut errors);
    if errors.is_empty() {
        Ok(value)
    } else {
        Err(ServiceError::Validation(errors).into())
    }
}

/// Deserializes a JSON value, reporting the failing field's path under `root`.
pub fn deserialize_value<T: DeserializeOwned>(raw: &Value, root: &str) -> Result<T, ApiError> {
    serde_path_to_error::deserialize::<_, T>(raw)
        .map_err(|e| ApiError::validation(read_error(raw, root, &e)))
}

type ValueError = serde_path_to_error::Error<serde_json::Error>;

/// Reads `raw` into `T` and validates it, answering every field a value type refused (see
/// `gad_core::field_error::Refusal`) followed by `Validate`'s errors for the rest, as when each
/// field is checked on its own. Each refused input is replaced by the type's stand-in so that
/// reading goes on; any other error ends the reading and is answered alone.
fn read_every_refusal<T: DeserializeOwned + Validate>(
    mut raw: Value,
    root: &str,
) -> Result<T, ApiError> {
    let mut refused: Vec<FieldError> = Vec::new();
    loop {
        let e = match serde_path_to_error::deserialize::<_, T>(&raw) {
            Ok(v) => return run_validate_after(refused, v),
            Err(e) => e,
        };
        let err = read_error(&raw, root, &e);
        let refusal = Refusal::from_serde_message(&e.inner().to_string());
        let Some(stand_in) = refusal.map(|r| r.stand_in) else {
            return Err(ApiError::validation(err));
        };
        // A stand-in refused again, or with nowhere to go, would loop: answered as it is.
        let slot = raw.pointer_mut(&json_pointer(&e));
        let Some(slot) = slot.filter(|_| !refused.iter().any(|f| f.loc == err.loc)) else {
            return Err(ApiError::validation(err));
        };
        *slot = stand_in;
        refused.push(err);
        // Each refusal costs one more read of the body: a list of many refused values is
        // answered with its first ones.
        if refused.len() >= MAX_REFUSED {
            return Err(ServiceError::Validation(refused).into());
        }
    }
}

/// Most refused values one 422 lists.
const MAX_REFUSED: usize = 20;

/// The JSON pointer (RFC 6901) of the value `e` failed at.
fn json_pointer(e: &ValueError) -> String {
    let mut out = String::new();
    for seg in e.path().iter() {
        match seg {
            serde_path_to_error::Segment::Map { key } => {
                out.push('/');
                out.push_str(&key.replace('~', "~0").replace('/', "~1"));
            }
            serde_path_to_error::Segment::Seq { index } => {
                out.push('/');
                out.push_str(&index.to_string());
            }
            _ => {}
        }
    }
    out
}

/// The 422 entry for a failed read of `raw`: at the failing field's path under `root`.
fn read_error(raw: &Value, root: &str, e: &ValueError) -> FieldError {
    let mut loc: Vec<Value> = vec![Value::String(root.to_string())];
    let mut input = raw;
    let null = Value::Null;
    for seg in e.path().iter() {
        match seg {
            serde_path_to_error::Segment::Map { key } => {
                loc.push(Value::String(key.clone()));
                input = input.get(key).unwrap_or(&null);
            }
            serde_path_to_error::Segment::Seq { index } => {
                loc.push(Value::from(*index as u64));
                input = input.get(*index).unwrap_or(&null);
            }
            _ => {}
        }
    }
    let serde_msg = e.inner().to_string();
    if let Some(r) = Refusal::from_serde_message(&serde_msg) {
        return r.at(loc);
    }
    let mut input = bounded_echo(&serde_msg, input).unwrap_or_else(|| crate::error::echo(input));
    let (kind, msg) = classify(&serde_msg);
    // serde reports a missing field at its parent: add the field name to `loc`.
    if kind == "missing"
        && let Some(field) = missing_field_name(&serde_msg)
    {
        loc.push(Value::String(field));
        input = Value::Null;
    }
    FieldError::at(&kind, loc, msg, input)
}

/// Prefix of the errors a value type raises itself (`gad_core::geo`'s bounded numbers).
const VALUE_ERROR: &str = "value_error: ";

/// What a 422 echoes of a number that a bounded type (`Lat`, `Lng`, `RadiusM`) refused: the
/// `f64` it read (`91.0` for `91`), however the client wrote it; None for any other error.
fn bounded_echo(serde_msg: &str, input: &Value) -> Option<Value> {
    input
        .as_f64()
        .filter(|_| serde_msg.starts_with(VALUE_ERROR))
        .map(Value::from)
}

/// Turns a serde message into (type, msg) in the contract's vocabulary.
fn classify(serde_msg: &str) -> (String, String) {
    let clean = serde_msg
        .split(" at line ")
        .next()
        .unwrap_or(serde_msg)
        .to_string();
    if let Some(r) = Refusal::from_serde_message(serde_msg) {
        return (r.kind, r.msg);
    }
    if let Some(rest) = clean.strip_prefix("enum: ") {
        return ("enum".into(), rest.to_string());
    }
    if let Some(rest) = clean.strip_prefix(VALUE_ERROR) {
        return ("value_error".into(), rest.to_string());
    }
    if clean.starts_with("missing field") {
        return ("missing".into(), "Field required".into());
    }
    if clean.starts_with("unknown variant") {
        return ("enum".into(), clean);
    }
    if clean.starts_with("invalid type") || clean.starts_with("invalid value") {
        return ("type_error".into(), clean);
    }
    if clean.contains("premature end") || clean.contains("trailing") {
        return ("json_invalid".into(), clean);
    }
    ("value_error".into(), clean)
}

fn missing_field_name(msg: &str) -> Option<String> {
    let start = msg.find('`')? + 1;
    let end = start + msg[start..].find('`')?;
    Some(msg[start..end].to_string())
}

impl<S, T> FromRequestParts<S> for ValidQuery<T>
where
    S: Send + Sync,
    T: DeserializeOwned + Validate,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let query = parts.uri.query().unwrap_or("");
        parse_query(query).map(ValidQuery)
    }
}

/// Parses a query string into `T`; a bad value is a 422 at ["query", field]. Empty values
/// (`?estado=`) count as absent, as browsers send them for blank form fields.
pub fn parse_query<T: DeserializeOwned + Validate>(query: &str) -> Result<T, ApiError> {
    let filtered: String = query
        .split('&')
        .filter(|p| !p.is_empty() && !p.ends_with('='))
        .collect::<Vec<_>>()
        .join("&");
    let pairs: Vec<(String, String)> = form_urlencoded::parse(filtered.as_bytes())
        .into_owned()
        .collect();
    reject_nul("query", pairs.iter().map(|(k, v)| (k.as_str(), v.as_str())))?;
    let de = serde_urlencoded::Deserializer::new(form_urlencoded::parse(filtered.as_bytes()));
    let first = serde_path_to_error::deserialize::<_, T>(de);
    // `162.0` is the integer 162 (as in JSON bodies): retried once with the failing field's
    // integral decimal written as an integer.
    let first = match first {
        Err(e) => match integral_retry::<T>(&pairs, &e) {
            Some(v) => Ok(v),
            None => Err(e),
        },
        ok => ok,
    };
    let value = first.map_err(|e| {
        let field = e.path().iter().find_map(|seg| match seg {
            serde_path_to_error::Segment::Map { key } => Some(key.clone()),
            _ => None,
        });
        let inner = e.inner().to_string();
        let (kind, msg) = classify(&inner);
        let field = field
            .or_else(|| missing_field_name(&inner))
            .unwrap_or_default();
        // A query value is text; one a bounded type refused as out of range is echoed as the
        // number it was read as.
        let input = match Refusal::from_serde_message(&inner) {
            Some(r) => r.input,
            None => form_urlencoded::parse(filtered.as_bytes())
                .find(|(k, _)| *k == field)
                .map(|(_, v)| match v.parse::<f64>() {
                    Ok(f) if f.is_finite() && inner.starts_with(VALUE_ERROR) => Value::from(f),
                    _ => Value::String(v.into_owned()),
                })
                .unwrap_or(Value::Null),
        };
        ApiError::validation(FieldError::new(&kind, &["query", &field], msg, input))
    })?;
    run_validate(value)
}

/// The query deserialized again with the field named by `e` rewritten from `N.0…` to `N`, if
/// that is what it held.
fn integral_retry<T: DeserializeOwned>(
    pairs: &[(String, String)],
    e: &serde_path_to_error::Error<serde::de::value::Error>,
) -> Option<T> {
    let field = e.path().iter().find_map(|seg| match seg {
        serde_path_to_error::Segment::Map { key } => Some(key.clone()),
        _ => None,
    })?;
    let mut changed = false;
    let fixed: Vec<(String, String)> = pairs
        .iter()
        .map(|(k, v)| {
            let int = v.split_once('.').and_then(|(i, frac)| {
                let digits = i.strip_prefix('-').unwrap_or(i);
                (!digits.is_empty()
                    && digits.bytes().all(|b| b.is_ascii_digit())
                    && !frac.is_empty()
                    && frac.bytes().all(|b| b == b'0'))
                .then(|| i.to_string())
            });
            match int {
                Some(i) if *k == field => {
                    changed = true;
                    (k.clone(), i)
                }
                _ => (k.clone(), v.clone()),
            }
        })
        .collect();
    if !changed {
        return None;
    }
    let encoded = form_urlencoded::Serializer::new(String::new())
        .extend_pairs(&fixed)
        .finish();
    serde_urlencoded::from_str::<T>(&encoded).ok()
}

impl<S, T> FromRequestParts<S> for ValidPath<T>
where
    S: Send + Sync,
    T: DeserializeOwned + Send,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        use axum::extract::Path;
        use axum::extract::path::ErrorKind;
        let raw = axum::extract::RawPathParams::from_request_parts(parts, state)
            .await
            .map_err(ApiError::internal)?;
        reject_nul("path", raw.iter())?;
        match Path::<T>::from_request_parts(parts, state).await {
            Ok(Path(v)) => Ok(ValidPath(v)),
            Err(axum::extract::rejection::PathRejection::FailedToDeserializePathParams(e)) => {
                let (field, input, msg) = match e.kind() {
                    ErrorKind::ParseErrorAtKey {
                        key,
                        value,
                        expected_type,
                    } => (
                        key.clone(),
                        Value::String(value.clone()),
                        format!("Input should be a valid {expected_type}"),
                    ),
                    ErrorKind::ParseError {
                        value,
                        expected_type,
                    } => (
                        param_name_for(parts, value),
                        Value::String(value.clone()),
                        format!("Input should be a valid {expected_type}"),
                    ),
                    other => ("id".to_string(), Value::Null, other.to_string()),
                };
                Err(ApiError::validation(FieldError::new(
                    "type_error",
                    &["path", &field],
                    msg,
                    input,
                )))
            }
            Err(e) => Err(ApiError::internal(e)),
        }
    }
}

/// Name of the path parameter holding `value` (axum reports single-value errors without it).
fn param_name_for(parts: &Parts, value: &str) -> String {
    let Some(template) = parts.extensions.get::<axum::extract::MatchedPath>() else {
        return "id".to_string();
    };
    template
        .as_str()
        .split('/')
        .zip(parts.uri.path().split('/'))
        .find(|(t, v)| t.starts_with('{') && *v == value)
        .map(|(t, _)| t.trim_matches(|c| c == '{' || c == '}').to_string())
        .unwrap_or_else(|| "id".to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Deserialize, Debug)]
    #[allow(dead_code)]
    struct Body {
        lat: f64,
        estado: gad_core::EstadoTarea,
    }
    impl Validate for Body {}

    fn errors<T: std::fmt::Debug>(r: Result<T, ApiError>) -> Vec<FieldError> {
        match r {
            Err(ApiError::Service(ServiceError::Validation(e))) => e,
            other => panic!("expected validation error, got {other:?}"),
        }
    }

    #[test]
    fn missing_field_has_loc_body_field() {
        let e = errors(parse_json_body::<Body>(br#"{"estado":"programada"}"#));
        assert_eq!(e[0].loc, vec![Value::from("body"), Value::from("lat")]);
        assert_eq!(e[0].kind, "missing");
    }

    #[test]
    fn enum_error_lists_allowed_values() {
        let e = errors(parse_json_body::<Body>(br#"{"lat":1.0,"estado":"x"}"#));
        assert_eq!(e[0].loc, vec![Value::from("body"), Value::from("estado")]);
        assert_eq!(e[0].kind, "enum");
        assert!(e[0].msg.contains("'en_curso'"));
    }

    /// A bounded number refused while reading: the range rule's 422, at the field, echoing the
    /// number read, from a body and from a query alike.
    #[test]
    fn bounded_numbers_are_value_errors_at_the_field() {
        #[derive(Deserialize, Debug)]
        struct Near {
            #[allow(dead_code)]
            lat: gad_core::geo::Lat,
        }
        impl Validate for Near {}
        let refused = |r: Result<Near, ApiError>, root: &str| match r {
            Err(ApiError::Service(ServiceError::Validation(e))) => {
                assert_eq!(e[0].kind, "value_error");
                assert_eq!(e[0].loc, vec![Value::from(root), Value::from("lat")]);
                assert_eq!(e[0].msg, "Input should be between -90 and 90");
                assert_eq!(e[0].input, Value::from(91.0));
            }
            other => panic!("expected a 422, got {other:?}"),
        };
        refused(parse_json_body::<Near>(br#"{"lat": 91}"#), "body");
        refused(parse_query::<Near>("lat=91"), "query");
        assert!(parse_query::<Near>("lat=-90").is_ok());
    }

    /// A value type's refusal is a 422 with the type's own entry; every refused field is
    /// listed, then `Validate`'s errors; an error serde cannot read past is answered alone.
    #[test]
    fn refused_values_are_listed_with_the_other_fields_errors() {
        use gad_core::text::{Codigo, Email};
        #[derive(Deserialize, Debug)]
        #[allow(dead_code)]
        struct Both {
            codigo: Codigo,
            emails: Vec<Email>,
            n: Option<i64>,
            titulo: String,
        }
        impl Validate for Both {
            fn validate(&self, errors: &mut Vec<FieldError>) {
                rules::len(errors, "titulo", &self.titulo, 1, 5);
            }
        }
        let e = errors(parse_json_body::<Both>(
            br#"{"titulo": "", "codigo": "  ", "emails": ["a@b.co", "x"]}"#,
        ));
        let got: Vec<(String, Value, Value)> = e
            .into_iter()
            .map(|f| (f.kind, Value::Array(f.loc), f.input))
            .collect();
        assert_eq!(
            got,
            vec![
                (
                    "string_too_short".into(),
                    serde_json::json!(["body", "codigo"]),
                    Value::from("")
                ),
                (
                    "value_error".into(),
                    serde_json::json!(["body", "emails", 1]),
                    Value::from("x")
                ),
                (
                    "string_too_short".into(),
                    serde_json::json!(["body", "titulo"]),
                    Value::from("")
                ),
            ]
        );
        let e = errors(parse_json_body::<Both>(
            br#"{"titulo": "", "codigo": "", "emails": [], "n": "x"}"#,
        ));
        assert_eq!(e.len(), 1);
        assert_eq!(e[0].loc, vec![Value::from("body"), Value::from("n")]);
        assert_eq!(e[0].kind, "type_error");
        assert!(
            parse_json_body::<Both>(br#"{"titulo": "t", "codigo": " c ", "emails": []}"#)
                .is_ok_and(|b| b.codigo.as_str() == "c")
        );

        let many = serde_json::json!({"titulo": "t", "codigo": "c", "emails": vec!["x"; 30]});
        let e = errors(parse_json_body::<Both>(many.to_string().as_bytes()));
        assert_eq!(e.len(), MAX_REFUSED);

        #[derive(Deserialize, Debug)]
        #[allow(dead_code)]
        struct Q {
            codigo: Codigo,
        }
        impl Validate for Q {}
        let e = errors(parse_query::<Q>("codigo=%20%20"));
        assert_eq!(e[0].kind, "string_too_short");
        assert_eq!(e[0].msg, "String should have at least 1 character");
        assert_eq!(e[0].loc, vec![Value::from("query"), Value::from("codigo")]);
        assert_eq!(e[0].input, Value::from(""));
    }

    #[test]
    fn query_numbers_are_coerced_and_reported() {
        #[derive(Deserialize)]
        struct Q {
            #[allow(dead_code)]
            limit: Option<i64>,
        }
        impl Validate for Q {}
        assert!(parse_query::<Q>("limit=5").is_ok());
        match parse_query::<Q>("limit=abc") {
            Err(ApiError::Service(ServiceError::Validation(e))) => {
                assert_eq!(e[0].loc, vec![Value::from("query"), Value::from("limit")])
            }
            _ => panic!("expected 422"),
        }
    }
}
