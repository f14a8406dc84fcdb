//! Sign-in over HTTP: Graph's 401 for a missing, unknown or expired bearer token, and the token
//! endpoint: the client-secret grant, certificate assertions (PS256 with `x5t#S256`, RS256 with
//! `x5t`), federated assertions, and the faults scripted for the endpoint.

use crate::common::{LEE, client, graph, graph_with, post_token, start};
use phonesync_emulator::{Effect, Fault, Options, Seed};
use reqwest::StatusCode;
use serde_json::{Value, json};
use std::time::Duration;

#[tokio::test]
async fn missing_bad_and_expired_bearer_tokens_get_401() {
    let g = graph_with(Options {
        token_lifetime: 1,
        ..Options::default()
    })
    .await;
    let url = format!("{}{LEE}", g.emu.url());
    let none: Value = g.http.get(&url).send().await.unwrap().json().await.unwrap();
    assert_eq!(
        (none["error"]["code"].as_str(), none["error"]["message"].as_str()),
        (Some("InvalidAuthenticationToken"), Some("Access token is empty."))
    );
    let bogus = g.http.get(&url).bearer_auth("nope").send().await.unwrap();
    assert_eq!(bogus.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(g.call("GET", LEE, None).await.status, StatusCode::OK);
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let expired = g.call("GET", LEE, None).await;
    assert_eq!(expired.status, StatusCode::UNAUTHORIZED);
    assert!(expired.message().contains("expired"));
}

#[tokio::test]
async fn client_secret_grant_issues_tokens_and_refuses_wrong_secrets_and_scopes() {
    let emu = start(
        &Seed::default(),
        Options {
            client_id: Some("app-1".into()),
            client_secret: Some("right".into()),
            token_lifetime: 123,
            ..Options::default()
        },
    )
    .await;
    let http = client();
    let (status, body) = post_token(&http, &emu.url(), &[("client_secret", "right")]).await;
    assert_eq!(
        (status, body["token_type"].as_str(), body["expires_in"].as_u64()),
        (StatusCode::OK, Some("Bearer"), Some(123))
    );
    let (status, body) = post_token(&http, &emu.url(), &[("client_secret", "wrong")]).await;
    assert_eq!((status, body["error"].as_str()), (StatusCode::UNAUTHORIZED, Some("invalid_client")));
    assert!(body["error_description"].as_str().unwrap().starts_with("AADSTS7000215"));
    assert_eq!(body["error_codes"], json!([7000215]));
    let (status, body) = post_token(&http, &emu.url(), &[("client_secret", "right"), ("scope", "User.Read")]).await;
    // The form now has two scopes; the last one wins in the emulator's parse, and it is not /.default.
    assert_eq!((status, body["error"].as_str()), (StatusCode::BAD_REQUEST, Some("invalid_scope")));
}

fn assertion(alg: jsonwebtoken::Algorithm, key: &str, thumb: (&str, String), claims: Value) -> String {
    let mut header = jsonwebtoken::Header::new(alg);
    match thumb.0 {
        "x5t#S256" => header.x5t_s256 = Some(thumb.1),
        _ => header.x5t = Some(thumb.1),
    }
    let key = jsonwebtoken::EncodingKey::from_rsa_pem(&std::fs::read(fixture(key)).unwrap()).unwrap();
    jsonwebtoken::encode(&header, &claims, &key).unwrap()
}

/// A test key or certificate from the workspace's `tests/fixtures` (one set, shared with the
/// phonesync package's sign-in tests).
fn fixture(name: &str) -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../tests/fixtures")
        .join(name)
}

/// base64url(SHA-256 or SHA-1 of the certificate's DER).
fn thumbprint(cert: &str, sha256: bool) -> String {
    use base64::Engine;
    let der = pem::parse(std::fs::read(fixture(cert)).unwrap()).unwrap();
    let alg = if sha256 {
        &aws_lc_rs::digest::SHA256
    } else {
        &aws_lc_rs::digest::SHA1_FOR_LEGACY_USE_ONLY
    };
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(aws_lc_rs::digest::digest(alg, der.contents()))
}

fn claims(aud: &str, iss: &str, exp_offset: i64) -> Value {
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    json!({"aud": aud, "iss": iss, "sub": iss, "jti": uuid::Uuid::new_v4().to_string(), "nbf": now - 10, "iat": now - 10, "exp": now + exp_offset})
}

#[tokio::test]
async fn certificate_assertions_signed_ps256_or_rs256_are_verified() {
    use jsonwebtoken::Algorithm::{PS256, RS256};
    let options = Options {
        client_id: Some("app-1".into()),
        certificate: Some(fixture("app-cert.pem")),
        ..Options::default()
    };
    let emu = start(&Seed::default(), options).await;
    let http = client();
    let aud = format!("{}/contoso/oauth2/v2.0/token", emu.url());
    let s256 = ("x5t#S256", thumbprint("app-cert.pem", true));
    let s1 = ("x5t", thumbprint("app-cert.pem", false));
    let try_it = |jwt: String| with_assertion(http.clone(), emu.url(), jwt);
    assert_eq!(
        try_it(assertion(PS256, "app-key.pem", s256.clone(), claims(&aud, "app-1", 600))).await,
        (StatusCode::OK, 0)
    );
    assert_eq!(
        try_it(assertion(RS256, "app-key.pem", s1.clone(), claims(&aud, "app-1", 600))).await,
        (StatusCode::OK, 0)
    );
    assert_eq!(
        try_it(assertion(PS256, "other-key.pem", s256.clone(), claims(&aud, "app-1", 600))).await,
        (StatusCode::UNAUTHORIZED, 700027),
        "wrong key"
    );
    assert_eq!(
        try_it(assertion(
            PS256,
            "other-key.pem",
            ("x5t#S256", thumbprint("other-cert.pem", true)),
            claims(&aud, "app-1", 600)
        ))
        .await
        .1,
        700027,
        "unregistered certificate"
    );
    assert_eq!(
        try_it(assertion(PS256, "app-key.pem", s256.clone(), claims(&aud, "app-1", -120)))
            .await
            .1,
        700024,
        "expired"
    );
    assert_eq!(
        try_it(assertion(
            PS256,
            "app-key.pem",
            s256.clone(),
            claims("https://elsewhere/token", "app-1", 600)
        ))
        .await
        .1,
        700023,
        "audience"
    );
    assert_eq!(
        try_it(assertion(PS256, "app-key.pem", s256, claims(&aud, "app-2", 600))).await.1,
        700021,
        "issuer is not the client"
    );
    let (status, body) = post_token(&http, &emu.url(), &[("client_secret", "guess")]).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::UNAUTHORIZED, Some("invalid_client")),
        "no secret on a certificate app"
    );
}

#[tokio::test]
async fn federated_assertions_need_the_issuer_subject_audience_and_time() {
    let options = Options {
        federated_issuer: Some("https://oidc.example/cluster".into()),
        federated_subject: Some("system:serviceaccount:hr:phonesync".into()),
        ..Options::default()
    };
    let emu = start(&Seed::default(), options).await;
    let http = client();
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    let make = |iss: &str, sub: &str, aud: &str, exp: i64| {
        let key = jsonwebtoken::EncodingKey::from_rsa_pem(&std::fs::read(fixture("other-key.pem")).unwrap()).unwrap();
        jsonwebtoken::encode(
            &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::RS256),
            &json!({"iss": iss, "sub": sub, "aud": [aud], "exp": exp}),
            &key,
        )
        .unwrap()
    };
    let post = |jwt: String| with_assertion(http.clone(), emu.url(), jwt);
    let ok = post(make(
        "https://oidc.example/cluster",
        "system:serviceaccount:hr:phonesync",
        "api://AzureADTokenExchange",
        now + 600,
    ))
    .await;
    assert_eq!(ok, (StatusCode::OK, 0));
    assert_eq!(
        post(make(
            "https://evil.example",
            "system:serviceaccount:hr:phonesync",
            "api://AzureADTokenExchange",
            now + 600
        ))
        .await,
        (StatusCode::UNAUTHORIZED, 70021)
    );
    assert_eq!(
        post(make(
            "https://oidc.example/cluster",
            "other",
            "api://AzureADTokenExchange",
            now + 600
        ))
        .await
        .1,
        70021
    );
    assert_eq!(
        post(make(
            "https://oidc.example/cluster",
            "system:serviceaccount:hr:phonesync",
            "api://other",
            now + 600
        ))
        .await
        .1,
        70021
    );
    assert_eq!(
        post(make(
            "https://oidc.example/cluster",
            "system:serviceaccount:hr:phonesync",
            "api://AzureADTokenExchange",
            now - 600
        ))
        .await
        .1,
        700024
    );
}

/// Asks for a token with a client assertion; returns the status and the AADSTS code (0 on success).
async fn with_assertion(http: reqwest::Client, url: String, jwt: String) -> (StatusCode, u64) {
    let fields = [
        ("client_assertion_type", "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"),
        ("client_assertion", jwt.as_str()),
    ];
    let (status, body) = post_token(&http, &url, &fields).await;
    (status, body["error_codes"][0].as_u64().unwrap_or(0))
}

#[tokio::test]
async fn token_endpoint_faults_answer_in_entra_shape() {
    let g = graph().await;
    g.faults("POST", r#"[{"method": "token", "status": 503, "retryAfter": "2"}]"#).await;
    assert_eq!(
        g.call("GET", LEE, None).await.status,
        StatusCode::OK,
        "Graph calls do not take token faults"
    );
    let url = format!("{}/contoso/oauth2/v2.0/token", g.emu.url());
    let form = "grant_type=client_credentials&client_id=app-1&client_secret=s&scope=https%3A%2F%2Fgraph.microsoft.com%2F.default";
    let send = || {
        g.http
            .post(&url)
            .header("content-type", "application/x-www-form-urlencoded")
            .body(form)
            .send()
    };
    let r = send().await.unwrap();
    assert_eq!(r.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(r.headers()["retry-after"], "2");
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["error"], "temporarily_unavailable");
    assert!(body["error_description"].as_str().is_some());
    let issued = g.emu.tokens_issued();
    assert_eq!(send().await.unwrap().status(), StatusCode::OK, "one hit");
    assert_eq!(g.emu.tokens_issued(), issued + 1);

    g.emu.inject([Fault::effect(Effect::Drop).only("token")]);
    assert!(send().await.is_err(), "dropped");
    assert_eq!(g.emu.tokens_issued(), issued + 1, "nothing issued");
    g.emu.inject([Fault::status(400).only("token").code("invalid_grant", "Nope.")]);
    let body: Value = send().await.unwrap().json().await.unwrap();
    assert_eq!(body["error"], "invalid_grant");
    assert!(body["error_description"].as_str().unwrap().contains("Nope."));
}
