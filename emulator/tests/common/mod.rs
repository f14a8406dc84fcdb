//! What the emulator's HTTP tests (`graph_api.rs` and `profile.rs`) share, so that both talk to
//! the emulator the same way: a started emulator with a client and an app-only token
//! ([`Graph`]), one request helper ([`Graph::call`] and its variants) and the answer it gives
//! ([`Reply`]), the token endpoint ([`post_token`], [`token_form`]), the emulator's own routes
//! ([`Graph::emulator_json`]) and `$batch` items ([`batch_item`], [`response`]).
//!
//! Each test file is its own crate that includes this module, so everything here is used by
//! both files; what only one file needs stays in that file.

use phonesync_emulator::{Emulator, Options, Seed};
use reqwest::StatusCode;
use serde_json::{Value, json};
use std::time::Duration;

/// An emulator on a free local port, a client for it and an app-only token for app-1.
pub struct Graph {
    /// The running emulator, for its URL, state, journal and fault queue.
    pub emu: Emulator,
    /// The client every call goes through ([`client`]).
    pub http: reqwest::Client,
    /// The bearer token [`Graph::call`] sends.
    pub token: String,
}

/// A Graph answer: status, headers and the body as JSON (`Null` when the body is empty).
pub struct Reply {
    /// The HTTP status.
    pub status: StatusCode,
    /// The response headers.
    pub headers: reqwest::header::HeaderMap,
    /// The body parsed as JSON; `Null` for an empty body.
    pub body: Value,
}

impl Reply {
    /// The header `name` as text, if there is one.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// `error.code` of a Graph error body, or `""`.
    pub fn code(&self) -> &str {
        self.body["error"]["code"].as_str().unwrap_or("")
    }

    /// `error.message` of a Graph error body, or `""`.
    pub fn message(&self) -> &str {
        self.body["error"]["message"].as_str().unwrap_or("")
    }

    /// The text `field` of each item of a list answer's `value`, in order; each must have one.
    pub fn each(&self, field: &str) -> Vec<&str> {
        self.body["value"]
            .as_array()
            .expect("a list answer")
            .iter()
            .map(|item| item[field].as_str().unwrap_or_else(|| panic!("{field} of {item}")))
            .collect()
    }
}

/// A client that gives up after ten seconds, so a hung emulator fails the test.
pub fn client() -> reqwest::Client {
    reqwest::Client::builder().timeout(Duration::from_secs(10)).build().unwrap()
}

/// Starts an emulator holding `seed` on a free local port; the error is the emulator's refusal.
pub async fn try_start(seed: &Seed, options: Options) -> anyhow::Result<Emulator> {
    Emulator::start("127.0.0.1:0".parse().unwrap(), seed, options).await
}

/// Starts an emulator holding `seed` on a free local port, which must succeed.
pub async fn start(seed: &Seed, options: Options) -> Emulator {
    try_start(seed, options).await.expect("the emulator starts")
}

impl Graph {
    /// Starts an emulator holding `seed` and signs in as app-1 with a client secret (app-only).
    pub async fn start(seed: &Seed, options: Options) -> Graph {
        let emu = start(seed, options).await;
        let http = client();
        let (status, body) = post_token(&http, &emu.url(), &[("client_secret", "s")]).await;
        assert_eq!(status, StatusCode::OK, "an app-only token: {body}");
        let token = body["access_token"].as_str().expect("an access token").to_string();
        Graph { emu, http, token }
    }

    /// Sends `method path` (a path from the root, e.g. `/v1.0/users/…`) with the token and
    /// `body` as JSON; the answer must come.
    pub async fn call(&self, method: &str, path: &str, body: Option<Value>) -> Reply {
        self.call_with(method, path, body, &[]).await
    }

    /// [`Graph::call`] with extra request headers.
    pub async fn call_with(&self, method: &str, path: &str, body: Option<Value>, headers: &[(&str, &str)]) -> Reply {
        self.try_call(method, path, body, headers).await.expect("an answer")
    }

    /// [`Graph::call_with`] that hands back a transport error (a dropped connection, a timeout)
    /// instead of failing. A body that came is JSON or empty, or the test fails.
    pub async fn try_call(&self, method: &str, path: &str, body: Option<Value>, headers: &[(&str, &str)]) -> reqwest::Result<Reply> {
        let mut r = self
            .http
            .request(method.parse().unwrap(), format!("{}{path}", self.emu.url()))
            .bearer_auth(&self.token);
        for (k, v) in headers {
            r = r.header(*k, *v);
        }
        if let Some(b) = body {
            r = r.json(&b);
        }
        let resp = r.send().await?;
        let status = resp.status();
        let headers = resp.headers().clone();
        let bytes = resp.bytes().await?;
        let body = if bytes.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&bytes)
                .unwrap_or_else(|e| panic!("{method} {path}: a JSON body ({e}): {}", String::from_utf8_lossy(&bytes)))
        };
        Ok(Reply { status, headers, body })
    }

    /// `GET /_emulator/{route}` (`state`, `journal`, …), without a token, as JSON.
    pub async fn emulator_json(&self, route: &str) -> Value {
        let r = self.http.get(format!("{}/_emulator/{route}", self.emu.url())).send().await.unwrap();
        assert!(r.status().is_success(), "/_emulator/{route}: {}", r.status());
        r.json().await.unwrap()
    }
}

/// Posts `form` URL-encoded to the token endpoint of the emulator at `base` (its URL); the
/// status and the JSON body (`Null` if it is not JSON).
pub async fn token_form(http: &reqwest::Client, base: &str, form: &[(&str, &str)]) -> (StatusCode, Value) {
    form_post(http, &format!("{base}/contoso/oauth2/v2.0/token"), form).await
}

/// Posts a client-credentials request for app-1 (scope Graph `/.default`) with `extra` fields
/// (a secret, an assertion, another scope) to the emulator at `base`.
pub async fn post_token(http: &reqwest::Client, base: &str, extra: &[(&str, &str)]) -> (StatusCode, Value) {
    let mut form = vec![
        ("grant_type", "client_credentials"),
        ("client_id", "app-1"),
        ("scope", "https://graph.microsoft.com/.default"),
    ];
    form.extend_from_slice(extra);
    token_form(http, base, &form).await
}

/// Posts `form` URL-encoded to `url`; the status and the JSON body (`Null` if it is not JSON).
pub async fn form_post(http: &reqwest::Client, url: &str, form: &[(&str, &str)]) -> (StatusCode, Value) {
    let body = url::form_urlencoded::Serializer::new(String::new()).extend_pairs(form).finish();
    let r = http
        .post(url)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(body)
        .send()
        .await
        .unwrap();
    (r.status(), r.json().await.unwrap_or(Value::Null))
}

/// One `$batch` request item; a body comes with its `Content-Type` header.
pub fn batch_item(id: &str, method: &str, url: &str, body: Option<Value>, depends_on: &[&str]) -> Value {
    let mut v = json!({"id": id, "method": method, "url": url});
    if let Some(b) = body {
        v["body"] = b;
        v["headers"] = json!({"Content-Type": "application/json"});
    }
    if !depends_on.is_empty() {
        v["dependsOn"] = json!(depends_on);
    }
    v
}

/// `item` (a [`batch_item`]) with `headers` added to its own, e.g. a `client-request-id`.
pub fn with_headers(mut item: Value, headers: &[(&str, &str)]) -> Value {
    for (k, v) in headers {
        item["headers"][*k] = json!(v);
    }
    item
}

/// The response to the item `id` in a `$batch` answer body.
pub fn response<'a>(batch: &'a Value, id: &str) -> &'a Value {
    batch["responses"]
        .as_array()
        .expect("a responses array")
        .iter()
        .find(|r| r["id"] == id)
        .unwrap_or_else(|| panic!("a response to item {id}: {batch}"))
}
