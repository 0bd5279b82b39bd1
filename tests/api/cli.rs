//! The command line, run as a real process.

use std::process::Command;

use crate::helpers::{Fetch, assert_succeeded, free_port};

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
    assert_succeeded(&output);
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
    assert_succeeded(&output);
    assert!(String::from_utf8_lossy(&output.stdout).starts_with("wrote 2500 citizens"));
}

/// Filling, writing out and loading a whole register are jobs, not requests: the query
/// timeout that protects requests must not cut them short (it failed any generation of
/// more than about 100,000 citizens at its default of 5 s). The databases are migrated
/// first with the default timeout, so that only the jobs run under the short one.
#[test]
fn register_jobs_outlast_the_query_timeout() {
    let dir = tempfile::tempdir().unwrap();
    let other = tempfile::tempdir().unwrap();
    for dir in [&dir, &other] {
        assert_succeeded(&citizen_idp(dir.path()).arg("migrate").output().unwrap());
    }
    // Each job below takes several times this long.
    let timeout = ("CITIZEN_IDP__DATABASE__QUERY_TIMEOUT_MS", "100");
    let output = citizen_idp(dir.path())
        .env(timeout.0, timeout.1)
        .args(["population", "generate", "--count", "30000"])
        .output()
        .unwrap();
    assert_succeeded(&output);
    assert!(String::from_utf8_lossy(&output.stdout).starts_with("wrote 30000 citizens"));

    let csv = dir.path().join("register.csv");
    let output = citizen_idp(dir.path())
        .env(timeout.0, timeout.1)
        .args(["population", "export"])
        .arg(&csv)
        .output()
        .unwrap();
    assert_succeeded(&output);

    let output = citizen_idp(other.path())
        .env(timeout.0, timeout.1)
        .args(["population", "import"])
        .arg(&csv)
        .output()
        .unwrap();
    assert_succeeded(&output);
    assert!(
        String::from_utf8_lossy(&output.stdout).contains("30000"),
        "{}",
        String::from_utf8_lossy(&output.stdout)
    );
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
        .args(["migrate", "--redo", "--yes"])
        .output()
        .unwrap();
    assert_succeeded(&migrate);
}

/// Runs the real server as a process, logs a citizen in through the demo portal, and
/// checks that the log carries no register value, number or password.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_server_log_holds_no_personal_data() {
    use std::io::{BufRead, BufReader};
    use std::process::Stdio;

    use crate::helpers::{http_client, location_of, login_form};

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
        async move { browser.get(url).fetch().await }
    };
    let authorize = location_of(&get(format!("{issuer}/demo/login")).await);
    let login = location_of(&get(authorize).await);
    let page = get(format!("{issuer}{login}")).await.text().await.unwrap();
    let form = login_form(&page, "001090000001", "demo-password-2026");
    let callback = browser
        .post(format!("{issuer}/login"))
        .form(&form)
        .fetch()
        .await;
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

/// Starts `serve` (blocking): the child and the issuer it prints, or its exit code and
/// standard error when it stops before listening.
fn start_serving(mut command: Command) -> Result<(std::process::Child, String), (i32, String)> {
    use std::io::{BufRead, BufReader};
    use std::process::Stdio;

    let mut server = command
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = server.stdout.take().unwrap();
    let issuer = BufReader::new(stdout)
        .lines()
        .map_while(Result::ok)
        .find_map(|line| {
            line.strip_prefix("citizen-idp is listening on ")
                .map(str::to_owned)
        });
    match issuer {
        Some(issuer) => Ok((server, issuer)),
        None => {
            let output = server.wait_with_output().unwrap();
            Err((
                output.status.code().unwrap_or(-1),
                String::from_utf8_lossy(&output.stderr).into_owned(),
            ))
        }
    }
}

fn stop_serving(mut server: std::process::Child) {
    let _ = server.kill();
    let _ = server.wait();
}

fn postgres_under_test() -> Option<String> {
    std::env::var("TEST_DATABASE_URL")
        .ok()
        .filter(|url| !url.is_empty())
}

#[test]
fn the_demo_refuses_to_start_on_an_https_issuer_unless_allowed() {
    let dir = tempfile::tempdir().unwrap();
    let serve = |allow: Option<&str>| {
        let mut command = citizen_idp(dir.path());
        command
            .env("CITIZEN_IDP__SERVER__ISSUER", "https://id.example.gov.vn")
            .env("CITIZEN_IDP__DEMO__POPULATION", "10")
            .args(["serve", "--listen", "127.0.0.1:0"]);
        if let Some(allow) = allow {
            command.env("CITIZEN_IDP__DEMO__ALLOW_IN_PRODUCTION", allow);
        }
        start_serving(command)
    };
    for allow in [None, Some("false")] {
        let Err((code, stderr)) = serve(allow) else {
            panic!("the demo started on an https issuer ({allow:?})");
        };
        assert_eq!(code, 1, "{stderr}");
        for named in [
            "demo.enabled",
            "https issuer (server.issuer)",
            "demo.allow_in_production",
        ] {
            assert!(stderr.contains(named), "{named}: {stderr}");
        }
    }
    // Refused before anything was done: no database, no server secret.
    assert!(!dir.path().join("cli.sqlite").exists());
    assert!(!dir.path().join("keys").exists());

    let (server, issuer) = serve(Some("true")).expect("starts when allowed");
    assert_eq!(issuer, "https://id.example.gov.vn");
    stop_serving(server);
}

#[tokio::test]
async fn the_demo_refuses_to_start_on_postgresql_unless_allowed() {
    let dir = tempfile::tempdir().unwrap();
    // Refused before connecting: this database is never reached.
    let mut command = citizen_idp(dir.path());
    command
        .env(
            "CITIZEN_IDP__DATABASE__URL",
            "postgres://citizen_idp@127.0.0.1:1/nowhere",
        )
        .args(["serve", "--listen", "127.0.0.1:0"]);
    let Err((code, stderr)) = start_serving(command) else {
        panic!("the demo started on PostgreSQL");
    };
    assert_eq!(code, 1, "{stderr}");
    assert!(stderr.contains("PostgreSQL (database.url)"), "{stderr}");
    assert!(stderr.contains("demo.allow_in_production"), "{stderr}");

    // With the permission it starts, on a real database.
    if postgres_under_test().is_none() {
        return;
    }
    let app = crate::helpers::TestApp::spawn().await;
    let mut command = citizen_idp(dir.path());
    command
        .env("CITIZEN_IDP__DATABASE__URL", &app.database_url)
        .env("CITIZEN_IDP__KEYS__DIR", &app.settings.keys.dir)
        .env("CITIZEN_IDP__DEMO__POPULATION", "10")
        .env("CITIZEN_IDP__DEMO__ALLOW_IN_PRODUCTION", "true")
        .args(["serve", "--listen", "127.0.0.1:0"]);
    let (server, issuer) = tokio::task::spawn_blocking(move || start_serving(command))
        .await
        .unwrap()
        .expect("starts when allowed");
    let demo = crate::helpers::http_client(false)
        .get(format!("{issuer}/demo"))
        .fetch()
        .await;
    assert_eq!(demo.status(), reqwest::StatusCode::OK);
    stop_serving(server);
}

#[test]
fn migrate_redo_without_yes_refuses_and_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let created = citizen_idp(dir.path())
        .args(["clients", "create", "--name", "Cổng thuế", "--confidential"])
        .args(["--id", "tax-portal"])
        .args(["--redirect-uri", "https://thue.example.gov.vn/cb"])
        .output()
        .unwrap();
    assert_succeeded(&created);
    let listed = |dir: &std::path::Path| {
        let output = citizen_idp(dir).args(["clients", "list"]).output().unwrap();
        String::from_utf8_lossy(&output.stdout).contains("tax-portal")
    };

    let refused = citizen_idp(dir.path())
        .args(["migrate", "--redo"])
        .output()
        .unwrap();
    assert!(!refused.status.success());
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(stderr.contains("--yes"), "{stderr}");
    assert!(listed(dir.path()), "the client is still there");

    // The confirmations belong to --redo: alone they are a usage error.
    let usage = citizen_idp(dir.path())
        .args(["migrate", "--yes"])
        .output()
        .unwrap();
    assert_eq!(usage.status.code(), Some(2));
    assert!(listed(dir.path()));

    // On SQLite --yes is enough; and it does drop everything.
    let redone = citizen_idp(dir.path())
        .args(["migrate", "--redo", "--yes"])
        .output()
        .unwrap();
    assert_succeeded(&redone);
    assert!(!listed(dir.path()), "redo empties the database");
}

fn count_audit_rows(database_url: &str) -> i64 {
    use diesel::{Connection, PgConnection, RunQueryDsl};
    let mut conn = PgConnection::establish(database_url).unwrap();
    diesel::select(diesel::dsl::sql::<diesel::sql_types::BigInt>(
        "(SELECT count(*) FROM audit_events)",
    ))
    .get_result(&mut conn)
    .unwrap()
}

#[tokio::test]
async fn migrate_redo_on_postgresql_needs_the_audit_trail_flag_and_keeps_the_trail_without_it() {
    if postgres_under_test().is_none() {
        return;
    }
    let mut app = crate::helpers::TestApp::spawn().await;
    let created = app
        .cli(
            &[
                "clients",
                "create",
                "--name",
                "Cổng thuế",
                "--confidential",
                "--redirect-uri",
                "https://thue.example.gov.vn/cb",
            ],
            None,
        )
        .await;
    assert_succeeded(&created);
    app.stop().await;
    let before = count_audit_rows(&app.database_url);
    assert!(before > 0, "the client's creation is audited");

    for args in [
        &["migrate", "--redo"][..],
        &["migrate", "--redo", "--yes"],
        &["migrate", "--redo", "--i-know-this-drops-the-audit-trail"],
    ] {
        let refused = app.cli(args, None).await;
        assert!(!refused.status.success(), "{args:?}");
        let stderr = String::from_utf8_lossy(&refused.stderr);
        let wanted = if args.contains(&"--yes") {
            "--i-know-this-drops-the-audit-trail"
        } else {
            "--yes"
        };
        assert!(stderr.contains(wanted), "{args:?}: {stderr}");
        assert_eq!(count_audit_rows(&app.database_url), before, "{args:?}");
    }

    let redone = app
        .cli(
            &[
                "migrate",
                "--redo",
                "--yes",
                "--i-know-this-drops-the-audit-trail",
            ],
            None,
        )
        .await;
    assert_succeeded(&redone);
    assert_eq!(count_audit_rows(&app.database_url), 0);
}

/// A role of the PostgreSQL cluster made for one test, dropped after the test's
/// database (roles outlive databases; this must be declared before the app).
struct TestRole {
    admin_url: String,
    name: String,
}

impl Drop for TestRole {
    fn drop(&mut self) {
        use diesel::{Connection, PgConnection, RunQueryDsl};
        if let Ok(mut conn) = PgConnection::establish(&self.admin_url) {
            let _ = diesel::sql_query(format!("DROP ROLE IF EXISTS \"{}\"", self.name))
                .execute(&mut conn);
        }
    }
}

#[tokio::test]
async fn an_app_role_cannot_change_or_remove_audit_rows_after_the_lock_down() {
    use diesel::{Connection, PgConnection, RunQueryDsl};
    let Some(admin_url) = postgres_under_test() else {
        return;
    };
    let role = TestRole {
        admin_url,
        name: format!("cidp_app_{}", uuid::Uuid::new_v4().simple()),
    };
    let app = crate::helpers::TestApp::spawn().await;
    let password = uuid::Uuid::new_v4().simple().to_string();
    let mut superuser = PgConnection::establish(&app.database_url).unwrap();
    for statement in [
        format!("CREATE ROLE \"{}\" LOGIN PASSWORD '{password}'", role.name),
        // As docs/OPERATIONS.md has it: the application runs the other migrations.
        format!("GRANT USAGE, CREATE ON SCHEMA public TO \"{}\"", role.name),
    ] {
        diesel::sql_query(statement)
            .execute(&mut superuser)
            .unwrap();
    }
    let created = app
        .cli(
            &[
                "clients",
                "create",
                "--name",
                "Cổng thuế",
                "--confidential",
                "--redirect-uri",
                "https://thue.example.gov.vn/cb",
            ],
            None,
        )
        .await;
    assert_succeeded(&created);
    let rows = count_audit_rows(&app.database_url);
    assert!(rows > 0);

    // Roles that could take the rights back are refused, and nothing changes.
    for (refused_role, reason) in [
        ("postgres", "superuser"),
        ("no_such_role_for_citizen_idp", "no role"),
    ] {
        let output = app
            .cli(&["audit", "lock-down", "--app-role", refused_role], None)
            .await;
        assert!(!output.status.success());
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(stderr.contains(reason), "{refused_role}: {stderr}");
    }

    // Twice: the second run finds everything in place.
    for _ in 0..2 {
        let output = app
            .cli(&["audit", "lock-down", "--app-role", &role.name], None)
            .await;
        let stdout = String::from_utf8_lossy(&output.stdout);
        assert!(
            output.status.success(),
            "{stdout}{}",
            String::from_utf8_lossy(&output.stderr)
        );
        assert!(stdout.contains("citizen_idp_audit_owner"), "{stdout}");
    }

    let mut as_app = {
        let mut url = url::Url::parse(&app.database_url).unwrap();
        url.set_username(&role.name).unwrap();
        url.set_password(Some(&password)).unwrap();
        url.to_string()
    };
    let mut conn = PgConnection::establish(&as_app).unwrap();
    // The application still writes and reads the trail.
    diesel::sql_query(
        "INSERT INTO audit_events (at, kind, outcome) VALUES (now(), 'admin', 'lock_down_test')",
    )
    .execute(&mut conn)
    .unwrap();
    assert_eq!(count_audit_rows(&as_app), rows + 1);
    // And can no longer change it, nor take the guard away.
    for (statement, refusal) in [
        (
            "UPDATE audit_events SET outcome = 'forged'",
            "permission denied",
        ),
        ("DELETE FROM audit_events", "permission denied"),
        ("TRUNCATE audit_events", "permission denied"),
        (
            "ALTER TABLE audit_events DISABLE TRIGGER audit_events_append_only",
            "must be owner",
        ),
        (
            "DROP TRIGGER audit_events_append_only ON audit_events",
            "must be owner",
        ),
        (
            "CREATE OR REPLACE FUNCTION audit_events_append_only() RETURNS trigger AS \
             $$ BEGIN RETURN NULL; END; $$ LANGUAGE plpgsql",
            "must be owner",
        ),
        ("DROP TABLE audit_events", "must be owner"),
        (
            "ALTER TABLE audit_events OWNER TO CURRENT_USER",
            "must be owner",
        ),
        (
            "SELECT setval(pg_get_serial_sequence('audit_events', 'id'), 1)",
            "permission denied",
        ),
    ] {
        let error = diesel::sql_query(statement)
            .execute(&mut conn)
            .expect_err(statement)
            .to_string();
        assert!(error.contains(refusal), "{statement}: {error}");
    }
    assert_eq!(count_audit_rows(&app.database_url), rows + 1);
    // The guard itself still holds for the owner's rights (a superuser here).
    let error = diesel::sql_query("UPDATE audit_events SET outcome = 'forged'")
        .execute(&mut superuser)
        .expect_err("the trigger refuses")
        .to_string();
    assert!(error.contains("append-only"), "{error}");

    // migrate --redo as the application is refused before it reverts anything. (In
    // production the application ran the migrations and owns their bookkeeping; here
    // the superuser did, so the role gets to read it.)
    diesel::sql_query(format!(
        "GRANT SELECT ON __diesel_schema_migrations TO \"{}\"",
        role.name
    ))
    .execute(&mut superuser)
    .unwrap();
    if !as_app.contains("sslmode=") {
        as_app.push_str(if as_app.contains('?') { "&" } else { "?" });
        as_app.push_str("sslmode=disable");
    }
    let output = app
        .cli_with_env(
            &[
                "migrate",
                "--redo",
                "--yes",
                "--i-know-this-drops-the-audit-trail",
            ],
            &[("CITIZEN_IDP__DATABASE__URL", &as_app)],
        )
        .await;
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("nothing was reverted"), "{stderr}");
    assert_eq!(count_audit_rows(&app.database_url), rows + 1);
    let clients: i64 = diesel::select(diesel::dsl::sql::<diesel::sql_types::BigInt>(
        "(SELECT count(*) FROM clients)",
    ))
    .get_result(&mut superuser)
    .unwrap();
    assert_eq!(clients, 1, "the other tables are all there");
    drop(conn);
    drop(superuser);
    drop(app);
    drop(role);
}

/// `CITIZEN_IDP__DEMO__CITIZEN_ID=001090000002` stopped start-up ("must be exactly 12
/// digits"): the value was read as a number. Every kind of setting, through the
/// process's real environment.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn settings_from_the_environment_arrive_exactly_as_written() {
    use crate::helpers::{http_client, location_of, login_form};

    const CITIZEN: &str = "001090000002";
    const PASSWORD: &str = "0012345678.50";
    const ADMIN_TOKEN: &str = "00000000000000000000000000000000000042";
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let issuer = format!("http://127.0.0.1:{port}");
    let mut command = citizen_idp(dir.path());
    command
        .env("CITIZEN_IDP__DEMO__CITIZEN_ID", CITIZEN)
        .env("CITIZEN_IDP__DEMO__CITIZEN_PASSWORD", PASSWORD)
        .env("CITIZEN_IDP__DEMO__POPULATION", "10")
        .env("CITIZEN_IDP__DEMO__ENABLED", "TRUE")
        .env("CITIZEN_IDP__ADMIN__TOKEN", ADMIN_TOKEN)
        .env("CITIZEN_IDP__SERVER__ISSUER", &issuer)
        .env("CITIZEN_IDP__SERVER__LISTEN", format!("127.0.0.1:{port}"))
        .env("CITIZEN_IDP__SERVER__WORKERS", "2")
        .env("CITIZEN_IDP__METRICS__ENABLED", "false")
        .env("CITIZEN_IDP__LIMITS__TRUSTED_PROXIES", "10.0.0.5,10.0.0.6")
        .arg("serve");
    let (server, listening) = tokio::task::spawn_blocking(move || start_serving(command))
        .await
        .unwrap()
        .unwrap_or_else(|(code, stderr)| panic!("start-up failed ({code}): {stderr}"));
    assert_eq!(listening, issuer);

    let browser = http_client(true);
    crate::helpers::wait_until_ready(&browser, &issuer).await;
    let discovery: serde_json::Value = browser
        .get(format!("{issuer}/.well-known/openid-configuration"))
        .fetch_json()
        .await;
    assert_eq!(discovery["issuer"], issuer.as_str());
    let admin = browser
        .get(format!("{issuer}/admin/clients"))
        .bearer_auth(ADMIN_TOKEN)
        .fetch()
        .await;
    assert_eq!(admin.status(), reqwest::StatusCode::OK, "the admin token");
    let metrics = browser.get(format!("{issuer}/metrics")).fetch().await;
    assert_eq!(metrics.status(), reqwest::StatusCode::NOT_FOUND);

    // The demo citizen, with its number and password as written.
    let get = |url: String| {
        let browser = browser.clone();
        async move { browser.get(url).fetch().await }
    };
    let authorize = location_of(&get(format!("{issuer}/demo/login")).await);
    let login = location_of(&get(authorize).await);
    let page = get(format!("{issuer}{login}")).await.text().await.unwrap();
    let form = login_form(&page, CITIZEN, PASSWORD);
    let callback = browser
        .post(format!("{issuer}/login"))
        .form(&form)
        .fetch()
        .await;
    assert_eq!(callback.status(), reqwest::StatusCode::SEE_OTHER);
    let result = get(location_of(&callback)).await.text().await.unwrap();
    assert!(result.contains("Nguyễn Văn An"), "{result}");
    stop_serving(server);
}
