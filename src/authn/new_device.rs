//! Telling the citizen of a login from a new kind of device. A device is what the
//! sessions list shows: browser and system from a fixed vocabulary
//! (`session::device_hint`), so "Firefox, Windows" on a second laptop is not new, while
//! a first login from a phone is. Coarse on purpose: no fingerprint is kept, and the
//! notice names only that pair. The first device on record is the enrolment's, and is
//! not announced.

use chrono::{DateTime, Utc};

use crate::notify::{self, Language, Notice};
use crate::storage::known_devices::{self, Seen};
use crate::storage::{self, Db, StorageError};

/// What a login from no known browser is recorded as.
const UNKNOWN: &str = "?";

/// Records the login's device and, if the account has not logged in from it before,
/// queues the notice to its proven contacts, in one transaction.
pub async fn note_login(
    db: &Db,
    account_id: &str,
    device: Option<&str>,
    language: Language,
    now: DateTime<Utc>,
) -> Result<(), StorageError> {
    let (account_id, device) = (account_id.to_owned(), device.unwrap_or(UNKNOWN).to_owned());
    db.run(move |conn| {
        storage::transaction(conn, |conn| {
            let seen = known_devices::remember(conn, &account_id, &device, now.naive_utc())?;
            if seen == Seen::New {
                let shown = if device == UNKNOWN {
                    match language {
                        Language::Vi => "không rõ trình duyệt".to_owned(),
                        Language::En => "an unknown browser".to_owned(),
                    }
                } else {
                    device.clone()
                };
                let notice = Notice::NewDevice { device: shown };
                notify::queue_notice(conn, &account_id, &notice, language, now)?;
            }
            Ok(())
        })
    })
    .await
}
