//! A TCP proxy in front of PostgreSQL or Redis that a test can cut and restore, to prove the
//! app degrades (Redis) or reports not-ready (PostgreSQL) and recovers without a restart.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use tokio::net::{TcpListener, TcpStream};

pub struct ChaosProxy {
    pub addr: SocketAddr,
    up: Arc<AtomicBool>,
    /// Incremented on every cut; connections from an older generation close themselves.
    generation: Arc<AtomicU64>,
}

impl ChaosProxy {
    /// Starts a proxy to `target` ("127.0.0.1:5432").
    pub async fn start(target: &str) -> ChaosProxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind proxy");
        let addr = listener.local_addr().expect("proxy addr");
        let up = Arc::new(AtomicBool::new(true));
        let generation = Arc::new(AtomicU64::new(0));
        let target = target.to_string();
        let (up2, gen2) = (up.clone(), generation.clone());
        tokio::spawn(async move {
            loop {
                let Ok((client, _)) = listener.accept().await else {
                    continue;
                };
                if !up2.load(Ordering::SeqCst) {
                    drop(client);
                    continue;
                }
                let my_gen = gen2.load(Ordering::SeqCst);
                let (gen3, target) = (gen2.clone(), target.clone());
                tokio::spawn(async move {
                    let Ok(server) = TcpStream::connect(&target).await else {
                        return;
                    };
                    let (mut cr, mut cw) = client.into_split();
                    let (mut sr, mut sw) = server.into_split();
                    let watch = {
                        let gen3 = gen3.clone();
                        async move {
                            while gen3.load(Ordering::SeqCst) == my_gen {
                                tokio::time::sleep(std::time::Duration::from_millis(20)).await;
                            }
                        }
                    };
                    tokio::select! {
                        _ = tokio::io::copy(&mut cr, &mut sw) => {},
                        _ = tokio::io::copy(&mut sr, &mut cw) => {},
                        _ = watch => {},
                    }
                });
            }
        });
        ChaosProxy {
            addr,
            up,
            generation,
        }
    }

    /// Drops every open connection and refuses new ones.
    pub fn cut(&self) {
        self.up.store(false, Ordering::SeqCst);
        self.generation.fetch_add(1, Ordering::SeqCst);
    }

    pub fn restore(&self) {
        self.up.store(true, Ordering::SeqCst);
    }

    /// Rewrites a URL's host:port to go through this proxy.
    pub fn wrap_url(&self, url: &str, original_hostport: &str) -> String {
        url.replacen(original_hostport, &self.addr.to_string(), 1)
    }
}
