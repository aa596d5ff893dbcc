//! Page rendering: one layout (`web/pages/layout.html`) around each page's own markup, asset
//! URLs made cache-busting, and the strict Content-Security-Policy of the HTML pages.

use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use gad_core::Nivel;

use super::assets;
use crate::state::AppState;

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Page {
    Login,
    Dashboard,
    Tareas,
    Estadisticas,
    Admin,
    Prohibido,
}

impl Page {
    fn template(self) -> &'static str {
        match self {
            Page::Login => "pages/login.html",
            Page::Dashboard => "pages/dashboard.html",
            Page::Tareas => "pages/tareas.html",
            Page::Estadisticas => "pages/estadisticas.html",
            Page::Admin => "pages/admin.html",
            Page::Prohibido => "pages/prohibido.html",
        }
    }

    fn name(self) -> &'static str {
        match self {
            Page::Login => "login",
            Page::Dashboard => "dashboard",
            Page::Tareas => "tareas",
            Page::Estadisticas => "estadisticas",
            Page::Admin => "admin",
            Page::Prohibido => "prohibido",
        }
    }

    /// Scripts after the shared ones (texts, API client, layout).
    fn scripts(self) -> &'static [&'static str] {
        match self {
            Page::Login => &["js/login.js"],
            Page::Dashboard => &["vendor/leaflet/leaflet.js", "js/live.js", "js/dashboard.js"],
            Page::Tareas => &["js/tareas.js"],
            Page::Estadisticas => &["js/estadisticas.js"],
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

fn text(path: &str) -> String {
    assets::get(path)
        .map(|a| String::from_utf8_lossy(&a.bytes).into_owned())
        .unwrap_or_default()
}

fn escape_attr(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('"', "&quot;")
        .replace('\'', "&#39;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// The navigation of a signed-in page: administration only for level 3 (the route refuses
/// level 2 as well; hiding the link keeps the page honest).
fn nav(page: Page, nivel: Option<Nivel>) -> String {
    let Some(nivel) = nivel.filter(|_| page != Page::Login) else {
        return String::new();
    };
    let mut links = vec![
        ("dashboard", "/dashboard"),
        ("tareas", "/tareas"),
        ("estadisticas", "/estadisticas"),
    ];
    if nivel >= Nivel::Administrador {
        links.push(("admin", "/admin"));
    }
    let items: String = links
        .iter()
        .map(|(name, href)| {
            format!(
                "<li><a href=\"{href}\" data-page=\"{name}\" data-testid=\"nav-{name}\" data-i18n=\"nav.{name}\"></a></li>"
            )
        })
        .collect();
    format!(
        "<nav data-i18n-attr=\"aria-label:nav.aria\"><ul>{items}</ul></nav>\n\
         <span id=\"usuario\" class=\"usuario\"></span>\n\
         <button type=\"button\" class=\"salir\" data-testid=\"logout\" data-i18n=\"nav.salir\"></button>"
    )
}

/// The page's HTML: layout + page markup, with `{{asset:path}}` made cache-busting.
pub fn html(state: &AppState, page: Page, nivel: Option<Nivel>) -> String {
    let styles: String = page
        .styles()
        .iter()
        .map(|s| format!("<link rel=\"stylesheet\" href=\"{}\">\n", assets::url(s)))
        .collect();
    let scripts: String = ["i18n/es-AR.js", "js/api.js", "js/layout.js"]
        .iter()
        .chain(page.scripts())
        .map(|s| format!("<script src=\"{}\" defer></script>\n", assets::url(s)))
        .collect();
    let mut out = text("pages/layout.html")
        .replace("{{styles}}", &styles)
        .replace("{{scripts}}", &scripts)
        .replace("{{page}}", page.name())
        .replace("{{nav}}", &nav(page, nivel))
        .replace("{{tile_url}}", &escape_attr(&state.config.map_tile_url))
        .replace("{{main}}", &text(page.template()));
    // Any remaining {{asset:…}} (images in page markup).
    while let Some(start) = out.find("{{asset:") {
        let Some(len) = out[start..].find("}}") else {
            break;
        };
        let path = out[start + 8..start + len].to_string();
        out.replace_range(start..start + len + 2, &assets::url(&path));
    }
    out
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
/// socket to this host; images from here, `data:` (Leaflet) and the tile server.
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
         connect-src 'self'{host}; font-src 'self'; base-uri 'none'; form-action 'self'; \
         frame-ancestors 'none'"
    )
}

pub fn render(
    state: &AppState,
    headers: &HeaderMap,
    page: Page,
    nivel: Option<Nivel>,
    status: StatusCode,
) -> Response {
    let mut r = (status, html(state, page, nivel)).into_response();
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
    use super::tile_source;

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
