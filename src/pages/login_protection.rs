//! The words of login protection: "too many attempts, wait N minutes", in the page's
//! language, for the login, enrolment and account pages, and the `Retry-After` that
//! goes with them.

use actix_web::HttpResponse;
use actix_web::http::header::RETRY_AFTER;

use crate::http::lang::Lang;

/// How long a citizen turned away in a login storm (the password hash queue is full)
/// is asked to wait. Short: the queue drains in well under a second per core.
pub const BUSY_RETRY_AFTER_SECS: u64 = 5;

pub struct ProtectionTexts {
    pub too_many_logins: &'static str,
    /// Too many wrong second factors in a row: the step waits, even the right code.
    pub too_many_codes: &'static str,
    /// The server has too many logins in hand (a login storm): nothing is wrong with
    /// the citizen's attempt.
    pub busy: &'static str,
    /// Followed by the wait, e.g. "Vui lòng thử lại sau 5 phút."
    pub retry_prefix: &'static str,
    pub seconds: &'static str,
    pub minutes: &'static str,
    pub hours: &'static str,
    pub retry_suffix: &'static str,
}

pub static VI: ProtectionTexts = ProtectionTexts {
    too_many_logins: "Bạn đã nhập sai quá nhiều lần, nên việc đăng nhập tạm thời bị khóa để bảo vệ tài khoản.",
    too_many_codes: "Mã xác thực đã bị nhập sai quá nhiều lần liên tiếp, nên bước xác thực thứ hai tạm thời bị khóa để bảo vệ tài khoản.",
    busy: "Hệ thống đang có quá nhiều người đăng nhập cùng lúc.",
    retry_prefix: "Vui lòng thử lại sau",
    seconds: "giây",
    minutes: "phút",
    hours: "giờ",
    retry_suffix: ".",
};

pub static EN: ProtectionTexts = ProtectionTexts {
    too_many_logins: "Too many failed attempts: logging in is paused for a while to protect the account.",
    too_many_codes: "Too many wrong codes in a row: the second step is paused for a while to protect the account.",
    busy: "Too many people are logging in right now.",
    retry_prefix: "Please try again in",
    seconds: "seconds",
    minutes: "minutes",
    hours: "hours",
    retry_suffix: ".",
};

pub fn texts(lang: Lang) -> &'static ProtectionTexts {
    match lang {
        Lang::Vi => &VI,
        Lang::En => &EN,
    }
}

/// `reason` followed by how long to wait, rounded up to a unit a person reads at a
/// glance (seconds under two minutes, then minutes, then hours).
pub fn wait_message(lang: Lang, reason: &str, retry_after_secs: u64) -> String {
    let t = texts(lang);
    let (amount, unit) = match retry_after_secs {
        0..=119 => (retry_after_secs.max(1), t.seconds),
        120..=7199 => (retry_after_secs.div_ceil(60), t.minutes),
        _ => (retry_after_secs.div_ceil(3600), t.hours),
    };
    format!(
        "{reason} {} {amount} {unit}{}",
        t.retry_prefix, t.retry_suffix
    )
}

/// `response` (a page that says to wait) with the same wait for machines.
pub fn with_retry_after(mut response: HttpResponse, retry_after_secs: u64) -> HttpResponse {
    response
        .headers_mut()
        .insert(RETRY_AFTER, retry_after_secs.into());
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn waits_read_in_the_page_language() {
        assert_eq!(
            wait_message(Lang::En, "Slow down.", 30),
            "Slow down. Please try again in 30 seconds."
        );
        assert_eq!(
            wait_message(Lang::Vi, "Chậm lại.", 900),
            "Chậm lại. Vui lòng thử lại sau 15 phút."
        );
    }
}
