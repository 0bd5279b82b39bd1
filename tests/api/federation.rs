//! OpenID Federation 1.0 over HTTP, with three real servers on loopback: a trust
//! anchor (T) and two countries' providers (A and B), each with its own database, whose
//! configurations name T as their authority and whose operators trust T's keys. T's
//! operator adds A and B as subordinates with the CLI. A then resolves B's trust chain
//! through T, and every link that can break is broken: an untrusted anchor, a statement
//! signed with keys the superior does not vouch for, an expired statement, a policy the
//! metadata violates, a private address, bad parameters.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::Duration;
use citizen_idp::config::TrustAnchorSettings;
use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{DecodingKey, Validation};
use reqwest::StatusCode;
use serde_json::{Value, json};

use citizen_idp::clock::Clock;
use citizen_idp::federation::statement::{EntityStatement, TrustMarkRef};
use citizen_idp::tokens::keys::{SigningAlg, SigningKey};

use crate::client_assertion::JWT_BEARER;
use crate::consent::answer_consent;
use crate::helpers::{
    ClientAuth, PASSWORD, TestApp, assert_redirected_error, assert_succeeded, query_param,
    token_request_as,
};
use crate::par::{authorize_url, push_as};

const STATEMENT: &str = "application/entity-statement+jwt";
/// The test servers' entity identifiers are http URLs on loopback, which the CLI
/// accepts only where private networks are allowed (as the servers here do).
const ALLOW_HTTP: (&str, &str) = ("CITIZEN_IDP__OUTBOUND__ALLOW_PRIVATE_NETWORKS", "true");

fn claims_of(jwt: &str) -> Value {
    let payload = jwt.split('.').nth(1).unwrap();
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap()
}

fn header_of(jwt: &str) -> jsonwebtoken::Header {
    jsonwebtoken::decode_header(jwt).unwrap()
}

/// Verifies `jwt` with `keys` (its header's kid), as a relying party of the federation
/// would, and returns its claims.
fn verified(jwt: &str, keys: &Value) -> Value {
    let keys: JwkSet = serde_json::from_value(keys.clone()).unwrap();
    let header = header_of(jwt);
    let jwk = keys
        .find(header.kid.as_deref().unwrap())
        .expect("signed with a key of the set");
    let mut validation = Validation::new(header.alg);
    validation.validate_aud = false;
    validation.set_required_spec_claims(&["exp"]);
    jsonwebtoken::decode::<Value>(jwt, &DecodingKey::from_jwk(jwk).unwrap(), &validation)
        .unwrap()
        .claims
}

async fn get(app: &TestApp, url: &str) -> reqwest::Response {
    app.http.get(url).send().await.unwrap()
}

/// An entity's configuration, checked with the keys it names.
async fn configuration(app: &TestApp, entity: &str) -> Value {
    let response = get(app, &format!("{entity}/.well-known/openid-federation")).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()["content-type"], STATEMENT);
    let jwt = response.text().await.unwrap();
    assert_eq!(header_of(&jwt).typ.as_deref(), Some("entity-statement+jwt"));
    let claims = claims_of(&jwt);
    verified(&jwt, &claims["jwks"])
}

async fn error_of(response: reqwest::Response, status: StatusCode, code: &str) -> String {
    assert_eq!(response.status(), status);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"], code, "{body}");
    body["error_description"].as_str().unwrap_or("").to_owned()
}

/// The audit rows of `app` whose outcome is like `outcome` (SQL LIKE): outcome and
/// detail.
fn audit(app: &TestApp, outcome: &'static str) -> Vec<(String, String)> {
    app.db
        .run_blocking(move |conn| {
            use citizen_idp::storage::schema::audit_events::dsl;
            use diesel::prelude::*;
            dsl::audit_events
                .filter(dsl::outcome.like(outcome))
                .select((dsl::outcome, dsl::detail.assume_not_null()))
                .load::<(String, String)>(conn)
                .map_err(citizen_idp::storage::StorageError::from)
        })
        .unwrap()
}

struct Federation {
    anchor: TestApp,
    a: TestApp,
    b: TestApp,
}

fn member_of(
    anchor: &TestApp,
    anchor_jwks: &Value,
    cache_secs: u64,
) -> impl FnOnce(&mut citizen_idp::config::Settings) {
    let (entity_id, jwks) = (anchor.issuer.clone(), anchor_jwks.to_string());
    move |settings| {
        settings.federation.authority_hints = vec![entity_id.clone()];
        settings.federation.trust_anchors = vec![TrustAnchorSettings { entity_id, jwks }];
        settings.federation.resolve_cache_secs = cache_secs;
    }
}

/// Adds `entity` as a subordinate of `anchor` with the CLI, its keys taken from its
/// configuration, with `policy` (by entity type) when given.
async fn add_subordinate(
    anchor: &TestApp,
    entity: &str,
    policy: Option<Value>,
) -> std::process::Output {
    let dir = tempfile::tempdir().unwrap();
    let mut args = vec![
        "federation",
        "subordinate",
        "add",
        entity,
        "--operator",
        "ops",
    ];
    let path = dir.path().join("policy.json");
    if let Some(policy) = policy {
        std::fs::write(&path, policy.to_string()).unwrap();
        args.extend(["--policy", path.to_str().unwrap()]);
    }
    anchor.cli_with_env(&args, &[ALLOW_HTTP]).await
}

async fn federation(cache_secs: u64) -> Federation {
    let anchor = TestApp::spawn().await;
    let anchor_jwks = configuration(&anchor, &anchor.issuer).await["jwks"].clone();
    let a = TestApp::spawn_with(member_of(&anchor, &anchor_jwks, cache_secs)).await;
    let b = TestApp::spawn_with(member_of(&anchor, &anchor_jwks, cache_secs)).await;
    for member in [&a, &b] {
        assert_succeeded(&add_subordinate(&anchor, &member.issuer, None).await);
    }
    Federation { anchor, a, b }
}

fn resolve_url(at: &TestApp, sub: &str, anchor: &str) -> String {
    let mut url = url::Url::parse(&format!("{}/federation/resolve", at.issuer)).unwrap();
    url.query_pairs_mut()
        .append_pair("sub", sub)
        .append_pair("trust_anchor", anchor);
    url.to_string()
}

async fn resolve(f: &Federation) -> reqwest::Response {
    get(&f.a, &resolve_url(&f.a, &f.b.issuer, &f.anchor.issuer)).await
}

#[tokio::test]
async fn each_server_publishes_a_self_signed_configuration_with_keys_of_its_own() {
    let f = federation(300).await;
    let a = configuration(&f.a, &f.a.issuer).await;
    assert_eq!(a["iss"], f.a.issuer);
    assert_eq!(a["sub"], f.a.issuer);
    assert_eq!(a["authority_hints"], json!([f.anchor.issuer]));
    assert!(a["exp"].as_i64().unwrap() > a["iat"].as_i64().unwrap());
    let provider = &a["metadata"]["openid_provider"];
    assert_eq!(provider["issuer"], f.a.issuer);
    assert_eq!(provider["token_endpoint"], format!("{}/token", f.a.issuer));
    // A trusts T: relying parties of T's federation register automatically, through
    // pushed requests authenticated with private_key_jwt.
    assert_eq!(
        provider["client_registration_types_supported"],
        json!(["automatic"])
    );
    assert_eq!(
        provider["request_authentication_methods_supported"],
        json!({ "pushed_authorization_request_endpoint": ["private_key_jwt"] })
    );
    let anchor = configuration(&f.anchor, &f.anchor.issuer).await;
    assert_eq!(
        anchor["metadata"]["openid_provider"]["client_registration_types_supported"],
        json!([]),
        "T trusts no anchor"
    );
    let entity = &a["metadata"]["federation_entity"];
    assert_eq!(
        entity["federation_fetch_endpoint"],
        format!("{}/federation/fetch", f.a.issuer)
    );

    // The federation keys and the token keys never meet: no kid in common, and a
    // statement names a federation key.
    let kids = |set: &Value| -> Vec<String> {
        set["keys"]
            .as_array()
            .unwrap()
            .iter()
            .map(|k| k["kid"].as_str().unwrap().to_owned())
            .collect()
    };
    let token_keys: Value = get(&f.a, &format!("{}/jwks.json", f.a.issuer))
        .await
        .json()
        .await
        .unwrap();
    let federation_kids = kids(&a["jwks"]);
    assert_eq!(federation_kids.len(), 1);
    assert!(
        kids(&token_keys)
            .iter()
            .all(|kid| !federation_kids.contains(kid))
    );

    // Rotating the federation key publishes the new one beside the old, and leaves the
    // token keys alone.
    let rotated = f.a.cli(&["keys", "rotate", "--federation"], None).await;
    assert_succeeded(&rotated);
    let listing = f.a.cli(&["keys", "list", "--federation"], None).await;
    assert_eq!(
        String::from_utf8_lossy(&listing.stdout)
            .matches("\tES256\t")
            .count(),
        2
    );
    // A server started now (as every instance within keys.reload_interval_secs)
    // publishes both.
    let replica = f.a.spawn_beside().await;
    let after = configuration(&replica, &replica.issuer).await;
    assert_eq!(kids(&after["jwks"]).len(), 2);
    let token_keys_after: Value = get(&replica, &format!("{}/jwks.json", replica.issuer))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(kids(&token_keys_after), kids(&token_keys));
}

#[tokio::test]
async fn the_anchor_vouches_for_its_subordinates_at_its_fetch_and_list_endpoints() {
    let f = federation(300).await;
    let anchor = configuration(&f.anchor, &f.anchor.issuer).await;
    let fetch = |sub: &str| {
        let mut url = url::Url::parse(&format!("{}/federation/fetch", f.anchor.issuer)).unwrap();
        url.query_pairs_mut().append_pair("sub", sub);
        url.to_string()
    };
    let response = get(&f.anchor, &fetch(&f.b.issuer)).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()["content-type"], STATEMENT);
    let statement = verified(&response.text().await.unwrap(), &anchor["jwks"]);
    assert_eq!(statement["iss"], f.anchor.issuer);
    assert_eq!(statement["sub"], f.b.issuer);
    // The keys vouched for are B's federation keys.
    let b = configuration(&f.b, &f.b.issuer).await;
    assert_eq!(statement["jwks"], b["jwks"]);

    let listed: Value = get(&f.anchor, &format!("{}/federation/list", f.anchor.issuer))
        .await
        .json()
        .await
        .unwrap();
    let mut expected = vec![f.a.issuer.clone(), f.b.issuer.clone()];
    expected.sort();
    assert_eq!(listed, json!(expected));

    // Bad requests.
    let base = format!("{}/federation/fetch", f.anchor.issuer);
    error_of(
        get(&f.anchor, &base).await,
        StatusCode::BAD_REQUEST,
        "invalid_request",
    )
    .await;
    error_of(
        get(&f.anchor, &fetch("https://unknown.example")).await,
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;
    error_of(
        get(&f.anchor, &fetch(&f.anchor.issuer)).await,
        StatusCode::BAD_REQUEST,
        "invalid_request",
    )
    .await;
    let repeated = format!("{}&sub=x", fetch(&f.b.issuer));
    error_of(
        get(&f.anchor, &repeated).await,
        StatusCode::BAD_REQUEST,
        "invalid_request",
    )
    .await;
    let filtered = format!("{}/federation/list?trust_marked=true", f.anchor.issuer);
    error_of(
        get(&f.anchor, &filtered).await,
        StatusCode::BAD_REQUEST,
        "unsupported_parameter",
    )
    .await;

    // The operator's register, audited, and its refusals.
    let listing = f
        .anchor
        .cli(&["federation", "subordinate", "list", "--json"], None)
        .await;
    assert_succeeded(&listing);
    let listing: Value = serde_json::from_slice(&listing.stdout).unwrap();
    assert_eq!(listing.as_array().unwrap().len(), 2);
    let unknown_operator = add_subordinate(
        &f.anchor,
        &f.b.issuer,
        Some(json!({ "openid_provider": { "scopes_supported": { "at_least": ["openid"] } } })),
    )
    .await;
    assert!(!unknown_operator.status.success());
    assert!(String::from_utf8_lossy(&unknown_operator.stderr).contains("at_least"));
    let not_a_url = f
        .anchor
        .cli(
            &[
                "federation",
                "subordinate",
                "add",
                "b.example",
                "--jwks",
                "/dev/null",
            ],
            None,
        )
        .await;
    assert!(!not_a_url.status.success());
    let removed = f
        .anchor
        .cli(&["federation", "subordinate", "remove", &f.b.issuer], None)
        .await;
    assert_succeeded(&removed);
    error_of(
        get(&f.anchor, &fetch(&f.b.issuer)).await,
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;
    let again = f
        .anchor
        .cli(&["federation", "subordinate", "remove", &f.b.issuer], None)
        .await;
    assert!(!again.status.success());
    let trail: Vec<String> = audit(&f.anchor, "federation_subordinate_%")
        .into_iter()
        .map(|(_, detail)| detail)
        .collect();
    assert_eq!(trail.len(), 3, "{trail:?}");
    assert!(trail.iter().all(|d| d.contains("by=cli")), "{trail:?}");
}

#[tokio::test]
async fn a_country_resolves_another_through_the_anchor_with_its_policy_applied() {
    let f = federation(0).await;
    let policy = json!({ "openid_provider": {
        "id_token_signing_alg_values_supported": { "subset_of": ["ES256", "PS256"] },
        "organization_name": { "default": "Country B" },
    }});
    assert_succeeded(&add_subordinate(&f.anchor, &f.b.issuer, Some(policy)).await);

    let response = resolve(&f).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(
        response.headers()["content-type"],
        "application/resolve-response+jwt"
    );
    let jwt = response.text().await.unwrap();
    assert_eq!(header_of(&jwt).typ.as_deref(), Some("resolve-response+jwt"));
    let a = configuration(&f.a, &f.a.issuer).await;
    let answer = verified(&jwt, &a["jwks"]);
    assert_eq!(answer["iss"], f.a.issuer);
    assert_eq!(answer["sub"], f.b.issuer);
    let provider = &answer["metadata"]["openid_provider"];
    assert_eq!(provider["issuer"], f.b.issuer);
    assert_eq!(
        provider["id_token_signing_alg_values_supported"],
        json!(["ES256"])
    );
    assert_eq!(provider["organization_name"], "Country B");
    // The chain: B's configuration, T's statement about B, T's configuration.
    let chain: Vec<Value> = answer["trust_chain"]
        .as_array()
        .unwrap()
        .iter()
        .map(|jwt| claims_of(jwt.as_str().unwrap()))
        .collect();
    let links: Vec<(&str, &str)> = chain
        .iter()
        .map(|c| (c["iss"].as_str().unwrap(), c["sub"].as_str().unwrap()))
        .collect();
    let (t, b) = (f.anchor.issuer.as_str(), f.b.issuer.as_str());
    assert_eq!(links, [(b, b), (t, b), (t, t)]);
    assert!(
        answer["exp"].as_i64().unwrap()
            <= chain
                .iter()
                .map(|c| c["exp"].as_i64().unwrap())
                .min()
                .unwrap()
    );

    // Asking for one entity type answers that one only.
    let one = format!(
        "{}&entity_type=federation_entity",
        resolve_url(&f.a, &f.b.issuer, &f.anchor.issuer)
    );
    let answer = claims_of(&get(&f.a, &one).await.text().await.unwrap());
    assert_eq!(
        answer["metadata"]
            .as_object()
            .unwrap()
            .keys()
            .collect::<Vec<_>>(),
        ["federation_entity"]
    );

    // A policy B's metadata cannot meet breaks the chain.
    let violated = json!({ "openid_provider": {
        "token_endpoint_auth_methods_supported": { "superset_of": ["self_signed_tls_client_auth"] },
    }});
    assert_succeeded(&add_subordinate(&f.anchor, &f.b.issuer, Some(violated)).await);
    let description = error_of(
        resolve(&f).await,
        StatusCode::BAD_REQUEST,
        "invalid_trust_chain",
    )
    .await;
    assert!(description.contains("metadata policy"), "{description}");
}

#[tokio::test]
async fn untrusted_anchors_unvouched_keys_and_expired_statements_break_the_chain() {
    let f = federation(0).await;
    assert_eq!(resolve(&f).await.status(), StatusCode::OK);

    // An anchor A does not trust.
    let other = get(&f.a, &resolve_url(&f.a, &f.b.issuer, &f.b.issuer)).await;
    error_of(other, StatusCode::NOT_FOUND, "invalid_trust_anchor").await;
    // Parameters missing, repeated or unknown.
    let base = format!("{}/federation/resolve", f.a.issuer);
    error_of(
        get(&f.a, &base).await,
        StatusCode::BAD_REQUEST,
        "invalid_request",
    )
    .await;
    let unknown = format!("{}&foo=1", resolve_url(&f.a, &f.b.issuer, &f.anchor.issuer));
    error_of(
        get(&f.a, &unknown).await,
        StatusCode::BAD_REQUEST,
        "unsupported_parameter",
    )
    .await;
    // An entity that is not T's subordinate.
    let stranger =
        TestApp::spawn_with(|s| s.federation.authority_hints = vec![f.anchor.issuer.clone()]).await;
    let answer = get(&f.a, &resolve_url(&f.a, &stranger.issuer, &f.anchor.issuer)).await;
    let description = error_of(answer, StatusCode::BAD_REQUEST, "invalid_trust_chain").await;
    assert!(description.contains("status 404"), "{description}");
    // An entity with no authority at all.
    let alone = TestApp::spawn().await;
    let answer = get(&f.a, &resolve_url(&f.a, &alone.issuer, &f.anchor.issuer)).await;
    error_of(answer, StatusCode::BAD_REQUEST, "invalid_trust_chain").await;

    // T vouches for other keys than the ones B signs with (A's): B's configuration no
    // longer verifies.
    let a_keys = configuration(&f.a, &f.a.issuer).await["jwks"].to_string();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("jwks.json");
    std::fs::write(&path, a_keys).unwrap();
    let wrong = f
        .anchor
        .cli_with_env(
            &[
                "federation",
                "subordinate",
                "add",
                &f.b.issuer,
                "--jwks",
                path.to_str().unwrap(),
            ],
            &[ALLOW_HTTP],
        )
        .await;
    assert_succeeded(&wrong);
    let description = error_of(
        resolve(&f).await,
        StatusCode::BAD_REQUEST,
        "invalid_trust_chain",
    )
    .await;
    assert!(description.contains(&f.b.issuer), "{description}");
    assert_succeeded(&add_subordinate(&f.anchor, &f.b.issuer, None).await);
    assert_eq!(resolve(&f).await.status(), StatusCode::OK);

    // A trusts "T" with keys that are not T's: T's own configuration is refused.
    let anchor_jwks = configuration(&f.b, &f.b.issuer).await["jwks"].clone();
    let misled = TestApp::spawn_with(member_of(&f.anchor, &anchor_jwks, 0)).await;
    let answer = get(
        &misled,
        &resolve_url(&misled, &f.b.issuer, &f.anchor.issuer),
    )
    .await;
    error_of(answer, StatusCode::BAD_REQUEST, "invalid_trust_chain").await;

    // Two days on A's clock: every statement T and B signed has expired for A.
    f.a.advance_clock(Duration::days(2));
    let description = error_of(
        resolve(&f).await,
        StatusCode::BAD_REQUEST,
        "invalid_trust_chain",
    )
    .await;
    assert!(description.contains("expired"), "{description}");
}

#[tokio::test]
async fn a_resolved_chain_is_cached_no_longer_than_allowed_and_private_addresses_are_refused() {
    let f = federation(300).await;
    assert_eq!(resolve(&f).await.status(), StatusCode::OK);
    let removed = f
        .anchor
        .cli(&["federation", "subordinate", "remove", &f.b.issuer], None)
        .await;
    assert_succeeded(&removed);
    // Within federation.resolve_cache_secs A still answers from its cache...
    assert_eq!(resolve(&f).await.status(), StatusCode::OK);
    // ...and after it, A finds the chain broken.
    f.a.advance_clock(Duration::seconds(301));
    error_of(
        resolve(&f).await,
        StatusCode::BAD_REQUEST,
        "invalid_trust_chain",
    )
    .await;

    // A server under the production outbound policy never fetches from loopback.
    let anchor_jwks = configuration(&f.anchor, &f.anchor.issuer).await["jwks"].to_string();
    let strict = TestApp::spawn_with(|s| {
        s.outbound.allow_private_networks = false;
        s.federation.trust_anchors = vec![TrustAnchorSettings {
            entity_id: "https://127.0.0.1:9".into(),
            jwks: anchor_jwks,
        }];
    })
    .await;
    let answer = get(
        &strict,
        &resolve_url(&strict, "https://127.0.0.1:8", "https://127.0.0.1:9"),
    )
    .await;
    let description = error_of(answer, StatusCode::BAD_REQUEST, "invalid_trust_chain").await;
    assert!(description.contains("address not allowed"), "{description}");

    // Federation off: nothing is published.
    let off = TestApp::spawn_with(|s| s.federation.enabled = false).await;
    let answer = get(
        &off,
        &format!("{}/.well-known/openid-federation", off.issuer),
    )
    .await;
    error_of(answer, StatusCode::NOT_FOUND, "not_found").await;
}

/// A relying party of country B that no operator of A registered: its entity
/// configuration, signed with its federation key, names B as its authority and
/// carries its `openid_relying_party` metadata; B's operator vouches for it.
struct Portal {
    entity_id: String,
    redirect_uri: String,
    /// Signs its client assertions; published in its metadata's `jwks`.
    key: SigningKey,
    _server: actix_web::dev::ServerHandle,
}

/// Starts a portal on loopback whose superior is `authority`; `vouched` says whether
/// the authority's operator adds it as a subordinate.
async fn portal(authority: &TestApp, vouched: bool) -> Portal {
    portal_with_marks(authority, vouched, &[], vec![]).await
}

/// A portal carrying a trust mark of each `(type, issuer)`, issued with the issuer's
/// command line about the portal, and the marks `borrowed` (made for others).
async fn portal_with_marks(
    authority: &TestApp,
    vouched: bool,
    marks: &[(&str, &TestApp)],
    borrowed: Vec<TrustMarkRef>,
) -> Portal {
    use actix_web::{App, HttpResponse, HttpServer, web};
    let (federation_key, _) = SigningKey::generate(SigningAlg::Es256).unwrap();
    let (key, _) = SigningKey::generate(SigningAlg::Es256).unwrap();
    let configuration = std::sync::Arc::new(std::sync::OnceLock::<String>::new());
    let served = configuration.clone();
    let server = HttpServer::new(move || {
        let served = served.clone();
        App::new().route(
            "/.well-known/openid-federation",
            web::get().to(move || {
                let body = served.get().cloned().unwrap_or_default();
                async move { HttpResponse::Ok().content_type(STATEMENT).body(body) }
            }),
        )
    })
    .workers(1)
    .bind("127.0.0.1:0")
    .unwrap();
    let entity_id = format!("http://127.0.0.1:{}", server.addrs()[0].port());
    let server = server.run();
    let handle = server.handle();
    tokio::spawn(server);

    let redirect_uri = format!("{entity_id}/callback");
    let mut trust_marks = borrowed;
    for (trust_mark_type, issuer) in marks {
        trust_marks.push(TrustMarkRef {
            trust_mark_type: trust_mark_type.to_string(),
            trust_mark: issue_mark(issuer, trust_mark_type, &entity_id).await,
        });
    }
    let now = authority.clock.now().timestamp();
    let federation_jwks = json!({ "keys": [federation_key.public_jwk()] });
    let statement = EntityStatement {
        iss: entity_id.clone(),
        sub: entity_id.clone(),
        iat: now,
        exp: now + 3600,
        jwks: federation_jwks.clone(),
        authority_hints: vec![authority.issuer.clone()],
        metadata: json!({
            "openid_relying_party": {
                "client_name": "Cổng dịch vụ công của nước B",
                "redirect_uris": [redirect_uri],
                "jwks": { "keys": [key.public_jwk()] },
                "token_endpoint_auth_method": "private_key_jwt",
                "grant_types": ["authorization_code"],
                "scope": "openid cross_border profile national_id",
                "id_token_signed_response_alg": "ES256",
            },
            "federation_entity": { "organization_name": "Country B" },
        })
        .as_object()
        .unwrap()
        .clone(),
        metadata_policy: Default::default(),
        source_endpoint: None,
        constraints: None,
        trust_marks,
        trust_mark_issuers: Default::default(),
        crit: vec![],
        metadata_policy_crit: vec![],
    };
    configuration
        .set(citizen_idp::federation::statement::sign(&federation_key, &statement).unwrap())
        .unwrap();
    if vouched {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("jwks.json");
        std::fs::write(&path, federation_jwks.to_string()).unwrap();
        let added = authority
            .cli_with_env(
                &[
                    "federation",
                    "subordinate",
                    "add",
                    &entity_id,
                    "--jwks",
                    path.to_str().unwrap(),
                ],
                &[ALLOW_HTTP],
            )
            .await;
        assert_succeeded(&added);
    }
    Portal {
        entity_id,
        redirect_uri,
        key,
        _server: handle,
    }
}

impl Portal {
    /// A client assertion for `op`, signed with `key`.
    fn assertion(&self, op: &TestApp, key: &SigningKey) -> String {
        let now = op.clock.now().timestamp();
        citizen_idp::tokens::jwt::sign(
            key,
            "JWT",
            &json!({
                "iss": self.entity_id, "sub": self.entity_id, "aud": op.issuer,
                "iat": now, "exp": now + 60, "jti": uuid::Uuid::new_v4().to_string(),
            }),
        )
        .unwrap()
    }

    /// A pushed authorization request, with PKCE, authenticated with `key`.
    fn request(&self, op: &TestApp, key: &SigningKey) -> (Vec<(&'static str, String)>, String) {
        let (challenge, verifier) = openidconnect::PkceCodeChallenge::new_random_sha256();
        let params = vec![
            ("response_type", "code".to_owned()),
            ("client_id", self.entity_id.clone()),
            ("redirect_uri", self.redirect_uri.clone()),
            ("scope", "openid cross_border".to_owned()),
            ("state", "b-portal".to_owned()),
            ("nonce", "n-b-portal".to_owned()),
            ("code_challenge", challenge.as_str().to_owned()),
            ("code_challenge_method", "S256".to_owned()),
            ("client_assertion_type", JWT_BEARER.to_owned()),
            ("client_assertion", self.assertion(op, key)),
        ];
        (params, verifier.secret().clone())
    }
}

#[tokio::test]
async fn a_portal_of_another_country_registered_only_through_the_federation_logs_a_citizen_in() {
    let f = federation(300).await;
    let portal = portal(&f.b, true).await;
    let citizen = f.a.citizen();

    // Pushed, authenticated with the key of the portal's resolved metadata.
    let (params, verifier) = portal.request(&f.a, &portal.key);
    let (status, body) = push_as(&f.a, ClientAuth::Form, &params).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let request_uri = body["request_uri"].as_str().unwrap();
    let location =
        f.a.log_in(
            &authorize_url(&f.a, &portal.entity_id, request_uri, &[]),
            &citizen.number,
            PASSWORD,
        )
        .await;
    // Not one of A's own services: the citizen is asked, and told who is asking.
    let (page, redirect) = answer_consent(&f.a, &location, "allow").await;
    assert!(page.contains("Cổng dịch vụ công của nước B"), "{page}");
    let foreign = &page[page.find("consent-foreign").expect("said to be foreign")..];
    assert!(foreign.contains("<strong>Country B</strong>"), "{foreign}");
    assert!(redirect.starts_with(&portal.redirect_uri), "{redirect}");
    let code = query_param(&redirect, "code").expect("a code");

    let assertion = portal.assertion(&f.a, &portal.key);
    let (status, tokens) = token_request_as(
        &f.a,
        ClientAuth::Form,
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", &portal.redirect_uri),
            ("code_verifier", &verifier),
            ("client_assertion_type", JWT_BEARER),
            ("client_assertion", &assertion),
        ],
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{tokens}");
    let id_token = tokens["id_token"].as_str().unwrap();
    assert_eq!(header_of(id_token).alg, jsonwebtoken::Algorithm::ES256);
    let token_keys: Value = get(&f.a, &format!("{}/jwks.json", f.a.issuer))
        .await
        .json()
        .await
        .unwrap();
    let claims = verified(id_token, &token_keys);
    assert_eq!(claims["iss"], f.a.issuer);
    assert_eq!(claims["aud"], json!(portal.entity_id));
    assert_eq!(claims["nonce"], "n-b-portal");
    // Pairwise for the portal: not the subject A's own portals see.
    assert_ne!(claims["sub"], citizen.subject);
    // Its metadata asked for profile and national_id too; the federation allows a
    // partner country's service the minimal set only.
    assert_eq!(tokens["scope"], "cross_border openid");

    // The portal reads the citizen's claims; the citizen's access history at A names
    // it with its country's organisation.
    let (status, userinfo) = f.a.userinfo(tokens["access_token"].as_str().unwrap()).await;
    assert_eq!(status, StatusCode::OK, "{userinfo}");
    assert_eq!(userinfo["sub"], claims["sub"]);
    for released in ["family_name", "given_name", "birthdate", "nationalities"] {
        assert!(userinfo.get(released).is_some(), "{released}: {userinfo}");
    }
    for withheld in [
        "national_id",
        "gender",
        "place_of_origin",
        "address",
        "name",
    ] {
        assert!(userinfo.get(withheld).is_none(), "{withheld}: {userinfo}");
    }
    let (status, _, account) = f.a.browse(&f.a.url("/account")).await;
    assert_eq!(status, StatusCode::OK);
    let history = &account[account.find("account-history").unwrap()..];
    assert!(
        history.contains("Cổng dịch vụ công của nước B (Country B, dịch vụ của nước đối tác"),
        "{history}"
    );

    // Registered once, audited, with the trust anchor.
    let trail = audit(&f.a, "client_%_by_federation");
    assert_eq!(trail.len(), 1, "{trail:?}");
    assert_eq!(trail[0].0, "client_registered_by_federation");
    assert!(trail[0].1.contains(&f.anchor.issuer));

    // A plain authorization request naming the portal: anyone could send one, so the
    // portal must push.
    let (plain, _) = portal.request(&f.a, &portal.key);
    let plain: Vec<(&str, &str)> = plain
        .iter()
        .filter(|(k, _)| !k.starts_with("client_assertion"))
        .map(|(k, v)| (*k, v.as_str()))
        .collect();
    let url = format!(
        "{}?{}",
        f.a.url("/authorize"),
        serde_urlencoded::to_string(&plain).unwrap()
    );
    let (status, location, _) = f.a.browse(&url).await;
    assert_eq!(status, StatusCode::FOUND);
    assert_redirected_error(&location.unwrap(), "invalid_request", "b-portal");

    // An assertion signed with a key not in the portal's metadata.
    let (stranger_key, _) = SigningKey::generate(SigningAlg::Es256).unwrap();
    let (forged, _) = portal.request(&f.a, &stranger_key);
    let (status, body) = push_as(&f.a, ClientAuth::Form, &forged).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
    assert_eq!(body["error"], "invalid_client");

    // Asking at /par for more than the federation allows it.
    let (mut greedy, _) = portal.request(&f.a, &portal.key);
    for (name, value) in greedy.iter_mut() {
        if *name == "scope" {
            *value = "openid cross_border national_id".into();
        }
    }
    let (status, body) = push_as(&f.a, ClientAuth::Form, &greedy).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(body["error"], "invalid_scope");

    // An operator of A disables it: within the 5 s a registration is trusted, the
    // federation does not bring it back.
    assert_succeeded(
        &f.a.cli(&["clients", "disable", &portal.entity_id], None)
            .await,
    );
    f.a.advance_clock(Duration::seconds(6));
    let (params, _) = portal.request(&f.a, &portal.key);
    let (status, body) = push_as(&f.a, ClientAuth::Form, &params).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
}

#[tokio::test]
async fn a_portal_no_superior_vouches_for_is_not_registered() {
    let f = federation(300).await;
    let portal = portal(&f.b, false).await;
    let (params, _) = portal.request(&f.a, &portal.key);
    let (status, body) = push_as(&f.a, ClientAuth::Form, &params).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
    assert_eq!(body["error"], "invalid_client");
    // B vouches for it now, but A does not ask again for a minute: a made-up client
    // id costs A no request to the network for that long.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("jwks.json");
    let portal_configuration = configuration(&f.a, &portal.entity_id).await;
    std::fs::write(&path, portal_configuration["jwks"].to_string()).unwrap();
    let added =
        f.b.cli_with_env(
            &[
                "federation",
                "subordinate",
                "add",
                &portal.entity_id,
                "--jwks",
                path.to_str().unwrap(),
            ],
            &[ALLOW_HTTP],
        )
        .await;
    assert_succeeded(&added);
    let (params, _) = portal.request(&f.a, &portal.key);
    assert_eq!(
        push_as(&f.a, ClientAuth::Form, &params).await.0,
        StatusCode::UNAUTHORIZED
    );
    f.a.advance_clock(Duration::seconds(61));
    let (params, _) = portal.request(&f.a, &portal.key);
    let (status, body) = push_as(&f.a, ClientAuth::Form, &params).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");

    // Nothing is registered for an id that is not an entity identifier, nor when no
    // trust anchor is configured.
    let alone = TestApp::spawn().await;
    let (params, _) = portal.request(&alone, &portal.key);
    assert_eq!(
        push_as(&alone, ClientAuth::Form, &params).await.0,
        StatusCode::UNAUTHORIZED
    );
}

/// A trust mark of `trust_mark_type` about `sub`, issued with `issuer`'s command line.
async fn issue_mark(issuer: &TestApp, trust_mark_type: &str, sub: &str) -> String {
    let output = issuer
        .cli_with_env(
            &[
                "federation",
                "trust-mark",
                "issue",
                "--type",
                trust_mark_type,
                "--sub",
                sub,
                "--days",
                "30",
                "--operator",
                "ops",
            ],
            &[("CITIZEN_IDP__SERVER__ISSUER", &issuer.issuer)],
        )
        .await;
    assert_succeeded(&output);
    String::from_utf8(output.stdout).unwrap().trim().to_owned()
}

const PUBLIC_SERVICE: &str = "https://federation.example/marks/public-service";

#[tokio::test]
async fn only_portals_with_a_trust_mark_from_an_issuer_the_anchor_lists_are_registered() {
    // T lists itself as the one issuer of the mark; A registers only portals that
    // carry it.
    let port = crate::helpers::free_port();
    let anchor = TestApp::spawn_with(|s| {
        s.server.listen = format!("127.0.0.1:{port}");
        s.server.issuer = format!("http://127.0.0.1:{port}");
        s.federation.trust_mark_issuers =
            [(PUBLIC_SERVICE.to_owned(), vec![s.server.issuer.clone()])].into();
    })
    .await;
    let anchor_jwks = configuration(&anchor, &anchor.issuer).await["jwks"].clone();
    let listed = configuration(&anchor, &anchor.issuer).await["trust_mark_issuers"].clone();
    assert_eq!(listed, json!({ PUBLIC_SERVICE: [anchor.issuer] }));
    let member = member_of(&anchor, &anchor_jwks, 300);
    let a = TestApp::spawn_with(|s| {
        member(s);
        s.federation.required_trust_marks = vec![PUBLIC_SERVICE.to_owned()];
    })
    .await;
    let b = TestApp::spawn_with(member_of(&anchor, &anchor_jwks, 300)).await;
    for member in [&a, &b] {
        assert_succeeded(&add_subordinate(&anchor, &member.issuer, None).await);
    }
    let pushed = |portal: &Portal| {
        let (params, _) = portal.request(&a, &portal.key);
        let a = &a;
        async move { push_as(a, ClientAuth::Form, &params).await }
    };

    let marked = portal_with_marks(&b, true, &[(PUBLIC_SERVICE, &anchor)], vec![]).await;
    let (status, body) = pushed(&marked).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    // The resolve endpoint names the marks that verified.
    let answer = get(&a, &resolve_url(&a, &marked.entity_id, &anchor.issuer)).await;
    let answer = claims_of(&answer.text().await.unwrap());
    assert_eq!(answer["trust_marks"][0]["trust_mark_type"], PUBLIC_SERVICE);

    // No mark; a mark from an issuer T does not list (A); a mark about another portal.
    let unmarked = portal(&b, true).await;
    let self_marked = portal_with_marks(&b, true, &[(PUBLIC_SERVICE, &a)], vec![]).await;
    for (portal, case) in [
        (&unmarked, "no mark"),
        (&self_marked, "an issuer not listed"),
    ] {
        let (status, body) = pushed(portal).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{case}: {body}");
    }
    let theirs = issue_mark(&anchor, PUBLIC_SERVICE, &marked.entity_id).await;
    let borrowed = portal_with_marks(
        &b,
        true,
        &[],
        vec![TrustMarkRef {
            trust_mark_type: PUBLIC_SERVICE.into(),
            trust_mark: theirs,
        }],
    )
    .await;
    let (status, body) = pushed(&borrowed).await;
    assert_eq!(
        status,
        StatusCode::UNAUTHORIZED,
        "a mark about another portal: {body}"
    );
    let answer = get(&a, &resolve_url(&a, &borrowed.entity_id, &anchor.issuer)).await;
    assert_eq!(
        claims_of(&answer.text().await.unwrap())["trust_marks"],
        json!([])
    );

    // Each issuance is audited at T, the mark itself never.
    let issued: Vec<String> = audit(&anchor, "federation_trust_mark_issued")
        .into_iter()
        .map(|(_, detail)| detail)
        .collect();
    assert_eq!(issued.len(), 2, "{issued:?}");
    assert_eq!(
        issued
            .iter()
            .filter(|d| d.contains(&marked.entity_id))
            .count(),
        2,
        "both about the marked portal: {issued:?}"
    );
    assert!(
        issued
            .iter()
            .all(|d| d.contains("by=cli:ops") && !d.contains("eyJ"))
    );

    // A mark with no issuer configured is refused by the command line.
    let no_issuer = anchor
        .cli(
            &[
                "federation",
                "trust-mark",
                "issue",
                "--type",
                PUBLIC_SERVICE,
                "--sub",
                &marked.entity_id,
            ],
            None,
        )
        .await;
    assert!(!no_issuer.status.success());
}

/// T says, in its statement about B, what may be below B.
async fn constrain(anchor: &TestApp, entity: &str, constraints: Value) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("constraints.json");
    std::fs::write(&path, constraints.to_string()).unwrap();
    let output = anchor
        .cli_with_env(
            &[
                "federation",
                "subordinate",
                "add",
                entity,
                "--constraints",
                path.to_str().unwrap(),
            ],
            &[ALLOW_HTTP],
        )
        .await;
    assert_succeeded(&output);
}

#[tokio::test]
async fn a_superior_s_constraints_hold_the_chain_below_its_subject() {
    let f = federation(0).await;
    let pushed = |portal: &Portal| {
        let (params, _) = portal.request(&f.a, &portal.key);
        let a = &f.a;
        async move { push_as(a, ClientAuth::Form, &params).await.0 }
    };
    // B's own portals on 127.0.0.1, no intermediate below B: within the constraints.
    constrain(
        &f.anchor,
        &f.b.issuer,
        json!({ "max_path_length": 0, "naming_constraints": { "permitted": ["127.0.0.1"] } }),
    )
    .await;
    let within = portal(&f.b, true).await;
    assert_eq!(pushed(&within).await, StatusCode::CREATED);

    // The host excluded below B.
    constrain(
        &f.anchor,
        &f.b.issuer,
        json!({ "naming_constraints": { "excluded": ["127.0.0.1"] } }),
    )
    .await;
    let excluded = portal(&f.b, true).await;
    assert_eq!(pushed(&excluded).await, StatusCode::UNAUTHORIZED);
    let answer = get(
        &f.a,
        &resolve_url(&f.a, &excluded.entity_id, &f.anchor.issuer),
    )
    .await;
    let description = error_of(answer, StatusCode::BAD_REQUEST, "invalid_trust_chain").await;
    assert!(description.contains("naming constraints"), "{description}");

    // Only providers below B: a relying party there keeps no openid_relying_party
    // metadata, so it is not registered.
    constrain(
        &f.anchor,
        &f.b.issuer,
        json!({ "allowed_entity_types": ["openid_provider"] }),
    )
    .await;
    let not_allowed = portal(&f.b, true).await;
    assert_eq!(pushed(&not_allowed).await, StatusCode::UNAUTHORIZED);
    let answer = get(
        &f.a,
        &resolve_url(&f.a, &not_allowed.entity_id, &f.anchor.issuer),
    )
    .await;
    assert_eq!(answer.status(), StatusCode::OK);
    let metadata = claims_of(&answer.text().await.unwrap())["metadata"].clone();
    assert!(metadata.get("openid_relying_party").is_none(), "{metadata}");
    assert!(metadata.get("federation_entity").is_some(), "{metadata}");

    // Constraints that are not constraints are refused by the command line.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("constraints.json");
    std::fs::write(&path, r#"{"max_path_length": -1}"#).unwrap();
    let output = f
        .anchor
        .cli_with_env(
            &[
                "federation",
                "subordinate",
                "add",
                &f.b.issuer,
                "--constraints",
                path.to_str().unwrap(),
            ],
            &[ALLOW_HTTP],
        )
        .await;
    assert!(!output.status.success());
}

/// Requests racing with one made-up entity identifier as `client_id` cost the server
/// one resolution, not one each: the others wait for its answer.
#[tokio::test]
async fn requests_racing_with_one_unknown_entity_id_resolve_it_once() {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    use actix_web::{App, HttpResponse, HttpServer, web};
    let f = federation(300).await;
    let hits = Arc::new(AtomicUsize::new(0));
    let counted = hits.clone();
    let server = HttpServer::new(move || {
        let counted = counted.clone();
        App::new().default_service(web::to(move || {
            counted.fetch_add(1, Ordering::SeqCst);
            async {
                // Slow enough that the racing requests arrive while it is asked.
                tokio::time::sleep(std::time::Duration::from_millis(300)).await;
                HttpResponse::NotFound().finish()
            }
        }))
    })
    .workers(1)
    .bind("127.0.0.1:0")
    .unwrap();
    let entity_id = format!("http://127.0.0.1:{}", server.addrs()[0].port());
    let server = server.run();
    let _handle = server.handle();
    tokio::spawn(server);

    // A well-formed assertion (the client must be looked up before its key is),
    // signed with a key nobody published.
    let (key, _) = SigningKey::generate(SigningAlg::Es256).unwrap();
    let mut racers = tokio::task::JoinSet::new();
    for _ in 0..20 {
        let now = f.a.clock.now().timestamp();
        let assertion = citizen_idp::tokens::jwt::sign(
            &key,
            "JWT",
            &json!({
                "iss": entity_id, "sub": entity_id, "aud": f.a.issuer,
                "iat": now, "exp": now + 60, "jti": uuid::Uuid::new_v4().to_string(),
            }),
        )
        .unwrap();
        let (http, url) = (f.a.http.clone(), f.a.url("/par"));
        let form = [
            ("client_id", entity_id.clone()),
            ("response_type", "code".to_owned()),
            ("client_assertion_type", JWT_BEARER.to_owned()),
            ("client_assertion", assertion),
        ];
        racers.spawn(async move { http.post(url).form(&form).send().await.unwrap().status() });
    }
    let statuses = racers.join_all().await;
    assert!(
        statuses.iter().all(|s| *s == StatusCode::UNAUTHORIZED),
        "{statuses:?}"
    );
    assert_eq!(
        hits.load(Ordering::SeqCst),
        1,
        "one resolution for 20 requests"
    );
}
