//! DPoP (RFC 9449) over HTTP: proofs made with a client's own key bind its tokens to
//! that key, at the token endpoint, at userinfo and at introspection; and every way a
//! proof can be wrong, replayed, raced or for another request is refused.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use citizen_idp::clock::Clock;
use citizen_idp::domain::client::ClientKind;
use citizen_idp::domain::client_security::SecurityMetadata;
use citizen_idp::registration::NewClient;
use citizen_idp::tokens::keys::{SigningAlg, SigningKey};
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{
    ClientAuth, Fetch, PASSWORD, TestApp, TestCitizen, TestClient, assert_oauth_error, introspect,
    query_param, status_and_json,
};

/// A client's DPoP key pair.
pub(crate) struct Holder {
    key: SigningKey,
}

impl Holder {
    pub(crate) fn new() -> Self {
        Holder {
            key: SigningKey::generate(SigningAlg::Es256).unwrap().0,
        }
    }

    /// The key's RFC 7638 thumbprint (our keys' `kid` is theirs).
    pub(crate) fn jkt(&self) -> &str {
        self.key.kid()
    }

    /// The public JWK, with only the members a public EC key has.
    fn jwk(&self) -> Value {
        let full = self.key.public_jwk();
        json!({ "kty": "EC", "crv": "P-256", "x": full["x"], "y": full["y"] })
    }

    fn header(&self) -> Value {
        json!({ "typ": "dpop+jwt", "alg": "ES256", "jwk": self.jwk() })
    }

    pub(crate) fn claims(app: &TestApp, method: &str, url: &str) -> Value {
        json!({
            "jti": uuid::Uuid::new_v4().to_string(),
            "htm": method,
            "htu": url,
            "iat": app.clock.now().timestamp(),
        })
    }

    /// A compact JWS of `header` and `claims`, signed with this key.
    pub(crate) fn sign(&self, header: &Value, claims: &Value) -> String {
        let mut jws = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(header.to_string()),
            URL_SAFE_NO_PAD.encode(claims.to_string())
        );
        let signature = self.key.sign(jws.as_bytes()).unwrap();
        jws.push('.');
        jws.push_str(&URL_SAFE_NO_PAD.encode(signature));
        jws
    }

    /// A proof for `method` at `url`, as an honest client makes it.
    pub(crate) fn proof(&self, app: &TestApp, method: &str, url: &str) -> String {
        self.sign(&self.header(), &Self::claims(app, method, url))
    }

    /// A proof for a resource request with `token`.
    fn resource_proof(&self, app: &TestApp, method: &str, url: &str, token: &str) -> String {
        let mut claims = Self::claims(app, method, url);
        claims["ath"] = json!(ath(token));
        self.sign(&self.header(), &claims)
    }

    fn proof_with_nonce(&self, app: &TestApp, method: &str, url: &str, nonce: &str) -> String {
        let mut claims = Self::claims(app, method, url);
        claims["nonce"] = json!(nonce);
        self.sign(&self.header(), &claims)
    }
}

fn ath(token: &str) -> String {
    URL_SAFE_NO_PAD.encode(citizen_idp::tokens::random::sha256(token.as_bytes()))
}

pub(crate) fn endpoint(app: &TestApp, path: &str) -> String {
    format!("{}{path}", app.issuer)
}

/// POST `form` to `path` as `auth`, with one `DPoP` header per proof.
pub(crate) async fn post_with_proofs(
    app: &TestApp,
    path: &str,
    auth: ClientAuth<'_>,
    form: &[(&str, &str)],
    proofs: &[&str],
) -> reqwest::Response {
    let mut request = app.http.post(app.url(path));
    let mut form = form.to_vec();
    match auth {
        ClientAuth::Basic(id, secret) => request = request.basic_auth(id, Some(secret)),
        ClientAuth::Public(id) => form.push(("client_id", id)),
        ClientAuth::Form => {}
    }
    for proof in proofs {
        request = request.header("DPoP", *proof);
    }
    request.form(&form).fetch().await
}

async fn token_call(
    app: &TestApp,
    client: &TestClient,
    form: &[(&str, &str)],
    proofs: &[&str],
) -> (StatusCode, Value) {
    status_and_json(post_with_proofs(app, "/token", client.auth(), form, proofs).await).await
}

const CLIENT_CREDENTIALS: [(&str, &str); 1] = [("grant_type", "client_credentials")];

/// A back-office system (client credentials), bound by registration or not.
fn api_client(app: &TestApp, dpop_bound_access_tokens: bool) -> TestClient {
    app.register_client(NewClient {
        name: "Hệ thống thuế".into(),
        grant_types: vec!["client_credentials".into()],
        scopes: "tax.read".into(),
        security: SecurityMetadata {
            dpop_bound_access_tokens,
            ..SecurityMetadata::default()
        },
        ..NewClient::default()
    })
}

/// The claims of one of our JWTs, unverified (the server's own checks are under test).
fn claims_of(jwt: &str) -> Value {
    let payload = jwt.split('.').nth(1).unwrap();
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap()
}

fn www_authenticate(response: &reqwest::Response) -> String {
    response
        .headers()
        .get("www-authenticate")
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default()
}

fn dpop_nonce(response: &reqwest::Response) -> Option<String> {
    response
        .headers()
        .get("dpop-nonce")
        .map(|v| v.to_str().unwrap().to_owned())
}

/// GET /userinfo with `Authorization: {scheme} {token}` and the proofs given.
async fn userinfo_call(
    app: &TestApp,
    scheme: &str,
    token: &str,
    proofs: &[&str],
) -> reqwest::Response {
    let mut request = app
        .http
        .get(app.url("/userinfo"))
        .header("Authorization", format!("{scheme} {token}"));
    for proof in proofs {
        request = request.header("DPoP", *proof);
    }
    request.fetch().await
}

/// A 401 with a DPoP challenge naming `error`.
#[track_caller]
fn assert_dpop_challenge(status: StatusCode, challenge: &str, error: &str) {
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{challenge}");
    assert!(challenge.starts_with("DPoP "), "{challenge}");
    assert!(
        challenge.contains(&format!("error=\"{error}\"")),
        "{challenge}"
    );
}

/// Logs `citizen` in at `client` (with `dpop_jkt` if given): the code and its verifier.
async fn code_for(
    app: &TestApp,
    citizen: &TestCitizen,
    client: &TestClient,
    scopes: &[&str],
    dpop_jkt: Option<&str>,
) -> (String, String) {
    let rp = app.relying_party(client).await;
    let start = rp.authorize_url(scopes);
    let url = match dpop_jkt {
        Some(jkt) => format!("{}&dpop_jkt={jkt}", start.url),
        None => start.url.clone(),
    };
    let redirect = app.log_in(&url, &citizen.number, PASSWORD).await;
    let code = query_param(&redirect, "code").unwrap_or_else(|| panic!("no code: {redirect}"));
    (code, start.verifier.secret().clone())
}

async fn exchange(
    app: &TestApp,
    client: &TestClient,
    (code, verifier): &(String, String),
    proofs: &[&str],
) -> (StatusCode, Value) {
    let form = [
        ("grant_type", "authorization_code"),
        ("code", code.as_str()),
        ("redirect_uri", client.redirect_uri.as_str()),
        ("code_verifier", verifier.as_str()),
    ];
    token_call(app, client, &form, proofs).await
}

async fn refresh(
    app: &TestApp,
    client: &TestClient,
    refresh_token: &str,
    proofs: &[&str],
) -> (StatusCode, Value) {
    let form = [
        ("grant_type", "refresh_token"),
        ("refresh_token", refresh_token),
    ];
    token_call(app, client, &form, proofs).await
}

fn offline_public_client(app: &TestApp) -> TestClient {
    app.register_client(NewClient {
        name: "Ứng dụng di động".into(),
        kind: ClientKind::Public,
        redirect_uris: vec!["http://127.0.0.1/callback".into()],
        scopes: "openid profile offline_access".into(),
        id_token_alg: "ES256".into(),
        subject_type: citizen_idp::domain::client::SubjectType::Public,
        ..NewClient::default()
    })
}

fn offline_portal(app: &TestApp) -> TestClient {
    let mut registration = TestClient::portal();
    registration.scopes = "openid profile offline_access".into();
    app.register_client(registration)
}

#[tokio::test]
async fn discovery_lists_the_proof_algorithms() {
    let app = TestApp::spawn().await;
    let doc = app.get_json("/.well-known/openid-configuration").await;
    assert_eq!(
        doc["dpop_signing_alg_values_supported"],
        json!(["ES256", "PS256", "RS256", "EdDSA"])
    );
}

#[tokio::test]
async fn a_client_credentials_token_is_bound_to_the_key_of_its_proof() {
    let app = TestApp::spawn().await;
    let client = api_client(&app, false);
    let holder = Holder::new();
    let token_url = endpoint(&app, "/token");

    let (status, body) = token_call(
        &app,
        &client,
        &CLIENT_CREDENTIALS,
        &[&holder.proof(&app, "POST", &token_url)],
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["token_type"], "DPoP");
    let access_token = body["access_token"].as_str().unwrap();
    assert_eq!(claims_of(access_token)["cnf"]["jkt"], holder.jkt());

    // RFC 9449 §6.2: introspection tells a resource server what the token is bound to.
    let answer = introspect(&app, &client, access_token).await;
    assert_eq!(answer["active"], true, "{answer}");
    assert_eq!(answer["token_type"], "DPoP", "{answer}");
    assert_eq!(answer["cnf"]["jkt"], holder.jkt(), "{answer}");

    // Without a proof the same client gets a Bearer token, bound to nothing.
    let (status, body) = token_call(&app, &client, &CLIENT_CREDENTIALS, &[]).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["token_type"], "Bearer");
    let bearer = body["access_token"].as_str().unwrap();
    assert!(claims_of(bearer).get("cnf").is_none());
    let answer = introspect(&app, &client, bearer).await;
    assert_eq!(answer["token_type"], "Bearer", "{answer}");
    assert!(answer.get("cnf").is_none(), "{answer}");
}

#[tokio::test]
async fn a_client_registered_for_bound_tokens_must_send_a_proof() {
    let app = TestApp::spawn().await;
    let client = api_client(&app, true);
    assert_oauth_error(
        &token_call(&app, &client, &CLIENT_CREDENTIALS, &[]).await,
        StatusCode::BAD_REQUEST,
        "invalid_dpop_proof",
    );
    let holder = Holder::new();
    let proof = holder.proof(&app, "POST", &endpoint(&app, "/token"));
    let (status, body) = token_call(&app, &client, &CLIENT_CREDENTIALS, &[&proof]).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["token_type"], "DPoP");
}

#[tokio::test]
async fn every_malformed_or_misdirected_proof_is_refused_at_the_token_endpoint() {
    let app = TestApp::spawn().await;
    let client = api_client(&app, false);
    let holder = Holder::new();
    let other = Holder::new();
    let token_url = endpoint(&app, "/token");
    let now = app.clock.now().timestamp();
    let good_claims = || Holder::claims(&app, "POST", &token_url);
    let with_claim = |name: &str, value: Value| {
        let mut claims = good_claims();
        claims[name] = value;
        holder.sign(&holder.header(), &claims)
    };
    let without_claim = |name: &str| {
        let mut claims = good_claims();
        claims.as_object_mut().unwrap().remove(name);
        holder.sign(&holder.header(), &claims)
    };
    let with_header = |name: &str, value: Value| {
        let mut header = holder.header();
        header[name] = value;
        holder.sign(&header, &good_claims())
    };
    let unsigned = |header: Value| {
        format!(
            "{}.{}.",
            URL_SAFE_NO_PAD.encode(header.to_string()),
            URL_SAFE_NO_PAD.encode(good_claims().to_string())
        )
    };
    // HS256 with the public key as the "secret": what a verifier that trusts the header's
    // alg would accept.
    let hs256 = {
        let mut header = holder.header();
        header["alg"] = json!("HS256");
        let input = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(header.to_string()),
            URL_SAFE_NO_PAD.encode(good_claims().to_string())
        );
        let key =
            ring::hmac::Key::new(ring::hmac::HMAC_SHA256, holder.jwk().to_string().as_bytes());
        let tag = ring::hmac::sign(&key, input.as_bytes());
        format!("{input}.{}", URL_SAFE_NO_PAD.encode(tag.as_ref()))
    };
    let mut private_jwk = holder.jwk();
    private_jwk["d"] = json!(URL_SAFE_NO_PAD.encode([7u8; 32]));
    let signed_by_other_key = {
        let mut header = holder.header();
        header["jwk"] = other.jwk();
        holder.sign(&header, &good_claims())
    };

    let cases: Vec<(&str, String)> = vec![
        ("wrong htm", holder.proof(&app, "GET", &token_url)),
        (
            "htu of another endpoint",
            holder.proof(&app, "POST", &endpoint(&app, "/userinfo")),
        ),
        (
            "htu of another server",
            holder.proof(&app, "POST", "https://other-idp.example/token"),
        ),
        ("htu not a URL", with_claim("htu", json!("token"))),
        ("stale iat", with_claim("iat", json!(now - 120))),
        ("iat in the future", with_claim("iat", json!(now + 120))),
        ("iat as a string", with_claim("iat", json!(now.to_string()))),
        ("no iat", without_claim("iat")),
        ("no jti", without_claim("jti")),
        ("empty jti", with_claim("jti", json!(""))),
        ("no htm", without_claim("htm")),
        ("no htu", without_claim("htu")),
        ("private key in the jwk", with_header("jwk", private_jwk)),
        (
            "symmetric jwk",
            with_header("jwk", json!({ "kty": "oct", "k": "c2VjcmV0" })),
        ),
        ("no jwk", {
            let mut header = holder.header();
            header.as_object_mut().unwrap().remove("jwk");
            holder.sign(&header, &good_claims())
        }),
        ("jwk of another key", signed_by_other_key),
        ("typ JWT", with_header("typ", json!("JWT"))),
        (
            "alg none",
            unsigned(json!({ "typ": "dpop+jwt", "alg": "none", "jwk": holder.jwk() })),
        ),
        ("alg HS256", hs256),
        (
            "alg not fitting the key",
            with_header("alg", json!("RS256")),
        ),
        ("alg not allowed", with_header("alg", json!("ES384"))),
        ("crit header", with_header("crit", json!(["exp"]))),
        ("tampered claims", {
            let proof = holder.proof(&app, "POST", &token_url);
            let forged = holder.proof(&app, "POST", &endpoint(&app, "/other"));
            let parts: Vec<&str> = proof.split('.').collect();
            let forged_parts: Vec<&str> = forged.split('.').collect();
            format!("{}.{}.{}", parts[0], forged_parts[1], parts[2])
        }),
        ("not a JWT", "not-a-jwt".to_owned()),
        ("too large", "a".repeat(9000)),
    ];
    for (case, proof) in cases {
        let answer = token_call(&app, &client, &CLIENT_CREDENTIALS, &[&proof]).await;
        assert_eq!(answer.0, StatusCode::BAD_REQUEST, "{case}: {}", answer.1);
        assert_eq!(
            answer.1["error"], "invalid_dpop_proof",
            "{case}: {}",
            answer.1
        );
    }

    // Two proofs in one request: which one would count?
    let (a, b) = (
        holder.proof(&app, "POST", &token_url),
        holder.proof(&app, "POST", &token_url),
    );
    assert_oauth_error(
        &token_call(&app, &client, &CLIENT_CREDENTIALS, &[&a, &b]).await,
        StatusCode::BAD_REQUEST,
        "invalid_dpop_proof",
    );

    // The URL is compared normalised (RFC 9449 §4.3): the scheme's case, the query and
    // the fragment make no difference.
    let port_and_path = token_url.strip_prefix("http://").unwrap();
    let variant = format!("HTTP://{port_and_path}?q=1#f");
    let (status, body) = token_call(
        &app,
        &client,
        &CLIENT_CREDENTIALS,
        &[&holder.proof(&app, "POST", &variant)],
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
}

#[tokio::test]
async fn a_proof_is_accepted_once_even_when_raced() {
    let app = TestApp::spawn().await;
    let client = api_client(&app, false);
    let holder = Holder::new();
    let proof = holder.proof(&app, "POST", &endpoint(&app, "/token"));
    let (status, body) = token_call(&app, &client, &CLIENT_CREDENTIALS, &[&proof]).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_oauth_error(
        &token_call(&app, &client, &CLIENT_CREDENTIALS, &[&proof]).await,
        StatusCode::BAD_REQUEST,
        "invalid_dpop_proof",
    );

    // Eight requests at once with one fresh proof: exactly one gets a token.
    let proof = holder.proof(&app, "POST", &endpoint(&app, "/token"));
    let (id, secret) = (client.id.clone(), client.secret.clone().unwrap());
    let mut requests = tokio::task::JoinSet::new();
    for _ in 0..8 {
        let request = app
            .http
            .post(app.url("/token"))
            .basic_auth(&id, Some(&secret))
            .header("DPoP", &proof)
            .form(&CLIENT_CREDENTIALS);
        requests.spawn(async move { status_and_json(request.fetch().await).await });
    }
    let answers = requests.join_all().await;
    let granted = answers.iter().filter(|(s, _)| *s == StatusCode::OK).count();
    assert_eq!(granted, 1, "{answers:?}");
    for (status, body) in answers.iter().filter(|(s, _)| *s != StatusCode::OK) {
        assert_eq!(*status, StatusCode::BAD_REQUEST, "{body}");
        assert_eq!(body["error"], "invalid_dpop_proof", "{body}");
    }
}

#[tokio::test]
async fn a_bound_token_works_at_userinfo_only_with_a_proof_of_its_key() {
    let app = TestApp::spawn().await;
    let citizen = app.citizen();
    let client = app.confidential_client();
    let holder = Holder::new();
    let other = Holder::new();
    let token_url = endpoint(&app, "/token");
    let userinfo_url = endpoint(&app, "/userinfo");

    let code = code_for(&app, &citizen, &client, &["profile"], None).await;
    let (status, body) = exchange(
        &app,
        &client,
        &code,
        &[&holder.proof(&app, "POST", &token_url)],
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["token_type"], "DPoP");
    let token = body["access_token"].as_str().unwrap().to_owned();
    assert_eq!(claims_of(&token)["cnf"]["jkt"], holder.jkt());

    let response = userinfo_call(
        &app,
        "DPoP",
        &token,
        &[&holder.resource_proof(&app, "GET", &userinfo_url, &token)],
    )
    .await;
    let (status, claims) = status_and_json(response).await;
    assert_eq!(status, StatusCode::OK, "{claims}");
    assert_eq!(claims["sub"], citizen.subject);

    // As a Bearer token, stolen and replayed without the key: refused with a DPoP
    // challenge (RFC 9449 §7.2).
    let response = userinfo_call(&app, "Bearer", &token, &[]).await;
    assert_dpop_challenge(
        response.status(),
        &www_authenticate(&response),
        "invalid_token",
    );
    let response = userinfo_call(
        &app,
        "Bearer",
        &token,
        &[&holder.resource_proof(&app, "GET", &userinfo_url, &token)],
    )
    .await;
    assert_dpop_challenge(
        response.status(),
        &www_authenticate(&response),
        "invalid_token",
    );

    let mut without_ath = Holder::claims(&app, "GET", &userinfo_url);
    without_ath["jti"] = json!("no-ath");
    let mut stale = Holder::claims(&app, "GET", &userinfo_url);
    stale["ath"] = json!(ath(&token));
    stale["iat"] = json!(app.clock.now().timestamp() - 120);
    let refused = [
        ("no proof", None),
        (
            "a proof of another key",
            Some(other.resource_proof(&app, "GET", &userinfo_url, &token)),
        ),
        (
            "ath of another token",
            Some(holder.resource_proof(&app, "GET", &userinfo_url, "another token")),
        ),
        ("no ath", Some(holder.sign(&holder.header(), &without_ath))),
        ("stale iat", Some(holder.sign(&holder.header(), &stale))),
        (
            "htu of the token endpoint",
            Some(holder.resource_proof(&app, "GET", &token_url, &token)),
        ),
        (
            "htm POST on a GET",
            Some(holder.resource_proof(&app, "POST", &userinfo_url, &token)),
        ),
    ];
    for (case, proof) in refused {
        let proofs: Vec<&str> = proof.iter().map(String::as_str).collect();
        let response = userinfo_call(&app, "DPoP", &token, &proofs).await;
        let status = response.status();
        let challenge = www_authenticate(&response);
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{case}: {challenge}");
        assert!(challenge.starts_with("DPoP "), "{case}: {challenge}");
    }

    // A proof used once is spent at userinfo too.
    let proof = holder.resource_proof(&app, "GET", &userinfo_url, &token);
    assert_eq!(
        userinfo_call(&app, "DPoP", &token, &[&proof])
            .await
            .status(),
        StatusCode::OK
    );
    let response = userinfo_call(&app, "DPoP", &token, &[&proof]).await;
    assert_dpop_challenge(
        response.status(),
        &www_authenticate(&response),
        "invalid_dpop_proof",
    );

    // Introspection reports the binding to the resource server.
    let answer = introspect(&app, &client, &token).await;
    assert_eq!(answer["token_type"], "DPoP", "{answer}");
    assert_eq!(answer["cnf"]["jkt"], holder.jkt(), "{answer}");
}

#[tokio::test]
async fn an_unbound_token_is_not_accepted_under_the_dpop_scheme_and_still_works_as_bearer() {
    let app = TestApp::spawn().await;
    let citizen = app.citizen();
    let client = app.confidential_client();
    let holder = Holder::new();
    let token = app.access_token(&citizen, &client, &["profile"]).await;
    let proof = holder.resource_proof(&app, "GET", &endpoint(&app, "/userinfo"), &token);
    let response = userinfo_call(&app, "DPoP", &token, &[&proof]).await;
    assert_dpop_challenge(
        response.status(),
        &www_authenticate(&response),
        "invalid_token",
    );
    assert_eq!(app.userinfo(&token).await.0, StatusCode::OK);
}

#[tokio::test]
async fn a_public_clients_refresh_token_is_bound_to_its_key() {
    let app = TestApp::spawn().await;
    let citizen = app.citizen();
    let client = offline_public_client(&app);
    let holder = Holder::new();
    let other = Holder::new();
    let token_url = endpoint(&app, "/token");

    let code = code_for(&app, &citizen, &client, &["offline_access"], None).await;
    let (status, body) = exchange(
        &app,
        &client,
        &code,
        &[&holder.proof(&app, "POST", &token_url)],
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let refresh_token = body["refresh_token"]
        .as_str()
        .expect("a refresh token")
        .to_owned();
    // RFC 9449 §6.2 (and introspection of a refresh token alike): bound.
    // (Public clients cannot introspect; the binding shows in what refresh allows.)

    // Stolen, the refresh token is worthless: no proof, or another key, is refused,
    // and neither spends it.
    assert_oauth_error(
        &refresh(&app, &client, &refresh_token, &[]).await,
        StatusCode::BAD_REQUEST,
        "invalid_dpop_proof",
    );
    assert_oauth_error(
        &refresh(
            &app,
            &client,
            &refresh_token,
            &[&other.proof(&app, "POST", &token_url)],
        )
        .await,
        StatusCode::BAD_REQUEST,
        "invalid_grant",
    );

    let (status, body) = refresh(
        &app,
        &client,
        &refresh_token,
        &[&holder.proof(&app, "POST", &token_url)],
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["token_type"], "DPoP");
    assert_eq!(
        claims_of(body["access_token"].as_str().unwrap())["cnf"]["jkt"],
        holder.jkt()
    );
    // The rotated token keeps the binding.
    let rotated = body["refresh_token"].as_str().unwrap();
    assert_oauth_error(
        &refresh(
            &app,
            &client,
            rotated,
            &[&other.proof(&app, "POST", &token_url)],
        )
        .await,
        StatusCode::BAD_REQUEST,
        "invalid_grant",
    );
    let (status, body) = refresh(
        &app,
        &client,
        rotated,
        &[&holder.proof(&app, "POST", &token_url)],
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
}

#[tokio::test]
async fn a_confidential_clients_refresh_binds_each_new_access_token_to_the_proof_it_sends() {
    let app = TestApp::spawn().await;
    let citizen = app.citizen();
    let client = offline_portal(&app);
    let holder = Holder::new();
    let other = Holder::new();
    let token_url = endpoint(&app, "/token");

    let code = code_for(&app, &citizen, &client, &["offline_access"], None).await;
    let (status, body) = exchange(
        &app,
        &client,
        &code,
        &[&holder.proof(&app, "POST", &token_url)],
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let refresh_token = body["refresh_token"].as_str().unwrap().to_owned();
    // Its refresh token is bound by the client's authentication, not by a key.
    let (status, body) = refresh(
        &app,
        &client,
        &refresh_token,
        &[&other.proof(&app, "POST", &token_url)],
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        claims_of(body["access_token"].as_str().unwrap())["cnf"]["jkt"],
        other.jkt()
    );
    let (status, body) = refresh(&app, &client, body["refresh_token"].as_str().unwrap(), &[]).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["token_type"], "Bearer");
}

#[tokio::test]
async fn a_code_bound_with_dpop_jkt_is_redeemed_only_with_that_key() {
    let app = TestApp::spawn().await;
    let citizen = app.citizen();
    let client = app.public_client();
    let holder = Holder::new();
    let other = Holder::new();
    let token_url = endpoint(&app, "/token");

    let code = code_for(&app, &citizen, &client, &[], Some(holder.jkt())).await;
    assert_oauth_error(
        &exchange(
            &app,
            &client,
            &code,
            &[&other.proof(&app, "POST", &token_url)],
        )
        .await,
        StatusCode::BAD_REQUEST,
        "invalid_grant",
    );
    let code = code_for(&app, &citizen, &client, &[], Some(holder.jkt())).await;
    assert_oauth_error(
        &exchange(&app, &client, &code, &[]).await,
        StatusCode::BAD_REQUEST,
        "invalid_dpop_proof",
    );
    let code = code_for(&app, &citizen, &client, &[], Some(holder.jkt())).await;
    let (status, body) = exchange(
        &app,
        &client,
        &code,
        &[&holder.proof(&app, "POST", &token_url)],
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        claims_of(body["access_token"].as_str().unwrap())["cnf"]["jkt"],
        holder.jkt()
    );

    // A dpop_jkt that is no thumbprint is refused at the authorization endpoint.
    let rp = app.relying_party(&client).await;
    let start = rp.authorize_url(&[]);
    let (status, location, _) = app
        .browse(&format!("{}&dpop_jkt=not%20a%20thumbprint", start.url))
        .await;
    assert_eq!(status, StatusCode::FOUND);
    let location = location.unwrap();
    assert_eq!(
        query_param(&location, "error").as_deref(),
        Some("invalid_request"),
        "{location}"
    );
}

#[tokio::test]
async fn with_nonces_required_a_proof_must_carry_a_fresh_server_nonce() {
    let app = TestApp::spawn_with(|s| s.dpop.nonce_required = true).await;
    let client = api_client(&app, false);
    let holder = Holder::new();
    let token_url = endpoint(&app, "/token");

    // RFC 9449 §8: the first request learns the nonce from the error.
    let response = post_with_proofs(
        &app,
        "/token",
        client.auth(),
        &CLIENT_CREDENTIALS,
        &[&holder.proof(&app, "POST", &token_url)],
    )
    .await;
    let nonce = dpop_nonce(&response).expect("a DPoP-Nonce header");
    assert_oauth_error(
        &status_and_json(response).await,
        StatusCode::BAD_REQUEST,
        "use_dpop_nonce",
    );

    let response = post_with_proofs(
        &app,
        "/token",
        client.auth(),
        &CLIENT_CREDENTIALS,
        &[&holder.proof_with_nonce(&app, "POST", &token_url, &nonce)],
    )
    .await;
    assert!(dpop_nonce(&response).is_some());
    let (status, body) = status_and_json(response).await;
    assert_eq!(status, StatusCode::OK, "{body}");

    for (case, bad) in [
        ("a nonce we never gave", URL_SAFE_NO_PAD.encode([1u8; 32])),
        ("an empty nonce", String::new()),
    ] {
        let proof = holder.proof_with_nonce(&app, "POST", &token_url, &bad);
        let answer = token_call(&app, &client, &CLIENT_CREDENTIALS, &[&proof]).await;
        assert_eq!(answer.1["error"], "use_dpop_nonce", "{case}: {}", answer.1);
    }

    // A nonce outlives one rotation, not two.
    let rotation = app.settings.dpop.nonce_rotation_secs;
    app.advance_clock(chrono::Duration::seconds(
        i64::try_from(rotation * 2).unwrap(),
    ));
    let proof = holder.proof_with_nonce(&app, "POST", &token_url, &nonce);
    let answer = token_call(&app, &client, &CLIENT_CREDENTIALS, &[&proof]).await;
    assert_eq!(answer.1["error"], "use_dpop_nonce", "{}", answer.1);

    // At userinfo the same, as a DPoP challenge.
    let (_, body) = token_call(
        &app,
        &client,
        &CLIENT_CREDENTIALS,
        &[&holder.proof(&app, "POST", &token_url)],
    )
    .await;
    assert_eq!(body["error"], "use_dpop_nonce", "{body}");
}

#[tokio::test]
async fn with_nonces_required_userinfo_answers_use_dpop_nonce_as_a_challenge() {
    let app = TestApp::spawn_with(|s| s.dpop.nonce_required = true).await;
    let citizen = app.citizen();
    let client = app.confidential_client();
    let holder = Holder::new();
    let token_url = endpoint(&app, "/token");
    let userinfo_url = endpoint(&app, "/userinfo");

    let code = code_for(&app, &citizen, &client, &["profile"], None).await;
    let response = post_with_proofs(
        &app,
        "/token",
        client.auth(),
        &[
            ("grant_type", "authorization_code"),
            ("code", &code.0),
            ("redirect_uri", &client.redirect_uri),
            ("code_verifier", &code.1),
        ],
        &[&holder.proof(&app, "POST", &token_url)],
    )
    .await;
    let nonce = dpop_nonce(&response).unwrap();
    assert_eq!(status_and_json(response).await.1["error"], "use_dpop_nonce");
    // The code was not spent by a proof refused for its nonce.
    let mut claims = Holder::claims(&app, "POST", &token_url);
    claims["nonce"] = json!(nonce);
    let (status, body) = exchange(
        &app,
        &client,
        &code,
        &[&holder.sign(&holder.header(), &claims)],
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let token = body["access_token"].as_str().unwrap();

    let response = userinfo_call(
        &app,
        "DPoP",
        token,
        &[&holder.resource_proof(&app, "GET", &userinfo_url, token)],
    )
    .await;
    let nonce = dpop_nonce(&response).expect("a DPoP-Nonce header");
    assert_dpop_challenge(
        response.status(),
        &www_authenticate(&response),
        "use_dpop_nonce",
    );
    let mut claims = Holder::claims(&app, "GET", &userinfo_url);
    claims["nonce"] = json!(nonce);
    claims["ath"] = json!(ath(token));
    let response = userinfo_call(
        &app,
        "DPoP",
        token,
        &[&holder.sign(&holder.header(), &claims)],
    )
    .await;
    assert_eq!(response.status(), StatusCode::OK);
}

#[tokio::test]
async fn introspection_and_revocation_check_a_proof_when_one_is_sent() {
    let app = TestApp::spawn().await;
    let client = api_client(&app, false);
    let holder = Holder::new();
    let (_, body) = token_call(&app, &client, &CLIENT_CREDENTIALS, &[]).await;
    let token = body["access_token"].as_str().unwrap();
    let form = [("token", token)];

    for path in ["/introspect", "/revoke"] {
        // A proof made for another endpoint.
        let wrong = holder.proof(&app, "POST", &endpoint(&app, "/token"));
        let answer =
            status_and_json(post_with_proofs(&app, path, client.auth(), &form, &[&wrong]).await)
                .await;
        assert_oauth_error(&answer, StatusCode::BAD_REQUEST, "invalid_dpop_proof");
    }
    let proof = holder.proof(&app, "POST", &endpoint(&app, "/introspect"));
    let (status, answer) = status_and_json(
        post_with_proofs(&app, "/introspect", client.auth(), &form, &[&proof]).await,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert_eq!(answer["active"], true);
    let proof = holder.proof(&app, "POST", &endpoint(&app, "/revoke"));
    let response = post_with_proofs(&app, "/revoke", client.auth(), &form, &[&proof]).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(introspect(&app, &client, token).await["active"], false);
}

/// A proof signed by `sign` under `alg`, with `jwk` in its header.
fn proof_by(
    app: &TestApp,
    alg: &str,
    jwk: &Value,
    url: &str,
    sign: &dyn Fn(&[u8]) -> Vec<u8>,
) -> String {
    let header = json!({ "typ": "dpop+jwt", "alg": alg, "jwk": jwk });
    let input = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(header.to_string()),
        URL_SAFE_NO_PAD.encode(Holder::claims(app, "POST", url).to_string())
    );
    let signature = sign(input.as_bytes());
    format!("{input}.{}", URL_SAFE_NO_PAD.encode(signature))
}

#[tokio::test]
async fn proofs_of_rsa_and_ed25519_keys_bind_tokens_by_their_thumbprints() {
    use aws_lc_rs::rand::SystemRandom;
    use aws_lc_rs::signature::{Ed25519KeyPair, KeyPair, RSA_PSS_SHA256, RsaKeyPair};

    let app = TestApp::spawn().await;
    let client = api_client(&app, false);
    let token_url = endpoint(&app, "/token");

    let (rsa, der) = SigningKey::generate(SigningAlg::Rs256).unwrap();
    let rsa_jwk = json!({ "kty": "RSA", "n": rsa.public_jwk()["n"], "e": rsa.public_jwk()["e"] });
    let pss = RsaKeyPair::from_pkcs8(&der).unwrap();
    let sign_pss = |message: &[u8]| {
        let mut signature = vec![0; pss.public_modulus_len()];
        pss.sign(
            &RSA_PSS_SHA256,
            &SystemRandom::new(),
            message,
            &mut signature,
        )
        .unwrap();
        signature
    };
    let ed = Ed25519KeyPair::generate().unwrap();
    let x = URL_SAFE_NO_PAD.encode(ed.public_key().as_ref());
    let ed_jwk = json!({ "kty": "OKP", "crv": "Ed25519", "x": x });
    // RFC 7638 §3.2 and RFC 8037 §2: the required members in lexicographic order.
    let ed_jkt = URL_SAFE_NO_PAD.encode(citizen_idp::tokens::random::sha256(
        format!(r#"{{"crv":"Ed25519","kty":"OKP","x":"{x}"}}"#).as_bytes(),
    ));

    let rs256 = proof_by(&app, "RS256", &rsa_jwk, &token_url, &|m| {
        rsa.sign(m).unwrap()
    });
    let ps256 = proof_by(&app, "PS256", &rsa_jwk, &token_url, &sign_pss);
    let eddsa = proof_by(&app, "EdDSA", &ed_jwk, &token_url, &|m| {
        ed.sign(m).as_ref().to_vec()
    });
    for (alg, proof, jkt) in [
        ("RS256", rs256, rsa.kid().to_owned()),
        ("PS256", ps256, rsa.kid().to_owned()),
        ("EdDSA", eddsa, ed_jkt),
    ] {
        let (status, body) = token_call(&app, &client, &CLIENT_CREDENTIALS, &[&proof]).await;
        assert_eq!(status, StatusCode::OK, "{alg}: {body}");
        let token = body["access_token"].as_str().unwrap();
        assert_eq!(claims_of(token)["cnf"]["jkt"], jkt.as_str(), "{alg}");
    }

    // A key and an algorithm that do not fit: PKCS#1 v1.5 bytes under PS256.
    let mislabelled = proof_by(&app, "PS256", &rsa_jwk, &token_url, &|m| {
        rsa.sign(m).unwrap()
    });
    assert_oauth_error(
        &token_call(&app, &client, &CLIENT_CREDENTIALS, &[&mislabelled]).await,
        StatusCode::BAD_REQUEST,
        "invalid_dpop_proof",
    );
}

#[tokio::test]
async fn under_the_fapi2_profile_a_proof_must_use_a_fapi_algorithm() {
    use crate::client_assertion::{JWT_BEARER, KeyClient, assertion, jwks_of, register};
    use citizen_idp::domain::client_security::Profile;

    let app = TestApp::spawn_with(|s| s.server.profile = Profile::Fapi2).await;
    let (key, _) = SigningKey::generate(SigningAlg::Es256).unwrap();
    let id = register(&app, Some(jwks_of(&[&key])), None);
    let client = KeyClient { id, key };
    let token_url = endpoint(&app, "/token");
    let call = |jti: &'static str, proof: String| {
        let client_assertion = assertion(&app, &client, &app.issuer, 60, jti);
        let app = &app;
        async move {
            let form = [
                ("grant_type", "client_credentials"),
                ("client_assertion_type", JWT_BEARER),
                ("client_assertion", client_assertion.as_str()),
            ];
            status_and_json(
                post_with_proofs(app, "/token", ClientAuth::Form, &form, &[&proof]).await,
            )
            .await
        }
    };

    // RS256 is allowed by dpop.allowed_algs, but not by FAPI 2.0 (§5.4.1).
    let (rsa, _) = SigningKey::generate(SigningAlg::Rs256).unwrap();
    let rsa_jwk = json!({ "kty": "RSA", "n": rsa.public_jwk()["n"], "e": rsa.public_jwk()["e"] });
    let rs256 = proof_by(&app, "RS256", &rsa_jwk, &token_url, &|m| {
        rsa.sign(m).unwrap()
    });
    assert_oauth_error(
        &call("fapi-dpop-rs256", rs256).await,
        StatusCode::BAD_REQUEST,
        "invalid_dpop_proof",
    );
    let holder = Holder::new();
    let (status, body) = call("fapi-dpop-es256", holder.proof(&app, "POST", &token_url)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        claims_of(body["access_token"].as_str().unwrap())["cnf"]["jkt"],
        holder.jkt()
    );
}

/// Pushes `request` to /par as `client` with `proofs`: the status and the JSON answer.
async fn push_with_proofs(
    app: &TestApp,
    client: &TestClient,
    request: &crate::par::Pushable,
    extra: &[(&'static str, &str)],
    proofs: &[&str],
) -> (StatusCode, Value) {
    let mut form: Vec<(&str, &str)> = request
        .params
        .iter()
        .map(|(k, v)| (*k, v.as_str()))
        .collect();
    form.extend_from_slice(extra);
    status_and_json(post_with_proofs(app, "/par", client.auth(), &form, proofs).await).await
}

/// Logs in through a pushed request: the code and the request's verifier.
async fn code_through(
    app: &TestApp,
    citizen: &TestCitizen,
    client: &TestClient,
    request: &crate::par::Pushable,
    request_uri: &str,
) -> (String, String) {
    let url = crate::par::authorize_url(app, &client.id, request_uri, &[]);
    let redirect = app.log_in(&url, &citizen.number, PASSWORD).await;
    let code = query_param(&redirect, "code").unwrap_or_else(|| panic!("no code: {redirect}"));
    (code, request.verifier.clone())
}

#[tokio::test]
async fn a_proof_sent_with_a_pushed_request_binds_its_code() {
    let app = TestApp::spawn().await;
    let citizen = app.citizen();
    let client = app.confidential_client();
    let holder = Holder::new();
    let other = Holder::new();
    let par_url = endpoint(&app, "/par");
    let token_url = endpoint(&app, "/token");

    // RFC 9449 §10.1: the proof's key binds the code; another key cannot redeem it.
    let request = crate::par::request_for(&client, "openid", "bound");
    let proof = holder.proof(&app, "POST", &par_url);
    let (status, body) = push_with_proofs(&app, &client, &request, &[], &[&proof]).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let code = code_through(
        &app,
        &citizen,
        &client,
        &request,
        body["request_uri"].as_str().unwrap(),
    )
    .await;
    assert_oauth_error(
        &exchange(
            &app,
            &client,
            &code,
            &[&other.proof(&app, "POST", &token_url)],
        )
        .await,
        StatusCode::BAD_REQUEST,
        "invalid_grant",
    );

    let request = crate::par::request_for(&client, "openid", "bound-again");
    let proof = holder.proof(&app, "POST", &par_url);
    let (status, body) = push_with_proofs(&app, &client, &request, &[], &[&proof]).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let code = code_through(
        &app,
        &citizen,
        &client,
        &request,
        body["request_uri"].as_str().unwrap(),
    )
    .await;
    let (status, body) = exchange(
        &app,
        &client,
        &code,
        &[&holder.proof(&app, "POST", &token_url)],
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        claims_of(body["access_token"].as_str().unwrap())["cnf"]["jkt"],
        holder.jkt()
    );

    // A proof made for another endpoint, a replayed one, and a dpop_jkt naming another
    // key than the proof's are refused at /par.
    let request = crate::par::request_for(&client, "openid", "refused");
    let wrong_endpoint = holder.proof(&app, "POST", &token_url);
    let answer = push_with_proofs(&app, &client, &request, &[], &[&wrong_endpoint]).await;
    assert_oauth_error(&answer, StatusCode::BAD_REQUEST, "invalid_dpop_proof");
    let answer = push_with_proofs(&app, &client, &request, &[], &[&proof]).await;
    assert_oauth_error(&answer, StatusCode::BAD_REQUEST, "invalid_dpop_proof");
    let answer = push_with_proofs(
        &app,
        &client,
        &request,
        &[("dpop_jkt", other.jkt())],
        &[&holder.proof(&app, "POST", &par_url)],
    )
    .await;
    assert_oauth_error(&answer, StatusCode::BAD_REQUEST, "invalid_dpop_proof");
}
