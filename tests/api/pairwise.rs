//! Pairwise subject identifiers (OIDC Core §8): services in different sectors cannot
//! link a citizen by `sub`; userinfo and introspection map the subject back.

use citizen_idp::domain::client::SubjectType;
use citizen_idp::registration::{self, NewClient, RegistrationError};
use openidconnect::OAuth2TokenResponse;
use reqwest::StatusCode;
use serde_json::Value;

use crate::helpers::{
    Fetch, PASSWORD, TestApp, TestCitizen, TestClient, assert_succeeded, query_param,
};

fn service(app: &TestApp, host: &str, subject_type: SubjectType) -> TestClient {
    app.register_client(NewClient {
        name: format!("Dịch vụ {host}"),
        redirect_uris: vec![format!("https://{host}/callback")],
        scopes: "openid profile".into(),
        subject_type,
        ..NewClient::default()
    })
}

/// The `sub` of the ID token `client` receives, and its access token.
async fn subject_at(app: &TestApp, citizen: &TestCitizen, client: &TestClient) -> (String, String) {
    let rp = app.relying_party(client).await;
    let start = rp.authorize_url(&["profile"]);
    let redirect = app.log_in(&start.url, &citizen.number, PASSWORD).await;
    let code = query_param(&redirect, "code").unwrap();
    let tokens = rp.exchange(&app.http, &code, start.verifier).await.unwrap();
    let claims = rp.verify(&tokens, &start.nonce);
    (
        claims.subject().to_string(),
        tokens.access_token().secret().clone(),
    )
}

#[tokio::test]
async fn each_sector_sees_its_own_stable_subject_and_userinfo_maps_it_back() {
    let app = TestApp::spawn().await;
    let citizen = app.citizen();
    let tax = service(&app, "thuedientu.gdt.gov.vn", SubjectType::Pairwise);
    let tax_again = service(&app, "thuedientu.gdt.gov.vn", SubjectType::Pairwise);
    let health = service(&app, "baohiemxahoi.gov.vn", SubjectType::Pairwise);
    let public = service(&app, "dichvucong.gov.vn", SubjectType::Public);

    let (tax_sub, tax_token) = subject_at(&app, &citizen, &tax).await;
    let (tax_sub_again, _) = subject_at(&app, &citizen, &tax).await;
    let (same_sector_sub, _) = subject_at(&app, &citizen, &tax_again).await;
    let (health_sub, _) = subject_at(&app, &citizen, &health).await;
    let (public_sub, _) = subject_at(&app, &citizen, &public).await;

    assert_eq!(tax_sub, tax_sub_again, "stable for one client");
    assert_eq!(tax_sub, same_sector_sub, "stable for one sector");
    assert_ne!(
        tax_sub, health_sub,
        "different sectors cannot link the citizen"
    );
    assert_ne!(tax_sub, citizen.subject, "the account id is not revealed");
    assert_eq!(
        public_sub, citizen.subject,
        "public subjects stay available"
    );

    let (status, claims) = app.userinfo(&tax_token).await;
    assert_eq!(status, StatusCode::OK, "{claims}");
    assert_eq!(
        claims["sub"],
        tax_sub.as_str(),
        "userinfo's sub matches the ID token's"
    );
    assert_eq!(claims["name"], citizen.record.full_name.as_str());

    let description: Value = app
        .http
        .post(app.url("/introspect"))
        .basic_auth(&tax.id, tax.secret.as_deref())
        .form(&[("token", tax_token.as_str())])
        .fetch_json()
        .await;
    assert_eq!(description["active"], true);
    assert_eq!(description["sub"], tax_sub.as_str());
}

#[test]
fn pairwise_clients_need_one_sector() {
    let spread = NewClient {
        name: "Spread".into(),
        redirect_uris: vec!["https://a.gov.vn/cb".into(), "https://b.gov.vn/cb".into()],
        ..NewClient::default()
    };
    assert_eq!(
        registration::register(spread.clone()).unwrap_err(),
        RegistrationError::MixedSectors
    );
    let (client, _) = registration::register(NewClient {
        sector_identifier: Some("https://sector.gov.vn/uris.json".into()),
        ..spread.clone()
    })
    .unwrap();
    assert_eq!(client.sector_identifier, "sector.gov.vn");
    // A native app that names no host (a private-use scheme and loopback) is a sector of
    // its own: nothing proves who owns the scheme.
    let (app, _) = registration::register(NewClient {
        name: "App".into(),
        kind: citizen_idp::domain::client::ClientKind::Public,
        redirect_uris: vec!["vn.gov.app:/cb".into(), "http://127.0.0.1/cb".into()],
        ..NewClient::default()
    })
    .unwrap();
    assert_eq!(app.sector_identifier, format!("client_id:{}", app.id));
}

#[tokio::test]
async fn discovery_lists_both_subject_types() {
    let app = TestApp::spawn().await;
    let document: Value = app.get_json("/.well-known/openid-configuration").await;
    assert_eq!(
        document["subject_types_supported"],
        serde_json::json!(["pairwise", "public"])
    );
    assert_eq!(
        document["grant_types_supported"],
        serde_json::json!(["authorization_code", "refresh_token", "client_credentials"])
    );
}

fn native_app(app: &TestApp, redirect_uris: &[&str]) -> TestClient {
    app.register_client(NewClient {
        name: "Ứng dụng di động".into(),
        kind: citizen_idp::domain::client::ClientKind::Public,
        redirect_uris: redirect_uris.iter().map(|u| (*u).to_owned()).collect(),
        scopes: "openid profile".into(),
        id_token_alg: "ES256".into(),
        subject_type: SubjectType::Pairwise,
        ..NewClient::default()
    })
}

#[tokio::test]
async fn native_apps_that_name_no_host_never_share_a_citizens_subject() {
    let app = TestApp::spawn().await;
    let citizen = app.citizen();
    // Loopback is every app's, and anyone can claim a private-use scheme.
    let pairs = [
        (
            native_app(&app, &["http://127.0.0.1/callback"]),
            native_app(&app, &["http://127.0.0.1/callback"]),
        ),
        (
            native_app(
                &app,
                &["vn.gov.shared.app:/callback", "http://127.0.0.1/callback"],
            ),
            native_app(&app, &["vn.gov.shared.app:/callback"]),
        ),
    ];
    for (first, second) in &pairs {
        let (one, _) = subject_at(&app, &citizen, first).await;
        let (again, _) = subject_at(&app, &citizen, first).await;
        let (other, _) = subject_at(&app, &citizen, second).await;
        assert_eq!(one, again, "stable for one app");
        assert_ne!(one, other, "two apps cannot link the citizen");
        assert_ne!(one, citizen.subject);
    }
    // An update keeps the app's own sector, and so its citizens' subjects.
    let (first, _) = &pairs[0];
    let (before, _) = subject_at(&app, &citizen, first).await;
    let output = app
        .cli(&["clients", "update", &first.id, "--name", "Tên mới"], None)
        .await;
    assert_succeeded(&output);
    app.advance_clock(chrono::Duration::seconds(6));
    let (after, _) = subject_at(&app, &citizen, first).await;
    assert_eq!(before, after);
    // An app with a web host of its own keeps that host's sector.
    let web = registration::register(NewClient {
        name: "App".into(),
        kind: citizen_idp::domain::client::ClientKind::Public,
        redirect_uris: vec![
            "https://app.dichvucong.gov.vn/callback".into(),
            "http://127.0.0.1/callback".into(),
        ],
        scopes: "openid".into(),
        subject_type: SubjectType::Pairwise,
        ..NewClient::default()
    })
    .unwrap()
    .0;
    assert_eq!(web.sector_identifier, "app.dichvucong.gov.vn");
}
