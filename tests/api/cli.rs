//! The command line, run as a real process.

use std::process::Command;

fn citizen_idp(dir: &std::path::Path) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_citizen-idp"));
    command
        .current_dir(dir)
        .env(
            "CITIZEN_IDP__DATABASE__URL",
            format!("sqlite://{}", dir.join("cli.sqlite").display()),
        )
        .env("CITIZEN_IDP__KEYS__DIR", dir.join("keys"))
        .env("CITIZEN_IDP__LOG__FILTER", "warn");
    command
}

#[test]
fn a_bad_setting_stops_start_up_naming_the_key_and_the_reason() {
    let dir = tempfile::tempdir().unwrap();
    for (var, value, key) in [
        ("CITIZEN_IDP__SERVER__WORKERS", "many", "server.workers"),
        (
            "CITIZEN_IDP__TOKENS__CODE_TTL_SECS",
            "600",
            "tokens.code_ttl_secs",
        ),
        ("CITIZEN_IDP__DATABASE__URL", "mysql://x", "database.url"),
        ("CITIZEN_IDP__PASSWORD__MEMORY_KIB", "1024", "password"),
    ] {
        let output = citizen_idp(dir.path())
            .env(var, value)
            .arg("migrate")
            .output()
            .unwrap();
        assert_eq!(output.status.code(), Some(2), "{var}");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(stderr.contains(key), "{var}: {stderr}");
    }
    let config = dir.path().join("bad.toml");
    std::fs::write(&config, "[server]\nlisten = \"not an address\"\n").unwrap();
    let output = citizen_idp(dir.path())
        .arg("--config")
        .arg(&config)
        .arg("migrate")
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("server.listen"));
    std::fs::write(&config, "[server]\nlisten_typo = \"127.0.0.1:1\"\n").unwrap();
    let output = citizen_idp(dir.path())
        .arg("--config")
        .arg(&config)
        .arg("migrate")
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2), "unknown keys are refused");
}

#[test]
fn clients_are_created_with_a_secret_shown_once_and_listed() {
    let dir = tempfile::tempdir().unwrap();
    let output = citizen_idp(dir.path())
        .args(["clients", "create", "--name", "Cổng thuế", "--confidential"])
        .args([
            "--redirect-uri",
            "https://thue.example.gov.vn/cb",
            "--scope",
            "openid profile",
        ])
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let stdout = String::from_utf8_lossy(&output.stdout);
    let client_id = stdout
        .lines()
        .find_map(|l| l.strip_prefix("client_id: "))
        .unwrap()
        .to_owned();
    let secret = stdout
        .lines()
        .find_map(|l| l.strip_prefix("client_secret: "))
        .unwrap()
        .to_owned();
    assert!(secret.len() >= 43);

    let output = citizen_idp(dir.path())
        .args(["clients", "list"])
        .output()
        .unwrap();
    let listing = String::from_utf8_lossy(&output.stdout);
    assert!(listing.contains(&client_id) && listing.contains("Cổng thuế"));
    assert!(
        !listing.contains(&secret),
        "the secret is never shown again"
    );

    let output = citizen_idp(dir.path())
        .args([
            "clients",
            "create",
            "--name",
            "Bad",
            "--public",
            "--redirect-uri",
            "http://evil.example/cb",
        ])
        .output()
        .unwrap();
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("loopback"));

    let output = citizen_idp(dir.path())
        .args(["clients", "create", "--name", "Short", "--confidential"])
        .args([
            "--redirect-uri",
            "https://a.example.gov.vn/cb",
            "--access-token-ttl",
            "30",
        ])
        .output()
        .unwrap();
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("between 60 and 3600"));
}

#[test]
fn population_generate_writes_the_requested_number_of_citizens() {
    let dir = tempfile::tempdir().unwrap();
    let output = citizen_idp(dir.path())
        .args(["population", "generate", "--count", "2500"])
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(String::from_utf8_lossy(&output.stdout).starts_with("wrote 2500 citizens"));
}

#[test]
fn keys_generate_rotates_and_list_shows_each_key_with_its_state() {
    let dir = tempfile::tempdir().unwrap();
    assert!(
        citizen_idp(dir.path())
            .args(["keys", "generate"])
            .status()
            .unwrap()
            .success()
    );
    assert!(
        citizen_idp(dir.path())
            .args(["keys", "generate"])
            .status()
            .unwrap()
            .success()
    );
    let output = citizen_idp(dir.path())
        .args(["keys", "list"])
        .output()
        .unwrap();
    let listing = String::from_utf8_lossy(&output.stdout);
    // The first keys (made at first use) stay active until the first rotation's keys
    // sign; those are retired in turn when the second rotation's keys sign.
    assert_eq!(listing.matches("\tactive\t").count(), 2, "{listing}");
    assert_eq!(listing.matches("\tpending\t").count(), 4, "{listing}");
    assert!(dir.path().join("keys/server.secret").exists());
    let migrate = citizen_idp(dir.path())
        .args(["migrate", "--redo"])
        .output()
        .unwrap();
    assert!(
        migrate.status.success(),
        "{}",
        String::from_utf8_lossy(&migrate.stderr)
    );
}

/// Runs the real server as a process, logs a citizen in through the demo portal, and
/// checks that the log carries no register value, number or password.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_server_log_holds_no_personal_data() {
    use std::io::{BufRead, BufReader};
    use std::process::Stdio;

    use crate::helpers::{hidden_field, http_client, location_of};

    let dir = tempfile::tempdir().unwrap();
    let mut server = citizen_idp(dir.path())
        .env("CITIZEN_IDP__LOG__FILTER", "info")
        .env("CITIZEN_IDP__DEMO__POPULATION", "10")
        .args(["serve", "--listen", "127.0.0.1:0"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = server.stdout.take().unwrap();
    let issuer = tokio::task::spawn_blocking(move || {
        BufReader::new(stdout)
            .lines()
            .map_while(Result::ok)
            .find_map(|line| {
                line.strip_prefix("citizen-idp is listening on ")
                    .map(str::to_owned)
            })
            .unwrap()
    })
    .await
    .unwrap();

    let browser = http_client(true);
    crate::helpers::wait_until_ready(&browser, &issuer).await;
    let get = |url: String| {
        let browser = browser.clone();
        async move { browser.get(url).send().await.unwrap() }
    };
    let authorize = location_of(&get(format!("{issuer}/demo/login")).await);
    let login = location_of(&get(authorize).await);
    let page = get(format!("{issuer}{login}")).await.text().await.unwrap();
    let form = [
        ("flow", hidden_field(&page, "flow")),
        ("csrf_token", hidden_field(&page, "csrf_token")),
        ("national_id", "001090000001".to_owned()),
        ("password", "demo-password-2026".to_owned()),
    ];
    let callback = browser
        .post(format!("{issuer}/login"))
        .form(&form)
        .send()
        .await
        .unwrap();
    let result = get(location_of(&callback)).await.text().await.unwrap();
    assert!(
        result.contains("Nguyễn Văn An"),
        "the demo login should succeed"
    );

    server.kill().unwrap();
    let output = server.wait_with_output().unwrap();
    let log = String::from_utf8_lossy(&output.stderr);
    assert!(
        log.contains("login succeeded") && log.contains("route=\"/token\""),
        "{log}"
    );
    for secret in [
        "001090000001",
        "Nguyễn Văn An",
        "Tràng Tiền",
        "1990-03-15",
        "demo-password-2026",
        "code=",
    ] {
        assert!(!log.contains(secret), "the log reveals {secret:?}");
    }
}
