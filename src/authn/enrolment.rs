//! Self-enrolment: a citizen creates a level-1 account by giving details that must all
//! match their record in the population register.
//!
//! A mismatch, an ineligible citizen (deceased) and a number that already has an
//! account all end in the one [`EnrolError::NoMatch`], after the same work (the
//! password is hashed before the register is read), so the form cannot be used to
//! learn which numbers exist or have accounts.

use chrono::{DateTime, NaiveDate, Utc};
use unicode_normalization::UnicodeNormalization;

use crate::authn::password::{PasswordError, PasswordHasher};
use crate::domain::acr::AssuranceLevel;
use crate::domain::citizen::{AccountStatus, Citizen};
pub use crate::domain::contact::{Contact, ContactError};
use crate::domain::national_id::NationalId;
use crate::domain::secret::Password;
use crate::storage::accounts::{self, Account};
use crate::storage::{Db, StorageError, citizens};

/// An enrolment whose fields are well-formed (not yet matched against the register).
#[derive(Debug)]
pub struct EnrolmentRequest {
    pub national_id: NationalId,
    pub full_name: String,
    pub birth_date: NaiveDate,
    pub id_card_number: String,
    pub contact: Contact,
    pub password: Password,
}

#[derive(Debug, thiserror::Error)]
pub enum EnrolError {
    /// The details do not match a living citizen without an account: one answer for
    /// every reason, on purpose.
    #[error("the details do not match the register, or the citizen cannot enrol")]
    NoMatch,
    #[error(transparent)]
    Storage(#[from] StorageError),
    #[error(transparent)]
    Password(#[from] PasswordError),
}

/// Names as the register compares them: Unicode NFC (a Vietnamese letter may be typed
/// precomposed or as letter + marks), case-folded, runs of whitespace made one space.
pub fn normalize_name(name: &str) -> String {
    let folded: String = name.nfc().collect::<String>().to_lowercase();
    folded
        .nfc()
        .collect::<String>()
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

/// Whether every detail of `request` matches `citizen`'s record.
fn matches_register(request: &EnrolmentRequest, citizen: &Citizen) -> bool {
    normalize_name(&request.full_name) == normalize_name(&citizen.full_name)
        && request.birth_date == citizen.birth_date
        && request.id_card_number.trim() == citizen.id_card_number
}

/// Creates the account, or answers [`EnrolError::NoMatch`]. The returned account is
/// level 1 and active.
pub async fn enrol(
    db: &Db,
    hasher: &PasswordHasher,
    request: EnrolmentRequest,
    now: DateTime<Utc>,
) -> Result<Account, EnrolError> {
    // Hashed first, whatever the register says, so every answer costs the same.
    let password_hash = hasher.hash(request.password.clone()).await?;
    let now = now.naive_utc();
    let account = Account {
        id: uuid::Uuid::new_v4().to_string(),
        national_id: request.national_id.clone(),
        password_hash,
        status: AccountStatus::Active,
        assurance_level: AssuranceLevel::Level1,
        created_at: now,
        updated_at: now,
    };
    let (phone, email) = request.contact.columns();
    let stored = account.clone();
    let created = db
        .run(move |conn| {
            let Some(citizen) = citizens::find(conn, &request.national_id)? else {
                return Ok::<_, StorageError>(false);
            };
            if !citizen.is_living() || !matches_register(&request, &citizen) {
                return Ok(false);
            }
            accounts::insert_enrolled(conn, &stored, phone.as_deref(), email.as_deref())
        })
        .await?;
    if created {
        Ok(account)
    } else {
        Err(EnrolError::NoMatch)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_match_across_case_composition_and_spacing() {
        let register = "Nguyễn Thị Hồng Nhung";
        // Decomposed: e + circumflex + tilde, o + horn + grave.
        let decomposed = "NGUYE\u{302}\u{303}N  thị   Ho\u{302}\u{300}ng nhung ";
        assert_eq!(normalize_name(register), normalize_name(decomposed));
        assert_ne!(
            normalize_name(register),
            normalize_name("Nguyễn Thị Hồng Nhụng")
        );
    }

    #[test]
    fn contacts_are_phone_numbers_or_email_addresses() {
        assert_eq!(
            Contact::parse("0912 345.678"),
            Ok(Contact::Phone("0912345678".into()))
        );
        assert_eq!(
            Contact::parse("+84 912 345 678"),
            Ok(Contact::Phone("+84912345678".into()))
        );
        assert_eq!(
            Contact::parse(" lan@example.vn "),
            Ok(Contact::Email("lan@example.vn".into()))
        );
        for bad in [
            "12345",
            "0912abc678",
            "lan@",
            "@example.vn",
            "lan @x.vn",
            "a@b@c.vn",
        ] {
            assert_eq!(Contact::parse(bad), Err(ContactError::Invalid), "{bad}");
        }
    }
}
