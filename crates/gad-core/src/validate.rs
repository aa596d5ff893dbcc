//! Field-level rules that serde cannot express (lengths, ranges, cross-field checks), shared by
//! every door: the HTTP extractors run them, and so does any adapter that builds an input itself.

use crate::FieldError;
use serde_json::Value;

/// Field-level rules that serde cannot express (lengths, ranges, cross-field checks).
pub trait Validate {
    fn validate(&self, _errors: &mut Vec<FieldError>) {}
}

/// Runs `validate` and answers the errors, if any.
pub fn check<T: Validate>(t: &T) -> Result<(), Vec<FieldError>> {
    let mut errors = Vec::new();
    t.validate(&mut errors);
    if errors.is_empty() {
        Ok(())
    } else {
        Err(errors)
    }
}

/// Helpers for `Validate` impls.
pub mod rules {
    use super::*;

    /// What is wrong with the length of `v` (counted in characters) against `min..=max`, as
    /// the 422's (`type`, `msg`); None when it fits.
    pub fn length_problem(v: &str, min: usize, max: usize) -> Option<(&'static str, String)> {
        let n = v.chars().count();
        if n < min {
            Some((
                "string_too_short",
                format!(
                    "String should have at least {min} character{}",
                    if min == 1 { "" } else { "s" }
                ),
            ))
        } else if n > max {
            Some((
                "string_too_long",
                format!("String should have at most {max} characters"),
            ))
        } else {
            None
        }
    }

    pub fn len(errors: &mut Vec<FieldError>, field: &str, v: &str, min: usize, max: usize) {
        if let Some((kind, msg)) = length_problem(v, min, max) {
            errors.push(FieldError::body(
                field,
                kind,
                msg,
                Value::String(v.to_string()),
            ));
        }
    }

    pub fn opt_len(
        errors: &mut Vec<FieldError>,
        field: &str,
        v: &Option<String>,
        min: usize,
        max: usize,
    ) {
        if let Some(v) = v {
            len(errors, field, v, min, max);
        }
    }

    pub fn range_at(
        errors: &mut Vec<FieldError>,
        root: &str,
        field: &str,
        v: f64,
        min: f64,
        max: f64,
    ) {
        if !v.is_finite() || v < min || v > max {
            errors.push(FieldError::new(
                "value_error",
                &[root, field],
                format!("Input should be between {min} and {max}"),
                serde_json::json!(v),
            ));
        }
    }

    pub fn range(errors: &mut Vec<FieldError>, field: &str, v: f64, min: f64, max: f64) {
        range_at(errors, "body", field, v, min, max);
    }

    pub fn opt_range(
        errors: &mut Vec<FieldError>,
        field: &str,
        v: Option<f64>,
        min: f64,
        max: f64,
    ) {
        if let Some(v) = v {
            range(errors, field, v, min, max);
        }
    }

    /// A timestamp in the years 1000–9999 (UTC): anything else is a typo, and years before 1
    /// could not even be written back as RFC 3339.
    pub fn plausible_time(
        errors: &mut Vec<FieldError>,
        root: &str,
        field: &str,
        v: Option<chrono::DateTime<chrono::Utc>>,
    ) {
        use chrono::Datelike;
        if let Some(t) = v
            && !(1000..=9999).contains(&t.year())
        {
            errors.push(FieldError::new(
                "value_error",
                &[root, field],
                "Input should be a date between the years 1000 and 9999",
                Value::String(crate::time::rfc3339(t)),
            ));
        }
    }

    /// Trims `is_space` characters.
    pub fn trim(v: &str) -> &str {
        v.trim_matches(is_space)
    }

    /// Unicode White_Space plus U+FEFF: the union of Rust's and ECMAScript's `\s`, so an
    /// OpenAPI pattern's `\s` (with `\x85`, which ECMAScript leaves out) means the same here.
    pub fn is_space(c: char) -> bool {
        c.is_whitespace() || c == '\u{feff}'
    }

    /// Pagination shared by every list (contract §1): skip ≥ 0, limit 1–500.
    pub fn pagination(errors: &mut Vec<FieldError>, skip: Option<i64>, limit: Option<i64>) {
        if let Some(s) = skip
            && s < 0
        {
            errors.push(FieldError::query(
                "skip",
                "greater_than_equal",
                "Input should be greater than or equal to 0",
                Value::from(s),
            ));
        }
        if let Some(l) = limit
            && !(1..=500).contains(&l)
        {
            errors.push(FieldError::query(
                "limit",
                "value_error",
                "Input should be between 1 and 500",
                Value::from(l),
            ));
        }
    }
}
