//! Builds the router (routes + OpenAPI from one source) and serves it with graceful shutdown.

use std::time::Duration;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::{HeaderName, Method, header};
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::cors::{AllowOrigin, CorsLayer};
use tower_http::limit::RequestBodyLimitLayer;
use utoipa::Modify;
use utoipa::OpenApi;
use utoipa::openapi::security::{
    Flow, Http, HttpAuthScheme, OAuth2, Password, Scopes, SecurityScheme,
};
use utoipa_axum::router::OpenApiRouter;

use crate::middleware;
use crate::routes;
use crate::state::AppState;

/// 10 MiB, by Content-Length or counted while streaming (contract §1).
pub const BODY_LIMIT: usize = 10 * 1024 * 1024;

#[derive(OpenApi)]
#[openapi(
    info(title = "GRUPO_GAD API", description = "GAD: field operations, tasks, efectivos and emergency dispatch. Each operation states the minimum level (1 efectivo, 2 supervisor, 3 administrador)."),
    external_docs(url = "/api/v1/asyncapi.yaml", description = "The WebSocket route (/ws/connect): auth, frames, close codes (AsyncAPI 3)"),
    modifiers(&SecurityAddon),
    components(schemas(crate::openapi::ErrorBody, crate::openapi::RateLimitBody, crate::error::FieldError, gad_service::entregas::EntregaDatos)),
    security(("OAuth2PasswordBearer" = []))
)]
struct ApiDoc;

struct SecurityAddon;

impl Modify for SecurityAddon {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "OAuth2PasswordBearer",
            SecurityScheme::OAuth2(OAuth2::new([Flow::Password(Password::new(
                "/api/v1/auth/login",
                Scopes::new(),
            ))])),
        );
        // Machine credential of POST /api/v1/alerts/alertmanager (ALERTMANAGER_WEBHOOK_TOKEN).
        components.add_security_scheme(
            "AlertmanagerWebhookToken",
            SecurityScheme::Http(Http::new(HttpAuthScheme::Bearer)),
        );
    }
}

/// Every documented route.
pub fn api_router() -> OpenApiRouter<AppState> {
    OpenApiRouter::with_openapi(ApiDoc::openapi())
        .merge(routes::health::router())
        .merge(routes::auth::router())
        .merge(routes::users::router())
        .merge(routes::user_unlock::router())
        .merge(routes::user_totp::router())
        // emergency before tasks: /tasks/emergency is a static segment beside /tasks/{task_id}
        .merge(routes::emergency::router())
        .merge(routes::dispatch::router())
        .merge(routes::tasks::router())
        .merge(routes::evidencia::router())
        .merge(routes::checkins::router())
        .merge(routes::incidents::router())
        .merge(routes::stats::router())
        .merge(routes::efectivos::router())
        .merge(routes::turnos::router())
        .merge(routes::mensajes::router())
        .merge(routes::trail::router())
        .merge(routes::fixes::router())
        .merge(routes::geo::router())
        .merge(routes::geo_search::router())
        .merge(routes::cache_admin::router())
        .merge(routes::admin::router())
        .merge(routes::alerts::router())
        .merge(routes::gdpr::router())
        .merge(routes::zonas::router())
        .merge(routes::reportes::router())
        .merge(crate::realtime::api_router())
}

/// The OpenAPI document as served (also used by the snapshot test and `gad smoke`): the
/// routes' own annotations, completed with the statuses every route shares (`openapi::complete`).
pub fn openapi(state: Option<&AppState>) -> serde_json::Value {
    let (_, mut api) = api_router().split_for_parts();
    api.info.version = state
        .map(|s| s.config.project_version.clone())
        .unwrap_or_else(|| env!("CARGO_PKG_VERSION").to_string());
    if let Some(s) = state {
        api.info.title = format!("{} API", s.config.project_name);
    }
    crate::openapi::complete(&api)
}

/// The application: its state, with the periodic jobs (retention, dispatch escalation) running.
pub fn start(config: crate::Config, db: gad_service::Pool) -> AppState {
    let state = AppState::new(config, db);
    gad_service::jobs::spawn(state.ctx.clone());
    gad_service::dispatch::spawn(state.ctx.clone());
    gad_service::checkins::spawn(state.ctx.clone());
    gad_service::zona_vigilancia::spawn(state.ctx.clone());
    state
}

pub fn build_router(state: AppState) -> Router {
    let (api_routes, _) = api_router().split_for_parts();
    let api = openapi(Some(&state));
    let router = Router::new()
        .merge(api_routes)
        .merge(routes::health::aliases())
        .merge(crate::realtime::router())
        .merge(routes::docs::router(api))
        .merge(crate::web::router())
        .route_layer(axum::middleware::from_fn(middleware::record_matched_path));

    // The outer bound: contract §1's 10 MiB, or an attachment upload when ADJUNTO_MAX_MB is
    // larger (each route's own bound is set by the gateway).
    let outer = routes::evidencia::upload_body_limit(
        &Method::POST,
        "/api/v1/tasks/0/adjuntos",
        state.config.adjuntos.max_bytes,
    )
    .map_or(BODY_LIMIT, |upload| upload.max(BODY_LIMIT));
    router
        .layer(CatchPanicLayer::custom(middleware::panic_response))
        .layer(DefaultBodyLimit::max(outer))
        .layer(RequestBodyLimitLayer::new(outer))
        .layer(cors_layer(&state))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            middleware::gateway,
        ))
        .with_state(state)
}

fn cors_layer(state: &AppState) -> CorsLayer {
    let origins = &state.config.cors_allowed_origins;
    let allow = if origins.iter().any(|o| o == "*") {
        AllowOrigin::any()
    } else {
        AllowOrigin::list(origins.iter().filter_map(|o| o.parse().ok()))
    };
    let layer = CorsLayer::new()
        .allow_origin(allow)
        .allow_methods([
            Method::GET,
            Method::POST,
            Method::PUT,
            Method::PATCH,
            Method::DELETE,
            Method::OPTIONS,
        ])
        .allow_headers([
            header::AUTHORIZATION,
            header::CONTENT_TYPE,
            HeaderName::from_static("x-request-id"),
            HeaderName::from_static("idempotency-key"),
        ])
        .expose_headers([
            HeaderName::from_static("x-request-id"),
            HeaderName::from_static("x-ratelimit-limit"),
            HeaderName::from_static("x-ratelimit-remaining"),
            header::RETRY_AFTER,
        ])
        .max_age(Duration::from_secs(600));
    if origins.iter().any(|o| o == "*") {
        layer
    } else {
        layer.allow_credentials(true)
    }
}

/// Serves until `shutdown` resolves; in-flight requests finish (graceful shutdown).
///
/// Our own accept loop rather than `axum::serve`, for three limits a public service needs:
/// a client that has not sent its headers within `HEADER_READ_TIMEOUT_SECONDS` is
/// disconnected (slowloris), at most `MAX_CONNECTIONS` connections are served at once (more
/// wait in the kernel's backlog), and the loop never dies on an accept error.
pub async fn serve(
    listener: tokio::net::TcpListener,
    state: AppState,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
    use hyper_util::server::conn::auto::Builder;
    use hyper_util::server::graceful::GracefulShutdown;
    use tower::ServiceExt;

    let header_timeout = Duration::from_secs(state.config.header_read_timeout_seconds);
    let slots = std::sync::Arc::new(tokio::sync::Semaphore::new(state.config.max_connections));
    let app = build_router(state);
    let mut builder = Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(header_timeout);
    let graceful = GracefulShutdown::new();
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let permit = tokio::select! {
            p = std::sync::Arc::clone(&slots).acquire_owned() => match p {
                Ok(p) => p,
                Err(_) => break,
            },
            _ = &mut shutdown => break,
        };
        let (stream, peer) = tokio::select! {
            r = listener.accept() => match r {
                Ok(x) => x,
                Err(e) => {
                    // Out of file descriptors and the like: wait a moment, keep serving.
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            _ = &mut shutdown => break,
        };
        let _ = stream.set_nodelay(true);
        let router = app.clone();
        let service =
            hyper::service::service_fn(move |mut req: hyper::Request<hyper::body::Incoming>| {
                req.extensions_mut()
                    .insert(axum::extract::ConnectInfo(peer));
                router.clone().oneshot(req.map(axum::body::Body::new))
            });
        let conn = builder
            .serve_connection_with_upgrades(TokioIo::new(stream), service)
            .into_owned();
        let conn = graceful.watch(conn);
        tokio::spawn(async move {
            if let Err(e) = conn.await {
                tracing::debug!(error = %e, %peer, "connection ended with an error");
            }
            drop(permit);
        });
    }
    drop(listener);
    if tokio::time::timeout(Duration::from_secs(30), graceful.shutdown())
        .await
        .is_err()
    {
        tracing::warn!("connections still open 30 s after shutdown; stopping anyway");
    }
    Ok(())
}

/// Resolves on SIGINT or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! { _ = ctrl_c => {}, _ = term => {} }
    tracing::info!("shutdown signal received; draining connections");
}
