//! Importing the register from CSV, through the command line, on the app's database.

use chrono::Duration;
use citizen_idp::clock::Clock;
use citizen_idp::domain::citizen::Citizen;
use citizen_idp::registry::import::CitizenWriter;
use citizen_idp::storage::citizens;
use reqwest::StatusCode;
use serde_json::Value;

use crate::helpers::{TestApp, TestCitizen, assert_succeeded};

fn csv(citizens: &[Citizen]) -> Vec<u8> {
    let mut writer = CitizenWriter::new(Vec::new()).unwrap();
    for citizen in citizens {
        writer.write(citizen).unwrap();
    }
    writer.into_inner().unwrap()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn count(app: &TestApp) -> i64 {
    app.db.run_blocking(citizens::count).unwrap()
}

async fn userinfo(app: &TestApp, token: &str) -> (StatusCode, Value) {
    app.userinfo(token).await
}

async fn access_token(app: &TestApp, citizen: &TestCitizen) -> String {
    let client = app.confidential_client();
    app.access_token(citizen, &client, &["profile", "address"])
        .await
}

#[tokio::test]
async fn an_import_corrects_the_register_and_the_next_userinfo_shows_it() {
    let app = TestApp::spawn().await;
    let citizen = app.citizen();
    let token = access_token(&app, &citizen).await;
    let (_, before) = userinfo(&app, &token).await;
    assert_eq!(before["name"], citizen.record.full_name);

    let mut corrected = citizen.record.clone();
    corrected.family_name = "Trần".into();
    corrected.full_name = format!("Trần {} {}", corrected.middle_name, corrected.given_name);
    corrected.address.street = "Số 9 đường Lê Lợi".into();
    corrected.updated_at += Duration::hours(1);
    let file = csv(&[
        corrected.clone(),
        TestCitizen::generate(),
        TestCitizen::generate(),
    ]);

    let output = app
        .cli(&["population", "import", "-"], Some(file.clone()))
        .await;
    assert_succeeded(&output);
    assert!(
        text(&output.stdout)
            .contains("rows read: 3, inserted: 2, updated: 1, unchanged: 0, rejected: 0"),
        "{}",
        text(&output.stdout)
    );
    let (_, after) = userinfo(&app, &token).await;
    assert_eq!(after["name"], corrected.full_name, "no stale cache");
    assert_eq!(after["family_name"], "Trần");
    assert_eq!(after["address"]["street_address"], "Số 9 đường Lê Lợi");

    // Importing the same file again changes nothing.
    let again = app.cli(&["population", "import", "-"], Some(file)).await;
    assert!(
        text(&again.stdout).contains("inserted: 0, updated: 0, unchanged: 3"),
        "{}",
        text(&again.stdout)
    );
    // An older record never overwrites a newer one.
    let mut stale = citizen.record.clone();
    stale.full_name = "Tên Cũ".into();
    stale.updated_at -= Duration::days(1);
    let old = app
        .cli(&["population", "import", "-"], Some(csv(&[stale])))
        .await;
    assert!(
        text(&old.stdout).contains("unchanged: 1"),
        "{}",
        text(&old.stdout)
    );
    assert_eq!(userinfo(&app, &token).await.1["name"], corrected.full_name);
}

#[tokio::test]
async fn bad_rows_are_reported_by_line_and_never_written() {
    let app = TestApp::spawn().await;
    let good = TestCitizen::generate();
    let duplicate = good.clone();
    let mut file = csv(std::slice::from_ref(&good));
    let valid_line = text(&csv(&[TestCitizen::generate()]))
        .lines()
        .nth(1)
        .unwrap()
        .to_owned();
    let mut fields: Vec<String> = valid_line.split(',').map(str::to_owned).collect();
    fields[5] = "2023-02-30".into();
    file.extend_from_slice(format!("{}\n", fields.join(",")).as_bytes()); // line 3: bad date
    let mut fields: Vec<String> = valid_line.split(',').map(str::to_owned).collect();
    fields[0] = "003090000001".into();
    file.extend_from_slice(format!("{}\n", fields.join(",")).as_bytes()); // line 4: bad province
    file.extend_from_slice(&csv(&[duplicate])[text(&csv(&[])).len()..]); // line 5: duplicate
    file.extend_from_slice(b"\xff\xfe not utf-8,,,\n"); // line 6
    file.extend_from_slice(b"001090000002,Nguy"); // line 7: truncated last line

    let output = app.cli(&["population", "import", "-"], Some(file)).await;
    assert!(!output.status.success(), "rejections must fail the command");
    let stderr = text(&output.stderr);
    for line in 3..=7 {
        assert!(
            stderr.contains(&format!("line {line}:")),
            "line {line} not reported: {stderr}"
        );
    }
    assert!(stderr.contains("first seen on line 2"), "{stderr}");
    assert!(
        text(&output.stdout)
            .contains("rows read: 6, inserted: 1, updated: 0, unchanged: 0, rejected: 5"),
        "{}",
        text(&output.stdout)
    );
    assert_eq!(count(&app), 1, "only the valid row is in the register");
}

#[tokio::test]
async fn a_file_with_the_wrong_columns_is_refused_before_any_row() {
    let app = TestApp::spawn().await;
    let output = app
        .cli(
            &["population", "import", "-"],
            Some(b"national_id,name\n001090000001,An\n".to_vec()),
        )
        .await;
    assert!(!output.status.success());
    assert!(text(&output.stderr).contains("full_name") || text(&output.stderr).contains("name"));
    assert_eq!(count(&app), 0);
}

#[tokio::test]
async fn a_dry_run_validates_and_counts_but_writes_nothing() {
    let app = TestApp::spawn().await;
    let file = csv(&[TestCitizen::generate(), TestCitizen::generate()]);
    let output = app
        .cli(&["population", "import", "--dry-run", "-"], Some(file))
        .await;
    assert_succeeded(&output);
    assert!(text(&output.stdout).contains("dry run: rows read: 2, inserted: 2"));
    assert_eq!(count(&app), 0);
}

#[tokio::test]
async fn an_export_imports_back_unchanged() {
    let app = TestApp::spawn().await;
    app.cli(&["population", "generate", "--count", "300"], None)
        .await;
    let export = app.cli(&["population", "export", "-"], None).await;
    assert_succeeded(&export);
    let output = app
        .cli(&["population", "import", "-"], Some(export.stdout))
        .await;
    assert!(
        text(&output.stdout)
            .contains("rows read: 300, inserted: 0, updated: 0, unchanged: 300, rejected: 0"),
        "{}",
        text(&output.stdout)
    );
}

#[tokio::test]
async fn life_events_from_the_command_line_end_access_and_are_audited() {
    let app = TestApp::spawn().await;
    let citizen = app.citizen();
    let token = access_token(&app, &citizen).await;
    assert_eq!(userinfo(&app, &token).await.0, StatusCode::OK);

    let suspend = app
        .cli(&["accounts", "suspend", &citizen.number], None)
        .await;
    assert_succeeded(&suspend);
    assert!(
        !text(&suspend.stdout).contains(&citizen.number),
        "the number is masked in output"
    );
    assert_eq!(userinfo(&app, &token).await.0, StatusCode::UNAUTHORIZED);
    let reinstate = app
        .cli(&["accounts", "reinstate", &citizen.number], None)
        .await;
    assert_succeeded(&reinstate);
    assert_eq!(userinfo(&app, &token).await.0, StatusCode::OK);

    let death = app
        .cli(
            &["population", "set-status", &citizen.number, "deceased"],
            None,
        )
        .await;
    assert_succeeded(&death);
    assert_eq!(userinfo(&app, &token).await.0, StatusCode::UNAUTHORIZED);

    let unknown = app.cli(&["accounts", "lock", "001099999998"], None).await;
    assert!(!unknown.status.success());
    assert!(text(&unknown.stderr).contains("no e-ID account"));

    let audit = app
        .cli(&["audit", "--citizen", &citizen.number], None)
        .await;
    let trail = text(&audit.stdout);
    assert!(trail.contains("status=active->suspended by=cli"), "{trail}");
    assert!(trail.contains("status=suspended->active by=cli"), "{trail}");
    assert!(trail.contains("life_status=deceased by=cli"), "{trail}");
}

#[tokio::test]
async fn a_death_arriving_by_import_takes_effect_without_any_command() {
    let app = TestApp::spawn().await;
    let citizen = app.citizen();
    let token = access_token(&app, &citizen).await;
    let mut record = citizen.record.clone();
    record.life_status = citizen_idp::domain::citizen::LifeStatus::Deceased;
    record.updated_at += Duration::minutes(5);
    let output = app
        .cli(&["population", "import", "-"], Some(csv(&[record])))
        .await;
    assert!(
        text(&output.stdout).contains("updated: 1"),
        "{}",
        text(&output.stdout)
    );
    assert_eq!(userinfo(&app, &token).await.0, StatusCode::UNAUTHORIZED);
    let client = app.confidential_client();
    let rp = app.relying_party(&client).await;
    let (_, location, _) = app.browse(&rp.authorize_url(&[]).url).await;
    assert!(
        location.unwrap().starts_with("/login?"),
        "the session ended with the death"
    );
}

/// With `database.register_cache_ms` on, userinfo answers from what it read a moment
/// ago, but a change made elsewhere (the CLI, another process) reaches it within
/// the cache's bound, four watch intervals: after that, no answer may be stale. A
/// change made through the instance's own admin API empties the cache at once.
#[tokio::test]
async fn with_the_register_cache_a_change_made_elsewhere_shows_within_its_bound() {
    let app = TestApp::spawn_with_admin(|settings| {
        settings.database.register_cache_ms = 60_000;
    })
    .await;
    let bound = std::time::Duration::from_millis(4 * 250);
    let citizen = app.citizen();
    let token = access_token(&app, &citizen).await;
    assert_eq!(userinfo(&app, &token).await.0, StatusCode::OK);
    assert_eq!(
        userinfo(&app, &token).await.0,
        StatusCode::OK,
        "from the cache"
    );

    let suspend = app
        .cli(&["accounts", "suspend", &citizen.number], None)
        .await;
    assert_succeeded(&suspend);
    let committed = std::time::Instant::now();
    tokio::time::sleep(bound).await;
    assert_eq!(
        userinfo(&app, &token).await.0,
        StatusCode::UNAUTHORIZED,
        "{:?} after the change",
        committed.elapsed()
    );

    let reinstate = app
        .cli(&["accounts", "reinstate", &citizen.number], None)
        .await;
    assert_succeeded(&reinstate);
    tokio::time::sleep(bound).await;
    assert_eq!(userinfo(&app, &token).await.0, StatusCode::OK);

    // A death written straight into the register by another system (no CLI, no
    // server of ours in the loop) is caught by the database's trigger all the same.
    let (number, at) = (
        citizen.record.national_id.clone(),
        app.clock.now().naive_utc(),
    );
    app.db
        .run(move |conn| {
            citizens::set_life_status(
                conn,
                &number,
                citizen_idp::domain::citizen::LifeStatus::Deceased,
                at,
            )
        })
        .await
        .unwrap();
    tokio::time::sleep(bound).await;
    assert_eq!(userinfo(&app, &token).await.0, StatusCode::UNAUTHORIZED);
}

/// The cache is really used (else the test above proves nothing): with a slow watch,
/// a change made behind the instance's back is not seen at once, and the instance's
/// own admin API empties the cache at once.
#[tokio::test]
async fn the_register_cache_serves_between_watches_and_an_officers_change_here_empties_it() {
    let app = TestApp::spawn_with_admin(|settings| {
        settings.database.register_cache_ms = 60_000;
        settings.database.register_watch_ms = 5_000;
    })
    .await;
    let citizen = app.citizen();
    let token = access_token(&app, &citizen).await;
    assert_eq!(userinfo(&app, &token).await.0, StatusCode::OK);
    // Behind the instance's back, within one watch interval of 5 s.
    let number = citizen_idp::domain::national_id::NationalId::parse(&citizen.number).unwrap();
    let at = app.clock.now().naive_utc();
    app.db
        .run(move |conn| {
            citizen_idp::storage::accounts::set_status(
                conn,
                &number,
                citizen_idp::domain::citizen::AccountStatus::Suspended,
                at,
            )
        })
        .await
        .unwrap();
    assert_eq!(
        userinfo(&app, &token).await.0,
        StatusCode::OK,
        "within the watch interval, the answer read before the change"
    );
    // An officer's change through this instance empties the cache: the suspension
    // shows at once too.
    let (status, level) = app
        .admin(
            reqwest::Method::POST,
            &format!("/admin/accounts/{}/level", citizen.number),
            Some(&serde_json::json!({ "level": 2, "officer": "cb-042", "reason": "ID card checked" })),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{level}");
    assert_eq!(userinfo(&app, &token).await.0, StatusCode::UNAUTHORIZED);
}
