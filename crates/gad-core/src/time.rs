//! Times on the wire: RFC 3339 UTC with `Z` and milliseconds (contract §1).

use chrono::{DateTime, SecondsFormat, Utc};
use serde::Serializer;

pub fn rfc3339(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

pub fn now_rfc3339() -> String {
    rfc3339(Utc::now())
}

/// `2026-11-28T14:03:22.120Z` (what `rfc3339` gives) written digit by digit into a stack buffer:
/// `core::fmt` was ≈ 8 % of the task list's CPU. `None` for years outside 0–9999.
pub fn rfc3339_millis_bytes(t: &DateTime<Utc>) -> Option<[u8; 24]> {
    use chrono::{Datelike, Timelike};
    let year = u32::try_from(t.year()).ok().filter(|y| *y <= 9999)?;
    let mut b = *b"0000-00-00T00:00:00.000Z";
    let mut put = |at: usize, width: usize, mut v: u32| {
        for i in (at..at + width).rev() {
            b[i] = b'0' + (v % 10) as u8;
            v /= 10;
        }
    };
    put(0, 4, year);
    put(5, 2, t.month());
    put(8, 2, t.day());
    put(11, 2, t.hour());
    put(14, 2, t.minute());
    put(17, 2, t.second());
    // chrono keeps a leap second as :59 with ≥ 1e9 ns (PostgreSQL never returns one): :59.999.
    put(20, 3, t.timestamp_subsec_millis().min(999));
    Some(b)
}

fn ser_time<S: Serializer>(t: &DateTime<Utc>, s: S) -> Result<S::Ok, S::Error> {
    match rfc3339_millis_bytes(t)
        .as_ref()
        .map(|b| std::str::from_utf8(b))
    {
        Some(Ok(text)) => s.serialize_str(text),
        _ => s.serialize_str(&rfc3339(*t)),
    }
}

/// `#[serde(serialize_with = "crate::time::ser")]` for `DateTime<Utc>`.
pub fn ser<S: Serializer>(t: &DateTime<Utc>, s: S) -> Result<S::Ok, S::Error> {
    ser_time(t, s)
}

/// Same for `Option<DateTime<Utc>>`.
pub fn ser_opt<S: Serializer>(t: &Option<DateTime<Utc>>, s: S) -> Result<S::Ok, S::Error> {
    match t {
        Some(t) => ser_time(t, s),
        None => s.serialize_none(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fast_path_matches_chrono() {
        let mut ts: i64 = -62_167_219_200_000; // 0000-01-01
        while ts < 253_402_300_799_999 {
            let t = DateTime::from_timestamp_millis(ts).unwrap_or_default();
            let fast = rfc3339_millis_bytes(&t).map(|b| String::from_utf8_lossy(&b).into_owned());
            assert_eq!(fast.as_deref(), Some(rfc3339(t).as_str()), "at {ts}");
            ts += 7_777_777_777_123;
        }
        let far = DateTime::from_timestamp_millis(253_402_300_800_000).unwrap_or_default();
        assert_eq!(
            rfc3339_millis_bytes(&far),
            None,
            "year 10000 takes chrono's path"
        );
        let json = serde_json::to_string(&Wrapper(far)).unwrap_or_default();
        assert_eq!(json, format!("\"{}\"", rfc3339(far)));
    }

    #[derive(serde::Serialize)]
    struct Wrapper(#[serde(serialize_with = "ser")] DateTime<Utc>);
}
