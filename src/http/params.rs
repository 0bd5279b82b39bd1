//! The name/value pairs of a request, from its query string or its form body, for the
//! endpoints that accept both (authorization, end-session). `None` when malformed.

use actix_web::{HttpRequest, web};

pub type Pairs = Vec<(String, String)>;

pub fn from_query(req: &HttpRequest) -> Option<Pairs> {
    parse(req.query_string().as_bytes())
}

pub fn from_body(body: Result<web::Bytes, actix_web::Error>) -> Option<Pairs> {
    body.ok().and_then(|bytes| parse(&bytes))
}

/// Decodes `application/x-www-form-urlencoded` bytes, a query string or a body. Public
/// so that the fuzz targets (`fuzz/`) feed untrusted bytes through the same decoding.
pub fn parse(raw: &[u8]) -> Option<Pairs> {
    serde_urlencoded::from_bytes(raw).ok()
}

/// Whether a parameter's value holds a control character (U+0000 to U+001F, U+007F to
/// U+009F) other than tab, line feed and carriage return, which JSON (`claims`) allows
/// between its tokens. No parameter of ours may hold one (RFC 6749 Appendix A: client
/// ids, `state` and scopes are printable ASCII), and PostgreSQL refuses a NUL in text:
/// such a value is refused where it enters, before it can reach a query, a page or a
/// log line.
pub fn holds_control(value: &str) -> bool {
    value
        .chars()
        .any(|c| c.is_control() && !matches!(c, '\t' | '\n' | '\r'))
}

#[cfg(test)]
mod tests {
    use super::holds_control;

    #[test]
    fn control_characters_but_json_whitespace_are_found() {
        for bad in ["\0", "a\u{1}", "\u{1f}b", "x\u{7f}", "\u{85}", "\u{9f}"] {
            assert!(holds_control(bad), "{bad:?}");
        }
        for good in [
            "",
            "openid profile",
            "{\n\t\"a\": 1\r\n}",
            "Nguyễn Văn An",
            "\u{a0}",
        ] {
            assert!(!holds_control(good), "{good:?}");
        }
    }
}
