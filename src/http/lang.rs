//! Page language: Vietnamese by default, English on request (`ui_locales`, `?lang=`,
//! or the browser's Accept-Language).

use actix_web::HttpRequest;
use actix_web::http::header;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lang {
    Vi,
    En,
}

impl Lang {
    pub fn code(self) -> &'static str {
        match self {
            Lang::Vi => "vi",
            Lang::En => "en",
        }
    }

    /// The first supported language in a preference list such as `ui_locales`
    /// (space-separated) or Accept-Language (comma-separated, with q-values ignored:
    /// browsers already list them in order).
    pub fn negotiate(preferences: Option<&str>) -> Lang {
        preferences
            .into_iter()
            .flat_map(|p| p.split([' ', ',']))
            .map(|tag| {
                tag.split(';')
                    .next()
                    .unwrap_or("")
                    .trim()
                    .to_ascii_lowercase()
            })
            .find_map(|tag| match tag.split('-').next() {
                Some("vi") => Some(Lang::Vi),
                Some("en") => Some(Lang::En),
                _ => None,
            })
            .unwrap_or(Lang::Vi)
    }

    pub fn texts(self) -> &'static Texts {
        match self {
            Lang::Vi => &VI,
            Lang::En => &EN,
        }
    }
}

/// Every string a page shows.
pub struct Texts {
    pub site_name: &'static str,
    pub login_title: &'static str,
    pub login_intro: &'static str,
    pub national_id_label: &'static str,
    pub national_id_hint: &'static str,
    pub password_label: &'static str,
    pub login_button: &'static str,
    pub invalid_credentials: &'static str,
    pub not_permitted: &'static str,
    pub error_title: &'static str,
    pub unknown_client: &'static str,
    pub bad_redirect_uri: &'static str,
    pub bad_request: &'static str,
    pub login_expired: &'static str,
    pub csrf_failed: &'static str,
    pub unavailable: &'static str,
    pub internal: &'static str,
    pub not_found: &'static str,
    pub other_language: &'static str,
    pub demo_title: &'static str,
    pub demo_intro: &'static str,
    pub demo_login_button: &'static str,
    pub demo_verified: &'static str,
    pub demo_claims: &'static str,
    pub demo_userinfo: &'static str,
    pub demo_again: &'static str,
    pub demo_logout: &'static str,
    pub logout_title: &'static str,
    pub logout_question: &'static str,
    pub logout_button: &'static str,
    pub logged_out_title: &'static str,
    pub logged_out_text: &'static str,
    pub bad_logout_hint: &'static str,
    pub bad_post_logout_redirect_uri: &'static str,
    pub too_many_requests: &'static str,
    pub request_too_large: &'static str,
    pub forbidden: &'static str,
    pub form_post_title: &'static str,
    pub form_post_text: &'static str,
    pub form_post_button: &'static str,
}

pub static VI: Texts = Texts {
    site_name: "Định danh điện tử công dân",
    login_title: "Đăng nhập",
    login_intro: "để tiếp tục đến",
    national_id_label: "Số định danh cá nhân",
    national_id_hint: "12 chữ số trên thẻ căn cước",
    password_label: "Mật khẩu",
    login_button: "Đăng nhập",
    invalid_credentials: "Số định danh hoặc mật khẩu không đúng.",
    not_permitted: "Tài khoản này hiện không thể dùng để đăng nhập. Vui lòng liên hệ cơ quan công an nơi cư trú.",
    error_title: "Không thể tiếp tục",
    unknown_client: "Dịch vụ yêu cầu đăng nhập không được đăng ký với hệ thống.",
    bad_redirect_uri: "Địa chỉ quay về của dịch vụ không khớp với địa chỉ đã đăng ký.",
    bad_request: "Yêu cầu không hợp lệ.",
    login_expired: "Phiên đăng nhập đã hết hạn. Vui lòng quay lại dịch vụ và thử lại.",
    csrf_failed: "Biểu mẫu đã hết hạn hoặc không hợp lệ. Vui lòng quay lại dịch vụ và thử lại.",
    unavailable: "Hệ thống tạm thời gián đoạn. Vui lòng thử lại sau ít phút.",
    internal: "Đã xảy ra lỗi. Vui lòng thử lại sau.",
    not_found: "Không tìm thấy trang.",
    other_language: "English",
    demo_title: "Cổng dịch vụ công (trình diễn)",
    demo_intro: "Trang này là một dịch vụ công mẫu. Nó chuyển bạn sang citizen-idp để đăng nhập, nhận mã ủy quyền, đổi lấy token và kiểm tra ID token theo JWKS.",
    demo_login_button: "Đăng nhập bằng định danh công dân",
    demo_verified: "Đăng nhập thành công. ID token đã được kiểm tra chữ ký theo JWKS.",
    demo_claims: "Các thông tin trong ID token",
    demo_userinfo: "Thông tin từ userinfo",
    demo_again: "Đăng nhập lại",
    demo_logout: "Đăng xuất",
    logout_title: "Đăng xuất",
    logout_question: "Bạn có muốn đăng xuất khỏi định danh điện tử trên trình duyệt này không? Các dịch vụ bạn đã đăng nhập qua đây sẽ được thông báo.",
    logout_button: "Đăng xuất",
    logged_out_title: "Đã đăng xuất",
    logged_out_text: "Bạn đã đăng xuất khỏi định danh điện tử trên trình duyệt này.",
    bad_logout_hint: "Yêu cầu đăng xuất không hợp lệ: ID token kèm theo không do hệ thống này cấp.",
    bad_post_logout_redirect_uri: "Địa chỉ quay về sau khi đăng xuất không khớp với địa chỉ dịch vụ đã đăng ký.",
    too_many_requests: "Có quá nhiều yêu cầu từ địa chỉ mạng của bạn. Vui lòng đợi một phút rồi thử lại.",
    request_too_large: "Yêu cầu quá dài. Vui lòng quay lại dịch vụ và thử lại.",
    forbidden: "Trang này dành cho cán bộ có vai trò tương ứng, đăng nhập ở mức 2 với yếu tố xác thực thứ hai.",
    form_post_title: "Đang quay lại dịch vụ",
    form_post_text: "Trình duyệt đang gửi kết quả đăng nhập về dịch vụ. Nếu trang không tự chuyển, hãy bấm Tiếp tục.",
    form_post_button: "Tiếp tục",
};

pub static EN: Texts = Texts {
    site_name: "Citizen electronic identity",
    login_title: "Log in",
    login_intro: "to continue to",
    national_id_label: "Personal identification number",
    national_id_hint: "The 12 digits on your ID card",
    password_label: "Password",
    login_button: "Log in",
    invalid_credentials: "The identification number or the password is wrong.",
    not_permitted: "This account cannot be used to log in at the moment. Please contact the police office where you live.",
    error_title: "Cannot continue",
    unknown_client: "The service that asked you to log in is not registered.",
    bad_redirect_uri: "The service's return address does not match its registration.",
    bad_request: "The request is not valid.",
    login_expired: "This login has expired. Please go back to the service and try again.",
    csrf_failed: "The form has expired or is not valid. Please go back to the service and try again.",
    unavailable: "The service is temporarily unavailable. Please try again in a few minutes.",
    internal: "Something went wrong. Please try again later.",
    not_found: "Page not found.",
    other_language: "Tiếng Việt",
    demo_title: "Public-service portal (demo)",
    demo_intro: "This page is a sample public service. It sends you to citizen-idp to log in, receives an authorization code, exchanges it for tokens, and verifies the ID token against the JWKS.",
    demo_login_button: "Log in with citizen ID",
    demo_verified: "Logged in. The ID token's signature was verified against the JWKS.",
    demo_claims: "Claims in the ID token",
    demo_userinfo: "Claims from userinfo",
    demo_again: "Log in again",
    demo_logout: "Log out",
    logout_title: "Log out",
    logout_question: "Do you want to log out of your electronic identity in this browser? The services you signed in to through it will be told.",
    logout_button: "Log out",
    logged_out_title: "Logged out",
    logged_out_text: "You have logged out of your electronic identity in this browser.",
    bad_logout_hint: "This logout request is not valid: the ID token it carries was not issued here.",
    bad_post_logout_redirect_uri: "The address to return to after logout does not match the service's registration.",
    too_many_requests: "Too many requests came from your network address. Please wait a minute and try again.",
    request_too_large: "The request is too long. Please go back to the service and try again.",
    forbidden: "This page is for officers with the matching role, logged in at level 2 with a second factor.",
    form_post_title: "Returning to the service",
    form_post_text: "Your browser is sending the result of the login to the service. If nothing happens, press Continue.",
    form_post_button: "Continue",
};

/// The page language: an explicit `lang`, else `ui_locales`, else Accept-Language.
pub fn page_lang(req: &HttpRequest, ui_locales: Option<&str>) -> Lang {
    let query_lang = serde_urlencoded::from_str::<Vec<(String, String)>>(req.query_string())
        .ok()
        .and_then(|pairs| {
            pairs
                .into_iter()
                .find(|(k, _)| k == "lang" || k == "ui_locales")
                .map(|(_, v)| v)
        });
    let accept = req
        .headers()
        .get(header::ACCEPT_LANGUAGE)
        .and_then(|v| v.to_str().ok());
    Lang::negotiate(query_lang.as_deref().or(ui_locales).or(accept))
}

impl From<Lang> for crate::notify::Language {
    fn from(lang: Lang) -> Self {
        match lang {
            Lang::Vi => crate::notify::Language::Vi,
            Lang::En => crate::notify::Language::En,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vietnamese_is_the_default_and_english_is_chosen_on_request() {
        assert_eq!(Lang::negotiate(None), Lang::Vi);
        assert_eq!(Lang::negotiate(Some("fr-FR,fr;q=0.9")), Lang::Vi);
        assert_eq!(Lang::negotiate(Some("en-US,en;q=0.9,vi;q=0.8")), Lang::En);
        assert_eq!(Lang::negotiate(Some("fr en")), Lang::En);
        assert_eq!(Lang::negotiate(Some("vi-VN")), Lang::Vi);
    }
}
