//! The password policy of NIST SP 800-63B §5.1.1.2 (memorized secrets): at least 8
//! characters, a generous maximum, no composition rules, and a refusal of passwords
//! that are known to be common or that are made of the citizen's own data.
//!
//! Length is counted in Unicode scalar values after NFC normalisation, so a Vietnamese
//! letter typed precomposed or as base + combining marks counts once either way.
//!
//! The common-password list, `common_passwords.txt`, is derived from the list Django
//! ships as `django/contrib/auth/common-passwords.txt.gz` (PyPI package `Django`
//! 5.2.19, BSD-3-Clause, notice in `common_passwords.LICENSE`; Django's documentation
//! credits the list of 20,000 common passwords to Royce Williams). It was built with:
//!
//! ```sh
//! pip download django==5.2.19 --no-deps
//! unzip Django-*.whl django/contrib/auth/common-passwords.txt.gz
//! zcat django/contrib/auth/common-passwords.txt.gz | awk 'length($0) >= 8' \
//!   | tr 'A-Z' 'a-z' | LC_ALL=C sort -u | LC_ALL=C grep -v -P '[^\x20-\x7e]'
//! ```
//!
//! Entries shorter than 8 characters are dropped (the length rule refuses them
//! already), the rest are lowercased, byte-sorted and de-duplicated, which leaves
//! 8,346 entries searched by binary search.

use std::sync::LazyLock;

use chrono::NaiveDate;
use unicode_normalization::UnicodeNormalization;

/// NIST SP 800-63B: memorized secrets are at least 8 characters long.
pub const MIN_CHARS: usize = 8;
/// NIST asks for at least 64; 256 bytes bounds the Argon2 input and the form field.
pub const MAX_BYTES: usize = 256;

const COMMON_PASSWORDS: &str = include_str!("common_passwords.txt");

/// The list split once, for binary search.
static COMMON_LIST: LazyLock<Vec<&'static str>> =
    LazyLock::new(|| COMMON_PASSWORDS.lines().collect());

/// What the policy knows about the citizen whose password it checks.
#[derive(Debug, Clone, Copy, Default)]
pub struct PolicyContext<'a> {
    /// The personal identification number, as stored (12 digits).
    pub national_id: Option<&'a str>,
    pub birth_date: Option<NaiveDate>,
}

/// Why a password is refused; each has its own message on the pages.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum PolicyError {
    #[error("the password is shorter than {MIN_CHARS} characters")]
    TooShort,
    #[error("the password is longer than {MAX_BYTES} bytes")]
    TooLong,
    #[error("the password is on the list of common passwords")]
    Common,
    #[error("the password is the citizen's number or date of birth")]
    PersonalData,
}

/// Checks `password` against the policy. No composition rules (NIST: they make
/// passwords harder to remember and no harder to guess).
pub fn check(password: &str, context: &PolicyContext<'_>) -> Result<(), PolicyError> {
    if password.len() > MAX_BYTES {
        return Err(PolicyError::TooLong);
    }
    let normalized: String = password.nfc().collect();
    if normalized.chars().count() < MIN_CHARS {
        return Err(PolicyError::TooShort);
    }
    let folded = normalized.to_lowercase();
    if is_common(&folded) {
        return Err(PolicyError::Common);
    }
    if is_personal_data(folded.trim(), context) {
        return Err(PolicyError::PersonalData);
    }
    Ok(())
}

/// Whether `folded` (lowercased) is on the shipped list.
fn is_common(folded: &str) -> bool {
    COMMON_LIST.binary_search(&folded).is_ok()
}

/// The number itself, or the date of birth in any of the ways Vietnamese forms and
/// ISO write it.
fn is_personal_data(folded: &str, context: &PolicyContext<'_>) -> bool {
    if context.national_id.is_some_and(|id| folded == id) {
        return true;
    }
    let Some(date) = context.birth_date else {
        return false;
    };
    [
        "%d%m%Y", "%d/%m/%Y", "%d-%m-%Y", "%d.%m.%Y", "%Y-%m-%d", "%Y%m%d",
    ]
    .iter()
    .any(|format| folded == date.format(format).to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_shipped_list_is_sorted_lowercase_and_large() {
        let list: Vec<&str> = COMMON_PASSWORDS.lines().collect();
        assert!(list.len() > 8000);
        assert!(list.windows(2).all(|pair| pair[0] < pair[1]));
        assert!(list.iter().all(|p| *p == p.to_lowercase()));
    }

    #[test]
    fn the_policy_refuses_short_common_and_personal_passwords_only() {
        let context = PolicyContext {
            national_id: Some("001090000001"),
            birth_date: NaiveDate::from_ymd_opt(1990, 3, 7),
        };
        assert_eq!(check("short", &context), Err(PolicyError::TooShort));
        assert_eq!(check(&"x".repeat(257), &context), Err(PolicyError::TooLong));
        assert_eq!(check("PassWord123", &context), Err(PolicyError::Common));
        assert_eq!(
            check("001090000001", &context),
            Err(PolicyError::PersonalData)
        );
        assert_eq!(
            check("07/03/1990", &context),
            Err(PolicyError::PersonalData)
        );
        // Eight letters with diacritics, typed decomposed: eight characters after NFC.
        assert_eq!(
            check("e\u{301}".repeat(7).as_str(), &context),
            Err(PolicyError::TooShort)
        );
        assert_eq!(check("mèo con đi học", &context), Ok(()));
        assert_eq!(check("correct horse battery", &context), Ok(()));
    }
}
