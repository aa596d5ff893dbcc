//! API documents: OpenAPI JSON, Swagger UI (vendored by utoipa-swagger-ui) and ReDoc, whose
//! JavaScript is served from `/static`, so no request leaves the machine.

use axum::Router;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use utoipa_swagger_ui::{Config as SwaggerConfig, SwaggerUi};

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
    let swagger = SwaggerUi::new("/docs")
        .config(SwaggerConfig::new(["/api/v1/openapi.json"]).persist_authorization(true));
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
        .merge(swagger)
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
