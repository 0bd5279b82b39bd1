//! A citizen's way in, as a browser takes it: the login form, filled in once here, and
//! the walks through the pages that end with it.

use reqwest::StatusCode;
use reqwest::header::LOCATION;

use super::{Fetch, TestApp, TestClient, hidden_field, http_client, location_of};

/// The login page's form filled in: its flow and CSRF token, the number and the password.
pub fn login_form(page: &str, number: &str, password: &str) -> Vec<(&'static str, String)> {
    vec![
        ("flow", hidden_field(page, "flow")),
        ("csrf_token", hidden_field(page, "csrf_token")),
        ("national_id", number.to_owned()),
        ("password", password.to_owned()),
    ]
}

/// [`login_form`] sent in the page language `lang`.
pub fn login_form_in(
    lang: &str,
    page: &str,
    number: &str,
    password: &str,
) -> Vec<(&'static str, String)> {
    let mut form = login_form(page, number, password);
    form.insert(2, ("lang", lang.to_owned()));
    form
}

impl TestApp {
    /// GET `url` in `browser`: the status, the Location header and the body.
    pub async fn browse_in(
        &self,
        browser: &reqwest::Client,
        url: &str,
    ) -> (StatusCode, Option<String>, String) {
        let response = browser.get(url).fetch().await;
        let status = response.status();
        let location = response
            .headers()
            .get(LOCATION)
            .map(|l| l.to_str().unwrap().to_owned());
        (status, location, response.text().await.unwrap())
    }

    /// GET `url` in the browser: the status, the Location header and the body.
    pub async fn browse(&self, url: &str) -> (StatusCode, Option<String>, String) {
        self.browse_in(&self.browser, url).await
    }

    /// POSTs a login form from `browser`: the answer.
    pub async fn post_login(
        &self,
        browser: &reqwest::Client,
        form: &(impl serde::Serialize + ?Sized),
    ) -> reqwest::Response {
        browser.post(self.url("/login")).form(form).fetch().await
    }

    /// Fills in the login page `login_html` in the browser and sends it: the answer.
    pub async fn submit_login(
        &self,
        login_html: &str,
        number: &str,
        password: &str,
    ) -> reqwest::Response {
        self.post_login(&self.browser, &login_form(login_html, number, password))
            .await
    }

    /// In `browser`, which has no session, follows `authorize_url` to the login page:
    /// its HTML.
    pub async fn login_page_in(&self, browser: &reqwest::Client, authorize_url: &str) -> String {
        let (status, location, _) = self.browse_in(browser, authorize_url).await;
        assert_eq!(status, StatusCode::FOUND);
        let location = location.unwrap();
        assert!(location.starts_with("/login?"), "{location}");
        let (status, _, page) = self.browse_in(browser, &self.url(&location)).await;
        assert_eq!(status, StatusCode::OK);
        page
    }

    /// In `browser`, which has no session, follows `authorize_url` to the login page
    /// and sends it filled in: the answer, whatever it is.
    pub async fn submit_login_from(
        &self,
        browser: &reqwest::Client,
        authorize_url: &str,
        number: &str,
        password: &str,
    ) -> reqwest::Response {
        let page = self.login_page_in(browser, authorize_url).await;
        self.post_login(browser, &login_form(&page, number, password))
            .await
    }

    /// A login at `client` in a new browser: the answer to the password form.
    pub async fn log_in_fresh(
        &self,
        client: &TestClient,
        number: &str,
        password: &str,
    ) -> reqwest::Response {
        let start = self.relying_party(client).await.authorize_url(&[]);
        self.submit_login_from(&http_client(true), &start.url, number, password)
            .await
    }

    /// Follows an authorization request to the login page, fills it in, and returns
    /// the final redirect to the client. With a live session (SSO) there is no login
    /// page, and the redirect to the client comes at once.
    pub async fn log_in(&self, authorize_url: &str, number: &str, password: &str) -> String {
        let (status, location, _) = self.browse(authorize_url).await;
        assert_eq!(status, StatusCode::FOUND, "authorize should redirect");
        let location = location.unwrap();
        if !location.starts_with("/login?") {
            return location;
        }
        let login_page = self.url(&location);
        let (status, _, html) = self.browse(&login_page).await;
        assert_eq!(status, StatusCode::OK);
        let response = self.submit_login(&html, number, password).await;
        assert_eq!(
            response.status(),
            StatusCode::SEE_OTHER,
            "login should succeed"
        );
        location_of(&response)
    }

    /// Signs in to the citizen's own pages: in `browser` with no session, `path` sends
    /// it to log in, and the login succeeds. Where the login sent it back.
    pub async fn sign_in_at(
        &self,
        browser: &reqwest::Client,
        path: &str,
        number: &str,
        password: &str,
    ) -> String {
        let (status, login, _) = self.browse_in(browser, &self.url(path)).await;
        assert_eq!(status, StatusCode::FOUND, "no session: off to log in");
        let login = login.unwrap();
        assert!(login.starts_with("/login?flow="), "{login}");
        let (_, _, page) = self.browse_in(browser, &self.url(&login)).await;
        let response = self
            .post_login(browser, &login_form(&page, number, password))
            .await;
        assert_eq!(response.status(), StatusCode::SEE_OTHER, "login succeeds");
        location_of(&response)
    }
}
