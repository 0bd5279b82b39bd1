//! Sending a request and reading its answer, the one way every test does it: a server
//! that cannot be reached, or an answer that cannot be read as asked, fails the test.

use serde::de::DeserializeOwned;

pub trait Fetch {
    /// Sends the request: the answer, whatever its status.
    async fn fetch(self) -> reqwest::Response;
    /// Sends the request: the body of the answer as JSON.
    async fn fetch_json<T: DeserializeOwned>(self) -> T;
    /// Sends the request: the body of the answer as text.
    async fn fetch_text(self) -> String;
}

impl Fetch for reqwest::RequestBuilder {
    async fn fetch(self) -> reqwest::Response {
        self.send().await.unwrap()
    }

    async fn fetch_json<T: DeserializeOwned>(self) -> T {
        self.fetch().await.json().await.unwrap()
    }

    async fn fetch_text(self) -> String {
        self.fetch().await.text().await.unwrap()
    }
}
