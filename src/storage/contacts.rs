//! An account's contacts (one phone number, one e-mail address) and whether the
//! citizen proved each one: the columns of `accounts` that messages are sent to.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::schema::accounts;
use super::{DbConnection, StorageError};
use crate::domain::contact::{Channel, Contact};

/// One contact as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredContact {
    pub contact: Contact,
    /// When the citizen proved it with a code; `None` while unproven (as given at
    /// enrolment).
    pub verified_at: Option<NaiveDateTime>,
}

impl StoredContact {
    pub fn verified(&self) -> bool {
        self.verified_at.is_some()
    }
}

type ContactColumns = (
    Option<String>,
    Option<NaiveDateTime>,
    Option<String>,
    Option<NaiveDateTime>,
);

/// The contacts of an account, phone first; empty if it has none (or no such account).
pub fn of_account(
    conn: &mut DbConnection,
    account_id: &str,
) -> Result<Vec<StoredContact>, StorageError> {
    let found: Option<ContactColumns> = accounts::table
        .find(account_id)
        .select((
            accounts::phone,
            accounts::phone_verified_at,
            accounts::email,
            accounts::email_verified_at,
        ))
        .get_result(conn)
        .optional()?;
    let Some((phone, phone_at, email, email_at)) = found else {
        return Ok(Vec::new());
    };
    let mut contacts = Vec::new();
    if let Some(phone) = phone.filter(|p| !p.is_empty()) {
        contacts.push(StoredContact {
            contact: Contact::Phone(phone),
            verified_at: phone_at,
        });
    }
    if let Some(email) = email.filter(|e| !e.is_empty()) {
        contacts.push(StoredContact {
            contact: Contact::Email(email),
            verified_at: email_at,
        });
    }
    Ok(contacts)
}

/// The contacts of an account the citizen proved: the only ones written to.
pub fn verified(conn: &mut DbConnection, account_id: &str) -> Result<Vec<Contact>, StorageError> {
    Ok(of_account(conn, account_id)?
        .into_iter()
        .filter(StoredContact::verified)
        .map(|stored| stored.contact)
        .collect())
}

/// Sets the account's contact of `contact`'s channel, proven at `now` (replacing an
/// earlier number or address of the same channel). False if there is no such account.
pub fn set_verified(
    conn: &mut DbConnection,
    account_id: &str,
    contact: &Contact,
    now: NaiveDateTime,
) -> Result<bool, StorageError> {
    let target = accounts::table.find(account_id);
    let value = contact.value();
    let updated = match contact.channel() {
        Channel::Sms => diesel::update(target)
            .set((
                accounts::phone.eq(value),
                accounts::phone_verified_at.eq(now),
            ))
            .execute(conn)?,
        Channel::Email => diesel::update(target)
            .set((
                accounts::email.eq(value),
                accounts::email_verified_at.eq(now),
            ))
            .execute(conn)?,
    };
    Ok(updated == 1)
}
