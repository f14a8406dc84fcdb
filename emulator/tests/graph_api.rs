//! The emulator against docs/graph.md (at the workspace's top), over real HTTP: the phone-method,
//! user and sign-in-preference endpoints, their rules and error shapes, the client-secret,
//! certificate and federated sign-in grants, throttle modes, faults, `$batch` and the journal.
//! Test names carry a topic prefix: s1_* phone methods and users, s3 error bodies, s4_*
//! throttling, faults and `$batch`, s5 tokens. Profile phones are in profile.rs; the helpers
//! both files use are in common/.

mod common;

use common::{Graph, batch_item, client, post_token, response, start, with_headers};
use phonesync_emulator::check::{PlannedWrite, Violation, check};
use phonesync_emulator::options::{FaultKind, NumberEcho, NumberInput, RetryAfterMode};
use phonesync_emulator::{Effect, Event, Fault, JournalEntry, Options, Seed};
use reqwest::StatusCode;
use serde_json::{Value, json};
use std::time::{Duration, Instant};

const MOBILE: &str = "3179e48a-750b-4051-897c-87b9720928f7";
const ALT: &str = "b6332ec1-7057-4abe-9331-3d72feddfe41";
const OFFICE: &str = "e37fc753-ff3b-4958-9484-eaa9425c82bc";

fn seed() -> Seed {
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

async fn graph_with(options: Options) -> Graph {
    Graph::start(&seed(), options).await
}

async fn graph() -> Graph {
    graph_with(Options::default()).await
}

impl Graph {
    /// Calls a `/_emulator/faults` route, without a token.
    async fn faults(&self, method: &str, body: &str) -> (StatusCode, Value) {
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
    async fn journal_over_http(&self) -> Vec<JournalEntry> {
        serde_json::from_value(self.emulator_json("journal").await).unwrap()
    }

    /// The phone methods of `upn` in the state, as (type, number), sorted.
    fn phones(&self, upn: &str) -> Vec<(String, String)> {
        let user = self.emu.state().users.into_iter().find(|u| u.user_principal_name == upn).unwrap();
        let mut v: Vec<_> = user.phone_methods.into_iter().map(|p| (p.phone_type, p.phone_number)).collect();
        v.sort();
        v
    }
}

const KIM: &str = "/v1.0/users/kim@contoso.com/authentication/phoneMethods";
const LEE: &str = "/v1.0/users/lee@contoso.com/authentication/phoneMethods";

#[tokio::test]
async fn s1_1_create_reproduces_the_documented_example() {
    // seeds/001: POST …/users/kim@contoso.com/authentication/phoneMethods → 201 with the object.
    let g = graph().await;
    let r = g
        .call("POST", KIM, Some(json!({"phoneNumber": "+1 2065555555", "phoneType": "mobile"})))
        .await;
    assert_eq!(r.status, StatusCode::CREATED);
    assert_eq!(r.body["phoneNumber"], "+1 2065555555");
    assert_eq!(r.body["phoneType"], "mobile");
    assert_eq!(r.body["smsSignInState"], "ready");
    assert_eq!(r.body["id"], MOBILE);
}

#[tokio::test]
async fn s1_1_update_reproduces_the_documented_example() {
    // seeds/000: PATCH …/phoneMethods/3179e48a-… → 204 No Content, empty body. (The page's example
    // body has a trailing comma, which is not JSON; the test sends the same fields as JSON.)
    let g = graph().await;
    g.call("POST", KIM, Some(json!({"phoneNumber": "+1 2065555555", "phoneType": "mobile"})))
        .await;
    let r = g
        .call(
            "PATCH",
            &format!("{KIM}/{MOBILE}"),
            Some(json!({"phoneNumber": "+1 2065555554", "phoneType": "mobile"})),
        )
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    assert_eq!(r.body, Value::Null);
    assert_eq!(g.phones("kim@contoso.com"), vec![("mobile".into(), "+1 2065555554".into())]);
}

#[tokio::test]
async fn s1_10_create_status_and_update_body_are_configurable() {
    let g = graph_with(Options {
        create_status: 200,
        update_response: phonesync_emulator::options::UpdateResponse::Body,
        ..Options::default()
    })
    .await;
    assert_eq!(
        g.call("POST", KIM, Some(json!({"phoneNumber": "+1 2065555555", "phoneType": "mobile"})))
            .await
            .status,
        StatusCode::OK
    );
    let r = g
        .call("PATCH", &format!("{KIM}/{MOBILE}"), Some(json!({"phoneNumber": "+1 2065555554"})))
        .await;
    assert_eq!((r.status, r.body["phoneNumber"].as_str()), (StatusCode::OK, Some("+1 2065555554")));
}

#[tokio::test]
async fn s1_1_list_get_delete_and_s1_2_fixed_ids() {
    let g = graph().await;
    let r = g.call("GET", LEE, None).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(
        r.body["@odata.context"],
        "https://graph.microsoft.com/v1.0/$metadata#users('lee%40contoso.com')/authentication/phoneMethods"
    );
    assert_eq!(
        r.each("id"),
        vec![OFFICE, MOBILE, ALT],
        "not ordered by type: office first, as in the tutorial"
    );
    let alt = g.call("GET", &format!("{LEE}/{ALT}"), None).await;
    assert_eq!(
        (alt.body["phoneType"].as_str(), alt.body["smsSignInState"].as_str()),
        (Some("alternateMobile"), Some("notSupported"))
    );
    assert_eq!(g.call("DELETE", &format!("{LEE}/{ALT}"), None).await.status, StatusCode::NO_CONTENT);
    let again = g.call("DELETE", &format!("{LEE}/{ALT}"), None).await;
    assert_eq!((again.status, again.code()), (StatusCode::NOT_FOUND, "itemNotFound"));
    let unknown = g.call("GET", &format!("{LEE}/not-a-method"), None).await;
    assert_eq!(unknown.status, StatusCode::NOT_FOUND);
    assert_eq!(
        g.call("PUT", &format!("{LEE}/{MOBILE}"), Some(json!({}))).await.status,
        StatusCode::METHOD_NOT_ALLOWED
    );
}

#[tokio::test]
async fn s1_4_rules_are_enforced() {
    let g = graph().await;
    let dup = g
        .call("POST", LEE, Some(json!({"phoneNumber": "+1 2065550199", "phoneType": "mobile"})))
        .await;
    assert_eq!((dup.status, dup.code()), (StatusCode::BAD_REQUEST, "invalidRequest"));
    let alt = g
        .call(
            "POST",
            KIM,
            Some(json!({"phoneNumber": "+1 2065550199", "phoneType": "alternateMobile"})),
        )
        .await;
    assert!(alt.status == StatusCode::BAD_REQUEST && alt.message().contains("mobile"));
    let mobile_first = g.call("DELETE", &format!("{LEE}/{MOBILE}"), None).await;
    assert!(mobile_first.message().contains("alternateMobile"), "{:?}", mobile_first.body);
    let default = g.call("DELETE", &format!("{LEE}/{OFFICE}"), None).await;
    assert!(default.status == StatusCode::BAD_REQUEST && default.message().contains("default"));
    let type_change = g
        .call("PATCH", &format!("{LEE}/{OFFICE}"), Some(json!({"phoneType": "mobile"})))
        .await;
    assert_eq!(type_change.status, StatusCode::BAD_REQUEST);
    let read_only = g
        .call(
            "POST",
            KIM,
            Some(json!({"phoneNumber": "+1 2065550199", "phoneType": "mobile", "smsSignInState": "ready"})),
        )
        .await;
    assert_eq!(read_only.status, StatusCode::BAD_REQUEST);
    let missing = g.call("POST", KIM, Some(json!({"phoneType": "mobile"}))).await;
    assert_eq!((missing.status, missing.code()), (StatusCode::BAD_REQUEST, "BadRequest"));
    assert_eq!(g.phones("lee@contoso.com").len(), 3, "nothing changed");
    assert!(g.emu.changes().is_empty());
}

#[tokio::test]
async fn s1_6_unconfirmed_rule_errors_are_configurable() {
    let g = graph_with(Options {
        rule_error_status: 409,
        rule_error_code: "conflict".into(),
        ..Options::default()
    })
    .await;
    let dup = g
        .call("POST", LEE, Some(json!({"phoneNumber": "+1 2065550199", "phoneType": "mobile"})))
        .await;
    assert_eq!((dup.status, dup.code()), (StatusCode::CONFLICT, "conflict"));
}

#[tokio::test]
async fn s1_5_numbers_strict_lenient_and_echo_modes() {
    let g = graph().await;
    for bad in ["+12065555555", "2065555555", "+1 206-555-5555", "+1 2065555555X1"] {
        let r = g.call("POST", KIM, Some(json!({"phoneNumber": bad, "phoneType": "office"}))).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{bad} is rejected in strict mode");
    }
    let lenient = graph_with(Options {
        number_input: NumberInput::Lenient,
        number_echo: NumberEcho::Respaced,
        ..Options::default()
    })
    .await;
    let r = lenient
        .call("POST", KIM, Some(json!({"phoneNumber": "+12065555555", "phoneType": "office"})))
        .await;
    assert_eq!(r.status, StatusCode::CREATED);
    let compact = graph_with(Options {
        number_echo: NumberEcho::Compact,
        ..Options::default()
    })
    .await;
    compact
        .call("POST", KIM, Some(json!({"phoneNumber": "+1 2065555555x12", "phoneType": "office"})))
        .await;
    assert_eq!(
        compact.call("GET", &format!("{KIM}/{OFFICE}"), None).await.body["phoneNumber"],
        "+12065555555x12"
    );
    let respaced = graph_with(Options {
        number_echo: NumberEcho::Respaced,
        ..Options::default()
    })
    .await;
    respaced
        .call("POST", KIM, Some(json!({"phoneNumber": "+1 2065555555", "phoneType": "office"})))
        .await;
    assert_eq!(
        respaced.call("GET", KIM, None).await.body["value"][0]["phoneNumber"],
        "+1 206 555 5555"
    );
}

#[tokio::test]
async fn s1_1_sms_sign_in_actions_bare_and_qualified() {
    let g = graph().await;
    for (action, state) in [
        ("disableSmsSignIn", "notEnabled"),
        ("microsoft.graph.enableSmsSignIn", "ready"),
        ("microsoft.graph.disableSmsSignIn", "notEnabled"),
        ("enableSmsSignIn", "ready"),
    ] {
        let r = g.call("POST", &format!("{LEE}/{MOBILE}/{action}"), None).await;
        assert_eq!(r.status, StatusCode::NO_CONTENT, "{action}");
        assert_eq!(
            g.call("GET", &format!("{LEE}/{MOBILE}"), None).await.body["smsSignInState"],
            state,
            "{action}"
        );
    }
    assert_eq!(
        g.call("POST", &format!("{LEE}/{OFFICE}/enableSmsSignIn"), None).await.status,
        StatusCode::BAD_REQUEST,
        "only mobile"
    );
    // Uniqueness: kim takes lee's mobile number.
    g.call("POST", KIM, Some(json!({"phoneNumber": "+1 2065550100", "phoneType": "mobile"})))
        .await;
    assert_eq!(
        g.call("GET", &format!("{LEE}/{MOBILE}"), None).await.body["smsSignInState"],
        "phoneNumberNotUnique"
    );
    let r = g.call("POST", &format!("{KIM}/{MOBILE}/enableSmsSignIn"), None).await;
    assert!(r.status == StatusCode::BAD_REQUEST && r.message().contains("unique"));
    let policy = graph_with(Options {
        sms_sign_in_disabled: true,
        ..Options::default()
    })
    .await;
    assert_eq!(
        policy.call("GET", &format!("{LEE}/{MOBILE}"), None).await.body["smsSignInState"],
        "notAllowedByPolicy"
    );
}

#[tokio::test]
async fn s1_8_all_methods_are_polymorphic() {
    let g = graph().await;
    let r = g.call("GET", "/v1.0/users/lee@contoso.com/authentication/methods", None).await;
    let types = r.each("@odata.type");
    assert_eq!(
        types.iter().filter(|t| **t == "#microsoft.graph.phoneAuthenticationMethod").count(),
        3
    );
    assert!(types.contains(&"#microsoft.graph.passwordAuthenticationMethod"));
}

#[tokio::test]
async fn s1_9_users_by_id_upn_and_quoted_form() {
    let g = graph().await;
    for path in [
        "/v1.0/users/u-lee/authentication/phoneMethods",
        "/v1.0/users/LEE@contoso.com/authentication/phoneMethods",
        "/v1.0/users('lee@contoso.com')/authentication/phoneMethods",
        "/v1.0/users/lee%40contoso.com/authentication/phoneMethods",
    ] {
        let r = g.call("GET", path, None).await;
        assert_eq!(
            (r.status, r.body["value"].as_array().map(Vec::len)),
            (StatusCode::OK, Some(3)),
            "{path}"
        );
    }
    let guest = g
        .call(
            "GET",
            "/v1.0/users/ann_fabrikam.com%23EXT%23@contoso.com/authentication/phoneMethods",
            None,
        )
        .await;
    assert_eq!(guest.status, StatusCode::OK, "%23 decodes to #");
    assert_eq!(
        g.call("GET", "/v1.0/users/$admin@contoso.com/authentication/phoneMethods", None)
            .await
            .status,
        StatusCode::BAD_REQUEST
    );
    assert_eq!(
        g.call("GET", "/v1.0/users('$admin@contoso.com')/authentication/phoneMethods", None)
            .await
            .status,
        StatusCode::OK
    );
    let missing = g
        .call("GET", "/v1.0/users/nobody@contoso.com/authentication/phoneMethods", None)
        .await;
    assert_eq!(
        (missing.status, missing.code()),
        (StatusCode::NOT_FOUND, "Request_ResourceNotFound")
    );
    assert!(missing.message().contains("does not exist"));
}

#[tokio::test]
async fn s3_error_bodies_and_correlation_headers() {
    let g = graph().await;
    let r = g
        .call_with(
            "GET",
            "/v1.0/users/nobody/authentication/phoneMethods",
            None,
            &[("client-request-id", "abc-123")],
        )
        .await;
    let inner = &r.body["error"]["innerError"];
    assert_eq!(inner["client-request-id"], "abc-123");
    assert_eq!(r.header("client-request-id"), Some("abc-123"));
    let request_id = r.header("request-id").unwrap();
    assert_eq!(inner["request-id"], request_id);
    assert_eq!(inner["date"].as_str().unwrap().len(), 19, "yyyy-mm-ddThh:mm:ss");
    let ok = g.call("GET", LEE, None).await;
    assert!(ok.header("request-id").is_some());
    assert_eq!(
        ok.header("client-request-id"),
        ok.header("request-id"),
        "without the client's id, the request id stands in"
    );
    assert_eq!(ok.header("x-ms-resource-unit"), Some("1"));
}

#[tokio::test]
async fn s3_missing_bad_and_expired_tokens_get_401() {
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
async fn s5_client_secret_grant_and_its_errors() {
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
async fn s5_certificate_assertions_ps256_and_rs256() {
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
async fn s5_federated_assertions() {
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
async fn s4_2_resource_unit_bucket_throttles_with_graph_headers() {
    for (mode, check) in [
        (
            RetryAfterMode::Seconds,
            (|v: Option<&str>| v.is_some_and(|v| v.parse::<u64>().is_ok_and(|n| n >= 1))) as fn(Option<&str>) -> bool,
        ),
        (RetryAfterMode::Fractional, |v| {
            v.is_some_and(|v| v.contains('.') && v.parse::<f64>().is_ok())
        }),
        (RetryAfterMode::HttpDate, |v| {
            v.is_some_and(|v| httpdate::parse_http_date(v).is_ok())
        }),
        (RetryAfterMode::Absent, |v| v.is_none()),
    ] {
        let g = graph_with(Options {
            throttle_ru: Some(5),
            throttle_window: 10.0,
            retry_after: mode,
            ..Options::default()
        })
        .await;
        let mut statuses = Vec::new();
        let mut last = None;
        for _ in 0..6 {
            let r = g.call("GET", LEE, None).await;
            statuses.push(r.status.as_u16());
            last = Some(r);
        }
        assert_eq!(statuses, vec![200, 200, 200, 200, 200, 429], "{mode:?}");
        let r = last.unwrap();
        assert_eq!(r.code(), "TooManyRequests");
        assert_eq!(r.body["error"]["innerError"]["code"], "429");
        assert!(check(r.header("retry-after")), "{mode:?}: {:?}", r.header("retry-after"));
        assert!(
            r.header("x-ms-throttle-scope")
                .unwrap()
                .starts_with("Tenant_Application/ReadWrite/app-1/")
        );
        assert_eq!(r.header("x-ms-throttle-information"), Some("ResourceUnitLimitExceeded"));
        assert_eq!(r.header("x-ms-resource-unit"), Some("1"));
    }
}

#[tokio::test]
async fn s4_2_writes_have_their_own_budget_and_usage_warns_past_80_percent() {
    let g = graph_with(Options {
        throttle_writes: Some(2),
        throttle_ru: Some(100),
        ..Options::default()
    })
    .await;
    for n in ["+1 2065550191", "+1 2065550192"] {
        assert!(
            g.call("PATCH", &format!("{LEE}/{OFFICE}"), Some(json!({"phoneNumber": n})))
                .await
                .status
                .is_success()
        );
    }
    let r = g
        .call("PATCH", &format!("{LEE}/{OFFICE}"), Some(json!({"phoneNumber": "+1 2065550193"})))
        .await;
    assert_eq!(
        (r.status.as_u16(), r.header("x-ms-throttle-information")),
        (429, Some("WriteLimitExceeded"))
    );
    assert_eq!(
        g.phones("lee@contoso.com")[2].1,
        "+1 2065550192",
        "the throttled write was not applied"
    );
    let read = g.call("GET", LEE, None).await;
    assert_eq!(read.status, StatusCode::OK, "reads are not writes");
    assert!(
        read.header("x-ms-throttle-limit-percentage").is_some(),
        "more than 80% of the write budget is used"
    );
}

#[tokio::test]
async fn s4_3_injected_status_faults_carry_graph_codes() {
    let g = graph().await;
    for (status, code) in [
        (500, "generalException"),
        (502, "BadGateway"),
        (503, "serviceNotAvailable"),
        (504, "GatewayTimeout"),
        (507, "quotaLimitReached"),
        (429, "TooManyRequests"),
    ] {
        g.emu.inject([Fault::status(status).retry_after("2")]);
        let r = g.call("GET", LEE, None).await;
        assert_eq!((r.status.as_u16(), r.code()), (status, code));
        assert_eq!(r.header("retry-after"), Some("2"));
    }
}

#[tokio::test]
async fn s4_3_dropped_connections_slow_answers_and_applied_but_failed_writes() {
    let g = graph_with(Options {
        slow_ms: 400,
        ..Options::default()
    })
    .await;
    g.emu.inject([Fault::effect(Effect::Drop)]);
    assert!(
        g.try_call("GET", LEE, None, &[]).await.is_err(),
        "the connection is dropped with no answer"
    );

    g.emu.inject([Fault::effect(Effect::Slow)]);
    let impatient = reqwest::Client::builder().timeout(Duration::from_millis(150)).build().unwrap();
    let err = impatient
        .get(format!("{}{LEE}", g.emu.url()))
        .bearer_auth(&g.token)
        .send()
        .await
        .unwrap_err();
    assert!(err.is_timeout());

    g.emu.inject([Fault::effect(Effect::Applied(500)).only("POST")]);
    let r = g
        .call("POST", KIM, Some(json!({"phoneNumber": "+1 2065550150", "phoneType": "mobile"})))
        .await;
    assert_eq!(r.status.as_u16(), 500);
    assert_eq!(
        g.phones("kim@contoso.com"),
        vec![("mobile".into(), "+1 2065550150".into())],
        "applied anyway"
    );

    g.emu.inject([Fault::effect(Effect::AppliedDrop).only("PATCH")]);
    assert!(
        g.try_call(
            "PATCH",
            &format!("{KIM}/{MOBILE}"),
            Some(json!({"phoneNumber": "+1 2065550151"})),
            &[]
        )
        .await
        .is_err()
    );
    assert_eq!(
        g.phones("kim@contoso.com"),
        vec![("mobile".into(), "+1 2065550151".into())],
        "applied, then dropped"
    );
    let faults: Vec<Option<String>> = g.emu.requests().iter().map(|r| r.fault.clone()).collect();
    assert_eq!(faults.iter().flatten().count(), 4, "{faults:?}");
}

#[tokio::test]
async fn s4_3_random_faults_follow_rate_and_seed() {
    let count = |seed: u64| async move {
        let g = graph_with(Options {
            fault_rate: 0.3,
            faults: vec![FaultKind::E503],
            random_seed: seed,
            ..Options::default()
        })
        .await;
        let mut statuses = Vec::new();
        for _ in 0..200 {
            statuses.push(g.call("GET", LEE, None).await.status.as_u16());
        }
        statuses
    };
    let a = count(7).await;
    let failed = a.iter().filter(|s| **s == 503).count();
    assert!((35..=85).contains(&failed), "about 30% of 200: {failed}");
    assert_eq!(a, count(7).await, "same seed, same faults");
}

#[tokio::test]
async fn latency_is_added_to_every_request() {
    let g = graph_with(Options {
        latency_ms: 120,
        ..Options::default()
    })
    .await;
    let started = Instant::now();
    g.call("GET", LEE, None).await;
    assert!(started.elapsed() >= Duration::from_millis(120));
}

#[tokio::test]
async fn s4_5_batch_runs_chains_and_answers_each_item() {
    let g = graph().await;
    let kim = "/users/kim@contoso.com/authentication/phoneMethods";
    let requests = json!({"requests": [
        batch_item("1", "POST", kim, Some(json!({"phoneNumber": "+1 2065550160", "phoneType": "mobile"})), &[]),
        batch_item("2", "POST", kim, Some(json!({"phoneNumber": "+1 2065550161", "phoneType": "alternateMobile"})), &["1"]),
        // A failure, and a dependent of it.
        batch_item("3", "POST", kim, Some(json!({"phoneNumber": "+1 2065550162", "phoneType": "mobile"})), &["2"]),
        batch_item("4", "DELETE", &format!("{kim}/{ALT}"), None, &["3"]),
        batch_item("5", "GET", "/users/nobody/authentication/phoneMethods", None, &[]),
        batch_item("6", "GET", "/users/lee@contoso.com/authentication/phoneMethods", None, &[]),
        batch_item("7", "GET", "/v1.0/users/lee@contoso.com/authentication/phoneMethods", None, &[]),
    ]});
    let r = g.call("POST", "/v1.0/$batch", Some(requests)).await;
    assert_eq!(r.status, StatusCode::OK);
    let responses = r.body["responses"].as_array().unwrap();
    let by_id = |id: &str| response(&r.body, id);
    assert_eq!(by_id("1")["status"], 201);
    assert_eq!(by_id("1")["body"]["id"], MOBILE);
    assert_eq!(by_id("1")["headers"]["content-type"], "application/json");
    assert_eq!(by_id("2")["status"], 201);
    assert_eq!(by_id("3")["status"], 400);
    assert_eq!(by_id("4")["status"], 424, "dependents of a failure get 424");
    assert_eq!(by_id("5")["status"], 404);
    assert_eq!(by_id("6")["status"], 200);
    assert_eq!(by_id("7")["status"], 400, "batch URLs carry no version");
    let order: Vec<&str> = responses.iter().map(|x| x["id"].as_str().unwrap()).collect();
    assert_ne!(order, vec!["1", "2", "3", "4", "5", "6", "7"], "responses are not in request order");
    assert_eq!(
        g.phones("kim@contoso.com"),
        vec![
            ("alternateMobile".into(), "+1 2065550161".into()),
            ("mobile".into(), "+1 2065550160".into())
        ]
    );
    let items: Vec<_> = g.emu.requests().into_iter().filter(|r| r.batch_item.is_some()).collect();
    assert_eq!(items.len(), 7, "each item is journaled");
}

#[tokio::test]
async fn s4_5_malformed_batches_are_400() {
    let g = graph().await;
    let get = |id: &str| batch_item(id, "GET", "/users/lee@contoso.com/authentication/phoneMethods", None, &[]);
    let too_many: Vec<Value> = (0..21).map(|i| get(&i.to_string())).collect();
    assert_eq!(
        g.call("POST", "/v1.0/$batch", Some(json!({"requests": too_many}))).await.status,
        StatusCode::BAD_REQUEST
    );
    let twenty: Vec<Value> = (0..20).map(|i| get(&i.to_string())).collect();
    assert_eq!(
        g.call("POST", "/v1.0/$batch", Some(json!({"requests": twenty}))).await.status,
        StatusCode::OK
    );
    assert_eq!(
        g.call("POST", "/v1.0/$batch", Some(json!({"requests": [get("a"), get("A")]})))
            .await
            .status,
        StatusCode::BAD_REQUEST,
        "ids are not case-sensitive"
    );
    let no_type = json!({"requests": [{"id": "1", "method": "POST", "url": "/users/kim@contoso.com/authentication/phoneMethods", "body": {"phoneNumber": "+1 2065550160", "phoneType": "mobile"}}]});
    assert_eq!(
        g.call("POST", "/v1.0/$batch", Some(no_type)).await.status,
        StatusCode::BAD_REQUEST,
        "a body needs Content-Type"
    );
    let unknown_dep = json!({"requests": [batch_item("1", "GET", "/users/lee@contoso.com/authentication/phoneMethods", None, &["9"])]});
    assert_eq!(
        g.call("POST", "/v1.0/$batch", Some(unknown_dep)).await.status,
        StatusCode::BAD_REQUEST
    );
    assert_eq!(
        g.call("POST", "/v1.0/$batch", Some(json!({"nope": 1}))).await.status,
        StatusCode::BAD_REQUEST
    );
    let beta = g.call("POST", "/beta/$batch", Some(json!({"requests": [get("1")]}))).await;
    assert_eq!(
        (beta.status, beta.body["responses"][0]["status"].as_u64()),
        (StatusCode::OK, Some(200)),
        "beta batches serve beta paths"
    );
    assert!(
        g.emu.requests().iter().any(|r| r.path.starts_with("/beta/users/")),
        "items are journaled under the batch's version"
    );
}

#[tokio::test]
async fn s4_5_throttled_items_carry_their_own_retry_after() {
    let g = graph_with(Options {
        throttle_ru: Some(3),
        ..Options::default()
    })
    .await;
    let items: Vec<Value> = (0..5)
        .map(|i| {
            batch_item(
                &i.to_string(),
                "GET",
                "/users/lee@contoso.com/authentication/phoneMethods",
                None,
                &[],
            )
        })
        .collect();
    let r = g.call("POST", "/v1.0/$batch", Some(json!({"requests": items}))).await;
    assert_eq!(r.status, StatusCode::OK);
    let responses = r.body["responses"].as_array().unwrap();
    let throttled: Vec<&Value> = responses.iter().filter(|x| x["status"] == 429).collect();
    assert_eq!(throttled.len(), 2);
    for t in throttled {
        assert!(t["headers"]["retry-after"].as_str().is_some(), "{t}");
        assert_eq!(t["body"]["error"]["code"], "TooManyRequests");
    }
}

#[tokio::test]
async fn journal_records_requests_and_changes_and_can_be_written_as_json_lines() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("journal.jsonl");
    let g = graph_with(Options {
        journal: Some(file.clone()),
        ..Options::default()
    })
    .await;
    g.call("POST", KIM, Some(json!({"phoneNumber": "+1 2065550170", "phoneType": "mobile"})))
        .await;
    g.call("GET", KIM, None).await;
    let entries = g.emu.journal();
    assert!(
        matches!(&entries[0].event, Event::Change(c) if c.change.op == "add" && c.change.methods_before == 0 && c.change.methods_after == 1)
    );
    assert!(matches!(&entries[1].event, Event::Request(r) if r.method == "POST" && r.status == 201));
    let lines: Vec<Value> = std::fs::read_to_string(&file)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 3);
    assert_eq!(lines[0]["kind"], "change");
    assert_eq!(lines[2]["kind"], "request");
    let over_http = g.emulator_json("journal").await;
    assert_eq!(over_http.as_array().unwrap().len(), 3);
    let state = g.emulator_json("state").await;
    assert_eq!(state["users"][0]["phoneMethods"][0]["phoneNumber"], "+1 2065550170");
}

#[tokio::test]
async fn s1_9_get_user_by_id_or_upn_with_select_single_and_batched() {
    let g = graph().await;
    for path in [
        "/v1.0/users/u-lee",
        "/v1.0/users/U-LEE",
        "/v1.0/users/LEE@contoso.com",
        "/v1.0/users/lee%40contoso.com",
        "/v1.0/users('lee@contoso.com')",
    ] {
        let r = g.call("GET", path, None).await;
        assert_eq!(r.status, StatusCode::OK, "{path}");
        assert_eq!(
            (r.body["id"].as_str(), r.body["userPrincipalName"].as_str()),
            (Some("u-lee"), Some("lee@contoso.com"))
        );
        assert_eq!(r.body["@odata.context"], "https://graph.microsoft.com/v1.0/$metadata#users/$entity");
    }
    let selected = g
        .call("GET", "/v1.0/users/lee@contoso.com?$select=id,userPrincipalName", None)
        .await;
    assert_eq!(
        selected.body,
        json!({"@odata.context": "https://graph.microsoft.com/v1.0/$metadata#users(id,userPrincipalName)/$entity",
               "id": "u-lee", "userPrincipalName": "lee@contoso.com"})
    );
    let only_id = g.call("GET", "/v1.0/users/u-lee?%24select=id", None).await;
    assert_eq!(
        (only_id.body["id"].as_str(), only_id.body.get("userPrincipalName")),
        (Some("u-lee"), None)
    );
    let unknown_property = g.call("GET", "/v1.0/users/u-lee?$select=id,shoeSize", None).await;
    assert_eq!(unknown_property.status, StatusCode::BAD_REQUEST);
    assert!(unknown_property.message().contains("shoeSize"));
    let missing = g.call("GET", "/v1.0/users/nobody@contoso.com?$select=id", None).await;
    assert_eq!(
        (missing.status, missing.code()),
        (StatusCode::NOT_FOUND, "Request_ResourceNotFound")
    );
    assert_eq!(
        g.call("DELETE", "/v1.0/users/u-lee", None).await.status,
        StatusCode::METHOD_NOT_ALLOWED
    );

    let requests = json!({"requests": [
        batch_item("1", "GET", "/users/KIM@contoso.com?$select=id,userPrincipalName", None, &[]),
        batch_item("2", "GET", "/users('lee@contoso.com')", None, &[]),
        batch_item("3", "GET", "/users/nobody?$select=id", None, &[]),
    ]});
    let r = g.call("POST", "/v1.0/$batch", Some(requests)).await;
    let by_id = |id: &str| response(&r.body, id);
    assert_eq!(
        (by_id("1")["status"].as_u64(), by_id("1")["body"]["id"].as_str()),
        (Some(200), Some("u-kim"))
    );
    assert_eq!(
        by_id("1")["body"]["@odata.context"],
        "https://graph.microsoft.com/v1.0/$metadata#users(id,userPrincipalName)/$entity",
        "the item's query string is honoured"
    );
    assert_eq!(by_id("2")["body"]["userPrincipalName"], "lee@contoso.com");
    assert_eq!(
        (by_id("3")["status"].as_u64(), by_id("3")["body"]["error"]["code"].as_str()),
        (Some(404), Some("Request_ResourceNotFound"))
    );
}

#[tokio::test]
async fn s1_4_beta_sign_in_preferences_name_the_default_method() {
    let g = graph().await;
    for (user, preferred) in [
        ("mo@contoso.com", "sms"),
        ("u-al", "voiceAlternateMobile"),
        ("lee@contoso.com", "voiceOffice"),
        ("kim@contoso.com", "push"),
    ] {
        let r = g
            .call("GET", &format!("/beta/users/{user}/authentication/signInPreferences"), None)
            .await;
        assert_eq!(r.status, StatusCode::OK, "{user}");
        assert_eq!(r.body["@odata.type"], "#microsoft.graph.signInPreferences");
        assert_eq!(r.body["isSystemPreferredAuthenticationMethodEnabled"], false);
        assert_eq!(r.body["userPreferredMethodForSecondaryAuthentication"], preferred, "{user}");
    }
    let v1 = g.call("GET", "/v1.0/users/u-lee/authentication/signInPreferences", None).await;
    assert_eq!(v1.status, StatusCode::BAD_REQUEST, "beta only");
    let missing = g.call("GET", "/beta/users/nobody/authentication/signInPreferences", None).await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
    let batch = json!({"requests": [batch_item("1", "GET", "/users/u-mo/authentication/signInPreferences", None, &[])]});
    let r = g.call("POST", "/beta/$batch", Some(batch)).await;
    assert_eq!(
        r.body["responses"][0]["body"]["userPreferredMethodForSecondaryAuthentication"],
        "sms"
    );

    let forbidden = graph_with(Options {
        sign_in_preferences_forbidden: true,
        ..Options::default()
    })
    .await;
    let r = forbidden
        .call("GET", "/beta/users/u-lee/authentication/signInPreferences", None)
        .await;
    assert_eq!((r.status, r.code()), (StatusCode::FORBIDDEN, "Authorization_RequestDenied"));
    assert_eq!(r.message(), "Insufficient privileges to complete the operation.");
    let batch = json!({"requests": [batch_item("1", "GET", "/users/u-lee/authentication/signInPreferences", None, &[])]});
    let r = forbidden.call("POST", "/beta/$batch", Some(batch)).await;
    assert_eq!(r.body["responses"][0]["status"], 403);
    assert_eq!(
        forbidden.call("GET", LEE, None).await.status,
        StatusCode::OK,
        "phone methods still readable"
    );
}

#[tokio::test]
async fn s4_3_faults_over_http_aim_at_method_path_and_times() {
    let g = graph().await;
    let (status, body) = g.faults("POST", "[{\"status\": 503").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(body["error"].as_str().unwrap().contains("not JSON"), "{body}");
    let (status, body) = g.faults("POST", r#"[{"method": "GET", "status": 503, "retry_after": "1"}]"#).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(
        body["error"].as_str().unwrap().contains("retry_after"),
        "names the bad field: {body}"
    );

    let (status, queue) = g
        .faults(
            "POST",
            r#"[{"method": "DELETE", "path": "/authentication/phoneMethods/e37fc753", "status": 403,
                 "code": "Authorization_RequestDenied", "message": "Not this one.", "times": 2},
                {"method": "POST", "effect": "applied", "status": 500}]"#,
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        queue,
        json!([{"method": "DELETE", "path": "/authentication/phoneMethods/e37fc753", "effect": "status", "status": 403,
                "code": "Authorization_RequestDenied", "message": "Not this one.", "times": 2},
               {"method": "POST", "effect": "applied", "status": 500, "times": 1}])
    );
    assert_eq!(
        g.call("GET", &format!("{LEE}/{OFFICE}"), None).await.status,
        StatusCode::OK,
        "not a DELETE"
    );
    for _ in 0..2 {
        let r = g.call("DELETE", &format!("{LEE}/{OFFICE}"), None).await;
        assert_eq!((r.status, r.code()), (StatusCode::FORBIDDEN, "Authorization_RequestDenied"));
        assert_eq!(r.message(), "Not this one.");
    }
    let third = g.call("DELETE", &format!("{LEE}/{OFFICE}"), None).await;
    assert_eq!(
        (third.status, third.code()),
        (StatusCode::BAD_REQUEST, "invalidRequest"),
        "used up: the rule answers"
    );
    let applied = g
        .call("POST", KIM, Some(json!({"phoneNumber": "+1 2065550180", "phoneType": "mobile"})))
        .await;
    assert_eq!(applied.status.as_u16(), 500);
    assert_eq!(
        g.phones("kim@contoso.com"),
        vec![("mobile".into(), "+1 2065550180".into())],
        "applied, then 500"
    );
    assert_eq!(g.faults("GET", "").await.1, json!([]));

    // Aimed at one item of a batch by path; the envelope and the other item are untouched.
    g.faults(
        "POST",
        r#"[{"method": "GET", "path": "kim@contoso.com", "status": 403, "code": "Authorization_RequestDenied", "message": "No."}]"#,
    )
    .await;
    let requests = json!({"requests": [
        batch_item("lee", "GET", "/users/lee@contoso.com/authentication/phoneMethods", None, &[]),
        batch_item("kim", "GET", "/users/kim%40contoso.com/authentication/phoneMethods", None, &[]),
    ]});
    let r = g.call("POST", "/v1.0/$batch", Some(requests.clone())).await;
    let status_of = |id: &str| response(&r.body, id)["status"].as_u64();
    assert_eq!(
        (r.status, status_of("lee"), status_of("kim")),
        (StatusCode::OK, Some(200), Some(403))
    );

    g.faults(
        "POST",
        r#"[{"method": "$batch", "status": 503, "retryAfter": 0.25}, {"method": "GET", "effect": "drop"}]"#,
    )
    .await;
    let envelope = g.call("POST", "/v1.0/$batch", Some(requests)).await;
    assert_eq!((envelope.status.as_u16(), envelope.header("retry-after")), (503, Some("0.25")));
    assert!(g.try_call("GET", LEE, None, &[]).await.is_err(), "dropped");

    g.faults("POST", r#"[{"status": 500, "times": 5}]"#).await;
    let (status, _) = g.faults("DELETE", "").await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert!(g.emu.pending_faults().is_empty());
    assert_eq!(g.call("GET", LEE, None).await.status, StatusCode::OK, "cleared");
}

#[tokio::test]
async fn s4_3_fault_builder_aims_by_path_skip_times_and_code() {
    let g = graph().await;
    g.emu.inject([Fault::status(403)
        .only("PATCH")
        .path(MOBILE)
        .skip(1)
        .times(2)
        .code("Authorization_RequestDenied", "Denied.")
        .retry_after("Wed, 21 Oct 2026 07:28:00 GMT")]);
    let path = format!("{LEE}/{MOBILE}");
    let patch = || g.call("PATCH", &path, Some(json!({"phoneNumber": "+1 2065550102"})));
    assert_eq!(patch().await.status, StatusCode::NO_CONTENT, "skipped");
    for _ in 0..2 {
        let r = patch().await;
        assert_eq!((r.status, r.code()), (StatusCode::FORBIDDEN, "Authorization_RequestDenied"));
        assert_eq!(r.header("retry-after"), Some("Wed, 21 Oct 2026 07:28:00 GMT"));
    }
    assert_eq!(patch().await.status, StatusCode::NO_CONTENT);
}

#[tokio::test]
async fn s5_token_endpoint_faults() {
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

#[tokio::test]
async fn s4_5_batch_items_have_their_own_request_id_and_client_request_id() {
    let g = graph().await;
    let own = with_headers(
        batch_item("own", "GET", "/users/lee@contoso.com/authentication/phoneMethods", None, &[]),
        &[("Client-Request-Id", "item-crid")],
    );
    let inherited = batch_item("inherited", "GET", "/users/kim@contoso.com/authentication/phoneMethods", None, &[]);
    let r = g
        .call_with(
            "POST",
            "/v1.0/$batch",
            Some(json!({"requests": [own, inherited]})),
            &[("client-request-id", "envelope-crid")],
        )
        .await;
    let request_id = |id: &str| response(&r.body, id)["headers"]["request-id"].as_str().unwrap().to_string();
    let (own_id, inherited_id) = (request_id("own"), request_id("inherited"));
    assert_ne!(own_id, inherited_id);
    assert_ne!(Some(own_id.as_str()), r.header("request-id"), "not the envelope's");
    let items = g.emu.requests();
    let record = |rid: &str| items.iter().find(|x| x.request_id == rid).expect("journaled under its request-id");
    assert_eq!(record(&own_id).client_request_id.as_deref(), Some("item-crid"));
    assert_eq!(record(&inherited_id).client_request_id.as_deref(), Some("envelope-crid"));
}

#[tokio::test]
async fn journal_records_op_tags_and_the_checker_reads_it_over_http() {
    let g = graph().await;
    // kim: add a mobile (op-1), then an alternate that depends on it (op-2) in a batch.
    let add_mobile = json!({"phoneNumber": "+1 2065550190", "phoneType": "mobile"});
    let r = g
        .call_with(
            "POST",
            KIM,
            Some(add_mobile),
            &[("client-request-id", "op-1"), ("x-phonesync-after", "")],
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED);
    let kim = "/users/kim@contoso.com/authentication/phoneMethods";
    let alt = with_headers(
        batch_item(
            "1",
            "POST",
            kim,
            Some(json!({"phoneNumber": "+1 2065550191", "phoneType": "alternateMobile"})),
            &[],
        ),
        &[("client-request-id", "op-2"), ("x-phonesync-after", "op-1")],
    );
    // lee: update the mobile (op-3), then delete the alternate after it (op-4).
    let update = with_headers(
        batch_item(
            "2",
            "PATCH",
            &format!("/users/u-lee/authentication/phoneMethods/{MOBILE}"),
            Some(json!({"phoneNumber": "+1 2065550192"})),
            &[],
        ),
        &[("client-request-id", "op-3")],
    );
    let r = g.call("POST", "/v1.0/$batch", Some(json!({"requests": [alt, update]}))).await;
    assert!(
        r.body["responses"]
            .as_array()
            .unwrap()
            .iter()
            .all(|x| x["status"].as_u64().unwrap() < 300),
        "{}",
        r.body
    );
    let r = g
        .call_with(
            "DELETE",
            &format!("{LEE}/{ALT}"),
            None,
            &[("client-request-id", "op-4"), ("x-phonesync-after", "op-3, op-2")],
        )
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);

    let requests = g.emu.requests();
    let after = |op: &str| {
        requests
            .iter()
            .find(|x| x.client_request_id.as_deref() == Some(op))
            .unwrap()
            .after
            .clone()
    };
    assert_eq!(after("op-1"), Vec::<String>::new(), "an empty header names no op");
    assert_eq!(after("op-2"), ["op-1"]);
    assert_eq!(after("op-4"), ["op-3", "op-2"]);
    let made_by: Vec<(String, Option<String>)> = g
        .emu
        .change_records()
        .into_iter()
        .map(|c| (format!("{} {} {}", c.change.user_id, c.change.op, c.change.phone_type), c.by))
        .collect();
    assert_eq!(
        made_by,
        [
            ("u-kim add mobile".to_string(), Some("op-1".to_string())),
            ("u-kim add alternateMobile".into(), Some("op-2".into())),
            ("u-lee update mobile".into(), Some("op-3".into())),
            ("u-lee delete alternateMobile".into(), Some("op-4".into())),
        ]
    );

    let journal = g.journal_over_http().await;
    assert_eq!(journal, g.emu.journal(), "the journal reads back from JSON");
    let plan = [
        ("op-1", "u-kim", "mobile", "add"),
        ("op-2", "u-kim", "alternateMobile", "add"),
        ("op-3", "u-lee", "mobile", "update"),
        ("op-4", "u-lee", "alternateMobile", "delete"),
    ]
    .map(|(op_id, user_id, phone_type, op)| PlannedWrite {
        op_id: op_id.into(),
        user_id: user_id.into(),
        phone_type: phone_type.into(),
        op: op.into(),
        resource: Default::default(),
    });
    assert_eq!(check(&journal, Some(&plan)), vec![]);

    // An add refused, then the delete that depends on it runs anyway.
    g.emu.inject([Fault::status(403).only("POST").path("lee@contoso.com")]);
    let refused = g
        .call_with(
            "POST",
            LEE,
            Some(json!({"phoneNumber": "+1 2065550193", "phoneType": "alternateMobile"})),
            &[("client-request-id", "op-5")],
        )
        .await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);
    g.call_with(
        "DELETE",
        &format!("{KIM}/{ALT}"),
        None,
        &[("client-request-id", "op-6"), ("x-phonesync-after", "op-5")],
    )
    .await;
    let violations = check(&g.journal_over_http().await, None);
    assert!(
        matches!(violations.as_slice(), [Violation::DependencyNotMet { at, missing }] if missing == "op-5" && at.op_id.as_deref() == Some("op-6")),
        "{violations:?}"
    );
}
