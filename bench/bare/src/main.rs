//! A bare axum server on `PORT` (default 8099): `GET /health` and `GET /me` answer a small JSON
//! body, nothing else. What a route of `gad serve` is measured against (`bench/wrk/compare.sh bare`).

use axum::{Json, Router, routing::get};
use serde_json::{Value, json};

async fn health() -> Json<Value> {
    Json(json!({"status": "ok"}))
}

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let port = std::env::var("PORT").unwrap_or_else(|_| "8099".into());
    let app = Router::new()
        .route("/health", get(health))
        .route("/me", get(health));
    let listener = tokio::net::TcpListener::bind(format!("127.0.0.1:{port}")).await?;
    axum::serve(listener, app).await
}
