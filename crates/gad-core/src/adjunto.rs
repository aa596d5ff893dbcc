//! Evidence files: which kinds the server keeps, recognised from their first bytes (never from
//! what the client says they are).

/// The kinds of file an attachment may be, as MIME types.
pub const TIPOS: [&str; 3] = ["image/jpeg", "image/png", "application/pdf"];

/// The MIME type the bytes are, by their signature; None for anything else.
pub fn detect(bytes: &[u8]) -> Option<&'static str> {
    if bytes.starts_with(&[0xFF, 0xD8, 0xFF]) {
        Some("image/jpeg")
    } else if bytes.starts_with(&[0x89, b'P', b'N', b'G', 0x0D, 0x0A, 0x1A, 0x0A]) {
        Some("image/png")
    } else if bytes.starts_with(b"%PDF-") {
        Some("application/pdf")
    } else {
        None
    }
}

/// The usual file extension of a kind (for the object's key).
pub fn extension(tipo: &str) -> &'static str {
    match tipo {
        "image/jpeg" => "jpg",
        "image/png" => "png",
        "application/pdf" => "pdf",
        _ => "bin",
    }
}

/// Does a declared Content-Type name the detected kind? `image/jpg` and `image/pjpeg` are
/// common spellings of JPEG; parameters (`; charset=…`) are ignored; a declaration the client
/// left out or sent as `application/octet-stream` says nothing and is accepted.
pub fn declared_matches(declared: Option<&str>, detected: &str) -> bool {
    let Some(d) = declared else { return true };
    let d = d
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    if d.is_empty() || d == "application/octet-stream" {
        return true;
    }
    match detected {
        "image/jpeg" => matches!(d.as_str(), "image/jpeg" | "image/jpg" | "image/pjpeg"),
        other => d == other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_are_recognised_by_their_signature_only() {
        assert_eq!(detect(&[0xFF, 0xD8, 0xFF, 0xE0, 0, 0]), Some("image/jpeg"));
        assert_eq!(detect(b"\x89PNG\r\n\x1a\n...."), Some("image/png"));
        assert_eq!(detect(b"%PDF-1.7\n"), Some("application/pdf"));
        assert_eq!(detect(b"GIF89a"), None);
        assert_eq!(detect(b"<html>"), None);
        assert_eq!(detect(b""), None);
    }

    #[test]
    fn a_declared_type_must_name_the_detected_one() {
        assert!(declared_matches(Some("image/png"), "image/png"));
        assert!(declared_matches(Some("image/jpg"), "image/jpeg"));
        assert!(declared_matches(None, "application/pdf"));
        assert!(declared_matches(
            Some("application/octet-stream"),
            "application/pdf"
        ));
        assert!(!declared_matches(Some("image/png"), "image/jpeg"));
        assert!(!declared_matches(Some("application/pdf"), "image/png"));
    }
}
