//! Messages to citizens: one-time codes that prove a phone number or an e-mail
//! address, and notices of changes to their account, by SMS (an HTTP gateway) and
//! e-mail (an SMTP relay).
//!
//! **Why an outbox.** A message is written to `notifications` in the transaction of
//! what causes it ([`queue`], [`queue_notice`]) and sent afterwards by a worker in
//! every server ([`worker`]), the way back-channel logout tokens are: the citizen is
//! answered without waiting for a relay, and a relay or gateway that is down loses
//! nothing; the message goes when it is back, until `notify.attempts` run out.
//!
//! **Only proven contacts are written to**, apart from the code that proves one. A
//! contact given at enrolment is unproven until the citizen types the code sent to it
//! (`pages::account::contacts`).
//!
//! Nothing of a message (recipient, text, code) reaches the logs; the outbox row is
//! blanked once finished.

mod messages;
mod sms;
mod smtp;
pub mod worker;

use chrono::{DateTime, Utc};

pub use messages::{Authenticator, Notice};

use crate::config::NotifySettings;
use crate::domain::contact::{Channel, Contact};
use crate::storage::notifications::{self, NewMessage};
use crate::storage::{Db, DbConnection, StorageError, contacts};

/// The language a message is written in: the one of the page the citizen was on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Language {
    Vi,
    En,
}

impl Language {
    /// The first of the login's `ui_locales` that we write in; Vietnamese otherwise.
    pub fn from_ui_locales(ui_locales: Option<&str>) -> Language {
        ui_locales
            .unwrap_or("")
            .split(' ')
            .find_map(|tag| match tag.split('-').next() {
                Some("vi") => Some(Language::Vi),
                Some("en") => Some(Language::En),
                _ => None,
            })
            .unwrap_or(Language::Vi)
    }
}

/// Why a message did not go.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SendError {
    /// Worth another attempt later (a timeout, a relay or gateway down, 4xx SMTP, 5xx
    /// HTTP).
    #[error("{0}")]
    Temporary(String),
    /// This message will never pass (an address refused, a 4xx from the gateway).
    #[error("{0}")]
    Permanent(String),
    /// No transport is configured for the channel.
    #[error("no transport for this channel")]
    NoTransport,
}

/// The transports this server sends through: each channel is on when configured.
#[derive(Debug)]
pub struct Transports {
    email: Option<smtp::SmtpRelay>,
    sms: Option<sms::SmsGateway>,
}

impl Transports {
    /// The transports `settings` configure; an error names the setting at fault.
    pub fn new(settings: &NotifySettings) -> Result<Transports, String> {
        Ok(Transports {
            email: settings
                .smtp
                .enabled()
                .then(|| smtp::SmtpRelay::new(&settings.smtp))
                .transpose()?,
            sms: settings
                .sms
                .enabled()
                .then(|| sms::SmsGateway::new(&settings.sms))
                .transpose()?,
        })
    }

    /// Whether messages can go by `channel`: a contact of another channel cannot be
    /// proven on this server.
    pub fn offers(&self, channel: Channel) -> bool {
        match channel {
            Channel::Email => self.email.is_some(),
            Channel::Sms => self.sms.is_some(),
        }
    }

    pub async fn send(
        &self,
        channel: Channel,
        to: &str,
        subject: &str,
        body: &str,
    ) -> Result<(), SendError> {
        match channel {
            Channel::Email => match &self.email {
                Some(relay) => relay.send(to, subject, body).await,
                None => Err(SendError::NoTransport),
            },
            // An SMS has no subject: the text says it all.
            Channel::Sms => match &self.sms {
                Some(gateway) => gateway.send(to, body).await,
                None => Err(SendError::NoTransport),
            },
        }
    }
}

/// `notice` to `contact`, in `language`, ready for the outbox. A code's message expires
/// with the code.
pub fn message(
    account_id: &str,
    contact: &Contact,
    notice: &Notice,
    language: Language,
    expires_at: Option<DateTime<Utc>>,
) -> NewMessage {
    let (subject, body) = notice.render(language);
    NewMessage {
        account_id: Some(account_id.to_owned()),
        channel: contact.channel(),
        recipient: contact.value().to_owned(),
        kind: notice.kind(),
        subject,
        body,
        expires_at: expires_at.map(|at| at.naive_utc()),
    }
}

/// Queues `message` in the caller's transaction.
pub fn queue(
    conn: &mut DbConnection,
    message: &NewMessage,
    now: DateTime<Utc>,
) -> Result<(), StorageError> {
    notifications::enqueue(conn, std::slice::from_ref(message), now.naive_utc())?;
    Ok(())
}

/// Queues `notice` to every proven contact of the account, in the caller's
/// transaction; returns how many messages (none when nothing is proven).
pub fn queue_notice(
    conn: &mut DbConnection,
    account_id: &str,
    notice: &Notice,
    language: Language,
    now: DateTime<Utc>,
) -> Result<usize, StorageError> {
    let messages: Vec<NewMessage> = contacts::verified(conn, account_id)?
        .iter()
        .map(|contact| message(account_id, contact, notice, language, None))
        .collect();
    notifications::enqueue(conn, &messages, now.naive_utc())
}

/// Tells the citizen of a change already made to their account: queues `notice` to
/// each proven contact and wakes the worker. The change stands whatever happens here,
/// so a failure is logged, not returned.
pub async fn tell(
    db: &Db,
    wakeup: &tokio::sync::Notify,
    account_id: &str,
    notice: Notice,
    language: Language,
    now: DateTime<Utc>,
) {
    let account_id = account_id.to_owned();
    let kind = notice.kind();
    let queued = db
        .run(move |conn| queue_notice(conn, &account_id, &notice, language, now))
        .await;
    match queued {
        Ok(0) => {}
        Ok(_) => wakeup.notify_one(),
        Err(e) => {
            tracing::warn!(target: "notify", kind, error = %e, "a security notice could not be queued")
        }
    }
}
