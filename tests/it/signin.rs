//! Every sign-in method against the emulator's token endpoint (docs/graph.md#tokens), including
//! tokens that expire mid-run, a token revoked under a running job, and a wrong secret, which
//! stops the run before any work without echoing it.

use crate::world::{CLIENT_ID, World, assert_journal_safe, fixture, pairs, pinned};
use phonesync::config::Env;
use phonesync_emulator::{Fault, Options};
use serde_json::json;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

fn seed(users: usize) -> serde_json::Value {
    let users: Vec<_> = (0..users)
        .map(|i| json!({"id": format!("id{i}"), "userPrincipalName": format!("u{i}@contoso.com")}))
        .collect();
    json!({ "users": users })
}

fn csv(users: usize) -> String {
    let mut s = String::from("user,phoneType,phoneNumber\n");
    for i in 0..users {
        s.push_str(&format!("u{i}@contoso.com,mobile,+1 206 555 {:04}\n", 1000 + i));
    }
    s
}

/// Emulator options pinning the test client id and no secret: the app signs in some other way.
fn client_id_only(options: Options) -> Options {
    Options {
        client_id: Some(CLIENT_ID.into()),
        ..options
    }
}

/// A PEM holding the certificate and its private key, as AZURE_CLIENT_CERTIFICATE_PATH expects.
fn combined_pem(dir: &Path, cert: &str, key: &str) -> PathBuf {
    let path = dir.join(format!("{cert}+{key}"));
    let mut pem = std::fs::read_to_string(fixture(cert)).unwrap();
    pem.push_str(&std::fs::read_to_string(fixture(key)).unwrap());
    std::fs::write(&path, pem).unwrap();
    path
}

/// Applies a file giving each of `users` users a mobile, and checks every one of them got it,
/// safely.
async fn converges(w: &World, users: usize, env: Env) {
    let input = w.csv("in.csv", &csv(users));
    let (code, _) = w.run_env("apply", &input, "r", env).await;
    assert_eq!(code.unwrap(), ExitCode::SUCCESS);
    for i in 0..users {
        let mobile = format!("+1 206555{:04}", 1000 + i);
        assert_eq!(
            w.phones(&format!("u{i}@contoso.com")),
            pairs(&[("mobile", mobile.as_str())]),
            "u{i}"
        );
    }
    assert_journal_safe(w, None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn certificate_ps256_with_x5t_s256_signs_in_again_when_tokens_expire_mid_run() {
    let options = client_id_only(Options {
        certificate: Some(fixture("app-cert.pem")),
        token_lifetime: 1,
        ..Options::default()
    });
    let dir = tempfile::tempdir().unwrap();
    let pem = combined_pem(dir.path(), "app-cert.pem", "app-key.pem");
    let w = World::builder(seed(40))
        .emulator(options)
        .auth(|a| a.method = Some("certificate".into()))
        .requests_per_second(25)
        .build()
        .await;
    converges(&w, 40, Env::from_pairs([("AZURE_CLIENT_CERTIFICATE_PATH", pem.to_str().unwrap())])).await;
    let grants = w.emulator.grants();
    assert!(grants.len() >= 2, "a fresh assertion each time: signed in {} times", grants.len());
    for g in &grants {
        assert_eq!(g.grant_type, "client_credentials");
        assert_eq!(g.assertion_alg.as_deref(), Some("PS256"), "{g:?}");
        assert_eq!(g.thumbprint_header, Some("x5t#S256"), "{g:?}");
    }
    assert!(w.calls().iter().all(|r| r.status != 401));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn certificate_rs256_with_x5t_as_a_fallback_setting() {
    let options = client_id_only(Options {
        certificate: Some(fixture("app-cert.pem")),
        ..Options::default()
    });
    let dir = tempfile::tempdir().unwrap();
    let pem = combined_pem(dir.path(), "app-cert.pem", "app-key.pem");
    let w = World::builder(seed(1))
        .emulator(options)
        .auth(|a| {
            a.certificate_path = Some(pem.clone());
            a.assertion_algorithm = Some("RS256".into());
        })
        .build()
        .await;
    converges(&w, 1, Env::default()).await;
    let grants = w.emulator.grants();
    assert!(!grants.is_empty());
    for g in &grants {
        assert_eq!(g.assertion_alg.as_deref(), Some("RS256"), "{g:?}");
        assert_eq!(g.thumbprint_header, Some("x5t"), "{g:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unregistered_certificate_stops_the_run_before_any_work() {
    let options = client_id_only(Options {
        certificate: Some(fixture("app-cert.pem")),
        ..Options::default()
    });
    let dir = tempfile::tempdir().unwrap();
    let pem = combined_pem(dir.path(), "other-cert.pem", "other-key.pem");
    let w = World::builder(seed(1)).emulator(options).build().await;
    let input = w.csv("in.csv", &csv(1));
    let (result, _) = w
        .run_env(
            "apply",
            &input,
            "r",
            Env::from_pairs([("AZURE_CLIENT_CERTIFICATE_PATH", pem.to_str().unwrap())]),
        )
        .await;
    let message = format!("{:#}", result.unwrap_err());
    assert!(message.contains("cannot sign in") && message.contains("AADSTS700027"), "{message}");
    assert!(w.emulator.requests().is_empty());
}

fn federated_jwt(exp_in: i64) -> String {
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    let claims = json!({"iss": "https://oidc.example/cluster", "sub": "system:serviceaccount:hr:phonesync", "aud": ["api://AzureADTokenExchange"], "exp": now + exp_in});
    let key = jsonwebtoken::EncodingKey::from_rsa_pem(&std::fs::read(fixture("other-key.pem")).unwrap()).unwrap();
    jsonwebtoken::encode(&jsonwebtoken::Header::new(jsonwebtoken::Algorithm::RS256), &claims, &key).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn workload_identity_rereads_the_rotated_token_file_at_each_sign_in() {
    // Tokens last one second, so the run (about five seconds) signs in several times. The first
    // assertion in the file stops being accepted two seconds in (the emulator allows 60 s of clock
    // skew, so it is written as expired 58 s ago); the test rotates the file after one second, as
    // kubelet would. Only a client that reads the file afresh at each sign-in gets through.
    let options = client_id_only(Options {
        federated_issuer: Some("https://oidc.example/cluster".into()),
        token_lifetime: 1,
        ..Options::default()
    });
    let w = World::builder(seed(60)).emulator(options).requests_per_second(25).build().await;
    let file = w.dir.path().join("azure-identity-token");
    std::fs::write(&file, federated_jwt(-58)).unwrap();
    let rotate = {
        let file = file.clone();
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_secs(1)).await;
            std::fs::write(&file, federated_jwt(600)).unwrap();
        })
    };
    converges(&w, 60, Env::from_pairs([("AZURE_FEDERATED_TOKEN_FILE", file.to_str().unwrap())])).await;
    rotate.await.unwrap();
    assert!(w.emulator.tokens_issued() >= 3, "signed in {} times", w.emulator.tokens_issued());
    assert!(
        w.emulator.requests().iter().all(|r| r.status != 401),
        "tokens were refreshed before they expired"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_secret_tokens_are_refreshed_before_they_expire_mid_run() {
    let options = pinned(Options {
        token_lifetime: 2,
        ..Options::default()
    });
    let w = World::builder(seed(80)).emulator(options).requests_per_second(40).build().await;
    converges(&w, 80, w.env()).await;
    assert!(w.emulator.tokens_issued() >= 2, "signed in {} times", w.emulator.tokens_issued());
    assert!(w.emulator.requests().iter().all(|r| r.status != 401));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_401_makes_the_client_sign_in_again_once() {
    // On a single request.
    let w = World::builder(seed(1)).batch(false).build().await;
    w.emulator.inject([Fault::status(401).only("GET")]);
    converges(&w, 1, w.env()).await;
    assert_eq!(w.emulator.tokens_issued(), 2);
    // On a $batch call.
    let w = World::new(seed(1)).await;
    w.emulator.inject([Fault::status(401).only("$batch")]);
    converges(&w, 1, w.env()).await;
    assert_eq!(w.emulator.tokens_issued(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pre_acquired_token_is_used_as_given_and_not_refreshed() {
    let w = World::builder(seed(2)).emulator(client_id_only(Options::default())).build().await;
    let http = reqwest::Client::new();
    let form =
        format!("grant_type=client_credentials&client_id={CLIENT_ID}&client_secret=x&scope=https%3A%2F%2Fgraph.microsoft.com%2F.default");
    let token: serde_json::Value = http
        .post(format!("{}/contoso/oauth2/v2.0/token", w.emulator.url()))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(form)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let token = token["access_token"].as_str().unwrap().to_string();
    let env = Env::from_pairs([("PHONESYNC_ACCESS_TOKEN", token.as_str())]);
    converges(&w, 1, env.clone()).await;
    assert_eq!(w.emulator.tokens_issued(), 1, "the tool asked for no token of its own");

    w.emulator.revoke_tokens();
    let input = w.csv("in2.csv", &csv(2));
    let (result, _) = w.run_env("apply", &input, "revoked", env).await;
    // Graph refuses the token on every read: the run stops before any work (exit 2 in main).
    let message = format!("{:#}", result.unwrap_err());
    assert!(
        message.contains("answered none of the reads") && message.contains("InvalidAuthenticationToken"),
        "{message}"
    );
    assert!(!message.contains(&token), "the token is not echoed");
    assert_eq!(w.emulator.tokens_issued(), 1, "a static token is not refreshed");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn device_code_sign_in_for_an_admin_at_a_terminal() {
    let options = client_id_only(Options {
        device_code_auto_approve: true,
        device_code_interval: 0,
        token_lifetime: 1,
        ..Options::default()
    });
    let w = World::builder(seed(30))
        .emulator(options)
        .auth(|a| a.method = Some("device_code".into()))
        .requests_per_second(20)
        .build()
        .await;
    converges(&w, 30, Env::default()).await;
    // The first token comes from the device code; later ones from the refresh token.
    let grants: Vec<String> = w.emulator.grants().into_iter().map(|g| g.grant_type).collect();
    assert!(grants.len() >= 2, "{grants:?}");
    assert_eq!(grants[0], "urn:ietf:params:oauth:grant-type:device_code");
    assert!(grants[1..].iter().all(|g| g == "refresh_token"), "{grants:?}");
}

/// The token service answering 503 twice is retried with backoff, not fatal.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn token_service_503s_are_retried() {
    let w = World::new(seed(1)).await;
    w.emulator.inject([Fault::status(503).only("token").times(2)]);
    converges(&w, 1, w.env()).await;
    assert_eq!(w.emulator.grants().len(), 1, "one token, after two refusals");
    assert!(w.emulator.pending_faults().is_empty(), "both refusals were met");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_secret_stops_before_any_work() {
    let w = World::new(json!({"users": []})).await;
    let csv = w.csv("in.csv", "user,phoneType,phoneNumber\na@contoso.com,mobile,2065550100\n");
    let (result, _) = w
        .run_env("apply", &csv, "r", Env::from_pairs([("AZURE_CLIENT_SECRET", "wrong")]))
        .await;
    let message = format!("{:#}", result.unwrap_err());
    assert!(
        message.contains("cannot sign in") && message.contains("invalid_client"),
        "{message}"
    );
    assert!(!message.contains("wrong"), "the secret is not echoed: {message}");
    assert!(w.calls().is_empty());
}
