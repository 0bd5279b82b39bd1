//! Consent: the page a service that is not first-party sends the citizen to after the
//! login, what Allow and Deny do, when it is asked again, and the first-party flag.

use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::{
    Fetch, PASSWORD, TestApp, TestCitizen, TestClient, assert_redirected_error, assert_succeeded,
    hidden_field, location_of, query_param,
};

/// A portal that is not first-party, allowed to ask for more than it usually does.
pub(crate) fn third_party(app: &TestApp) -> TestClient {
    let mut registration = TestClient::portal();
    registration.name = "Cổng thuế điện tử".into();
    registration.scopes = "openid profile address national_id offline_access".into();
    app.register_third_party_client(registration)
}

/// Logs in at `authorize_url` (or answers from the session); returns where the browser
/// was sent: the consent page, or the client with a code.
pub(crate) async fn after_login(
    app: &TestApp,
    authorize_url: &str,
    citizen: &TestCitizen,
) -> String {
    app.log_in(authorize_url, &citizen.number, PASSWORD).await
}

/// GET the consent page at `location` and answer it with `decision`; returns the
/// page and the redirect that followed.
pub(crate) async fn answer_consent(
    app: &TestApp,
    location: &str,
    decision: &str,
) -> (String, String) {
    assert!(
        location.starts_with("/consent?"),
        "expected the consent page, got {location}"
    );
    let (status, _, page) = app.browse(&app.url(location)).await;
    assert_eq!(status, StatusCode::OK, "{page}");
    let response = app
        .browser
        .post(app.url("/consent"))
        .form(&[
            ("flow", hidden_field(&page, "flow")),
            ("csrf_token", hidden_field(&page, "csrf_token")),
            ("lang", hidden_field(&page, "lang")),
            ("decision", decision.to_owned()),
        ])
        .fetch()
        .await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    (page, location_of(&response))
}

/// The SSO answer of an authorization request: where the browser is sent at once.
async fn authorize_now(app: &TestApp, url: &str) -> String {
    let (status, location, _) = app.browse(url).await;
    assert_eq!(status, StatusCode::FOUND);
    location.unwrap()
}

#[tokio::test]
async fn a_third_party_service_asks_in_plain_words_and_allow_gives_a_working_code() {
    let app = TestApp::spawn().await;
    let citizen = app.citizen();
    let client = third_party(&app);
    let rp = app.relying_party(&client).await;
    let start = rp.authorize_url(&["profile", "address"]);

    let location = after_login(&app, &start.url, &citizen).await;
    let (page, redirect) = answer_consent(&app, &location, "allow").await;
    assert!(page.contains("Cổng thuế điện tử"), "the service is named");
    assert!(
        !page.contains("consent-foreign"),
        "one of the country's own services"
    );
    for words in ["họ và tên", "ngày sinh", "địa chỉ thường trú"] {
        assert!(page.contains(words), "the page says {words}");
    }
    assert!(
        !page.contains("số định danh cá nhân"),
        "nothing not asked for is listed"
    );

    assert!(redirect.starts_with(&client.redirect_uri), "{redirect}");
    let code = query_param(&redirect, "code").expect("a code after Allow");
    let tokens = rp.exchange(&app.http, &code, start.verifier).await.unwrap();
    let claims = rp.verify(&tokens, &start.nonce);
    assert_eq!(claims.subject().as_str(), citizen.subject);
    use openidconnect::OAuth2TokenResponse;
    let (status, info) = app.userinfo(tokens.access_token().secret()).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(info["name"], json!(citizen.record.full_name));
}

#[tokio::test]
async fn the_consent_page_speaks_english_when_asked() {
    let app = TestApp::spawn().await;
    let citizen = app.citizen();
    let client = third_party(&app);
    let start = app
        .relying_party(&client)
        .await
        .authorize_url(&["national_id"]);
    let location = after_login(&app, &start.url, &citizen).await;
    // The login form (posted here without its `lang` field) chose Vietnamese; the
    // switch link of the page asks for English.
    let english = location.replace("lang=vi", "lang=en");
    let (_, _, page) = app.browse(&app.url(&english)).await;
    assert!(page.contains("Allow sharing your information"), "{page}");
    assert!(page.contains("your personal identification number"));
    assert!(page.contains("lang=vi"), "a switch to Vietnamese");
}

#[tokio::test]
async fn a_first_party_service_never_shows_the_consent_page() {
    let app = TestApp::spawn().await;
    let citizen = app.citizen();
    let client = app.confidential_client();
    let start = app.relying_party(&client).await.authorize_url(&["profile"]);
    let redirect = after_login(&app, &start.url, &citizen).await;
    assert!(query_param(&redirect, "code").is_some(), "{redirect}");

    // Not even with prompt=consent.
    let start = app.relying_party(&client).await.authorize_url(&["profile"]);
    let location = authorize_now(&app, &format!("{}&prompt=consent", start.url)).await;
    assert!(location.starts_with(&client.redirect_uri), "{location}");
}

#[tokio::test]
async fn deny_returns_access_denied_with_state_and_iss() {
    let app = TestApp::spawn().await;
    let citizen = app.citizen();
    let client = third_party(&app);
    let start = app.relying_party(&client).await.authorize_url(&["profile"]);
    let location = after_login(&app, &start.url, &citizen).await;
    let (_, redirect) = answer_consent(&app, &location, "deny").await;

    assert!(redirect.starts_with(&client.redirect_uri), "{redirect}");
    assert_redirected_error(&redirect, "access_denied", start.state.secret());
    assert_eq!(
        query_param(&redirect, "iss").as_deref(),
        Some(app.issuer.as_str())
    );
    assert!(query_param(&redirect, "code").is_none());

    // Nothing was remembered: the next request asks again.
    let again = app.relying_party(&client).await.authorize_url(&["profile"]);
    assert!(
        authorize_now(&app, &again.url)
            .await
            .starts_with("/consent?")
    );
}

#[tokio::test]
async fn consent_is_asked_again_for_more_data_but_not_for_the_same_or_less() {
    let app = TestApp::spawn().await;
    let citizen = app.citizen();
    let client = third_party(&app);
    let rp = app.relying_party(&client).await;

    let location = after_login(&app, &rp.authorize_url(&["profile"]).url, &citizen).await;
    answer_consent(&app, &location, "allow").await;

    for (scopes, asks) in [
        (&["profile"][..], false),
        (&[][..], false),
        (&["profile", "address"][..], true),
    ] {
        let location = authorize_now(&app, &rp.authorize_url(scopes).url).await;
        assert_eq!(
            location.starts_with("/consent?"),
            asks,
            "{scopes:?}: {location}"
        );
    }

    // Agreeing to address alone adds it to what was granted: now both are covered.
    let location = authorize_now(&app, &rp.authorize_url(&["address"]).url).await;
    let (page, _) = answer_consent(&app, &location, "allow").await;
    assert!(page.contains("địa chỉ thường trú") && !page.contains("họ và tên"));
    let location = authorize_now(&app, &rp.authorize_url(&["profile", "address"]).url).await;
    assert!(location.starts_with(&client.redirect_uri), "{location}");
}

#[tokio::test]
async fn prompt_consent_asks_again_despite_a_grant() {
    let app = TestApp::spawn().await;
    let citizen = app.citizen();
    let client = third_party(&app);
    let rp = app.relying_party(&client).await;
    let location = after_login(&app, &rp.authorize_url(&["profile"]).url, &citizen).await;
    answer_consent(&app, &location, "allow").await;

    let start = rp.authorize_url(&["profile"]);
    let location = authorize_now(&app, &format!("{}&prompt=consent", start.url)).await;
    let (_, redirect) = answer_consent(&app, &location, "allow").await;
    assert!(
        query_param(&redirect, "code").is_some(),
        "Allow answers prompt=consent: {redirect}"
    );
}

#[tokio::test]
async fn prompt_none_with_consent_due_answers_consent_required() {
    let app = TestApp::spawn().await;
    let citizen = app.citizen();
    // A session from a first-party service...
    let first = app.confidential_client();
    let start = app.relying_party(&first).await.authorize_url(&[]);
    after_login(&app, &start.url, &citizen).await;
    // ...then a third-party one that may not show a page.
    let client = third_party(&app);
    let start = app.relying_party(&client).await.authorize_url(&["profile"]);
    let location = authorize_now(&app, &format!("{}&prompt=none", start.url)).await;
    assert!(location.starts_with(&client.redirect_uri), "{location}");
    assert_redirected_error(&location, "consent_required", start.state.secret());
}

#[tokio::test]
async fn the_consent_form_is_refused_without_its_csrf_token_or_from_another_browser() {
    let app = TestApp::spawn().await;
    let citizen = app.citizen();
    let client = third_party(&app);
    let start = app.relying_party(&client).await.authorize_url(&["profile"]);
    let location = after_login(&app, &start.url, &citizen).await;
    let (_, _, page) = app.browse(&app.url(&location)).await;
    let flow = hidden_field(&page, "flow");

    let forged = app
        .browser
        .post(app.url("/consent"))
        .form(&[
            ("flow", flow.as_str()),
            ("csrf_token", "forged"),
            ("decision", "allow"),
        ])
        .fetch()
        .await;
    assert_eq!(forged.status(), StatusCode::FORBIDDEN);
    assert!(forged.text().await.unwrap().contains("Biểu mẫu đã hết hạn"));

    // The right token from a browser without the flow's cookie (cross-site post).
    let stranger = crate::helpers::http_client(true);
    let response = stranger
        .post(app.url("/consent"))
        .form(&[
            ("flow", flow.as_str()),
            ("csrf_token", hidden_field(&page, "csrf_token").as_str()),
            ("decision", "allow"),
        ])
        .fetch()
        .await;
    assert_ne!(response.status(), StatusCode::SEE_OTHER);

    // A decision that is neither: a page, not a grant.
    let response = app
        .browser
        .post(app.url("/consent"))
        .form(&[
            ("flow", flow.as_str()),
            ("csrf_token", hidden_field(&page, "csrf_token").as_str()),
            ("decision", "maybe"),
        ])
        .fetch()
        .await;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    // No grant was stored by either: the consent page is still due.
    let again = app.relying_party(&client).await.authorize_url(&["profile"]);
    assert!(
        authorize_now(&app, &again.url)
            .await
            .starts_with("/consent?")
    );
}

#[tokio::test]
async fn the_consent_page_without_a_live_flow_explains_itself() {
    let app = TestApp::spawn().await;
    let (status, _, page) = app.browse(&app.url("/consent?flow=nothing&lang=en")).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(page.contains("This login has expired"), "{page}");
    let (status, _, _) = app
        .browse(&app.url(&format!("/consent?flow={}", "x".repeat(5000))))
        .await;
    assert!(status.is_client_error());
}

#[tokio::test]
async fn the_first_party_flag_is_set_through_the_admin_api_and_decides_the_consent_page() {
    let app = TestApp::spawn_with_admin(|_| {}).await;
    let citizen = app.citizen();
    let metadata = json!({
        "client_id": "ministry-portal",
        "client_name": "Cổng Bộ",
        "redirect_uris": ["https://ministry.example.gov.vn/callback"],
        "scope": "openid profile",
        "subject_type": "public",
        "first_party": true,
    });
    let (status, created) = app
        .admin(reqwest::Method::POST, "/admin/clients", Some(&metadata))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    assert_eq!(created["first_party"], json!(true));
    let client = TestClient {
        id: "ministry-portal".into(),
        secret: created["client_secret"].as_str().map(str::to_owned),
        redirect_uri: "https://ministry.example.gov.vn/callback".into(),
        alg: "RS256".into(),
    };
    let start = app.relying_party(&client).await.authorize_url(&["profile"]);
    let redirect = after_login(&app, &start.url, &citizen).await;
    assert!(
        query_param(&redirect, "code").is_some(),
        "first-party: no consent: {redirect}"
    );

    let mut changed = metadata;
    changed["first_party"] = json!(false);
    let (status, replaced) = app
        .admin(
            reqwest::Method::PUT,
            "/admin/clients/ministry-portal",
            Some(&changed),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{replaced}");
    assert_eq!(replaced["first_party"], json!(false));
    let start = app.relying_party(&client).await.authorize_url(&["profile"]);
    assert!(
        authorize_now(&app, &start.url)
            .await
            .starts_with("/consent?")
    );
}

#[tokio::test]
async fn the_cli_marks_a_client_first_party() {
    let app = TestApp::spawn().await;
    let citizen = app.citizen();
    let client = third_party(&app);
    let output = app
        .cli(
            &["clients", "update", &client.id, "--first-party", "true"],
            None,
        )
        .await;
    assert_succeeded(&output);
    let shown = app.cli(&["clients", "show", &client.id], None).await;
    assert!(String::from_utf8_lossy(&shown.stdout).contains("first_party: true"));
    let start = app.relying_party(&client).await.authorize_url(&["profile"]);
    let redirect = after_login(&app, &start.url, &citizen).await;
    assert!(query_param(&redirect, "code").is_some(), "{redirect}");

    let refused = app
        .cli(
            &["clients", "update", &client.id, "--first-party", "maybe"],
            None,
        )
        .await;
    assert!(!refused.status.success());
}
