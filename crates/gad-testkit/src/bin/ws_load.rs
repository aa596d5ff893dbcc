//! WebSocket load client for the realtime benchmark (issue 7). Not part of the server build.
//!
//! Driver mode (default) spawns `--workers` copies of itself, each holding `--sockets / workers`
//! anonymous sockets (server in ENVIRONMENT=development) bound to loopback source addresses
//! 127.0.0.2…, waits until all are acknowledged, samples the server's RSS, then sends
//! `--broadcasts` test broadcasts and reports, per broadcast, the time from the POST to the LAST
//! socket receiving it (wall clock in nanoseconds, shared by processes on one machine).
//!
//! `cargo run --release -p gad-testkit --bin ws_load -- --port 8030 --sockets 10000 --server-pid PID`
#![allow(clippy::unwrap_used, clippy::expect_used)]

use gad_testkit::cli::arg;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use futures::{SinkExt, StreamExt};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio_tungstenite::tungstenite::Message;

fn now_ns() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0)
}

fn rss_kib(pid: &str) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines().find(|l| l.starts_with("VmRSS")).map(|l| {
                l.split_whitespace()
                    .nth(1)
                    .unwrap_or("0")
                    .parse()
                    .unwrap_or(0)
            })
        })
        .unwrap_or(0)
}

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.iter().any(|a| a == "--worker") {
        worker(&args).await;
    } else {
        driver(&args).await;
    }
}

async fn worker(args: &[String]) {
    let port: u16 = arg(args, "--port", "8030").parse().unwrap();
    let n: usize = arg(args, "--sockets", "1000").parse().unwrap();
    let first_ip: u8 = arg(args, "--first-ip", "2").parse().unwrap();
    let ips: u8 = arg(args, "--ips", "4").parse().unwrap();
    let broadcasts: usize = arg(args, "--broadcasts", "20").parse().unwrap();
    let last_seen: Arc<Vec<AtomicU64>> =
        Arc::new((0..broadcasts).map(|_| AtomicU64::new(0)).collect());
    let received: Arc<Vec<AtomicUsize>> =
        Arc::new((0..broadcasts).map(|_| AtomicUsize::new(0)).collect());
    let acked = Arc::new(AtomicUsize::new(0));
    let failed = Arc::new(AtomicUsize::new(0));
    let sem = Arc::new(tokio::sync::Semaphore::new(200));
    for i in 0..n {
        let ip = format!("127.0.0.{}", first_ip as usize + i % ips as usize);
        let (last_seen, received, acked, failed, sem) = (
            last_seen.clone(),
            received.clone(),
            acked.clone(),
            failed.clone(),
            sem.clone(),
        );
        tokio::spawn(async move {
            // Bounds handshakes in flight, released once the socket is acknowledged.
            let mut permit = Some(sem.acquire_owned().await.unwrap());
            let sock = tokio::net::TcpSocket::new_v4().unwrap();
            if sock.bind(format!("{ip}:0").parse().unwrap()).is_err() {
                failed.fetch_add(1, Ordering::Relaxed);
                return;
            }
            let Ok(stream) = sock
                .connect(format!("127.0.0.1:{port}").parse().unwrap())
                .await
            else {
                failed.fetch_add(1, Ordering::Relaxed);
                return;
            };
            let url = format!("ws://127.0.0.1:{port}/ws/connect");
            let Ok((ws, _)) = tokio_tungstenite::client_async(url, stream).await else {
                failed.fetch_add(1, Ordering::Relaxed);
                return;
            };
            let (mut tx, mut rx) = ws.split();
            let mut acked_once = false;
            let mut keepalive = tokio::time::interval(Duration::from_secs(20));
            keepalive.tick().await;
            loop {
                tokio::select! {
                    msg = rx.next() => {
                        let Some(Ok(msg)) = msg else { break };
                        let t = now_ns();
                        if let Message::Text(text) = msg {
                            if !acked_once && text.contains("\"connection_ack\"") {
                                acked_once = true;
                                acked.fetch_add(1, Ordering::Relaxed);
                                permit.take();
                            }
                            if let Some(pos) = text.find("\"bench-") {
                                let rest = &text[pos + 7..];
                                let k: usize = rest.chars().take_while(|c| c.is_ascii_digit()).collect::<String>().parse().unwrap_or(usize::MAX);
                                if k < last_seen.len() {
                                    last_seen[k].fetch_max(t, Ordering::Relaxed);
                                    received[k].fetch_add(1, Ordering::Relaxed);
                                }
                            }
                        }
                    }
                    _ = keepalive.tick() => {
                        if tx.send(Message::Text(r#"{"event_type":"pong","data":{}}"#.into())).await.is_err() { break; }
                    }
                }
            }
        });
    }
    // Report readiness, then wait for "report" on stdin and print the per-broadcast figures.
    let mut last_report = 0;
    loop {
        let a = acked.load(Ordering::Relaxed) + failed.load(Ordering::Relaxed);
        if a >= n || last_report > 600 {
            break;
        }
        last_report += 1;
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let mut out = tokio::io::stdout();
    out.write_all(
        format!(
            "READY {} {}\n",
            acked.load(Ordering::Relaxed),
            failed.load(Ordering::Relaxed)
        )
        .as_bytes(),
    )
    .await
    .unwrap();
    out.flush().await.unwrap();
    let mut lines = BufReader::new(tokio::io::stdin()).lines();
    while let Ok(Some(line)) = lines.next_line().await {
        if line.trim() == "report" {
            let parts: Vec<String> = (0..broadcasts)
                .map(|k| {
                    format!(
                        "{}:{}",
                        last_seen[k].load(Ordering::Relaxed),
                        received[k].load(Ordering::Relaxed)
                    )
                })
                .collect();
            out.write_all(format!("REPORT {}\n", parts.join(" ")).as_bytes())
                .await
                .unwrap();
            out.flush().await.unwrap();
            break;
        }
    }
}

async fn driver(args: &[String]) {
    let port = arg(args, "--port", "8030");
    let total: usize = arg(args, "--sockets", "1000").parse().unwrap();
    let workers: usize = arg(args, "--workers", "4").parse().unwrap();
    let broadcasts: usize = arg(args, "--broadcasts", "20").parse().unwrap();
    let server_pid = arg(args, "--server-pid", "");
    let exe = std::env::current_exe().unwrap();
    let rss_before = if server_pid.is_empty() {
        0
    } else {
        rss_kib(&server_pid)
    };
    let started = std::time::Instant::now();
    let mut children = Vec::new();
    for w in 0..workers {
        let share = total / workers + usize::from(w < total % workers);
        let mut child = tokio::process::Command::new(&exe)
            .args([
                "--worker",
                "--port",
                &port,
                "--sockets",
                &share.to_string(),
                "--first-ip",
                &(2 + 4 * w).to_string(),
                "--ips",
                "4",
                "--broadcasts",
                &broadcasts.to_string(),
            ])
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .expect("spawn worker");
        let stdout = BufReader::new(child.stdout.take().unwrap()).lines();
        let stdin = child.stdin.take().unwrap();
        children.push((child, stdout, stdin));
    }
    let (mut ok, mut bad) = (0usize, 0usize);
    for (_, out, _) in children.iter_mut() {
        let line = out.next_line().await.unwrap().unwrap_or_default();
        let mut it = line.split_whitespace().skip(1);
        ok += it.next().and_then(|x| x.parse::<usize>().ok()).unwrap_or(0);
        bad += it.next().and_then(|x| x.parse::<usize>().ok()).unwrap_or(0);
    }
    let connect_secs = started.elapsed().as_secs_f64();
    tokio::time::sleep(Duration::from_secs(2)).await;
    let rss_after = if server_pid.is_empty() {
        0
    } else {
        rss_kib(&server_pid)
    };
    println!("sockets acknowledged: {ok} (failed {bad}) in {connect_secs:.1} s");
    if !server_pid.is_empty() {
        let per = (rss_after.saturating_sub(rss_before)) as f64 / ok.max(1) as f64;
        println!(
            "server RSS: {rss_before} KiB before, {rss_after} KiB after → {per:.1} KiB per socket"
        );
    }
    let client = reqwest::Client::new();
    let mut sent_at = Vec::new();
    for k in 0..broadcasts {
        let t = now_ns();
        let r = client
            .post(format!("http://127.0.0.1:{port}/ws/_test/broadcast"))
            .json(&serde_json::json!({"title": format!("bench-{k}"), "content": "x", "level": "info"}))
            .send()
            .await
            .expect("broadcast");
        assert!(r.status().is_success(), "broadcast answered {}", r.status());
        sent_at.push(t);
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    let mut last = vec![0u64; broadcasts];
    let mut count = vec![0usize; broadcasts];
    for (_, out, stdin) in children.iter_mut() {
        stdin.write_all(b"report\n").await.unwrap();
        stdin.flush().await.unwrap();
        let line = out.next_line().await.unwrap().unwrap_or_default();
        for (k, part) in line.split_whitespace().skip(1).enumerate() {
            let (t, c) = part.split_once(':').unwrap_or(("0", "0"));
            last[k] = last[k].max(t.parse().unwrap_or(0));
            count[k] += c.parse::<usize>().unwrap_or(0);
        }
    }
    let mut lat: Vec<f64> = (0..broadcasts)
        .map(|k| (last[k].saturating_sub(sent_at[k])) as f64 / 1e6)
        .collect();
    let complete = count.iter().filter(|c| **c == ok).count();
    lat.sort_by(|a, b| a.partial_cmp(b).unwrap());
    let p = |q: f64| lat[((q * lat.len() as f64).ceil() as usize).clamp(1, lat.len()) - 1];
    println!(
        "broadcast to {ok} sockets, POST → last socket: p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms ({complete}/{broadcasts} broadcasts reached every socket)",
        p(0.5),
        p(0.99),
        lat[lat.len() - 1]
    );
    for (mut child, _, _) in children {
        let _ = child.kill().await;
    }
}
