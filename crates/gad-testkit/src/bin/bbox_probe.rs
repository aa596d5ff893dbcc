//! Issue 20's map check: a socket subscribed to a bounding box during an ingest run.
//!
//! `bbox_probe --url ws://127.0.0.1:8031/ws/connect --token JWT --bbox w,s,e,n --secs 20`
//! connects with `?bbox=`, reads the snapshot parts and then every `efectivo_location_update`
//! for `--secs`, and prints one JSON line: snapshot officers (and how many fall outside the
//! box), location events, events outside the box, distinct officers, the smallest gap between
//! two events of one officer (ms) and how many gaps were under 1 s. Exit code 1 when any event
//! or snapshot officer is outside the box or any gap is under `--min-gap-ms` (default 950: the
//! hub spaces events ≥ 1 s apart; a few ms of socket scheduling jitter are tolerated).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use gad_testkit::cli::arg;
use std::collections::HashMap;
use std::time::{Duration, Instant};

use futures::StreamExt;
use gad_core::positions::BBox;
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    let url = arg(&args, "--url", "ws://127.0.0.1:8031/ws/connect");
    let token = arg(&args, "--token", "");
    let bbox_s = arg(&args, "--bbox", "-3.709,40.412,-3.697,40.421");
    let secs: u64 = arg(&args, "--secs", "20").parse().unwrap();
    let min_gap = Duration::from_millis(arg(&args, "--min-gap-ms", "950").parse().unwrap());
    let v: Vec<f64> = bbox_s.split(',').map(|x| x.parse().unwrap()).collect();
    let bbox = BBox::from_slice(&v).unwrap();
    let mut req = format!("{url}?bbox={bbox_s}")
        .into_client_request()
        .unwrap();
    req.headers_mut()
        .insert("authorization", format!("Bearer {token}").parse().unwrap());
    let (mut ws, _) = tokio_tungstenite::connect_async(req).await.unwrap();
    let (mut snap, mut snap_out, mut events, mut outside) = (0u64, 0u64, 0u64, 0u64);
    let mut last: HashMap<i64, Instant> = HashMap::new();
    let (mut min_seen, mut short_gaps) = (Duration::MAX, 0u64);
    let end = Instant::now() + Duration::from_secs(secs);
    loop {
        let left = end.saturating_duration_since(Instant::now());
        let Ok(Some(Ok(msg))) = tokio::time::timeout(left, ws.next()).await else {
            break;
        };
        let Message::Text(t) = msg else { continue };
        let v: Value = serde_json::from_str(t.as_str()).unwrap_or(Value::Null);
        match v["event_type"].as_str() {
            Some("system_status") => {
                for e in v["data"]["efectivos"].as_array().into_iter().flatten() {
                    snap += 1;
                    let (lat, lng) = (e["lat"].as_f64().unwrap(), e["lng"].as_f64().unwrap());
                    if !bbox.contains(lat, lng) {
                        snap_out += 1;
                    }
                }
            }
            Some("efectivo_location_update") => {
                let now = Instant::now();
                events += 1;
                let d = &v["data"];
                let (lat, lng) = (d["lat"].as_f64().unwrap(), d["lng"].as_f64().unwrap());
                if !bbox.contains(lat, lng) {
                    outside += 1;
                }
                let id = d["efectivo_id"].as_i64().unwrap();
                if let Some(prev) = last.insert(id, now) {
                    let gap = now - prev;
                    min_seen = min_seen.min(gap);
                    if gap < Duration::from_secs(1) {
                        short_gaps += 1;
                    }
                }
            }
            _ => {}
        }
    }
    let min_gap_ms = (min_seen != Duration::MAX).then_some(min_seen.as_millis() as u64);
    println!(
        "{}",
        json!({
            "bbox": v, "secs": secs, "snapshot_officers": snap, "snapshot_outside": snap_out,
            "events": events, "events_outside": outside, "officers": last.len(),
            "min_gap_ms": min_gap_ms, "gaps_under_1s": short_gaps,
        })
    );
    let bad = snap_out > 0 || outside > 0 || (min_seen != Duration::MAX && min_seen < min_gap);
    std::process::exit(i32::from(bad));
}
