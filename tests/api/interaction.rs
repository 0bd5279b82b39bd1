//! The login interaction as a state machine, tried in an attacker's order: a flow at one
//! step (password, second factor, consent) is offered to every other page, by GET and
//! by a form POST carrying the flow's own CSRF token, and none of them moves it on or
//! yields a code; the consent step is bound to the session it goes on with; two
//! requests racing to finish a flow get one code.

use reqwest::StatusCode;

use crate::consent::third_party;
use crate::helpers::{
    Fetch, PASSWORD, TestApp, TestCitizen, hidden_field, location_of, query_param,
};
use crate::second_factor::{code_now, enrol_totp, password_step};

/// The three pages of the steps, with the form each posts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Page {
    Password,
    SecondFactor,
    Consent,
}

const PAGES: [Page; 3] = [Page::Password, Page::SecondFactor, Page::Consent];

impl Page {
    fn path(self) -> &'static str {
        match self {
            Page::Password => "/login",
            Page::SecondFactor => "/login/second-factor",
            Page::Consent => "/consent",
        }
    }

    fn of(location: &str) -> Page {
        let path = location.split('?').next().unwrap();
        PAGES
            .into_iter()
            .find(|p| p.path() == path)
            .unwrap_or_else(|| panic!("not a step page: {location}"))
    }
}

/// A citizen with an authenticator app, logged in (password and code) at a third-party
/// portal that has their consent for `profile`.
struct Scene {
    app: TestApp,
    citizen: TestCitizen,
    secret: Vec<u8>,
    authorize: String,
}

impl Scene {
    async fn new() -> Scene {
        let app = TestApp::spawn().await;
        let citizen = app.citizen();
        let enrolled = enrol_totp(&app, &citizen).await;
        let client = third_party(&app);
        let rp = app.relying_party(&client).await;
        let authorize = rp.authorize_url(&["profile"]).url;
        let scene = Scene {
            app,
            citizen,
            secret: enrolled.secret,
            authorize,
        };
        // The full login once: password, code, consent.
        let next = password_step(&scene.app, &scene.authorize, &scene.citizen).await;
        let next = scene.post(Page::SecondFactor, &next).await;
        let next = location_of(&next);
        let response = scene.post(Page::Consent, &next).await;
        assert!(
            query_param(&location_of(&response), "code").is_some(),
            "the first login ends with a code"
        );
        scene.app.advance_clock(chrono::Duration::seconds(30));
        scene
    }

    /// A new flow at `step`, from the browser with the live session: its page's path
    /// and query.
    async fn flow_at(&self, step: Page) -> String {
        let location = match step {
            Page::Password => {
                self.redirect(&format!("{}&prompt=login", self.authorize))
                    .await
            }
            Page::SecondFactor => {
                let url = format!("{}&prompt=login", self.authorize);
                let login = self.redirect(&url).await;
                let response = self.post(Page::Password, &login).await;
                location_of(&response)
            }
            // prompt=consent asks even though the grant covers the request.
            Page::Consent => {
                self.redirect(&format!("{}&prompt=consent", self.authorize))
                    .await
            }
        };
        assert_eq!(Page::of(&location), step, "{location}");
        location
    }

    async fn redirect(&self, url: &str) -> String {
        let (status, location, _) = self.app.browse(url).await;
        assert_eq!(status, StatusCode::FOUND);
        location.unwrap()
    }

    /// The form of `page`, filled in as its citizen would (right password, a valid
    /// code, Allow), for the flow of `location` and with that flow's CSRF token read from
    /// the flow's own page.
    fn form(&self, page: Page, flow: &str, csrf: &str) -> Vec<(&'static str, String)> {
        let mut form = vec![
            ("flow", flow.to_owned()),
            ("csrf_token", csrf.to_owned()),
            ("lang", "vi".to_owned()),
        ];
        match page {
            Page::Password => {
                form.push(("national_id", self.citizen.number.clone()));
                form.push(("password", PASSWORD.to_owned()));
            }
            Page::SecondFactor => {
                form.push(("method", "totp".to_owned()));
                form.push(("code", code_now(&self.app, &self.secret)));
            }
            Page::Consent => form.push(("decision", "allow".to_owned())),
        }
        form
    }

    /// Posts `page`'s form for the flow at `location` (a step page).
    async fn post(&self, page: Page, location: &str) -> reqwest::Response {
        let (status, _, html) = self.app.browse(&self.app.url(location)).await;
        assert_eq!(status, StatusCode::OK, "{location}: {html}");
        let flow = hidden_field(&html, "flow");
        let csrf = hidden_field(&html, "csrf_token");
        self.post_form(page, &flow, &csrf).await
    }

    async fn post_form(&self, page: Page, flow: &str, csrf: &str) -> reqwest::Response {
        self.app
            .browser
            .post(self.app.url(page.path()))
            .form(&self.form(page, flow, csrf))
            .fetch()
            .await
    }
}

fn flow_of(location: &str) -> String {
    query_param(&format!("http://x{location}"), "flow").unwrap()
}

fn assert_no_code(response: &reqwest::Response, what: &str) {
    if let Some(location) = response.headers().get(reqwest::header::LOCATION) {
        let location = location.to_str().unwrap();
        assert!(
            !location.contains("code="),
            "{what}: a code was issued: {location}"
        );
    }
}

#[tokio::test]
async fn prompt_login_with_a_live_session_cannot_be_finished_at_the_consent_page() {
    let scene = Scene::new().await;
    let login = scene.flow_at(Page::Password).await;
    let flow = flow_of(&login);
    // The consent page sends the flow back to its own step instead of showing a form.
    let (status, location, _) = scene
        .app
        .browse(&scene.app.url(&format!("/consent?flow={flow}")))
        .await;
    assert_eq!(status, StatusCode::FOUND);
    assert!(location.unwrap().starts_with("/login?flow="));
    // Posting Allow with the flow's own CSRF token (read off the login page) is refused.
    let (_, _, html) = scene.app.browse(&scene.app.url(&login)).await;
    let csrf = hidden_field(&html, "csrf_token");
    let response = scene.post_form(Page::Consent, &flow, &csrf).await;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    assert_no_code(&response, "consent at the password step");
    // The flow still asks for the password, and then goes on as it should.
    let response = scene.post(Page::Password, &login).await;
    assert_eq!(Page::of(&location_of(&response)), Page::SecondFactor);
}

#[tokio::test]
async fn max_age_exceeded_cannot_be_finished_at_the_consent_page() {
    let scene = Scene::new().await;
    scene.app.advance_clock(chrono::Duration::seconds(600));
    let login = scene
        .redirect(&format!("{}&max_age=60", scene.authorize))
        .await;
    assert_eq!(Page::of(&login), Page::Password, "{login}");
    let (_, _, html) = scene.app.browse(&scene.app.url(&login)).await;
    let response = scene
        .post_form(
            Page::Consent,
            &flow_of(&login),
            &hidden_field(&html, "csrf_token"),
        )
        .await;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    assert_no_code(&response, "consent with max_age exceeded");
}

#[tokio::test]
async fn every_page_refuses_a_flow_at_another_step_by_get_and_by_post() {
    let scene = Scene::new().await;
    for step in PAGES {
        for page in PAGES.into_iter().filter(|p| *p != step) {
            let location = scene.flow_at(step).await;
            let flow = flow_of(&location);
            let (_, _, own) = scene.app.browse(&scene.app.url(&location)).await;
            let csrf = hidden_field(&own, "csrf_token");

            let (status, redirect, _) = scene
                .app
                .browse(&scene.app.url(&format!("{}?flow={flow}", page.path())))
                .await;
            assert_eq!(
                status,
                StatusCode::FOUND,
                "GET {page:?} for a flow at {step:?}"
            );
            assert_eq!(
                Page::of(&redirect.unwrap()),
                step,
                "GET {page:?} sends a flow at {step:?} back to its page"
            );

            let response = scene.post_form(page, &flow, &csrf).await;
            assert_eq!(
                response.status(),
                StatusCode::BAD_REQUEST,
                "POST {page:?} for a flow at {step:?}"
            );
            assert_no_code(&response, &format!("POST {page:?} for a flow at {step:?}"));

            // The flow is where it was, and its own page takes it on.
            let response = scene.post(step, &location).await;
            assert_eq!(
                response.status(),
                StatusCode::SEE_OTHER,
                "{step:?} still works after the attempt at {page:?}"
            );
            scene.app.advance_clock(chrono::Duration::seconds(30));
        }
    }
}

#[tokio::test]
async fn a_flow_is_finished_once_when_two_allows_race() {
    let scene = Scene::new().await;
    let location = scene.flow_at(Page::Consent).await;
    let (_, _, html) = scene.app.browse(&scene.app.url(&location)).await;
    let (flow, csrf) = (
        hidden_field(&html, "flow"),
        hidden_field(&html, "csrf_token"),
    );
    let (a, b) = tokio::join!(
        scene.post_form(Page::Consent, &flow, &csrf),
        scene.post_form(Page::Consent, &flow, &csrf)
    );
    let codes = [&a, &b]
        .iter()
        .filter(|r| {
            r.headers()
                .get(reqwest::header::LOCATION)
                .is_some_and(|l| l.to_str().unwrap().contains("code="))
        })
        .count();
    assert_eq!(
        codes,
        1,
        "exactly one code: {:?} {:?}",
        a.status(),
        b.status()
    );
}

#[tokio::test]
async fn a_consent_step_goes_on_only_with_the_session_that_started_it() {
    let scene = Scene::new().await;
    let location = scene.flow_at(Page::Consent).await;
    let (_, _, html) = scene.app.browse(&scene.app.url(&location)).await;
    let (flow, csrf) = (
        hidden_field(&html, "flow"),
        hidden_field(&html, "csrf_token"),
    );

    // The browser logs in again (same citizen) in another tab: a new session.
    let other = password_step(&scene.app, &scene.authorize, &scene.citizen).await;
    let response = scene.post(Page::SecondFactor, &other).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);

    let response = scene.post_form(Page::Consent, &flow, &csrf).await;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    assert_no_code(&response, "consent from another session");
}

#[tokio::test]
async fn another_browser_cannot_see_or_answer_a_consent_step() {
    let scene = Scene::new().await;
    let location = scene.flow_at(Page::Consent).await;
    let (_, _, html) = scene.app.browse(&scene.app.url(&location)).await;
    let (flow, csrf) = (
        hidden_field(&html, "flow"),
        hidden_field(&html, "csrf_token"),
    );
    let stranger = crate::helpers::http_client(true);
    let page = stranger.get(scene.app.url(&location)).fetch().await;
    assert_eq!(page.status(), StatusCode::BAD_REQUEST);
    let response = stranger
        .post(scene.app.url("/consent"))
        .form(&scene.form(Page::Consent, &flow, &csrf))
        .fetch()
        .await;
    assert!(response.status().is_client_error(), "{}", response.status());
    assert_no_code(&response, "consent from another browser");
}
