//! Passwords in either Unicode form: a Vietnamese password typed precomposed (NFC) on one
//! keyboard and decomposed (NFD, base letter + combining marks) on another is one
//! password, at enrolment and at login; a hash made before normalisation from another
//! form still logs in, and is replaced by the NFC one.

use argon2::{Argon2, PasswordHash, PasswordHasher as _, PasswordVerifier as _};
use citizen_idp::clock::Clock;
use citizen_idp::storage::accounts;
use reqwest::StatusCode;
use unicode_normalization::UnicodeNormalization;

use crate::enrol::{details, form_page, submit, unenrolled, with};
use crate::helpers::{TestApp, location_of};

const COMPOSED: &str = "hoa sen nở giữa đầm lầy";

fn decomposed() -> String {
    let nfd: String = COMPOSED.nfd().collect();
    assert_ne!(nfd, COMPOSED, "the test needs two different byte strings");
    nfd
}

/// A fresh login at a client in a fresh browser: whether it reached the client.
async fn logs_in(app: &TestApp, number: &str, password: &str) -> bool {
    let client = app.confidential_client();
    let response = app.log_in_fresh(&client, number, password).await;
    response.status() == StatusCode::SEE_OTHER
        && location_of(&response).starts_with(&client.redirect_uri)
}

/// Enrols a new citizen with `password` through the enrolment page; their number.
async fn enrol_with(app: &TestApp, password: &str) -> String {
    let citizen = unenrolled(app);
    let fields = with(
        with(details(&citizen), "password", password),
        "password_confirm",
        password,
    );
    let html = form_page(app, "").await;
    let (status, _, body) = submit(app, &html, &fields).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    citizen.national_id.expose().to_owned()
}

fn stored_hash(app: &TestApp, number: &str) -> (String, String) {
    let id = citizen_idp::domain::national_id::NationalId::parse(number).unwrap();
    let account = app
        .db
        .run_blocking(move |conn| accounts::find_by_national_id(conn, &id))
        .unwrap()
        .unwrap();
    (account.id, account.password_hash)
}

fn hash_matches(hash: &str, password: &str) -> bool {
    Argon2::default()
        .verify_password(password.as_bytes(), &PasswordHash::new(hash).unwrap())
        .is_ok()
}

#[tokio::test]
async fn a_password_enrolled_in_one_unicode_form_logs_in_typed_in_the_other() {
    let app = TestApp::spawn().await;
    let nfd = decomposed();

    let number = enrol_with(&app, &nfd).await;
    assert!(logs_in(&app, &number, COMPOSED).await);
    assert!(logs_in(&app, &number, &nfd).await);
    // What is stored is the NFC form's hash.
    let (_, hash) = stored_hash(&app, &number);
    assert!(hash_matches(&hash, COMPOSED));

    let number = enrol_with(&app, COMPOSED).await;
    assert!(logs_in(&app, &number, &nfd).await);
    assert!(!logs_in(&app, &number, "hoa sen no giua dam lay").await);
}

#[tokio::test]
async fn a_hash_made_from_the_decomposed_form_still_logs_in_and_is_replaced_by_the_composed_ones() {
    let app = TestApp::spawn().await;
    let citizen = app.citizen();
    let nfd = decomposed();
    // An account from before normalisation: its hash is of the decomposed bytes.
    let old_hash = Argon2::default()
        .hash_password_with_salt(nfd.as_bytes(), b"a salt of 16 B..")
        .unwrap()
        .to_string();
    let (account_id, _) = stored_hash(&app, &citizen.number);
    let (id, hash, now) = (
        account_id.clone(),
        old_hash.clone(),
        app.clock.now().naive_utc(),
    );
    app.db
        .run_blocking(move |conn| accounts::set_password_hash(conn, &id, &hash, now))
        .unwrap();
    // Typed precomposed it cannot match an old hash of other bytes...
    assert!(!logs_in(&app, &citizen.number, COMPOSED).await);
    // ...typed as it was enrolled, it does, and the hash is replaced by the NFC one's.
    assert!(logs_in(&app, &citizen.number, &nfd).await);
    let (_, new_hash) = stored_hash(&app, &citizen.number);
    assert_ne!(new_hash, old_hash);
    assert!(hash_matches(&new_hash, COMPOSED));
    assert!(!hash_matches(&new_hash, &nfd));
    // From now on either form logs in.
    assert!(logs_in(&app, &citizen.number, COMPOSED).await);
    assert!(logs_in(&app, &citizen.number, &nfd).await);
}
