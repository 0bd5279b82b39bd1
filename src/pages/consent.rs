//! The consent page at `/consent?flow=…`: which service asks, and for what, in plain
//! words; Allow or Deny. It comes after the login, so the citizen has a live session;
//! the form carries the flow's own CSRF token and is bound to the browser like the
//! login form.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use serde::Deserialize;

use crate::consent::{self, Decision, data::DataItem};
use crate::domain::interaction::Step;
use crate::http::access_log::request_id;
use crate::http::interaction::{self, live_session};
use crate::http::lang::Lang;
use crate::http::lang::page_lang;
use crate::http::page_error::{PageError, html};
use crate::http::page_form::PageForm;
use crate::protocol::authorize::LiveSession;
use crate::protocol::authorize::flow::LoginFlow;
use crate::protocol::error::{ErrorCode, OAuthError};
use crate::registry;
use crate::state::AppState;
use crate::storage::federated_clients;

/// Every string of the consent page, and the plain words for each kind of data (the
/// account pages use those too).
pub struct ConsentTexts {
    pub title: &'static str,
    pub asks: &'static str,
    pub wants: &'static str,
    pub remembered: &'static str,
    pub allow: &'static str,
    pub deny: &'static str,
    pub identifier: &'static str,
    pub full_name: &'static str,
    pub birth_date: &'static str,
    pub gender: &'static str,
    pub nationality: &'static str,
    pub place_of_origin: &'static str,
    pub permanent_address: &'static str,
    pub national_id: &'static str,
    pub id_card: &'static str,
    pub login_facts: &'static str,
    pub offline_access: &'static str,
    /// Before the organisation behind a partner country's service (federation).
    pub foreign: &'static str,
}

pub static VI: ConsentTexts = ConsentTexts {
    title: "Cho phép chia sẻ thông tin",
    asks: "đề nghị được nhận các thông tin sau của bạn:",
    wants: "Dịch vụ",
    remembered: "Lựa chọn của bạn được ghi nhớ. Bạn có thể rút lại sự đồng ý bất cứ lúc nào tại trang Tài khoản.",
    allow: "Đồng ý",
    deny: "Không đồng ý",
    identifier: "một mã nhận diện bạn tại dịch vụ này",
    full_name: "họ và tên",
    birth_date: "ngày sinh",
    gender: "giới tính",
    nationality: "quốc tịch",
    place_of_origin: "quê quán",
    permanent_address: "địa chỉ thường trú",
    national_id: "số định danh cá nhân",
    id_card: "thông tin thẻ căn cước (số thẻ, ngày cấp, ngày hết hạn)",
    login_facts: "thời điểm và cách bạn đăng nhập",
    offline_access: "tiếp tục truy cập khi bạn không sử dụng dịch vụ (cho đến khi bạn rút lại)",
    foreign: "Đây là dịch vụ của nước đối tác, được tin cậy qua liên kết định danh xuyên biên giới. Tổ chức:",
};

pub static EN: ConsentTexts = ConsentTexts {
    title: "Allow sharing your information",
    asks: "asks to receive the following information about you:",
    wants: "The service",
    remembered: "Your choice is remembered. You can withdraw your consent at any time on your Account page.",
    allow: "Allow",
    deny: "Deny",
    identifier: "an identifier that recognises you at this service",
    full_name: "your full name",
    birth_date: "your date of birth",
    gender: "your gender",
    nationality: "your nationality",
    place_of_origin: "your place of origin",
    permanent_address: "your permanent address",
    national_id: "your personal identification number",
    id_card: "your ID card details (number, date of issue, expiry)",
    login_facts: "when and how you logged in",
    offline_access: "keep access while you are not using the service (until you withdraw it)",
    foreign: "This is a partner country's service, trusted through the cross-border federation. Organisation:",
};

pub fn texts(lang: Lang) -> &'static ConsentTexts {
    match lang {
        Lang::Vi => &VI,
        Lang::En => &EN,
    }
}

/// The plain words for one kind of data.
pub fn words(item: DataItem, lang: Lang) -> &'static str {
    let t = texts(lang);
    match item {
        DataItem::Identifier => t.identifier,
        DataItem::FullName => t.full_name,
        DataItem::BirthDate => t.birth_date,
        DataItem::Gender => t.gender,
        DataItem::Nationality => t.nationality,
        DataItem::PlaceOfOrigin => t.place_of_origin,
        DataItem::PermanentAddress => t.permanent_address,
        DataItem::NationalId => t.national_id,
        DataItem::IdCard => t.id_card,
        DataItem::LoginFacts => t.login_facts,
        DataItem::OfflineAccess => t.offline_access,
    }
}

#[derive(Template)]
#[template(path = "consent.html")]
struct ConsentPage<'a> {
    t: &'a crate::http::lang::Texts,
    c: &'a ConsentTexts,
    lang: &'a str,
    other_lang: &'a str,
    client_name: &'a str,
    /// The organisation behind a service registered through the federation.
    foreign: Option<String>,
    items: Vec<&'static str>,
    flow: &'a str,
    csrf_token: &'a str,
}

#[derive(Deserialize)]
pub struct ConsentQuery {
    flow: Option<String>,
}

/// Fields of the consent form; all optional so a missing one gets a page.
#[derive(Deserialize, Default)]
pub struct ConsentForm {
    flow: Option<String>,
    csrf_token: Option<String>,
    decision: Option<String>,
}

/// The browser's live session, which must be the one the flow goes on with: consent is
/// given by the session that logged in (or started the flow), never by another one.
async fn session_of(
    req: &HttpRequest,
    state: &AppState,
    flow: &LoginFlow,
) -> Result<LiveSession, PageError> {
    let live = live_session(req, state, state.clock.now())
        .await
        .map_err(PageError::from_oauth)?
        .ok_or_else(PageError::login_expired)?;
    if flow.sid.as_deref() != Some(live.session.facts.sid.as_str()) {
        tracing::warn!(target: "security", "consent refused: the browser's session is not the flow's");
        return Err(PageError::login_expired());
    }
    Ok(live)
}

pub async fn consent_get(
    req: HttpRequest,
    state: web::Data<AppState>,
    query: Option<web::Query<ConsentQuery>>,
) -> Result<HttpResponse, PageError> {
    let lang = page_lang(&req, None);
    let flow_id = query.and_then(|q| q.into_inner().flow);
    let (flow_id, flow) =
        match interaction::flow_for_page(&state, flow_id.as_deref(), Step::Consent)
            .await
            .map_err(|e| e.in_lang(lang))?
            .or_redirect(lang)
        {
            Ok(found) => found,
            Err(elsewhere) => return Ok(*elsewhere),
        };
    session_of(&req, &state, &flow)
        .await
        .map_err(|e| e.in_lang(lang))?;
    let other = if lang == Lang::Vi { Lang::En } else { Lang::Vi };
    let items = consent::data::for_scopes(&flow.request.scope)
        .into_iter()
        .map(|item| words(item, lang))
        .collect();
    // A partner country's service says so, with its organisation, before the citizen
    // decides.
    let client_id = vec![flow.request.client_id.clone()];
    let foreign = state
        .db
        .run(move |conn| federated_clients::organizations(conn, &client_id))
        .await
        .map_err(|e| PageError::from_oauth(e.into()).in_lang(lang))?
        .into_iter()
        .next()
        .map(|(_, organization)| organization);
    let page = ConsentPage {
        t: lang.texts(),
        c: texts(lang),
        lang: lang.code(),
        other_lang: other.code(),
        client_name: &flow.request.client_name,
        foreign,
        items,
        flow: &flow_id,
        csrf_token: &flow.csrf_token,
    };
    Ok(html(StatusCode::OK, page.render()))
}

pub async fn consent_post(
    req: HttpRequest,
    state: web::Data<AppState>,
    PageForm { form, lang }: PageForm<ConsentForm>,
) -> Result<HttpResponse, PageError> {
    decide(&req, &state, form, lang)
        .await
        .map_err(|e| e.in_lang(lang))
}

async fn decide(
    req: &HttpRequest,
    state: &web::Data<AppState>,
    form: ConsentForm,
    lang: Lang,
) -> Result<HttpResponse, PageError> {
    let (flow_id, mut flow) =
        interaction::flow_for_page(state, form.flow.as_deref(), Step::Consent)
            .await?
            .or_refuse(Step::Consent)?;
    if !interaction::form_accepted(req, state, &flow, form.csrf_token.as_deref()) {
        tracing::warn!(target: "security", "consent form rejected: CSRF token or browser binding mismatch");
        return Err(PageError::csrf_failed());
    }
    let live = session_of(req, state, &flow).await?;
    let citizen = registry::identity_by_account(&state.db, live.session.facts.account_id.clone())
        .await?
        .map(|(_, citizen)| citizen.national_id);
    let scope = flow.request.scope.clone();
    let request_id = request_id(req);
    match form.decision.as_deref() {
        Some("allow") => {
            let now = state.clock.now();
            let client_id = &flow.request.client_id;
            consent::grant(
                &state.db,
                &live.session.facts.account_id,
                client_id,
                &scope,
                now,
            )
            .await?;
            let decision = Decision {
                outcome: "consent_granted",
                citizen,
                client_id,
                scope: &scope,
                request_id: request_id.as_deref(),
            };
            consent::audit(&state.audit, decision, now).await;
            // Granted just now: prompt=consent is answered and must not ask again.
            flow.request.prompt_consent = false;
            interaction::advance(req, state, lang, &flow_id, flow).await
        }
        Some("deny") => {
            let decision = Decision {
                outcome: "consent_denied",
                citizen,
                client_id: &flow.request.client_id,
                scope: &scope,
                request_id: request_id.as_deref(),
            };
            consent::audit(&state.audit, decision, state.clock.now()).await;
            // OIDC Core §3.1.2.6: the End-User denied the request.
            let error = OAuthError::new(
                ErrorCode::AccessDenied,
                "the citizen did not consent to share the requested data",
            );
            interaction::finish_with_error(state, lang, &flow_id, &flow, error).await
        }
        _ => Err(PageError::bad_request()),
    }
}
