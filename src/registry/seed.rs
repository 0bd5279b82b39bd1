//! Writing synthetic citizens, and the demo set-up of the default run: a small
//! population, one demo citizen with an account, and two demo clients.

use chrono::{NaiveDate, NaiveDateTime};

use super::generate::PopulationGenerator;
use crate::domain::acr::AssuranceLevel;
use crate::domain::citizen::{AccountStatus, Address, Citizen, LifeStatus, Sex};
use crate::domain::client::ClientKind;
use crate::domain::national_id::NationalId;
use crate::domain::secret::ClientSecret;
use crate::registration::{self, NewClient};
use crate::storage::accounts::{self, Account};
use crate::storage::{self, DbConnection, StorageError, citizens, clients};

pub const DEMO_PORTAL_ID: &str = "demo-portal";
pub const DEMO_APP_ID: &str = "demo-mobile-app";
const BATCH: usize = 1000;

/// Writes `count` generated citizens in multi-row inserts, skipping numbers that
/// already exist, and reports progress after each batch. Returns how many were written.
pub fn generate_population(
    conn: &mut DbConnection,
    count: u64,
    seed: u64,
    today: NaiveDate,
    now: NaiveDateTime,
    mut progress: impl FnMut(u64),
) -> Result<u64, StorageError> {
    let mut generator = PopulationGenerator::new(seed);
    let mut written = 0u64;
    let mut batch: Vec<Citizen> = Vec::with_capacity(BATCH);
    while written < count {
        batch.clear();
        let want = usize::try_from((count - written).min(BATCH as u64)).unwrap_or(BATCH);
        while batch.len() < want {
            batch.push(generator.next_citizen(today, now));
        }
        // Numbers already present (an earlier run with the same seed, or the demo
        // citizen) are skipped rather than failing the whole batch.
        let inserted = citizens::insert_new_batch(conn, &batch)?;
        written += inserted as u64;
        if inserted == 0 {
            break;
        }
        progress(written);
    }
    Ok(written)
}

/// The demo citizen, with a fixed record so that the README can describe it.
pub fn demo_citizen(id: NationalId, now: NaiveDateTime) -> Citizen {
    let date = |y, m, d| NaiveDate::from_ymd_opt(y, m, d).unwrap_or_default();
    Citizen {
        id_card_number: id.expose().to_owned(),
        national_id: id,
        full_name: "Nguyễn Văn An".into(),
        family_name: "Nguyễn".into(),
        middle_name: "Văn".into(),
        given_name: "An".into(),
        birth_date: date(1990, 3, 15),
        sex: Sex::Male,
        nationality: "VN".into(),
        place_of_origin: "Hà Nội".into(),
        address: Address {
            street: "Số 1 phố Tràng Tiền".into(),
            ward: "Phường Tràng Tiền".into(),
            district: "Quận Hoàn Kiếm".into(),
            province: "Hà Nội".into(),
            country: "VN".into(),
        },
        id_card_issued_on: date(2021, 6, 1),
        id_card_expires_on: Some(date(2030, 3, 15)),
        life_status: LifeStatus::Living,
        updated_at: now,
    }
}

pub struct DemoSeed<'a> {
    pub population: u64,
    pub citizen_id: NationalId,
    pub password_hash: &'a str,
    pub issuer: &'a str,
}

/// Seeds the demo data on first start (an empty register), and on every start makes
/// sure the demo clients match the current issuer. Returns the demo portal's secret,
/// fresh at each start and kept only in memory.
pub fn seed_demo(
    conn: &mut DbConnection,
    seed: DemoSeed<'_>,
    today: NaiveDate,
    now: NaiveDateTime,
) -> Result<(u64, ClientSecret), StorageError> {
    let mut seeded = 0;
    if citizens::count(conn)? == 0 {
        storage::transaction(conn, |conn| {
            citizens::insert_batch(conn, &[demo_citizen(seed.citizen_id.clone(), now)])?;
            accounts::insert(
                conn,
                &Account {
                    id: uuid::Uuid::new_v4().to_string(),
                    national_id: seed.citizen_id.clone(),
                    password_hash: seed.password_hash.to_owned(),
                    status: AccountStatus::Active,
                    assurance_level: AssuranceLevel::Level1,
                    created_at: now,
                    updated_at: now,
                },
            )
        })?;
        seeded = generate_population(conn, seed.population, 2026, today, now, |_| {})? + 1;
    }
    let secret = ensure_demo_clients(conn, seed.issuer, now)?;
    Ok((seeded, secret))
}

fn ensure_demo_clients(
    conn: &mut DbConnection,
    issuer: &str,
    now: NaiveDateTime,
) -> Result<ClientSecret, StorageError> {
    let portal = NewClient {
        id: Some(DEMO_PORTAL_ID.into()),
        name: "Cổng dịch vụ công (demo)".into(),
        kind: ClientKind::Confidential,
        redirect_uris: vec![format!("{issuer}/demo/callback")],
        scopes: "openid profile address".into(),
        id_token_alg: "RS256".into(),
        post_logout_redirect_uris: vec![format!("{issuer}/demo")],
        // The demo is citizen-idp's own: existing demo journeys skip consent. An operator
        // can turn this off (`clients update demo-portal --first-party false`) to show it.
        first_party: true,
        ..NewClient::default()
    };
    let app = NewClient {
        id: Some(DEMO_APP_ID.into()),
        name: "Ứng dụng công dân (demo)".into(),
        kind: ClientKind::Public,
        redirect_uris: vec![
            "vn.gov.citizenidp.demo:/callback".into(),
            "http://127.0.0.1/callback".into(),
        ],
        scopes: "openid profile".into(),
        id_token_alg: "ES256".into(),
        first_party: true,
        ..NewClient::default()
    };
    let invalid =
        |e: registration::RegistrationError| StorageError::Corrupt(format!("demo client: {e}"));
    let (portal, secret) = registration::register(portal).map_err(invalid)?;
    let secret = secret.ok_or_else(|| StorageError::Corrupt("demo portal has no secret".into()))?;
    let (app, _) = registration::register(app).map_err(invalid)?;
    for client in [&portal, &app] {
        if clients::find_registered(conn, &client.id)?.is_none() {
            clients::insert(conn, client, now)?;
        } else {
            clients::update_credentials(
                conn,
                &client.id,
                &client.redirect_uris,
                client.secret_hash.clone(),
            )?;
        }
    }
    Ok(secret)
}
