//! `PageForm<T>`: the body of a page's form post, read the one way every page does. A
//! body that is missing, too large or malformed gives `T::default()`, so that each
//! missing field gets the page's own answer (a localised error page, a form shown
//! again) rather than a bare 400; the page's language is the form's `lang` field.

use std::future::Future;
use std::pin::Pin;

use actix_web::dev::Payload;
use actix_web::{FromRequest, HttpRequest, web};
use serde::de::DeserializeOwned;

use super::lang::Lang;

/// A form field no longer than `max` bytes; a longer one counts as empty (no honest
/// value comes near the bounds the pages set).
pub fn bounded(value: Option<String>, max: usize) -> String {
    value.filter(|v| v.len() <= max).unwrap_or_default()
}

pub struct PageForm<T> {
    pub form: T,
    pub lang: Lang,
}

impl<T: DeserializeOwned + Default + 'static> FromRequest for PageForm<T> {
    type Error = actix_web::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Self, Self::Error>>>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        // Bounded by the application's PayloadConfig (`server.max_body_bytes`).
        let body = web::Bytes::from_request(req, payload);
        Box::pin(async move {
            let body = body.await.ok();
            Ok(parse(body.as_deref().unwrap_or_default()))
        })
    }
}

fn parse<T: DeserializeOwned + Default>(body: &[u8]) -> PageForm<T> {
    let lang = serde_urlencoded::from_bytes::<Vec<(String, String)>>(body)
        .ok()
        .and_then(|pairs| pairs.into_iter().find(|(name, _)| name == "lang"))
        .map(|(_, value)| value);
    PageForm {
        form: serde_urlencoded::from_bytes(body).unwrap_or_default(),
        lang: Lang::negotiate(lang.as_deref()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(serde::Deserialize, Default, Debug, PartialEq)]
    struct Form {
        name: Option<String>,
    }

    #[test]
    fn an_empty_foreign_or_repeated_body_gives_the_default_form_and_vietnamese() {
        let empty: PageForm<Form> = parse(b"");
        assert_eq!(empty.form, Form::default());
        assert_eq!(empty.lang, Lang::Vi);
        let json: PageForm<Form> = parse(br#"{"name":"x"}"#);
        assert_eq!(json.form, Form::default());
        let repeated: PageForm<Form> = parse(b"name=a&name=b");
        assert_eq!(repeated.form, Form::default());
    }

    #[test]
    fn the_language_is_the_forms_own() {
        let form: PageForm<Form> = parse(b"name=T%C3%AAn&lang=en");
        assert_eq!(form.form.name.as_deref(), Some("Tên"));
        assert_eq!(form.lang, Lang::En);
    }
}
