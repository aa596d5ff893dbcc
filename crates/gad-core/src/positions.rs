//! Positions: the bounding box a map subscribes to, and the simplification of a long
//! trail to at most N points. Pure functions, property-tested.

use std::cmp::Ordering;
use std::collections::BinaryHeap;

use crate::geo::{Lat, Lng, RangeError};

/// A lat/lng rectangle `[w, s, e, n]` in degrees. `w > e` means the box crosses the
/// antimeridian (e.g. `[170, -20, -170, -10]`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BBox {
    pub w: f64,
    pub s: f64,
    pub e: f64,
    pub n: f64,
}

impl BBox {
    /// Longitudes within `Lng`'s bounds, latitudes within `Lat`'s, `s <= n`; all finite.
    pub fn new(w: f64, s: f64, e: f64, n: f64) -> Result<BBox, RangeError> {
        for (name, v, lo, hi) in [
            ("w", w, Lng::MIN, Lng::MAX),
            ("e", e, Lng::MIN, Lng::MAX),
            ("s", s, Lat::MIN, Lat::MAX),
            ("n", n, Lat::MIN, Lat::MAX),
        ] {
            if !v.is_finite() || v < lo || v > hi {
                return Err(RangeError(format!(
                    "bbox {name} should be between {lo} and {hi}"
                )));
            }
        }
        if s > n {
            return Err(RangeError("bbox s must not be greater than n".into()));
        }
        Ok(BBox { w, s, e, n })
    }

    /// From `[w, s, e, n]`.
    pub fn from_slice(v: &[f64]) -> Result<BBox, RangeError> {
        match v {
            [w, s, e, n] => BBox::new(*w, *s, *e, *n),
            _ => Err(RangeError("bbox must be [w, s, e, n]".into())),
        }
    }

    pub fn contains(&self, lat: f64, lng: f64) -> bool {
        if !(self.s..=self.n).contains(&lat) {
            return false;
        }
        if self.w <= self.e {
            (self.w..=self.e).contains(&lng)
        } else {
            lng >= self.w || lng <= self.e
        }
    }
}

/// A segment of the track waiting to be split: the farthest interior point from the chord
/// `start`–`end` and its distance.
struct Split {
    err: f64,
    start: usize,
    end: usize,
    far: usize,
}

impl PartialEq for Split {
    fn eq(&self, o: &Self) -> bool {
        self.cmp(o) == Ordering::Equal
    }
}
impl Eq for Split {}
impl PartialOrd for Split {
    fn partial_cmp(&self, o: &Self) -> Option<Ordering> {
        Some(self.cmp(o))
    }
}
impl Ord for Split {
    fn cmp(&self, o: &Self) -> Ordering {
        // Largest error first; ties broken by position so the result is deterministic.
        self.err
            .total_cmp(&o.err)
            .then_with(|| o.start.cmp(&self.start))
    }
}

/// Distance (same unit as the inputs) from `p` to the segment `a`–`b`.
fn seg_dist(p: (f64, f64), a: (f64, f64), b: (f64, f64)) -> f64 {
    let (dx, dy) = (b.0 - a.0, b.1 - a.1);
    let len2 = dx * dx + dy * dy;
    let t = if len2 > 0.0 {
        (((p.0 - a.0) * dx + (p.1 - a.1) * dy) / len2).clamp(0.0, 1.0)
    } else {
        0.0
    };
    let (qx, qy) = (a.0 + t * dx, a.1 + t * dy);
    ((p.0 - qx).powi(2) + (p.1 - qy).powi(2)).sqrt()
}

fn split(xy: &[(f64, f64)], start: usize, end: usize) -> Option<Split> {
    if end <= start + 1 {
        return None;
    }
    let (a, b) = (xy[start], xy[end]);
    let (far, err) = (start + 1..end)
        .map(|i| (i, seg_dist(xy[i], a, b)))
        .max_by(|x, y| x.1.total_cmp(&y.1))?;
    Some(Split {
        err,
        start,
        end,
        far,
    })
}

/// Douglas–Peucker driven by a point budget: starting from the first and last fix, the point
/// farthest from the current simplified line is added, largest error first, until `max_points`
/// are kept or every remaining point lies on the line. Returns the indices kept, ascending;
/// the first and the last fix are always kept. `points` are (lat, lng) in degrees, projected
/// to local metres (equirectangular at the track's mean latitude) so the error is a distance.
/// Tracks of at most `max_points` fixes are returned whole.
pub fn simplify(points: &[(f64, f64)], max_points: usize) -> Vec<usize> {
    let n = points.len();
    let max_points = max_points.max(2);
    if n <= max_points {
        return (0..n).collect();
    }
    let mean_lat = points.iter().map(|p| p.0).sum::<f64>() / n as f64;
    let k = mean_lat.to_radians().cos();
    let xy: Vec<(f64, f64)> = points.iter().map(|&(lat, lng)| (lng * k, lat)).collect();
    let mut keep = vec![false; n];
    keep[0] = true;
    keep[n - 1] = true;
    let mut kept = 2;
    let mut heap = BinaryHeap::new();
    heap.extend(split(&xy, 0, n - 1));
    while kept < max_points {
        let Some(s) = heap.pop() else { break };
        if s.err <= 0.0 {
            break;
        }
        keep[s.far] = true;
        kept += 1;
        heap.extend(split(&xy, s.start, s.far));
        heap.extend(split(&xy, s.far, s.end));
    }
    (0..n).filter(|i| keep[*i]).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn bbox_contains_and_crosses_the_antimeridian() {
        let b = BBox::new(-3.71, 40.41, -3.70, 40.42).unwrap();
        assert!(b.contains(40.415, -3.705));
        assert!(!b.contains(40.43, -3.705));
        assert!(!b.contains(40.415, -3.69));
        let x = BBox::new(170.0, -20.0, -170.0, -10.0).unwrap();
        assert!(x.contains(-15.0, 175.0));
        assert!(x.contains(-15.0, -175.0));
        assert!(!x.contains(-15.0, 0.0));
        assert!(BBox::new(0.0, 10.0, 1.0, 5.0).is_err());
        assert!(BBox::new(0.0, 0.0, 181.0, 1.0).is_err());
        assert!(BBox::new(f64::NAN, 0.0, 1.0, 1.0).is_err());
        assert!(BBox::from_slice(&[1.0, 2.0, 3.0]).is_err());
    }

    #[test]
    fn a_straight_line_keeps_its_ends_and_a_corner_is_kept() {
        let line: Vec<(f64, f64)> = (0..100).map(|i| (40.0, -3.0 + i as f64 * 1e-4)).collect();
        assert_eq!(simplify(&line, 10), vec![0, 99]);
        // An L: the corner is the first point added.
        let mut l: Vec<(f64, f64)> = (0..50).map(|i| (40.0, -3.0 + i as f64 * 1e-4)).collect();
        l.extend((1..50).map(|i| (40.0 + i as f64 * 1e-4, -3.0 + 49.0 * 1e-4)));
        assert_eq!(simplify(&l, 3), vec![0, 49, 98]);
    }

    proptest! {
        #[test]
        fn budget_ends_and_order_hold(
            pts in prop::collection::vec((-60.0f64..60.0, -170.0f64..170.0), 0..400),
            max in 0usize..50,
        ) {
            let out = simplify(&pts, max);
            if pts.len() <= max.max(2) {
                prop_assert_eq!(out, (0..pts.len()).collect::<Vec<_>>());
            } else {
                prop_assert!(out.len() <= max.max(2));
                prop_assert_eq!(out[0], 0);
                prop_assert_eq!(*out.last().unwrap(), pts.len() - 1);
                prop_assert!(out.windows(2).all(|w| w[0] < w[1]));
            }
        }
    }
}
