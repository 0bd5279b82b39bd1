//! The rule every request parameter obeys, whichever endpoint reads it.

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
