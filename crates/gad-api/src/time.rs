//! Times on the wire: RFC 3339 UTC with `Z` and milliseconds (contract §1).

use chrono::{DateTime, SecondsFormat, Utc};
use serde::Serializer;

pub fn rfc3339(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

pub fn now_rfc3339() -> String {
    rfc3339(Utc::now())
}

/// Writes `2026-11-28T14:03:22.120Z` without an intermediate String (lists serialize
/// thousands of timestamps per second).
struct Rfc3339Millis(DateTime<Utc>);

impl std::fmt::Display for Rfc3339Millis {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        use chrono::{Datelike, Timelike};
        let t = &self.0;
        write!(
            f,
            "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z",
            t.year(),
            t.month(),
            t.day(),
            t.hour(),
            t.minute(),
            t.second(),
            t.timestamp_subsec_millis().min(999)
        )
    }
}

/// `#[serde(serialize_with = "crate::time::ser")]` for `DateTime<Utc>`.
pub fn ser<S: Serializer>(t: &DateTime<Utc>, s: S) -> Result<S::Ok, S::Error> {
    s.collect_str(&Rfc3339Millis(*t))
}

/// Same for `Option<DateTime<Utc>>`.
pub fn ser_opt<S: Serializer>(t: &Option<DateTime<Utc>>, s: S) -> Result<S::Ok, S::Error> {
    match t {
        Some(t) => s.collect_str(&Rfc3339Millis(*t)),
        None => s.serialize_none(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serialized_times_match_rfc3339_millis() {
        for ts in [0i64, 1_795_882_134, 1_795_882_134_999, 253_402_300_799_000] {
            let t = DateTime::from_timestamp_millis(ts).unwrap_or_default();
            assert_eq!(Rfc3339Millis(t).to_string(), rfc3339(t));
        }
    }
}
