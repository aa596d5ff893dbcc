//! Validated geographic values. A `Lat` can only hold −90..=90, a `Lng` −180..=180 and a
//! `RadiusM` 100..=100 000 metres; request types use them as their field types, so a handler
//! receives coordinates already checked ("parse, don't validate").
//!
//! Each bound is written once, as the type's `MIN`/`MAX`: the same constants decide what
//! `Deserialize` accepts (a 422 `value_error` when out of range) and what the OpenAPI schema
//! states (`minimum`/`maximum`), so the document and the server cannot disagree.

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use thiserror::Error;

use crate::FieldError;

#[derive(Debug, Error, PartialEq)]
#[error("{0}")]
pub struct RangeError(pub String);

impl RangeError {
    /// The 422 entry for `input` refused at `["body", field]`, for an adapter that builds a
    /// bounded value from a number it read itself rather than through serde.
    pub fn at_body(&self, field: &str, input: f64) -> FieldError {
        FieldError::body(
            field,
            "value_error",
            self.0.clone(),
            serde_json::json!(input),
        )
    }
}

fn check(v: f64, lo: f64, hi: f64) -> Result<f64, RangeError> {
    if v.is_finite() && (lo..=hi).contains(&v) {
        Ok(v)
    } else {
        Err(RangeError(format!("Input should be between {lo} and {hi}")))
    }
}

/// Prefix that the HTTP extractors read as a 422 of type `value_error` (the rest is its `msg`).
const VALUE_ERROR: &str = "value_error: ";

/// A finite `f64` within `MIN..=MAX`: constructor, accessor, serde (a plain JSON number) and an
/// OpenAPI schema (`number`, `double`, `minimum`/`maximum`), all from the same two constants.
macro_rules! bounded_f64 {
    ($doc:literal $name:ident, $min:expr, $max:expr) => {
        #[doc = $doc]
        #[derive(Debug, Clone, Copy, PartialEq)]
        pub struct $name(f64);

        impl $name {
            pub const MIN: f64 = $min;
            pub const MAX: f64 = $max;

            pub fn new(v: f64) -> Result<Self, RangeError> {
                check(v, Self::MIN, Self::MAX).map($name)
            }
            pub fn get(self) -> f64 {
                self.0
            }
        }

        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_f64(self.0)
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let v = f64::deserialize(d)?;
                $name::new(v).map_err(|e| serde::de::Error::custom(format!("{VALUE_ERROR}{e}")))
            }
        }

        /// In the OpenAPI document: a double within exactly the bounds `Deserialize` enforces.
        impl utoipa::PartialSchema for $name {
            fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
                use utoipa::openapi::schema::{KnownFormat, ObjectBuilder, SchemaFormat, Type};
                ObjectBuilder::new()
                    .description(Some($doc))
                    .schema_type(Type::Number)
                    .format(Some(SchemaFormat::KnownFormat(KnownFormat::Double)))
                    .minimum(Some(schema_number(Self::MIN)))
                    .maximum(Some(schema_number(Self::MAX)))
                    .into()
            }
        }
        impl utoipa::ToSchema for $name {}
    };
}

/// A bound as the schema writes it: a whole number without a fraction (`90`, not `90.0`).
fn schema_number(v: f64) -> utoipa::Number {
    if v.fract() == 0.0 && v.abs() < 9.0e15 {
        utoipa::Number::Int(v as isize)
    } else {
        utoipa::Number::Float(v)
    }
}

bounded_f64!("Latitude in degrees (WGS 84)." Lat, -90.0, 90.0);
bounded_f64!("Longitude in degrees (WGS 84)." Lng, -180.0, 180.0);
bounded_f64!("Search radius in metres." RadiusM, 100.0, 100_000.0);

impl RadiusM {
    /// The radius of a search that names none.
    pub const DEFAULT: RadiusM = RadiusM(10_000.0);
}

/// Distances, durations and rates on the wire carry two decimals (metres, hours, per day): the
/// one rounding every answer uses.
pub fn round2(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{Value, json};
    use utoipa::PartialSchema;

    #[test]
    fn ranges() {
        assert!(Lat::new(-34.6).is_ok());
        assert!(Lat::new(90.1).is_err());
        assert!(Lat::new(f64::NAN).is_err());
        assert!(Lng::new(-180.0).is_ok());
        assert!(Lng::new(181.0).is_err());
        assert!(RadiusM::new(99.0).is_err());
        assert!(RadiusM::new(100_000.0).is_ok());
        assert_eq!(RadiusM::new(RadiusM::DEFAULT.get()), Ok(RadiusM::DEFAULT));
    }

    /// The schema's `minimum`/`maximum` and what `Deserialize` accepts, for one type: the
    /// bounds themselves pass, numbers just outside them do not.
    fn schema_agrees_with_deserialize<T>() -> Result<(), String>
    where
        T: PartialSchema + for<'de> Deserialize<'de> + Serialize + std::fmt::Debug,
    {
        let schema = serde_json::to_value(T::schema()).map_err(|e| e.to_string())?;
        assert_eq!(schema["type"], "number", "{schema}");
        assert_eq!(schema["format"], "double", "{schema}");
        let bound = |k: &str| schema[k].as_f64().ok_or(format!("no {k} in {schema}"));
        let (min, max) = (bound("minimum")?, bound("maximum")?);
        for ok in [min, max, (min + max) / 2.0] {
            let v: T = serde_json::from_value(json!(ok)).map_err(|e| format!("{ok}: {e}"))?;
            assert_eq!(
                serde_json::to_value(&v).map_err(|e| e.to_string())?,
                json!(ok)
            );
        }
        for bad in [min - 1e-6, max + 1e-6] {
            let e = serde_json::from_value::<T>(json!(bad))
                .err()
                .ok_or(format!("{bad} accepted"))?;
            assert_eq!(
                e.to_string(),
                format!("value_error: Input should be between {min} and {max}")
            );
        }
        assert!(serde_json::from_value::<T>(Value::from("1")).is_err());
        Ok(())
    }

    #[test]
    fn schema_bounds_are_the_ones_deserialize_enforces() -> Result<(), String> {
        schema_agrees_with_deserialize::<Lat>()?;
        schema_agrees_with_deserialize::<Lng>()?;
        schema_agrees_with_deserialize::<RadiusM>()
    }

    #[test]
    fn messages_match_the_range_rule() {
        let e = serde_json::from_value::<Lat>(json!(-91))
            .err()
            .map(|e| e.to_string());
        assert_eq!(
            e.as_deref(),
            Some("value_error: Input should be between -90 and 90")
        );
        let e = serde_json::from_value::<RadiusM>(json!(99))
            .err()
            .map(|e| e.to_string());
        assert_eq!(
            e.as_deref(),
            Some("value_error: Input should be between 100 and 100000")
        );
    }
}
