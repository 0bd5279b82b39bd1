//! Which register data each scope releases (OIDC Core §5.4 and §5.1), as claims.
//!
//! - `openid`: `sub` only.
//! - `profile`: names, birthdate, gender, nationality, place of origin, `updated_at`.
//! - `cross_border`: the minimum a partner country's service gets (on the model of the
//!   eIDAS minimum data set): names, birthdate and nationality; the pairwise `sub` is
//!   the persistent identifier. Nothing else of `profile`.
//! - `address`: the structured permanent address (OIDC Core §5.1.1).
//! - `national_id`: the personal identification number and the ID card; only clients
//!   registered for this scope can ask for it.

use serde_json::{Map, Value, json};

use crate::domain::citizen::Citizen;
use crate::domain::scope::ScopeSet;

pub fn for_scopes(subject: &str, citizen: &Citizen, scopes: &ScopeSet) -> Map<String, Value> {
    let mut claims = Map::new();
    claims.insert("sub".into(), json!(subject));
    // `cross_border` is the part of `profile` a partner country's service may have.
    if scopes.contains("profile") || scopes.contains("cross_border") {
        claims.insert("family_name".into(), json!(citizen.family_name));
        if !citizen.middle_name.is_empty() {
            claims.insert("middle_name".into(), json!(citizen.middle_name));
        }
        claims.insert("given_name".into(), json!(citizen.given_name));
        claims.insert(
            "birthdate".into(),
            json!(citizen.birth_date.format("%Y-%m-%d").to_string()),
        );
        // OpenID Connect for Identity Assurance names this claim; ISO 3166-1 alpha-2.
        claims.insert("nationalities".into(), json!([citizen.nationality]));
    }
    if scopes.contains("profile") {
        claims.insert("name".into(), json!(citizen.full_name));
        claims.insert("gender".into(), json!(citizen.sex.as_str()));
        claims.insert("place_of_origin".into(), json!(citizen.place_of_origin));
        claims.insert(
            "updated_at".into(),
            json!(citizen.updated_at.and_utc().timestamp()),
        );
    }
    if scopes.contains("address") {
        let a = &citizen.address;
        claims.insert(
            "address".into(),
            json!({
                "formatted": a.formatted(),
                "street_address": a.street,
                "locality": a.ward,
                "region": a.district,
                "province": a.province,
                "country": a.country,
            }),
        );
    }
    if scopes.contains("national_id") {
        claims.insert("national_id".into(), json!(citizen.national_id.expose()));
        claims.insert(
            "id_card".into(),
            json!({
                "number": citizen.id_card_number,
                "issued_on": citizen.id_card_issued_on.format("%Y-%m-%d").to_string(),
                "expires_on": citizen.id_card_expires_on.map(|d| d.format("%Y-%m-%d").to_string()),
            }),
        );
    }
    claims
}
