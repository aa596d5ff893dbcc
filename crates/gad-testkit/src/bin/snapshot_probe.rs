//! Measures a supervisor's connect snapshot (issue 13): connects to `/ws/connect` with a token,
//! reads `connection_ack` and every `system_status` part, and prints the time to the last part,
//! the frame count, the largest frame and the officers received. Not part of the server build.
//!
//! `snapshot_probe --url ws://127.0.0.1:8031/ws/connect --token JWT`
#![allow(clippy::unwrap_used, clippy::expect_used)]

use gad_testkit::cli::required_arg;
use std::time::{Duration, Instant};

use futures::StreamExt;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    let url = required_arg(&args, "--url");
    let token = required_arg(&args, "--token");
    let mut req = url.into_client_request().unwrap();
    req.headers_mut()
        .insert("authorization", format!("Bearer {token}").parse().unwrap());
    let start = Instant::now();
    let (mut ws, _) = tokio_tungstenite::connect_async(req).await.unwrap();
    let (mut frames, mut largest, mut officers, mut bytes) = (0usize, 0usize, 0usize, 0usize);
    loop {
        let msg = tokio::time::timeout(Duration::from_secs(60), ws.next())
            .await
            .expect("snapshot within 60 s")
            .expect("socket open")
            .expect("frame");
        let Message::Text(t) = msg else {
            if let Message::Close(c) = msg {
                panic!("closed by the server after {frames} frames: {c:?}");
            }
            continue;
        };
        let v: serde_json::Value = serde_json::from_str(t.as_str()).unwrap();
        if v["event_type"] != "system_status" {
            continue;
        }
        frames += 1;
        bytes += t.len();
        largest = largest.max(t.len());
        officers += v["data"]["efectivos"].as_array().map_or(0, Vec::len);
        if v["data"]["part"] == v["data"]["parts"] {
            break;
        }
    }
    println!(
        "snapshot: {officers} officers in {frames} system_status frames, {:.1} MiB, largest frame {:.1} KiB, {:.0} ms from connect to last part",
        bytes as f64 / 1048576.0,
        largest as f64 / 1024.0,
        start.elapsed().as_secs_f64() * 1e3
    );
}
