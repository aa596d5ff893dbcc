//! API documents: OpenAPI JSON, Swagger UI (vendored by utoipa-swagger-ui) and ReDoc, whose
//! JavaScript is served from `/static`, so no request leaves the machine.

use std::sync::Arc;

use axum::Router;
use axum::extract::Path;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use utoipa_swagger_ui::Config as SwaggerConfig;

use crate::state::AppState;

static REDOC_JS: &[u8] = include_bytes!("../../static/redoc.standalone.js");
/// The WebSocket side of the contract, linked from the OpenAPI document's `externalDocs`.
static ASYNCAPI: &str = include_str!("../../../../docs/asyncapi.yaml");

const REDOC_HTML: &str = r#"<!DOCTYPE html>
<html><head><title>GAD API — ReDoc</title><meta charset="utf-8"/>
<meta name="viewport" content="width=device-width, initial-scale=1"></head>
<body><redoc spec-url="/api/v1/openapi.json"></redoc>
<script src="/static/redoc.standalone.js"></script></body></html>"#;

pub fn router(api: serde_json::Value) -> Router<AppState> {
    let json = api.to_string();
    let json_a = json.clone();
    let swagger: Arc<SwaggerConfig<'static>> =
        Arc::new(SwaggerConfig::new(["/api/v1/openapi.json"]).persist_authorization(true));
    let (index, root, files) = (Arc::clone(&swagger), Arc::clone(&swagger), swagger);
    Router::new()
        .route(
            "/api/v1/openapi.json",
            get(move || openapi_json(json_a.clone())),
        )
        .route("/openapi.json", get(move || openapi_json(json.clone())))
        .route("/redoc", get(|| async { Html(REDOC_HTML) }))
        .route(
            "/api/v1/asyncapi.yaml",
            get(|| async { ([(header::CONTENT_TYPE, "application/yaml")], ASYNCAPI) }),
        )
        .route("/static/redoc.standalone.js", get(redoc_js))
        // Swagger UI answers at `/docs` itself (200, no redirect to `/docs/`), as clients and
        // smoke tests expect; its files are under `/docs/`.
        .route(
            "/docs",
            get(move || swagger_file(String::new(), Arc::clone(&index))),
        )
        .route(
            "/docs/",
            get(move || swagger_file(String::new(), Arc::clone(&root))),
        )
        .route(
            "/docs/{*file}",
            get(move |Path(file): Path<String>| swagger_file(file, Arc::clone(&files))),
        )
}

/// One file of the vendored Swagger UI; the page itself gets `<base href="/docs/">`, so its
/// relative links resolve under `/docs/` whether it was asked as `/docs` or `/docs/`.
async fn swagger_file(file: String, config: Arc<SwaggerConfig<'static>>) -> Response {
    match utoipa_swagger_ui::serve(&file, config) {
        Ok(Some(f)) => {
            let page = file.is_empty() || file == "index.html";
            let bytes = if page {
                String::from_utf8_lossy(&f.bytes)
                    .replacen("<head>", "<head>\n    <base href=\"/docs/\">", 1)
                    .into_bytes()
            } else {
                f.bytes.into_owned()
            };
            let mut r = (StatusCode::OK, bytes).into_response();
            if let Ok(v) = HeaderValue::from_str(&f.content_type) {
                r.headers_mut().insert(header::CONTENT_TYPE, v);
            }
            r
        }
        Ok(None) => crate::error::json_response(
            StatusCode::NOT_FOUND,
            &serde_json::json!({"detail": "Not Found"}),
        ),
        Err(e) => crate::error::ApiError::internal(e).into_response(),
    }
}

async fn openapi_json(json: String) -> Response {
    let mut r = json.into_response();
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    r
}

async fn redoc_js() -> Response {
    let mut r = (StatusCode::OK, REDOC_JS).into_response();
    let h = r.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/javascript"),
    );
    h.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=86400"),
    );
    r
}
