//! E-mail through the operator's SMTP relay (lettre over rustls): TLS from the first
//! byte or a STARTTLS that is required (never opportunistic, which a man in the middle
//! could strip), authentication when configured, and a bound on every step.

use std::time::Duration;

use lettre::message::header::ContentType;
use lettre::message::{Mailbox, Message};
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Certificate, Tls, TlsParameters};
use lettre::transport::smtp::{Error as SmtpError, PoolConfig};
use lettre::{AsyncSmtpTransport, AsyncTransport, Tokio1Executor};

use super::SendError;
use crate::config::{SmtpSecurity, SmtpSettings};

pub struct SmtpRelay {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
}

impl std::fmt::Debug for SmtpRelay {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SmtpRelay").finish_non_exhaustive()
    }
}

impl SmtpRelay {
    /// The relay `settings` name; an error names what is wrong (an unreadable
    /// certificate file, an invalid sender).
    pub fn new(settings: &SmtpSettings) -> Result<SmtpRelay, String> {
        let from: Mailbox = settings
            .from
            .parse()
            .map_err(|_| "notify.smtp.from is not a mailbox".to_owned())?;
        let tls = || -> Result<TlsParameters, String> {
            let mut builder = TlsParameters::builder(settings.host.clone());
            if !settings.ca_file.is_empty() {
                let pem = std::fs::read(&settings.ca_file)
                    .map_err(|e| format!("notify.smtp.ca_file: {e}"))?;
                let certificate =
                    Certificate::from_pem(&pem).map_err(|e| format!("notify.smtp.ca_file: {e}"))?;
                builder = builder.add_root_certificate(certificate);
            }
            builder
                .build_rustls()
                .map_err(|e| format!("notify.smtp: {e}"))
        };
        let tls = match settings.security {
            SmtpSecurity::Tls => Tls::Wrapper(tls()?),
            SmtpSecurity::Starttls => Tls::Required(tls()?),
            SmtpSecurity::None => Tls::None,
        };
        let timeout = Duration::from_millis(settings.timeout_ms);
        let mut builder = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(&settings.host)
            .port(settings.port)
            .tls(tls)
            .timeout(Some(timeout))
            // A few connections kept open for a burst of codes; idle ones closed soon,
            // since a relay drops them anyway.
            .pool_config(
                PoolConfig::new()
                    .max_size(4)
                    .idle_timeout(Duration::from_secs(30)),
            );
        if !settings.username.is_empty() {
            builder = builder.credentials(Credentials::new(
                settings.username.clone(),
                settings.password.expose().to_owned(),
            ));
        }
        Ok(SmtpRelay {
            transport: builder.build(),
            from,
        })
    }

    pub async fn send(&self, to: &str, subject: &str, body: &str) -> Result<(), SendError> {
        // An address the relay would never take is refused for good.
        let to: Mailbox = to
            .parse()
            .map_err(|_| SendError::Permanent("not a mailbox".into()))?;
        let message = Message::builder()
            .from(self.from.clone())
            .to(to)
            .subject(subject)
            .header(ContentType::TEXT_PLAIN)
            .body(body.to_owned())
            .map_err(|e| SendError::Permanent(e.to_string()))?;
        match self.transport.send(message).await {
            Ok(_) => Ok(()),
            Err(error) => Err(classify(&error)),
        }
    }
}

/// A 5xx answer is the relay's final word on this message; anything else (a 4xx,
/// a timeout, a connection or TLS failure) may pass on a later attempt. The error's
/// text never holds the message or the credentials.
fn classify(error: &SmtpError) -> SendError {
    let what = if let Some(code) = error.status() {
        format!("smtp {code}")
    } else if error.is_timeout() {
        "smtp timeout".to_owned()
    } else if error.is_tls() {
        "smtp tls failure".to_owned()
    } else {
        "smtp connection failure".to_owned()
    };
    if error.is_permanent() {
        SendError::Permanent(what)
    } else {
        SendError::Temporary(what)
    }
}
