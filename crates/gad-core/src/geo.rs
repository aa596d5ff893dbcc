//! Validated geographic values. A `Lat` can only hold −90..=90, and so on; handlers receive
//! them already checked.

use thiserror::Error;

#[derive(Debug, Error, PartialEq)]
#[error("{0}")]
pub struct RangeError(pub String);

fn check(v: f64, lo: f64, hi: f64) -> Result<f64, RangeError> {
    if v.is_finite() && (lo..=hi).contains(&v) {
        Ok(v)
    } else {
        Err(RangeError(format!("Input should be between {lo} and {hi}")))
    }
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Lat(f64);
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Lng(f64);
/// Search radius in metres (contract: 100–100 000).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RadiusM(f64);

impl Lat {
    pub fn new(v: f64) -> Result<Self, RangeError> {
        check(v, -90.0, 90.0).map(Lat)
    }
    pub fn get(self) -> f64 {
        self.0
    }
}
impl Lng {
    pub fn new(v: f64) -> Result<Self, RangeError> {
        check(v, -180.0, 180.0).map(Lng)
    }
    pub fn get(self) -> f64 {
        self.0
    }
}
impl RadiusM {
    pub const DEFAULT: f64 = 10_000.0;
    pub fn new(v: f64) -> Result<Self, RangeError> {
        check(v, 100.0, 100_000.0).map(RadiusM)
    }
    pub fn get(self) -> f64 {
        self.0
    }
}

/// Distances, durations and rates on the wire carry two decimals (metres, hours, per day): the
/// one rounding every answer uses.
pub fn round2(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

#[cfg(test)]
mod tests {
    use super::*;
    #[test]
    fn ranges() {
        assert!(Lat::new(-34.6).is_ok());
        assert!(Lat::new(90.1).is_err());
        assert!(Lat::new(f64::NAN).is_err());
        assert!(Lng::new(-180.0).is_ok());
        assert!(Lng::new(181.0).is_err());
        assert!(RadiusM::new(99.0).is_err());
        assert!(RadiusM::new(100_000.0).is_ok());
    }
}
