# citizen-idp in a container: build with the Rust toolchain, run on Debian slim as an
# unprivileged user. SQLite, libpq and OpenSSL are built from bundled sources, so the
# runtime image needs only CA certificates (for jwks_uri fetches and back-channel
# logout) and curl for the health check.
#
#   docker build -t citizen-idp .
#   docker run -p 8080:8080 --env-file citizen-idp.env citizen-idp
#
# Configuration comes from the environment (CITIZEN_IDP__SECTION__KEY) on top of
# config/production.toml; see docs/OPERATIONS.md.

# Any current stable toolchain (the crate needs at least its rust-version, 1.90).
FROM rust:1-bookworm AS build
WORKDIR /src
COPY . .
RUN cargo build --release --locked --bin citizen-idp

FROM debian:bookworm-slim
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates curl \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --uid 10001 --home-dir /var/lib/citizen-idp --create-home citizen-idp
COPY --from=build /src/target/release/citizen-idp /usr/local/bin/citizen-idp
COPY config/production.toml /etc/citizen-idp/config.toml
USER citizen-idp
WORKDIR /var/lib/citizen-idp
# Inside a container the server must listen on every interface; the keys directory is
# the user's own (the server secret itself should come from CITIZEN_IDP__KEYS__SECRET).
ENV CITIZEN_IDP__SERVER__LISTEN=0.0.0.0:8080 \
    CITIZEN_IDP__KEYS__DIR=/var/lib/citizen-idp/keys
EXPOSE 8080
HEALTHCHECK --interval=30s --timeout=3s --start-period=30s --retries=3 \
    CMD curl -fsS http://127.0.0.1:8080/healthz || exit 1
# SIGTERM drains requests for up to 30 s: stop with `docker stop -t 45`.
STOPSIGNAL SIGTERM
ENTRYPOINT ["/usr/local/bin/citizen-idp", "--config", "/etc/citizen-idp/config.toml"]
CMD ["serve"]
