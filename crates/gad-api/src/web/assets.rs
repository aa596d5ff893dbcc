//! The command centre's static files, embedded in the binary at build time (rust-embed reads
//! them from disk in debug builds so a page edit needs no rebuild) and prepared once at start:
//! content hash for cache-busting URLs, gzip copy for text files.

use std::collections::HashMap;
use std::io::Write;
use std::sync::LazyLock;

use flate2::Compression;
use flate2::write::GzEncoder;

#[derive(rust_embed::Embed)]
#[folder = "web/"]
struct Embedded;

/// One asset ready to serve.
pub struct Asset {
    pub bytes: Vec<u8>,
    /// Present when gzip makes it smaller (text files).
    pub gzip: Option<Vec<u8>>,
    pub content_type: &'static str,
    /// First 12 hex digits of the SHA-256: the `v=` of cache-busted URLs and the ETag.
    pub version: String,
}

static ASSETS: LazyLock<HashMap<String, Asset>> = LazyLock::new(|| {
    Embedded::iter()
        .filter_map(|path| {
            let file = Embedded::get(&path)?;
            let bytes = file.data.into_owned();
            let version = hex::encode(file.metadata.sha256_hash())[..12].to_string();
            let content_type = content_type(&path);
            let gzip = compressible(content_type)
                .then(|| gzip(&bytes))
                .flatten()
                .filter(|z| z.len() < bytes.len());
            Some((
                path.into_owned(),
                Asset {
                    bytes,
                    gzip,
                    content_type,
                    version,
                },
            ))
        })
        .collect()
});

pub fn get(path: &str) -> Option<&'static Asset> {
    ASSETS.get(path)
}

/// The cache-busted URL of an asset (`/assets/<path>?v=<hash>`); a missing file keeps a
/// plain URL so the page still names it (and the test of the pages catches it as a 404).
pub fn url(path: &str) -> String {
    match get(path) {
        Some(a) => format!("/assets/{path}?v={}", a.version),
        None => format!("/assets/{path}"),
    }
}

fn gzip(bytes: &[u8]) -> Option<Vec<u8>> {
    let mut enc = GzEncoder::new(Vec::with_capacity(bytes.len() / 3), Compression::best());
    enc.write_all(bytes).ok()?;
    enc.finish().ok()
}

fn compressible(content_type: &str) -> bool {
    content_type.starts_with("text/")
        || content_type.starts_with("application/javascript")
        || content_type.starts_with("application/json")
        || content_type.starts_with("image/svg")
}

fn content_type(path: &str) -> &'static str {
    match path.rsplit('.').next().unwrap_or("") {
        "html" => "text/html; charset=utf-8",
        "css" => "text/css; charset=utf-8",
        "js" => "application/javascript; charset=utf-8",
        "json" => "application/json",
        "png" => "image/png",
        "svg" => "image/svg+xml",
        "ico" => "image/x-icon",
        "wav" => "audio/wav",
        _ => "application/octet-stream",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn leaflet_is_embedded_compressed_and_versioned() {
        let a = get("vendor/leaflet/leaflet.js").expect("leaflet vendored");
        assert_eq!(a.content_type, "application/javascript; charset=utf-8");
        assert!(a.gzip.as_ref().is_some_and(|z| z.len() < a.bytes.len() / 2));
        assert_eq!(a.version.len(), 12);
        assert!(url("vendor/leaflet/leaflet.js").ends_with(&a.version));
        assert!(get("vendor/leaflet/LICENSE").is_some());
    }

    #[test]
    fn pngs_are_not_gzipped() {
        let a = get("vendor/leaflet/images/layers.png").expect("png");
        assert!(a.gzip.is_none());
        assert_eq!(a.content_type, "image/png");
    }
}
