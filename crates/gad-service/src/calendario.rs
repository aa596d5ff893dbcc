//! The calendar people read (`ZONA_HORARIA`): from a local day and time of day to the instant
//! it names, for leave, shift patterns, the day's roster and report bounds.

use chrono::{DateTime, Duration, NaiveDate, NaiveTime, TimeZone, Utc};
use chrono_tz::Tz;

/// The instant a wall-clock time of a day in `tz` names (the earlier one when a clock change
/// repeats it; the first one after the gap when it skips it).
pub fn local_instant(tz: Tz, day: NaiveDate, at: NaiveTime) -> DateTime<Utc> {
    let mut local = day.and_time(at);
    loop {
        if let Some(t) = tz.from_local_datetime(&local).earliest() {
            return t.with_timezone(&Utc);
        }
        local += Duration::minutes(15);
    }
}
