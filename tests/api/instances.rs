//! Several instances behind one load balancer: they share PostgreSQL and Redis, and a
//! relying party may reach a different one on every request.

use reqwest::StatusCode;

use crate::helpers::{
    Fetch, PASSWORD, TestApp, TestClient, assert_oauth_error, client_post, query_param,
};

#[tokio::test]
async fn a_login_exchange_refresh_and_revocation_spread_over_three_instances_agree() {
    let first = TestApp::spawn().await;
    // The in-process store belongs to one process: only Redis is shared. CI runs this
    // suite a second time on PostgreSQL + Redis, where this test applies.
    if first.redis_prefix.is_none() {
        eprintln!("skipped: several instances need the shared Redis store");
        return;
    }
    let second = first.spawn_replica().await;
    let third = first.spawn_replica().await;
    let citizen = first.citizen();
    let mut registration = TestClient::portal();
    registration.scopes = "openid profile offline_access".into();
    let client = first.register_client(registration);

    // Log in on the first.
    let rp = first.relying_party(&client).await;
    let start = rp.authorize_url(&["profile", "offline_access"]);
    let redirect = first.log_in(&start.url, &citizen.number, PASSWORD).await;
    let code = query_param(&redirect, "code").unwrap();
    let verifier = start.verifier.secret().clone();

    // Exchange the code on the second.
    let exchange = [
        ("grant_type", "authorization_code"),
        ("code", code.as_str()),
        ("redirect_uri", client.redirect_uri.as_str()),
        ("code_verifier", verifier.as_str()),
    ];
    let (status, tokens) = client_post(&second, "/token", &client, &exchange).await;
    assert_eq!(status, StatusCode::OK, "{tokens}");

    // Refresh on the third.
    let refresh_token = tokens["refresh_token"].as_str().unwrap();
    let (status, refreshed) = client_post(
        &third,
        "/token",
        &client,
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", refresh_token),
        ],
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{refreshed}");
    let access_token = refreshed["access_token"].as_str().unwrap();
    for app in [&first, &second, &third] {
        assert_eq!(app.userinfo(access_token).await.0, StatusCode::OK);
    }

    // Revoke on the first; every instance sees it.
    let new_refresh = refreshed["refresh_token"].as_str().unwrap();
    let (status, _) = client_post(&first, "/revoke", &client, &[("token", new_refresh)]).await;
    assert_eq!(status, StatusCode::OK);
    for app in [&first, &second, &third] {
        assert_eq!(app.userinfo(access_token).await.0, StatusCode::UNAUTHORIZED);
        let (_, answer) = client_post(app, "/introspect", &client, &[("token", new_refresh)]).await;
        assert_eq!(answer["active"], false);
    }

    // One JWKS, and single sign-on holds across instances (the session is in Redis).
    let jwks = first.get_json("/jwks.json").await;
    assert_eq!(second.get_json("/jwks.json").await, jwks);
    assert_eq!(third.get_json("/jwks.json").await, jwks);
    let sso = second.relying_party(&client).await.authorize_url(&[]);
    let on_second = sso.url.replace(&first.address, &second.address);
    let (status, location, _) = first.browse(&on_second).await;
    assert_eq!(status, StatusCode::FOUND);
    assert!(
        location.unwrap().starts_with(&client.redirect_uri),
        "no login page on the second"
    );

    // The code worked once; replaying it on another instance fails (and, as a replay
    // should, revokes what it gave).
    assert_oauth_error(
        &client_post(&third, "/token", &client, &exchange).await,
        StatusCode::BAD_REQUEST,
        "invalid_grant",
    );
}

#[tokio::test]
async fn the_per_address_request_limit_holds_across_instances() {
    let first = TestApp::spawn_with(|s| s.limits.requests_per_minute_per_ip = 6).await;
    if first.redis_prefix.is_none() {
        eprintln!("skipped: several instances need the shared Redis store");
        return;
    }
    let others = [first.spawn_replica().await, first.spawn_replica().await];
    // The replicas' own start-up probes went to /healthz, which is not counted.
    let instances = [&first, &others[0], &others[1]];
    for instance in instances {
        for _ in 0..2 {
            let response = instance.http.get(instance.url("/jwks.json")).fetch().await;
            assert_eq!(response.status(), StatusCode::OK);
        }
    }
    // Six requests spread over three instances used the address's whole budget.
    for instance in instances {
        let response = instance.http.get(instance.url("/jwks.json")).fetch().await;
        assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
    }
}

#[tokio::test]
async fn a_request_uri_pushed_at_one_instance_is_used_once_at_another() {
    let first = TestApp::spawn().await;
    if first.redis_prefix.is_none() {
        eprintln!("skipped: several instances need the shared Redis store");
        return;
    }
    let second = first.spawn_replica().await;
    let citizen = first.citizen();
    let client = first.confidential_client();
    let request = crate::par::request_for(&client, "openid", "across");
    let request_uri = crate::par::push(&first, &client, &request).await;

    // Used at the second instance: a login, and a code.
    let at_second = crate::par::authorize_url(&second, &client.id, &request_uri, &[]);
    let redirect = second.log_in(&at_second, &citizen.number, PASSWORD).await;
    assert!(redirect.starts_with(&client.redirect_uri), "{redirect}");
    assert_eq!(query_param(&redirect, "state").as_deref(), Some("across"));

    // Spent for every instance, the one that issued it included.
    let at_first = crate::par::authorize_url(&first, &client.id, &request_uri, &[]);
    let (status, location, _) = first.browse(&at_first).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{location:?}");
    assert!(location.is_none());
}

#[tokio::test]
async fn a_dpop_proof_spent_at_one_instance_is_refused_at_another() {
    let first = TestApp::spawn().await;
    if first.redis_prefix.is_none() {
        eprintln!("skipped: several instances need the shared Redis store");
        return;
    }
    let second = first.spawn_replica().await;
    let client = first.register_client(citizen_idp::registration::NewClient {
        name: "Hệ thống thuế".into(),
        grant_types: vec!["client_credentials".into()],
        scopes: "tax.read".into(),
        ..Default::default()
    });
    let holder = crate::dpop::Holder::new();
    // Both instances name their token endpoint by the one issuer.
    let proof = holder.proof(&first, "POST", &crate::dpop::endpoint(&first, "/token"));
    let form = [("grant_type", "client_credentials")];
    for (app, expected) in [(&first, StatusCode::OK), (&second, StatusCode::BAD_REQUEST)] {
        let response =
            crate::dpop::post_with_proofs(app, "/token", client.auth(), &form, &[&proof]).await;
        let (status, body) = crate::helpers::status_and_json(response).await;
        assert_eq!(status, expected, "{body}");
        if expected == StatusCode::BAD_REQUEST {
            assert_eq!(body["error"], "invalid_dpop_proof", "{body}");
        }
    }
    // A fresh proof of the same key works at the second: only the jti was spent.
    let fresh = holder.proof(&first, "POST", &crate::dpop::endpoint(&first, "/token"));
    let response =
        crate::dpop::post_with_proofs(&second, "/token", client.auth(), &form, &[&fresh]).await;
    assert_eq!(response.status(), StatusCode::OK);
}
