//! A citizen as the population register knows them, and the e-ID account that may
//! belong to them. The register is the source of truth for every identity claim.

use chrono::{NaiveDate, NaiveDateTime};
use serde::{Deserialize, Serialize};

use super::national_id::NationalId;

/// Biological sex as recorded in the register; it also fixes the century/sex digit
/// of the personal identification number.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Sex {
    Male,
    Female,
}

impl Sex {
    pub fn as_str(self) -> &'static str {
        match self {
            Sex::Male => "male",
            Sex::Female => "female",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "male" => Some(Sex::Male),
            "female" => Some(Sex::Female),
            _ => None,
        }
    }
}

/// Whether the register records the citizen as alive. A deceased citizen can never log in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LifeStatus {
    Living,
    Deceased,
}

impl LifeStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            LifeStatus::Living => "living",
            LifeStatus::Deceased => "deceased",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "living" => Some(LifeStatus::Living),
            "deceased" => Some(LifeStatus::Deceased),
            _ => None,
        }
    }
}

/// The permanent address (thường trú), structured as the register keeps it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Address {
    /// House number and street, or hamlet.
    pub street: String,
    /// Ward or commune (phường / xã).
    pub ward: String,
    /// District (quận / huyện).
    pub district: String,
    /// Province or centrally-run city (tỉnh / thành phố).
    pub province: String,
    /// ISO 3166-1 alpha-2 country code.
    pub country: String,
}

impl Address {
    /// One line, most specific part first, as Vietnamese addresses are written.
    pub fn formatted(&self) -> String {
        [&self.street, &self.ward, &self.district, &self.province]
            .iter()
            .filter(|part| !part.is_empty())
            .map(|part| part.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// One record of the population register.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Citizen {
    pub national_id: NationalId,
    /// Full name as written on the ID card, with diacritics, family name first.
    pub full_name: String,
    pub family_name: String,
    /// Middle name(s) (tên đệm); may be empty.
    pub middle_name: String,
    pub given_name: String,
    pub birth_date: NaiveDate,
    pub sex: Sex,
    /// ISO 3166-1 alpha-2 code.
    pub nationality: String,
    /// Place of origin (quê quán), usually a province name.
    pub place_of_origin: String,
    pub address: Address,
    pub id_card_number: String,
    pub id_card_issued_on: NaiveDate,
    /// `None` for cards that no longer expire (issued after the holder turned 60).
    pub id_card_expires_on: Option<NaiveDate>,
    pub life_status: LifeStatus,
    pub updated_at: NaiveDateTime,
}

impl Citizen {
    pub fn is_living(&self) -> bool {
        self.life_status == LifeStatus::Living
    }
}

/// Whether an e-ID account may be used.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AccountStatus {
    Active,
    /// Locked by an operator or by login protection; may be unlocked.
    Locked,
    /// Suspended by an authority; every session and token stops working.
    Suspended,
}

impl AccountStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            AccountStatus::Active => "active",
            AccountStatus::Locked => "locked",
            AccountStatus::Suspended => "suspended",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "active" => Some(AccountStatus::Active),
            "locked" => Some(AccountStatus::Locked),
            "suspended" => Some(AccountStatus::Suspended),
            _ => None,
        }
    }
}
