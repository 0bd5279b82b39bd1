//! Secret-bearing values. Each has a redacted `Debug` and no `Display`, so a secret can
//! only leave the process through an explicit `expose()` at the place that sends it.

macro_rules! secret_type {
    ($(#[$meta:meta])* $name:ident) => {
        $(#[$meta])*
        #[derive(Clone, PartialEq, Eq)]
        pub struct $name(String);

        impl $name {
            pub fn new(value: String) -> Self {
                $name(value)
            }

            pub fn expose(&self) -> &str {
                &self.0
            }
        }

        impl std::fmt::Debug for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(concat!(stringify!($name), "(<redacted>)"))
            }
        }
    };
}

secret_type!(
    /// A confidential client's secret, as presented or as generated (shown once).
    ClientSecret
);
secret_type!(
    /// An authorization code (RFC 6749 §4.1.2).
    AuthCode
);
secret_type!(
    /// A refresh token as presented (RFC 6749 §6).
    RefreshToken
);
secret_type!(
    /// A PKCE code verifier as presented (RFC 7636 §4.5).
    CodeVerifier
);
secret_type!(
    /// The value of the session cookie.
    SessionToken
);
secret_type!(
    /// A citizen's password as typed.
    Password
);
secret_type!(
    /// A bearer access token as presented to userinfo.
    AccessToken
);
