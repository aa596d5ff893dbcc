//! Counts one event type on a socket until it has been quiet for `--idle-ms` (issue 13's
//! burst benchmark: every `task_created` made on instance A must reach a socket on B).
//!
//! `event_counter --url ws://127.0.0.1:8033/ws/connect --token JWT --event task_created`
//! prints `ready` once connected, then the count (and any close) when the stream goes quiet.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use gad_testkit::cli::arg;
use std::time::Duration;

use futures::StreamExt;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    let url = arg(&args, "--url", "ws://127.0.0.1:8000/ws/connect");
    let token = arg(&args, "--token", "");
    let event = arg(&args, "--event", "task_created");
    let idle: u64 = arg(&args, "--idle-ms", "5000").parse().unwrap();
    let mut req = url.into_client_request().unwrap();
    req.headers_mut()
        .insert("authorization", format!("Bearer {token}").parse().unwrap());
    let (mut ws, _) = tokio_tungstenite::connect_async(req).await.unwrap();
    println!("ready");
    let (mut count, mut started) = (0u64, false);
    let mut ended = String::new();
    loop {
        // Quiet for `idle` after the first event (or 120 s before it): done.
        let wait = if started { idle } else { 120_000 };
        match tokio::time::timeout(Duration::from_millis(wait), ws.next()).await {
            Err(_) => break,
            Ok(None) => {
                ended = "connection ended".into();
                break;
            }
            Ok(Some(Err(e))) => {
                ended = format!("error: {e}");
                break;
            }
            Ok(Some(Ok(Message::Close(c)))) => {
                ended = format!("closed by server: {c:?}");
                break;
            }
            Ok(Some(Ok(Message::Text(t)))) => {
                if t.as_str().contains(&format!("\"event_type\":\"{event}\"")) {
                    count += 1;
                    started = true;
                }
            }
            Ok(Some(Ok(_))) => {}
        }
    }
    println!("received {count} {event} {ended}");
}
