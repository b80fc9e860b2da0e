//! A client of the `make dev` stack over HTTP, for the end-to-end and load tests. `make test`
//! and `make load` start the stack and set:
//! - `TALKPLUS_E2E_URL`: the stack's base URL, e.g. http://127.0.0.1:9000
//! - `TALKPLUS_TEST_DYNAMODB_ENDPOINT` and `TABLE_NAME`: its engine and table, to inspect
//!   what was stored
//! - `TALKPLUS_DEV_APP_ID`, `TALKPLUS_DEV_API_KEY`: the dev app.

use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde_json::Value;

/// An environment variable the stack's scripts set.
pub fn var(name: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| {
        panic!("{name} must be set for tests against the local stack (run `make test`)")
    })
}

/// The stack, called with one app's credentials.
pub struct Stack {
    pub base: String,
    pub app_id: String,
    pub api_key: String,
    http: reqwest::Client,
}

impl Stack {
    pub fn new(base: String, app_id: String, api_key: String) -> Stack {
        Stack {
            base,
            app_id,
            api_key,
            http: shared::config::reqwest_builder()
                .and_then(|b| b.build().map_err(|e| e.to_string()))
                .expect("HTTP client"),
        }
    }

    /// The stack with the dev app.
    pub fn from_env() -> Stack {
        Stack::new(
            var("TALKPLUS_E2E_URL"),
            var("TALKPLUS_DEV_APP_ID"),
            var("TALKPLUS_DEV_API_KEY"),
        )
    }

    /// The HTTP client (the client API's requests are built by `client::Transport`).
    pub fn http(&self) -> &reqwest::Client {
        &self.http
    }

    /// Sends `method /v1.4/api/{path}` with `key` as the API key; every answer must be JSON.
    pub async fn send_as(
        &self,
        key: &str,
        method: Method,
        path: &str,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        self.send_with(key, method, path, body, &[]).await
    }

    /// `send` with more request headers.
    pub async fn send_headers(
        &self,
        method: Method,
        path: &str,
        body: Option<Value>,
        headers: &[(&str, &str)],
    ) -> (StatusCode, Value) {
        self.send_with(&self.api_key, method, path, body, headers)
            .await
    }

    async fn send_with(
        &self,
        key: &str,
        method: Method,
        path: &str,
        body: Option<Value>,
        headers: &[(&str, &str)],
    ) -> (StatusCode, Value) {
        let mut req = self
            .http
            .request(method, format!("{}/v1.4/api/{path}", self.base))
            .header("app-id", &self.app_id)
            .header("api-key", key)
            .timeout(Duration::from_secs(30));
        for (name, value) in headers {
            req = req.header(*name, *value);
        }
        if let Some(b) = body {
            req = req.json(&b);
        }
        let resp = req.send().await.expect("the stack answers");
        let status = resp.status();
        assert_eq!(
            resp.headers()
                .get("content-type")
                .and_then(|v| v.to_str().ok()),
            Some("application/json")
        );
        (status, resp.json().await.expect("JSON body"))
    }

    pub async fn send(
        &self,
        method: Method,
        path: &str,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        self.send_as(&self.api_key, method, path, body).await
    }
}
