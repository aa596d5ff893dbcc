//! Validated text values. A `Codigo` is a task code that is not blank and has at most 50
//! characters once trimmed; an `Email` is a plausible address. Request types use them as their
//! field types, so a use case receives them already checked ("parse, don't validate").
//!
//! Each rule is written once, on the type: the same constants decide what `Deserialize` accepts
//! (a 422 with the contract's `type`/`msg`, see `Refusal`) and what the OpenAPI schema states
//! (`minLength`/`maxLength`/`pattern`), so the document and the server cannot disagree.

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::Value;

use crate::field_error::Refusal;
use crate::validate::rules;

/// A task code: surrounding white space (`rules::is_space`) trimmed, then
/// `MIN_CHARS..=MAX_CHARS` characters.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Codigo(String);

impl Codigo {
    pub const MIN_CHARS: usize = 1;
    pub const MAX_CHARS: usize = 50;
    /// At least one character that is neither white space nor NUL (the API refuses NUL in
    /// every string before it reads a body).
    pub const PATTERN: &str = r"^[^\x00]*[^\s\x00\x85][^\x00]*$";
    const DESCRIPTION: &str = "Task code: not blank, at most 50 characters once surrounding white space is trimmed (it is stored trimmed).";

    /// The code `raw` holds, trimmed; the refusal echoes the trimmed text.
    pub fn parse(raw: &str) -> Result<Codigo, Refusal> {
        let v = rules::trim(raw);
        match rules::length_problem(v, Self::MIN_CHARS, Self::MAX_CHARS) {
            None => Ok(Codigo(v.to_string())),
            Some((kind, msg)) => Err(Refusal {
                kind: kind.into(),
                msg,
                input: Value::String(v.to_string()),
                stand_in: Value::String("X".into()),
            }),
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// An e-mail address: at most `MAX_BYTES` bytes, one `@` with a non-empty local part before it
/// and a domain after it that contains a dot but neither starts nor ends with one, no white
/// space (`rules::is_space`). `PATTERN` says the same for the OpenAPI document.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Email(String);

impl Email {
    pub const MAX_BYTES: usize = 254;
    pub const PATTERN: &str =
        r"^[^@\s\x00\x85]+@[^@\s.\x00\x85][^@\s\x00\x85]*\.[^@\s\x00\x85]*[^@\s.\x00\x85]$";
    const DESCRIPTION: &str = "E-mail address: local part, one @, a domain with a dot inside it; no white space; at most 254 bytes of UTF-8.";

    /// The address `raw` holds, unchanged; the refusal echoes `raw`.
    pub fn parse(raw: &str) -> Result<Email, Refusal> {
        let ok = raw.len() <= Self::MAX_BYTES
            && raw.split_once('@').is_some_and(|(local, domain)| {
                !local.is_empty()
                    && domain.contains('.')
                    && !domain.starts_with('.')
                    && !domain.ends_with('.')
                    && !domain.contains('@')
                    && !raw.contains(rules::is_space)
            });
        if ok {
            Ok(Email(raw.to_string()))
        } else {
            Err(Refusal {
                kind: "value_error".into(),
                msg: "value is not a valid email address".into(),
                input: Value::String(raw.to_string()),
                stand_in: Value::String("a@b.co".into()),
            })
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// serde (a plain JSON string, refused with the type's `Refusal`) and the OpenAPI schema (a
/// string with the type's bounds and pattern).
macro_rules! text_value {
    ($name:ident, min = $min:expr, max = $max:expr) => {
        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(&self.0)
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let raw = String::deserialize(d)?;
                $name::parse(&raw).map_err(Refusal::into_serde)
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl utoipa::PartialSchema for $name {
            fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
                use utoipa::openapi::schema::{ObjectBuilder, Type};
                ObjectBuilder::new()
                    .description(Some($name::DESCRIPTION))
                    .schema_type(Type::String)
                    .min_length($min)
                    .max_length(Some($max))
                    .pattern(Some($name::PATTERN))
                    .into()
            }
        }
        impl utoipa::ToSchema for $name {}
    };
}

text_value!(
    Codigo,
    min = Some(Codigo::MIN_CHARS),
    max = Codigo::MAX_CHARS
);
text_value!(Email, min = None, max = Email::MAX_BYTES);

/// An address-search query: surrounding white space trimmed, then `MIN_CHARS..=MAX_CHARS`
/// characters.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Consulta(String);

impl Consulta {
    pub const MIN_CHARS: usize = 2;
    pub const MAX_CHARS: usize = crate::lugares::MAX_CHARS;
    /// At least two characters that are neither white space nor NUL.
    pub const PATTERN: &str = r"^[^\x00]*[^\s\x00\x85][^\x00]*[^\s\x00\x85][^\x00]*$";
    const DESCRIPTION: &str =
        "Search text: 2 to 200 characters once surrounding white space is trimmed.";

    /// The query `raw` holds, trimmed; the refusal echoes the trimmed text.
    pub fn parse(raw: &str) -> Result<Consulta, Refusal> {
        let v = rules::trim(raw);
        match rules::length_problem(v, Self::MIN_CHARS, Self::MAX_CHARS) {
            None => Ok(Consulta(v.to_string())),
            Some((kind, msg)) => Err(Refusal {
                kind: kind.into(),
                msg,
                input: Value::String(v.to_string()),
                stand_in: Value::String("XX".into()),
            }),
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

text_value!(
    Consulta,
    min = Some(Consulta::MIN_CHARS),
    max = Consulta::MAX_CHARS
);

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use utoipa::PartialSchema;

    fn refused<T: for<'de> Deserialize<'de> + std::fmt::Debug>(v: Value) -> Refusal {
        let e = serde_json::from_value::<T>(v.clone())
            .err()
            .unwrap_or_else(|| panic!("{v} accepted"));
        Refusal::from_serde_message(&e.to_string())
            .unwrap_or_else(|| panic!("{e} is not a refusal"))
    }

    #[test]
    fn codigo_is_trimmed_and_bounded() {
        let c: Codigo = serde_json::from_value(json!("  T-1\u{feff} ")).unwrap();
        assert_eq!(c.as_str(), "T-1");
        assert_eq!(serde_json::to_value(&c).unwrap(), json!("T-1"));
        assert!(Codigo::parse(&"x".repeat(50)).is_ok());
        assert!(Codigo::parse(&format!(" {} ", "é".repeat(50))).is_ok());

        let r = refused::<Codigo>(json!(" \t "));
        assert_eq!(r.kind, "string_too_short");
        assert_eq!(r.msg, "String should have at least 1 character");
        assert_eq!(r.input, json!(""));
        let r = refused::<Codigo>(json!("x".repeat(51)));
        assert_eq!(r.kind, "string_too_long");
        assert_eq!(r.msg, "String should have at most 50 characters");
        assert_eq!(r.input, json!("x".repeat(51)));
        // Not a string: serde's own type error, not a refusal.
        let e = serde_json::from_value::<Codigo>(json!(5)).unwrap_err();
        assert_eq!(
            e.to_string(),
            "invalid type: integer `5`, expected a string"
        );
    }

    #[test]
    fn email_rule() {
        for ok in [
            "a@b.co",
            "nombre.apellido@policia.gob.ar",
            "ñ@dominio.com.ar",
        ] {
            assert_eq!(Email::parse(ok).map(|e| e.to_string()), Ok(ok.to_string()));
        }
        let long = format!("{}@b.co", "a".repeat(Email::MAX_BYTES - 5));
        assert!(Email::parse(&long).is_ok());
        for bad in [
            "",
            "not-an-email",
            "@b.co",
            "a@bco",
            "a@.b.co",
            "a@b.co.",
            "a@b@c.co",
            "a b@c.co",
            " a@b.co",
            "a@b.co\u{feff}",
            "a@b.co\u{85}",
            &format!("x{long}"),
        ] {
            let r = refused::<Email>(json!(bad));
            assert_eq!(
                r,
                Refusal {
                    kind: "value_error".into(),
                    msg: "value is not a valid email address".into(),
                    input: json!(bad),
                    stand_in: json!("a@b.co"),
                },
                "{bad:?}"
            );
        }
    }

    /// A reader may put the stand-in where the refused input was: it must be accepted.
    #[test]
    fn stand_ins_are_valid() {
        let r = refused::<Codigo>(json!(""));
        assert!(serde_json::from_value::<Codigo>(r.stand_in).is_ok());
        let r = refused::<Email>(json!("x"));
        assert!(serde_json::from_value::<Email>(r.stand_in).is_ok());
    }

    /// The schema states the constants `parse` uses.
    #[test]
    fn schemas_state_the_rules() {
        let s = serde_json::to_value(Codigo::schema()).unwrap();
        assert_eq!(s["type"], "string");
        assert_eq!(s["minLength"], json!(Codigo::MIN_CHARS));
        assert_eq!(s["maxLength"], json!(Codigo::MAX_CHARS));
        assert_eq!(s["pattern"], Codigo::PATTERN);
        let s = serde_json::to_value(Email::schema()).unwrap();
        assert_eq!(s["type"], "string");
        assert_eq!(s.get("minLength"), None);
        assert_eq!(s["maxLength"], json!(Email::MAX_BYTES));
        assert_eq!(s["pattern"], Email::PATTERN);
    }

    #[test]
    fn a_refusal_reads_back_through_serde_text() {
        let r = Codigo::parse("").unwrap_err();
        let e: serde_json::Error = r.clone().into_serde();
        assert!(e.to_string().starts_with(crate::field_error::REFUSED));
        assert_eq!(Refusal::from_serde_message(&e.to_string()), Some(r.clone()));
        let with_position = format!("{e} at line 1 column 12");
        assert_eq!(Refusal::from_serde_message(&with_position), Some(r));
        assert_eq!(Refusal::from_serde_message("value_error: x"), None);
    }
}
