//! Page rendering: one minijinja layout (`web/pages/layout.html`) around each page's own
//! markup, every inserted value escaped by the engine, asset URLs made cache-busting, and the
//! strict Content-Security-Policy of the HTML pages.

use std::sync::LazyLock;

use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use gad_core::Nivel;
use minijinja::syntax::SyntaxConfig;
use minijinja::{
    AutoEscape, Environment, Output, State, UndefinedBehavior, Value, context, escape_formatter,
};

use super::assets;
use crate::error::ApiError;
use crate::state::AppState;

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Page {
    Login,
    Dashboard,
    Tareas,
    Estadisticas,
    Turnos,
    Admin,
    Prohibido,
}

impl Page {
    /// The name of the page's markup among `TEMPLATES`.
    fn template(self) -> &'static str {
        match self {
            Page::Login => "login.html",
            Page::Dashboard => "dashboard.html",
            Page::Tareas => "tareas.html",
            Page::Estadisticas => "estadisticas.html",
            Page::Turnos => "turnos.html",
            Page::Admin => "admin.html",
            Page::Prohibido => "prohibido.html",
        }
    }

    fn name(self) -> &'static str {
        match self {
            Page::Login => "login",
            Page::Dashboard => "dashboard",
            Page::Tareas => "tareas",
            Page::Estadisticas => "estadisticas",
            Page::Turnos => "turnos",
            Page::Admin => "admin",
            Page::Prohibido => "prohibido",
        }
    }

    /// Scripts after the shared ones (texts, API client, layout).
    fn scripts(self) -> &'static [&'static str] {
        match self {
            Page::Login => &["js/login.js"],
            Page::Dashboard => &[
                "vendor/leaflet/leaflet.js",
                "js/live.js",
                "js/incidente.js",
                "js/alarmas.js",
                "js/mensajes.js",
                "js/jurisdiccion.js",
                "js/dashboard.js",
            ],
            Page::Tareas => &["js/tareas.js"],
            Page::Estadisticas => &["js/estadisticas.js"],
            Page::Turnos => &["js/live.js", "js/turnos.js"],
            Page::Admin => &["js/admin.js"],
            Page::Prohibido => &[],
        }
    }

    fn styles(self) -> &'static [&'static str] {
        match self {
            Page::Dashboard => &["vendor/leaflet/leaflet.css", "css/app.css"],
            _ => &["css/app.css"],
        }
    }
}

/// A template of `web/pages/`, by file name, embedded at build time.
macro_rules! template {
    ($name:literal) => {
        ($name, include_str!(concat!("../../web/pages/", $name)))
    };
}

/// Every template (the pages never read a file at run time): the layout, and the page markup
/// it includes as `main`.
const TEMPLATES: [(&str, &str); 8] = [
    template!("layout.html"),
    template!("login.html"),
    template!("dashboard.html"),
    template!("tareas.html"),
    template!("estadisticas.html"),
    template!("turnos.html"),
    template!("admin.html"),
    template!("prohibido.html"),
];

/// The template environment, compiled once on first use; a template that does not compile
/// keeps its error here and every page answers 500 with it.
static ENV: LazyLock<Result<Environment<'static>, String>> =
    LazyLock::new(|| environment().map_err(|e| e.to_string()));

/// HTML autoescape for every template, a missing variable is an error (not an empty string),
/// the trailing newline of each file is kept (the pages keep their exact bytes), and
/// `asset(path)` gives an asset's cache-busting URL.
fn environment() -> Result<Environment<'static>, minijinja::Error> {
    let mut env = Environment::new();
    env.set_syntax(
        SyntaxConfig::builder()
            .keep_trailing_newline(true)
            .build()?,
    );
    env.set_auto_escape_callback(|_| AutoEscape::Html);
    env.set_undefined_behavior(UndefinedBehavior::Strict);
    env.set_formatter(format_value);
    env.add_function("asset", |path: &str| assets::url(path));
    for (name, source) in TEMPLATES {
        env.add_template(name, source)?;
    }
    Ok(env)
}

/// Writes a value into the page. Strings get the escaping the pages have always had (`&`,
/// `<`, `>`, `"`, `'`): minijinja's own HTML escaping also writes `/` as `&#x2f;`, which would
/// change every URL in the pages. Anything else (and safe strings) goes to the default.
fn format_value(
    out: &mut Output,
    state: &mut State,
    value: &Value,
) -> Result<(), minijinja::Error> {
    match value.as_str() {
        Some(s) if *state.auto_escape() == AutoEscape::Html && !value.is_safe() => {
            let mut rest = s;
            while let Some(i) = rest.find(['&', '<', '>', '"', '\'']) {
                out.write_str(&rest[..i])?;
                out.write_str(match rest.as_bytes()[i] {
                    b'&' => "&amp;",
                    b'<' => "&lt;",
                    b'>' => "&gt;",
                    b'"' => "&quot;",
                    _ => "&#39;",
                })?;
                rest = &rest[i + 1..];
            }
            Ok(out.write_str(rest)?)
        }
        _ => escape_formatter(out, state, value),
    }
}

/// The navigation of a signed-in page, as the pages it links to: administration only for
/// level 3 (the route refuses level 2 as well; hiding the link keeps the page honest). Empty
/// on the login page and when nobody is signed in.
fn nav(page: Page, nivel: Option<Nivel>) -> Vec<&'static str> {
    let Some(nivel) = nivel.filter(|_| page != Page::Login) else {
        return Vec::new();
    };
    let mut links = vec!["dashboard", "tareas", "turnos", "estadisticas"];
    if nivel >= Nivel::Administrador {
        links.push("admin");
    }
    links
}

/// The page's HTML: the layout around the page markup, with cache-busting asset URLs.
/// `duty_mode` (`libre` or `turnos`) tells the map whether "on duty" narrows who it shows.
pub fn html(
    tile_url: &str,
    duty_mode: &str,
    page: Page,
    nivel: Option<Nivel>,
) -> Result<String, ApiError> {
    let env = ENV
        .as_ref()
        .map_err(|e| ApiError::internal(format!("page templates: {e}")))?;
    let scripts: Vec<&str> = ["i18n/es-AR.js", "js/api.js", "js/layout.js"]
        .into_iter()
        .chain(page.scripts().iter().copied())
        .collect();
    env.get_template("layout.html")
        .and_then(|t| {
            t.render(context! {
                styles => page.styles().to_vec(),
                scripts,
                page => page.name(),
                nav => nav(page, nivel),
                tile_url,
                duty_mode,
                main => page.template(),
            })
        })
        .map_err(|e| ApiError::internal(format!("page {}: {e}", page.name())))
}

/// Where map tiles may come from: the scheme and host of `MAP_TILE_URL`, with `{s}`-style
/// placeholders as a wildcard (`https://*.tile.openstreetmap.org`); nothing for a relative URL.
pub fn tile_source(url: &str) -> Option<String> {
    let (scheme, rest) = url.split_once("://")?;
    let host = rest.split('/').next().unwrap_or("");
    let mut h = String::new();
    let mut in_brace = false;
    for c in host.chars() {
        match c {
            '{' => {
                in_brace = true;
                h.push('*');
            }
            '}' => in_brace = false,
            _ if in_brace => {}
            c if c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | ':' | '*') => h.push(c),
            _ => return None,
        }
    }
    (!h.is_empty() && matches!(scheme, "http" | "https")).then(|| format!("{scheme}://{h}"))
}

/// No inline script or style anywhere; scripts, styles and fonts from this origin only; the
/// socket to this host; images from here, `data:` (Leaflet) and the tile server; the alarm
/// sounds from here.
pub fn csp(state: &AppState, headers: &HeaderMap) -> String {
    let tiles = tile_source(&state.config.map_tile_url).unwrap_or_default();
    let host = headers
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .filter(|h| {
            h.chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | ':' | '[' | ']'))
        })
        .map(|h| format!(" ws://{h} wss://{h}"))
        .unwrap_or_default();
    format!(
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data: {tiles}; \
         connect-src 'self'{host}; font-src 'self'; media-src 'self'; base-uri 'none'; \
         form-action 'self'; frame-ancestors 'none'"
    )
}

pub fn render(
    state: &AppState,
    headers: &HeaderMap,
    page: Page,
    nivel: Option<Nivel>,
    status: StatusCode,
) -> Response {
    let duty_mode = state.config.duty_mode_name();
    let body = match html(&state.config.map_tile_url, duty_mode, page, nivel) {
        Ok(body) => body,
        Err(e) => return e.into_response(),
    };
    let mut r = (status, body).into_response();
    let h = r.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    if let Ok(v) = HeaderValue::from_str(&csp(state, headers)) {
        h.insert(header::CONTENT_SECURITY_POLICY, v);
    }
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    const ALL: [Page; 7] = [
        Page::Login,
        Page::Dashboard,
        Page::Tareas,
        Page::Estadisticas,
        Page::Turnos,
        Page::Admin,
        Page::Prohibido,
    ];

    #[test]
    fn every_page_renders_with_its_assets() {
        for page in ALL {
            for nivel in [None, Some(Nivel::Supervisor), Some(Nivel::Administrador)] {
                let out = html("/t/{z}/{x}/{y}.png", "turnos", page, nivel).expect("page renders");
                assert!(out.starts_with("<!DOCTYPE html>\n") && out.ends_with("</html>\n"));
                assert!(out.contains(&format!("data-page=\"{}\"", page.name())));
                assert!(out.contains("data-duty-mode=\"turnos\""), "{page:?}");
                assert!(out.contains(&assets::url("js/layout.js")));
                assert!(!out.contains("{{") && !out.contains("{%"), "{page:?}");
                let signed_in = nivel.is_some() && page != Page::Login;
                assert_eq!(out.contains("data-testid=\"logout\""), signed_in);
                assert_eq!(
                    out.contains("data-testid=\"nav-admin\""),
                    signed_in && nivel == Some(Nivel::Administrador)
                );
            }
        }
    }

    #[test]
    fn inserted_values_are_escaped() {
        let out = html("https://t/{z}?a=1&b=\"x'<y>", "libre", Page::Login, None).expect("renders");
        assert!(out.contains("data-tile-url=\"https://t/{z}?a=1&amp;b=&quot;x&#39;&lt;y&gt;\""));
    }

    #[test]
    fn tile_sources() {
        assert_eq!(
            tile_source("https://{s}.tile.openstreetmap.org/{z}/{x}/{y}.png").as_deref(),
            Some("https://*.tile.openstreetmap.org")
        );
        assert_eq!(
            tile_source("http://127.0.0.1:8080/tiles/{z}/{x}/{y}.png").as_deref(),
            Some("http://127.0.0.1:8080")
        );
        assert_eq!(tile_source("/tiles/{z}/{x}/{y}.png"), None);
        assert_eq!(tile_source("javascript://x;y/"), None);
        assert_eq!(tile_source("https://a b/"), None);
    }
}
