//! What every module of the emulator's HTTP tests shares, so that all talk to the emulator the
//! same way: a started emulator with a client and an app-only token ([`Graph`]), one request
//! helper ([`Graph::call`] and its variants) and the answer it gives ([`Reply`]), the token
//! endpoint ([`post_token`], [`token_form`]), the emulator's own routes ([`Graph::emulator_json`],
//! [`Graph::faults`]), `$batch` items ([`batch_item`], [`response`]), and the tenant most tests
//! start from ([`seed`], [`graph`]): users with and without phone methods, a guest and a `$`
//! name. What only one module needs stays in that module.

use phonesync_emulator::{Emulator, JournalEntry, Options, Seed};
use reqwest::StatusCode;
use serde_json::{Value, json};
use std::time::Duration;

/// The mobile's fixed method id.
pub const MOBILE: &str = "3179e48a-750b-4051-897c-87b9720928f7";
/// The alternateMobile's fixed method id.
pub const ALT: &str = "b6332ec1-7057-4abe-9331-3d72feddfe41";
/// The office phone's fixed method id.
pub const OFFICE: &str = "e37fc753-ff3b-4958-9484-eaa9425c82bc";

/// Kim's phone methods (kim has none in [`seed`]).
pub const KIM: &str = "/v1.0/users/kim@contoso.com/authentication/phoneMethods";
/// Lee's phone methods (all three types in [`seed`]).
pub const LEE: &str = "/v1.0/users/lee@contoso.com/authentication/phoneMethods";

/// Six users: kim without phones, lee with all three types (office the default), a guest, a UPN
/// starting with `$`, mo with a mobile default and al with an alternateMobile default.
pub fn seed() -> Seed {
    serde_json::from_value(json!({"users": [
        {"id": "u-kim", "userPrincipalName": "kim@contoso.com"},
        {"id": "u-lee", "userPrincipalName": "lee@contoso.com", "defaultMethod": "office", "phoneMethods": [
            {"phoneType": "mobile", "phoneNumber": "+1 2065550100"},
            {"phoneType": "alternateMobile", "phoneNumber": "+1 2065550101"},
            {"phoneType": "office", "phoneNumber": "+1 4255550100"}]},
        {"id": "u-guest", "userPrincipalName": "ann_fabrikam.com#EXT#@contoso.com"},
        {"id": "u-dollar", "userPrincipalName": "$admin@contoso.com"},
        {"id": "u-mo", "userPrincipalName": "mo@contoso.com", "defaultMethod": "mobile", "phoneMethods": [
            {"phoneType": "mobile", "phoneNumber": "+1 2065550300"}]},
        {"id": "u-al", "userPrincipalName": "al@contoso.com", "defaultMethod": "alternateMobile", "phoneMethods": [
            {"phoneType": "mobile", "phoneNumber": "+1 2065550310"},
            {"phoneType": "alternateMobile", "phoneNumber": "+1 2065550311"}]}
    ]}))
    .unwrap()
}

/// [`seed`] in an emulator with `options`, signed in as app-1.
pub async fn graph_with(options: Options) -> Graph {
    Graph::start(&seed(), options).await
}

/// [`seed`] in an emulator with the default options, signed in as app-1.
pub async fn graph() -> Graph {
    graph_with(Options::default()).await
}

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

impl Graph {
    /// Calls a `/_emulator/faults` route, without a token.
    pub async fn faults(&self, method: &str, body: &str) -> (StatusCode, Value) {
        let r = self
            .http
            .request(method.parse().unwrap(), format!("{}/_emulator/faults", self.emu.url()))
            .header("content-type", "application/json")
            .body(body.to_string())
            .send()
            .await
            .unwrap();
        let status = r.status();
        (status, r.json().await.unwrap_or(Value::Null))
    }

    /// `GET /_emulator/journal`, read back into journal entries.
    pub async fn journal_over_http(&self) -> Vec<JournalEntry> {
        serde_json::from_value(self.emulator_json("journal").await).unwrap()
    }

    /// The phone methods of `upn` in the state, as (type, number), sorted.
    pub fn phones(&self, upn: &str) -> Vec<(String, String)> {
        let user = self.emu.state().users.into_iter().find(|u| u.user_principal_name == upn).unwrap();
        let mut v: Vec<_> = user.phone_methods.into_iter().map(|p| (p.phone_type, p.phone_number)).collect();
        v.sort();
        v
    }
}
