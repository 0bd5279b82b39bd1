//! Strict security headers on every response.

use actix_web::middleware::DefaultHeaders;

/// The content security policy allows only our own stylesheet and our own script files
/// (`/static/passkey.js`, which calls WebAuthn): no inline script, no other origin's, no
/// framing (clickjacking on the login page), no base-URI tricks. `form-action` is left
/// out on purpose: browsers apply it to the redirect that follows the login form, which
/// must reach the client's redirect URI.
const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; \
                   frame-ancestors 'none'; base-uri 'none'";

pub fn headers(https: bool) -> DefaultHeaders {
    let headers = DefaultHeaders::new()
        .add(("Content-Security-Policy", CSP))
        .add(("X-Content-Type-Options", "nosniff"))
        .add(("X-Frame-Options", "DENY"))
        // Codes and states travel in URLs; never leak them to other sites.
        .add(("Referrer-Policy", "no-referrer"))
        .add(("Cross-Origin-Opener-Policy", "same-origin"))
        .add(("Cross-Origin-Resource-Policy", "same-site"))
        .add((
            "Permissions-Policy",
            "camera=(), microphone=(), geolocation=(), payment=()",
        ));
    if https {
        headers.add((
            "Strict-Transport-Security",
            "max-age=63072000; includeSubDomains",
        ))
    } else {
        headers
    }
}
