//! What the messages to citizens say, in Vietnamese and English. A message names no
//! personal data beyond what it must (a code), and never a link: a citizen taught to
//! follow links in messages is a citizen a phishing message can lead.

use super::Language;

/// The kinds of authenticators a notice can name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Authenticator {
    App,
    Passkey,
}

/// A message to a citizen, before it is put in their language.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Notice {
    /// The one-time code that proves a contact.
    ContactCode {
        code: String,
        minutes: u64,
    },
    /// The one-time code that lets the citizen set a new password.
    RecoveryCode {
        code: String,
        minutes: u64,
    },
    /// The password was set anew by recovery.
    Recovered,
    /// The account was locked (by an officer, or after too many failed logins).
    Locked,
    /// The account was suspended by an authority.
    Suspended,
    /// The account's assurance level changed, to `level`.
    LevelChanged {
        level: i32,
    },
    /// A contact was proven: sent to it, so a contact added by someone else shows.
    ContactVerified,
    PasswordChanged,
    FactorAdded(Authenticator),
    FactorRemoved(Authenticator),
    RecoveryCodesRenewed,
    /// A login from a kind of device (browser and system, from a fixed list) the
    /// account had not logged in from before.
    NewDevice {
        device: String,
    },
}

impl Notice {
    /// The outbox's `kind`: what the message is about, naming no data.
    pub fn kind(&self) -> &'static str {
        match self {
            Notice::ContactCode { .. } => "contact_code",
            Notice::RecoveryCode { .. } => "recovery_code",
            Notice::Recovered => "account_recovered",
            Notice::Locked => "account_locked",
            Notice::Suspended => "account_suspended",
            Notice::LevelChanged { .. } => "level_changed",
            Notice::ContactVerified => "contact_verified",
            Notice::PasswordChanged => "password_changed",
            Notice::FactorAdded(_) => "factor_added",
            Notice::FactorRemoved(_) => "factor_removed",
            Notice::RecoveryCodesRenewed => "recovery_codes_renewed",
            Notice::NewDevice { .. } => "new_device",
        }
    }

    /// Whether the message carries a secret, which is worthless (and dropped unsent)
    /// once it expired.
    pub fn carries_code(&self) -> bool {
        matches!(
            self,
            Notice::ContactCode { .. } | Notice::RecoveryCode { .. }
        )
    }

    /// The subject (of an e-mail) and the text, in `lang`.
    pub fn render(&self, language: Language) -> (String, String) {
        let vi = language == Language::Vi;
        let (subject, body) = match self {
            Notice::ContactCode { code, minutes } => {
                if vi {
                    (
                        "Mã xác minh".to_owned(),
                        format!(
                            "Mã xác minh tài khoản định danh điện tử của bạn là {code}. \
                             Mã có hiệu lực trong {minutes} phút. \
                             Không cung cấp mã này cho bất kỳ ai."
                        ),
                    )
                } else {
                    (
                        "Your verification code".to_owned(),
                        format!(
                            "Your e-ID verification code is {code}. It is valid for \
                             {minutes} minutes. Never give this code to anyone."
                        ),
                    )
                }
            }
            Notice::RecoveryCode { code, minutes } => {
                if vi {
                    (
                        "Mã khôi phục tài khoản".to_owned(),
                        format!(
                            "Mã khôi phục tài khoản định danh điện tử của bạn là {code}. \
                             Mã có hiệu lực trong {minutes} phút. Nếu bạn không yêu cầu \
                             khôi phục, hãy bỏ qua tin này; không cung cấp mã cho bất kỳ ai."
                        ),
                    )
                } else {
                    (
                        "Your account recovery code".to_owned(),
                        format!(
                            "Your e-ID account recovery code is {code}. It is valid for \
                             {minutes} minutes. If you did not ask to recover your account, \
                             ignore this message; never give this code to anyone."
                        ),
                    )
                }
            }
            Notice::Recovered => pair(
                vi,
                "Tài khoản đã được khôi phục",
                "Mật khẩu tài khoản định danh điện tử của bạn vừa được đặt lại bằng mã khôi \
                 phục; mọi phiên đăng nhập đã kết thúc.",
                "Account recovered",
                "The password of your e-ID account was just reset with a recovery code; \
                 every session was ended.",
            ),
            Notice::Locked => pair(
                vi,
                "Tài khoản đã bị khóa",
                "Tài khoản định danh điện tử của bạn đã bị khóa. Để mở khóa, hãy đến cơ quan \
                 công an nơi cư trú.",
                "Account locked",
                "Your e-ID account was locked. To unlock it, visit the police office where \
                 you live.",
            ),
            Notice::Suspended => pair(
                vi,
                "Tài khoản đã bị tạm ngừng",
                "Tài khoản định danh điện tử của bạn đã bị tạm ngừng; mọi phiên đăng nhập đã \
                 kết thúc.",
                "Account suspended",
                "Your e-ID account was suspended; every session was ended.",
            ),
            Notice::LevelChanged { level } => {
                if vi {
                    (
                        "Mức định danh đã thay đổi".to_owned(),
                        format!(
                            "Tài khoản định danh điện tử của bạn vừa được chuyển sang mức {level}."
                        ),
                    )
                } else {
                    (
                        "Assurance level changed".to_owned(),
                        format!("Your e-ID account was just moved to level {level}."),
                    )
                }
            }
            Notice::ContactVerified => pair(
                vi,
                "Liên hệ đã được xác minh",
                "Số điện thoại hoặc địa chỉ thư điện tử này vừa được xác minh cho một tài \
                 khoản định danh điện tử. Thông báo bảo mật và khôi phục tài khoản sẽ được \
                 gửi tới đây.",
                "Contact verified",
                "This phone number or e-mail address was just verified for an e-ID \
                 account. Security notices and account recovery will be sent here.",
            ),
            Notice::PasswordChanged => pair(
                vi,
                "Mật khẩu đã thay đổi",
                "Mật khẩu tài khoản định danh điện tử của bạn vừa được thay đổi.",
                "Password changed",
                "The password of your e-ID account was just changed.",
            ),
            Notice::FactorAdded(Authenticator::App) => pair(
                vi,
                "Đã thêm ứng dụng xác thực",
                "Một ứng dụng xác thực vừa được thêm vào tài khoản định danh điện tử của bạn.",
                "Authenticator app added",
                "An authenticator app was just added to your e-ID account.",
            ),
            Notice::FactorAdded(Authenticator::Passkey) => pair(
                vi,
                "Đã thêm khóa truy cập",
                "Một khóa truy cập (passkey) vừa được thêm vào tài khoản định danh điện tử \
                 của bạn.",
                "Passkey added",
                "A passkey was just added to your e-ID account.",
            ),
            Notice::FactorRemoved(Authenticator::App) => pair(
                vi,
                "Đã gỡ ứng dụng xác thực",
                "Một ứng dụng xác thực vừa bị gỡ khỏi tài khoản định danh điện tử của bạn.",
                "Authenticator app removed",
                "An authenticator app was just removed from your e-ID account.",
            ),
            Notice::FactorRemoved(Authenticator::Passkey) => pair(
                vi,
                "Đã gỡ khóa truy cập",
                "Một khóa truy cập (passkey) vừa bị gỡ khỏi tài khoản định danh điện tử của \
                 bạn.",
                "Passkey removed",
                "A passkey was just removed from your e-ID account.",
            ),
            Notice::RecoveryCodesRenewed => pair(
                vi,
                "Mã khôi phục mới",
                "Bộ mã khôi phục mới vừa được tạo cho tài khoản định danh điện tử của bạn; \
                 các mã cũ không còn dùng được.",
                "New recovery codes",
                "New recovery codes were just made for your e-ID account; the old ones no \
                 longer work.",
            ),
            Notice::NewDevice { device } => {
                if vi {
                    (
                        "Đăng nhập từ thiết bị mới".to_owned(),
                        format!(
                            "Tài khoản định danh điện tử của bạn vừa đăng nhập từ một thiết bị \
                             chưa từng dùng: {device}."
                        ),
                    )
                } else {
                    (
                        "Login from a new device".to_owned(),
                        format!("Your e-ID account just logged in from a new device: {device}."),
                    )
                }
            }
        };
        if self.carries_code() {
            return (subject, body);
        }
        // Every notice of a change ends with what to do if the citizen did not make it.
        let warning = if vi {
            " Nếu không phải bạn thực hiện, hãy đổi mật khẩu và liên hệ bộ phận hỗ trợ ngay."
        } else {
            " If this was not you, change your password and contact support at once."
        };
        (subject, body + warning)
    }
}

fn pair(
    vi: bool,
    vi_subject: &str,
    vi_body: &str,
    en_subject: &str,
    en_body: &str,
) -> (String, String) {
    if vi {
        (vi_subject.to_owned(), vi_body.to_owned())
    } else {
        (en_subject.to_owned(), en_body.to_owned())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_code_is_in_its_message_and_a_notice_says_what_to_do_if_unexpected() {
        let code = Notice::ContactCode {
            code: "482913".into(),
            minutes: 10,
        };
        let (subject, body) = code.render(Language::En);
        assert_eq!(subject, "Your verification code");
        assert!(
            body.contains("482913") && body.contains("10 minutes"),
            "{body}"
        );
        assert!(code.render(Language::Vi).1.contains("482913"));
        let (_, notice) = Notice::PasswordChanged.render(Language::Vi);
        assert!(notice.contains("Nếu không phải bạn"), "{notice}");
        assert!(!notice.contains("http"), "no links in messages");
    }
}
