//! `citizen-idp clients ...`: the operator's commands over [`registration::admin`], the
//! service the admin API calls too.

use std::path::PathBuf;

use chrono::NaiveDateTime;
use clap::{Args, Subcommand};

use crate::config::Settings;
use crate::domain::client::{AssertionAudience, Client, ClientKind, SubjectType};
use crate::domain::client_keys;
use crate::domain::client_security::SecurityMetadata;
use crate::domain::secret::ClientSecret;
use crate::registration::admin::{self, Actor, AdminError};
use crate::registration::{self, NewClient};
use crate::startup::{self, StartupError};

const ACTOR: Actor<'static> = Actor("cli");

#[derive(Subcommand)]
pub enum ClientsCommand {
    /// Register a relying party; prints its id, and its secret once.
    Create(Box<CreateClient>),
    /// Change settings of a relying party; options not given keep their value.
    Update(Box<UpdateClient>),
    /// Show every setting of a relying party.
    Show { client_id: String },
    /// List the relying parties (`--json`: one JSON array).
    List {
        #[arg(long)]
        json: bool,
    },
    /// Give a relying party a new secret (printed once); the old one stops working.
    RotateSecret { client_id: String },
    /// Delete a relying party; its refresh tokens stop working.
    Delete { client_id: String },
    /// Disable a relying party without deleting it: no endpoint knows it (within the
    /// 5 s that running servers trust a cached registration) until it is enabled.
    Disable { client_id: String },
    /// Enable a disabled relying party.
    Enable { client_id: String },
}

/// Settings shared by `create` and `update`.
#[derive(Args, Clone)]
pub struct ClientSettings {
    /// Display name shown to citizens on the login page.
    #[arg(long)]
    name: Option<String>,
    /// A redirect URI; repeat for several (required for the code flow).
    #[arg(long = "redirect-uri")]
    redirect_uris: Vec<String>,
    /// Where RP-initiated logout may return the browser; repeat for several.
    #[arg(long = "post-logout-redirect-uri")]
    post_logout_redirect_uris: Vec<String>,
    /// Where back-channel logout tokens are POSTed ("" removes it).
    #[arg(long)]
    backchannel_logout_uri: Option<String>,
    /// authorization_code, refresh_token or client_credentials; repeat for several
    /// (default: authorization_code and refresh_token).
    #[arg(long = "grant-type")]
    grant_types: Vec<String>,
    /// The `sub` this client sees: pairwise (per sector, the default) or public.
    #[arg(long)]
    subject_type: Option<String>,
    /// The sector of pairwise subjects (a host), when the redirect URIs span several.
    #[arg(long)]
    sector_identifier: Option<String>,
    /// A JWK Set file of the client's public keys: the client then authenticates with
    /// private_key_jwt instead of a secret.
    #[arg(long, value_name = "FILE", conflicts_with = "jwks_uri")]
    jwks_file: Option<PathBuf>,
    /// Or the URL where the client publishes its JWK Set.
    #[arg(long)]
    jwks_uri: Option<String>,
    /// The contents of `jwks_file`, read before any transaction opens.
    #[arg(skip)]
    jwks_document: Option<String>,
    /// Scopes the client may request; repeat or separate with spaces (default:
    /// "openid profile").
    #[arg(long = "scope")]
    scopes: Vec<String>,
    /// ID token signing algorithm: RS256 (the default) or ES256.
    #[arg(long)]
    id_token_alg: Option<String>,
    /// This client's access-token lifetime in seconds (60 to 3600), instead of
    /// tokens.access_token_ttl_secs.
    #[arg(long, value_name = "SECS")]
    access_token_ttl: Option<u32>,
    /// Whether this is one of the state's own services, whose citizens are not asked
    /// for consent (default: false).
    #[arg(long, value_name = "true|false")]
    first_party: Option<bool>,
    /// How the client authenticates at /token, /introspect and /revoke, and no other
    /// way: client_secret_basic (the default with a secret), client_secret_post,
    /// private_key_jwt (with keys) or none (public clients).
    #[arg(long, value_name = "METHOD")]
    token_endpoint_auth_method: Option<String>,
    /// The one algorithm the client's assertions may use, e.g. ES256 (RFC 7591);
    /// "" removes it (then any asymmetric algorithm that fits the key).
    #[arg(long, value_name = "ALG")]
    token_endpoint_auth_signing_alg: Option<String>,
    /// The `aud` its assertions may carry: issuer (the issuer identifier as one string;
    /// the default for new clients) or oidc (also the token endpoint URL, and arrays).
    #[arg(long, value_name = "issuer|oidc")]
    assertion_audience: Option<String>,
    /// standard, or fapi2: the FAPI 2.0 Security Profile (PAR, DPoP, private_key_jwt,
    /// PS256/ES256/EdDSA), whatever the flags below say.
    #[arg(long, value_name = "standard|fapi2")]
    profile: Option<String>,
    /// Whether every authorization request must come through /par (RFC 9126).
    #[arg(long, value_name = "true|false")]
    require_pushed_authorization_requests: Option<bool>,
    /// Whether every access token must be DPoP-bound (RFC 9449).
    #[arg(long, value_name = "true|false")]
    dpop_bound_access_tokens: Option<bool>,
    /// The one algorithm its request objects may be signed with; "" removes it.
    #[arg(long, value_name = "ALG")]
    request_object_signing_alg: Option<String>,
    /// Encrypt ID tokens to the client's `use: enc` key: ECDH-ES+A256KW or RSA-OAEP-256;
    /// "" stops encrypting.
    #[arg(long, value_name = "ALG")]
    id_token_encrypted_response_alg: Option<String>,
    /// A256GCM, or A128CBC-HS256 (the default when only the algorithm is given).
    #[arg(long, value_name = "ENC")]
    id_token_encrypted_response_enc: Option<String>,
    /// Answer userinfo as a JWT signed with RS256 or ES256; "" answers JSON.
    #[arg(long, value_name = "ALG")]
    userinfo_signed_response_alg: Option<String>,
    /// Encrypt userinfo answers: ECDH-ES+A256KW or RSA-OAEP-256; "" stops encrypting.
    #[arg(long, value_name = "ALG")]
    userinfo_encrypted_response_alg: Option<String>,
    /// A256GCM, or A128CBC-HS256 (the default when only the algorithm is given).
    #[arg(long, value_name = "ENC")]
    userinfo_encrypted_response_enc: Option<String>,
}

#[derive(Args)]
#[command(group = clap::ArgGroup::new("kind").required(true).args(["public", "confidential"]))]
pub struct CreateClient {
    /// A client that cannot keep a secret (mobile app): PKCE, no secret.
    #[arg(long)]
    public: bool,
    /// A server-side client (portal): authenticates with a secret or its keys.
    #[arg(long)]
    confidential: bool,
    /// A chosen client id instead of a random one.
    #[arg(long)]
    id: Option<String>,
    #[command(flatten)]
    settings: ClientSettings,
}

#[derive(Args)]
pub struct UpdateClient {
    client_id: String,
    #[command(flatten)]
    settings: ClientSettings,
}

fn other(e: impl std::fmt::Display) -> StartupError {
    StartupError::Other(e.to_string())
}

impl ClientSettings {
    /// Reads the files named and checks the values that parse here, so that `apply`
    /// cannot fail.
    fn load(mut self) -> Result<Self, StartupError> {
        if let Some(path) = &self.jwks_file {
            let document = std::fs::read_to_string(path)
                .map_err(|e| other(format!("{}: {e}", path.display())))?;
            self.jwks_document = Some(document);
        }
        if let Some(subject_type) = &self.subject_type {
            SubjectType::parse(subject_type)
                .ok_or_else(|| other("subject type must be pairwise or public"))?;
        }
        if let Some(audience) = &self.assertion_audience {
            AssertionAudience::parse(audience)
                .ok_or_else(|| other("assertion audience must be issuer or oidc"))?;
        }
        Ok(self)
    }

    /// The assurance options given; an empty string removes a registered algorithm.
    /// Registration checks what results.
    fn apply_security(&self, security: &mut SecurityMetadata) {
        let set = |field: &mut Option<String>, given: &Option<String>| {
            if let Some(value) = given {
                *field = Some(value.clone()).filter(|v| !v.is_empty());
            }
        };
        set(&mut security.profile, &self.profile);
        set(
            &mut security.request_object_signing_alg,
            &self.request_object_signing_alg,
        );
        set(
            &mut security.id_token_encrypted_response_alg,
            &self.id_token_encrypted_response_alg,
        );
        set(
            &mut security.id_token_encrypted_response_enc,
            &self.id_token_encrypted_response_enc,
        );
        set(
            &mut security.userinfo_signed_response_alg,
            &self.userinfo_signed_response_alg,
        );
        set(
            &mut security.userinfo_encrypted_response_alg,
            &self.userinfo_encrypted_response_alg,
        );
        set(
            &mut security.userinfo_encrypted_response_enc,
            &self.userinfo_encrypted_response_enc,
        );
        if let Some(required) = self.require_pushed_authorization_requests {
            security.require_pushed_authorization_requests = required;
        }
        if let Some(bound) = self.dpop_bound_access_tokens {
            security.dpop_bound_access_tokens = bound;
        }
    }

    /// Applies the options given to `base`.
    fn apply(self, mut base: NewClient) -> NewClient {
        self.apply_security(&mut base.security);
        // New keys change the method with them, unless it is named.
        if self.jwks_document.is_some() || self.jwks_uri.is_some() {
            base.token_endpoint_auth_method = None;
        }
        if let Some(method) = self.token_endpoint_auth_method {
            base.token_endpoint_auth_method = Some(method);
        }
        if let Some(alg) = self.token_endpoint_auth_signing_alg {
            base.token_endpoint_auth_signing_alg = Some(alg).filter(|a| !a.is_empty());
        }
        if let Some(audience) = self
            .assertion_audience
            .as_deref()
            .and_then(AssertionAudience::parse)
        {
            base.assertion_audience = audience;
        }
        if let Some(name) = self.name {
            base.name = name;
        }
        if !self.redirect_uris.is_empty() {
            base.redirect_uris = self.redirect_uris;
        }
        if !self.post_logout_redirect_uris.is_empty() {
            base.post_logout_redirect_uris = self.post_logout_redirect_uris;
        }
        if let Some(uri) = self.backchannel_logout_uri {
            base.backchannel_logout_uri = Some(uri).filter(|u| !u.is_empty());
        }
        if !self.grant_types.is_empty() {
            base.grant_types = self.grant_types;
        }
        if let Some(subject_type) = self.subject_type.as_deref().and_then(SubjectType::parse) {
            base.subject_type = subject_type;
        }
        if let Some(sector) = self.sector_identifier {
            base.sector_identifier = Some(sector);
        }
        if let Some(document) = self.jwks_document {
            base.jwks = Some(document);
            base.jwks_uri = None;
        }
        if let Some(uri) = self.jwks_uri {
            base.jwks_uri = Some(uri);
            base.jwks = None;
        }
        if !self.scopes.is_empty() {
            base.scopes = self.scopes.join(" ");
        }
        if let Some(alg) = self.id_token_alg {
            base.id_token_alg = alg;
        }
        if let Some(ttl) = self.access_token_ttl {
            base.access_token_ttl_secs = Some(ttl);
        }
        if let Some(first_party) = self.first_party {
            base.first_party = first_party;
        }
        base
    }
}

pub async fn run(
    settings: &Settings,
    command: ClientsCommand,
    now: NaiveDateTime,
) -> Result<(), StartupError> {
    let db = startup::connect_database(settings).await?;
    let policy = crate::outbound::Policy {
        allow_private_networks: settings.outbound.allow_private_networks,
    };
    let admin_error = |e: AdminError| match e {
        AdminError::Storage(e) => StartupError::Storage(e),
        other_error => other(other_error),
    };
    let disable = matches!(command, ClientsCommand::Disable { .. });
    match command {
        ClientsCommand::Create(args) => {
            let args = *args;
            let base = NewClient {
                id: args.id,
                kind: if args.public {
                    ClientKind::Public
                } else {
                    ClientKind::Confidential
                },
                scopes: "openid profile".into(),
                ..NewClient::default()
            };
            let new = args.settings.load()?.apply(base);
            registration::check_outbound(&new, policy)
                .await
                .map_err(|e| admin_error(e.into()))?;
            let (client, secret) = db
                .run(move |conn| admin::create(conn, new, ACTOR, now))
                .await
                .map_err(admin_error)?;
            print_created(&client, secret.as_ref());
        }
        ClientsCommand::Update(args) => {
            let UpdateClient {
                client_id,
                settings: changes,
            } = *args;
            let changes = changes.load()?;
            // The URLs the server will call are checked on the client as it would be
            // after the change, before the transaction (the check resolves names).
            let id = client_id.clone();
            if let Some(current) = db.run(move |conn| admin::find(conn, &id)).await? {
                let preview = changes.clone().apply(NewClient::from(&current));
                registration::check_outbound(&preview, policy)
                    .await
                    .map_err(|e| admin_error(e.into()))?;
            }
            let (client, secret) = db
                .run(move |conn| {
                    admin::update(
                        conn,
                        &client_id,
                        |current| changes.apply(current),
                        ACTOR,
                        now,
                    )
                })
                .await
                .map_err(admin_error)?;
            print_created(&client, secret.as_ref());
        }
        ClientsCommand::Show { client_id } => {
            let client = db
                .run(move |conn| admin::find(conn, &client_id))
                .await?
                .ok_or_else(|| other(AdminError::NotFound))?;
            print_client(&client);
        }
        ClientsCommand::List { json } => {
            let (list, disabled) = db.run(admin::list_with_disabled).await?;
            let is_disabled = |id: &str| disabled.iter().any(|d| d == id);
            if json {
                let rows: Vec<serde_json::Value> = list
                    .iter()
                    .map(|c| {
                        serde_json::json!({
                            "client_id": c.id,
                            "client_name": c.name,
                            "kind": c.kind.as_str(),
                            "token_endpoint_auth_method": c.auth_method.as_str(),
                            "grant_types": c.grant_types.iter().map(|g| g.as_str()).collect::<Vec<_>>(),
                            "subject_type": c.subject_type.as_str(),
                            "scope": c.scopes.to_string(),
                            "disabled": is_disabled(&c.id),
                        })
                    })
                    .collect();
                super::print_json(&rows)?;
                return Ok(());
            }
            println!("CLIENT_ID\tKIND\tAUTH\tGRANTS\tSUBJECT\tSTATE\tSCOPES\tNAME");
            for c in list {
                let grants: Vec<&str> = c.grant_types.iter().map(|g| g.as_str()).collect();
                println!(
                    "{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}",
                    c.id,
                    c.kind.as_str(),
                    c.auth_method.as_str(),
                    grants.join(","),
                    c.subject_type.as_str(),
                    if is_disabled(&c.id) {
                        "disabled"
                    } else {
                        "enabled"
                    },
                    c.scopes,
                    c.name,
                );
            }
        }
        ClientsCommand::RotateSecret { client_id } => {
            let secret = db
                .run(move |conn| admin::rotate_secret(conn, &client_id, ACTOR, now))
                .await
                .map_err(admin_error)?;
            print_secret(&secret);
        }
        ClientsCommand::Delete { client_id } => {
            let shown = client_id.clone();
            db.run(move |conn| admin::delete(conn, &client_id, ACTOR, now))
                .await
                .map_err(admin_error)?;
            println!("client {shown} deleted");
        }
        ClientsCommand::Disable { client_id } | ClientsCommand::Enable { client_id } => {
            let shown = client_id.clone();
            let changed = db
                .run(move |conn| admin::set_disabled(conn, &client_id, disable, ACTOR, now))
                .await
                .map_err(admin_error)?;
            let already = if changed { "" } else { " already" };
            let state = if disable { "disabled" } else { "enabled" };
            println!("client {shown} is{already} {state}");
        }
    }
    Ok(())
}

fn print_created(client: &Client, secret: Option<&ClientSecret>) {
    println!("client_id: {}", client.id);
    println!(
        "token_endpoint_auth_method: {}",
        client.auth_method.as_str()
    );
    if let Some(secret) = secret {
        print_secret(secret);
    }
}

fn print_secret(secret: &ClientSecret) {
    println!("client_secret: {}", secret.expose());
    println!("(the secret is shown only now; only its hash is stored)");
}

fn print_client(client: &Client) {
    let grants: Vec<&str> = client.grant_types.iter().map(|g| g.as_str()).collect();
    let rows = [
        ("client_id", client.id.clone()),
        ("name", client.name.clone()),
        ("kind", client.kind.as_str().to_owned()),
        (
            "token_endpoint_auth_method",
            client.auth_method.as_str().to_owned(),
        ),
        ("grant_types", grants.join(" ")),
        ("scope", client.scopes.to_string()),
        ("redirect_uris", client.redirect_uris.join(" ")),
        (
            "post_logout_redirect_uris",
            client.post_logout_redirect_uris.join(" "),
        ),
        (
            "backchannel_logout_uri",
            client.backchannel_logout_uri.clone().unwrap_or_default(),
        ),
        ("subject_type", client.subject_type.as_str().to_owned()),
        ("sector_identifier", client.sector_identifier.clone()),
        ("id_token_alg", client.id_token_alg.as_str().to_owned()),
        (
            "access_token_ttl_secs",
            client
                .access_token_ttl_secs
                .map(|t| t.to_string())
                .unwrap_or_else(|| "default".into()),
        ),
        ("jwks_uri", client.jwks_uri.clone().unwrap_or_default()),
        (
            "token_endpoint_auth_signing_alg",
            client
                .token_endpoint_auth_signing_alg
                .map(client_keys::alg_name)
                .unwrap_or_default(),
        ),
        (
            "assertion_audience",
            client.assertion_audience.as_str().to_owned(),
        ),
        ("first_party", client.first_party.to_string()),
        (
            "jwks",
            if client.jwks.is_some() { "inline" } else { "" }.to_owned(),
        ),
    ];
    for (name, value) in rows {
        println!("{name}: {value}");
    }
    let security = SecurityMetadata::from(&client.security);
    println!("profile: {}", client.security.profile.as_str());
    println!(
        "require_pushed_authorization_requests: {}",
        security.require_pushed_authorization_requests
    );
    println!(
        "dpop_bound_access_tokens: {}",
        security.dpop_bound_access_tokens
    );
    let algs = [
        (
            "request_object_signing_alg",
            security.request_object_signing_alg,
        ),
        (
            "id_token_encrypted_response_alg",
            security.id_token_encrypted_response_alg,
        ),
        (
            "id_token_encrypted_response_enc",
            security.id_token_encrypted_response_enc,
        ),
        (
            "userinfo_signed_response_alg",
            security.userinfo_signed_response_alg,
        ),
        (
            "userinfo_encrypted_response_alg",
            security.userinfo_encrypted_response_alg,
        ),
        (
            "userinfo_encrypted_response_enc",
            security.userinfo_encrypted_response_enc,
        ),
    ];
    for (name, value) in algs {
        println!("{name}: {}", value.unwrap_or_default());
    }
}
