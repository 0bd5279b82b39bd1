//! How a citizen can be reached: a phone number (by SMS) or an e-mail address, as
//! typed on a form, and the channel a message to it takes.

/// How the citizen can be reached: one field on the form, an e-mail if it has an `@`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Contact {
    /// Digits only, with a leading `+` for an international number.
    Phone(String),
    Email(String),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum ContactError {
    #[error("not a phone number or e-mail address")]
    Invalid,
}

impl Contact {
    /// Parses what the citizen typed; spaces, dots and dashes in a phone number are
    /// dropped (people write `0912 345 678` or `0912.345.678`).
    pub fn parse(unverified: &str) -> Result<Contact, ContactError> {
        let text = unverified.trim();
        if text.contains('@') {
            return parse_email(text).map(Contact::Email);
        }
        let compact: String = text
            .chars()
            .filter(|c| !matches!(c, ' ' | '.' | '-' | '(' | ')'))
            .collect();
        let digits = compact.strip_prefix('+').unwrap_or(&compact);
        // E.164 allows at most 15 digits; Vietnamese mobiles have 10 (0 + 9).
        if (9..=15).contains(&digits.len()) && digits.bytes().all(|b| b.is_ascii_digit()) {
            Ok(Contact::Phone(compact))
        } else {
            Err(ContactError::Invalid)
        }
    }

    pub fn columns(&self) -> (Option<String>, Option<String>) {
        match self {
            Contact::Phone(phone) => (Some(phone.clone()), None),
            Contact::Email(email) => (None, Some(email.clone())),
        }
    }
}

/// A deliberately loose check (one `@`, a dotted domain, no spaces, RFC 5321's 254
/// bytes): the address is only stored, and a stricter rule would refuse real ones.
fn parse_email(text: &str) -> Result<String, ContactError> {
    let (local, domain) = text.split_once('@').ok_or(ContactError::Invalid)?;
    let well_formed = text.len() <= 254
        && !local.is_empty()
        && local.len() <= 64
        && !domain.contains('@')
        && domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && !text.chars().any(|c| c.is_whitespace() || c.is_control());
    if well_formed {
        Ok(text.to_owned())
    } else {
        Err(ContactError::Invalid)
    }
}

/// The way a message reaches a contact.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Channel {
    Sms,
    Email,
}

impl Channel {
    pub fn as_str(self) -> &'static str {
        match self {
            Channel::Sms => "sms",
            Channel::Email => "email",
        }
    }

    pub fn parse(text: &str) -> Option<Channel> {
        match text {
            "sms" => Some(Channel::Sms),
            "email" => Some(Channel::Email),
            _ => None,
        }
    }
}

impl Contact {
    pub fn channel(&self) -> Channel {
        match self {
            Contact::Phone(_) => Channel::Sms,
            Contact::Email(_) => Channel::Email,
        }
    }

    /// The number or address, as stored.
    pub fn value(&self) -> &str {
        match self {
            Contact::Phone(value) | Contact::Email(value) => value,
        }
    }

    /// Rebuilds a stored contact of `channel`.
    pub fn stored(channel: Channel, value: String) -> Contact {
        match channel {
            Channel::Sms => Contact::Phone(value),
            Channel::Email => Contact::Email(value),
        }
    }

    /// The contact with most of it hidden, for a page that must say where a code went
    /// without showing the whole contact to whoever looks at the screen.
    pub fn masked(&self) -> String {
        match self {
            Contact::Phone(phone) => {
                let tail: String = phone
                    .chars()
                    .rev()
                    .take(3)
                    .collect::<Vec<_>>()
                    .into_iter()
                    .rev()
                    .collect();
                format!("•••{tail}")
            }
            Contact::Email(email) => match email.split_once('@') {
                Some((local, domain)) => {
                    let first: String = local.chars().take(1).collect();
                    format!("{first}•••@{domain}")
                }
                None => "•••".to_owned(),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_contact_is_masked_to_its_last_digits_or_its_domain() {
        assert_eq!(Contact::Phone("0912345678".into()).masked(), "•••678");
        assert_eq!(
            Contact::Email("lan@example.vn".into()).masked(),
            "l•••@example.vn"
        );
        assert_eq!(Contact::Phone("0912345678".into()).channel(), Channel::Sms);
        assert_eq!(Channel::parse("email"), Some(Channel::Email));
        assert_eq!(Channel::parse("fax"), None);
    }
}
