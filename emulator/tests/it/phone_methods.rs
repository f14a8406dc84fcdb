//! Phone methods (sign-in phones) over HTTP: the documented examples, list, get and delete with
//! the fixed ids, the configurable create status and update body, Graph's rules and the
//! configurable rule errors, number formats and echo, the SMS sign-in actions,
//! `authentication/methods`, and beta `signInPreferences`.

use crate::common::{ALT, KIM, LEE, MOBILE, OFFICE, batch_item, graph, graph_with};
use phonesync_emulator::Options;
use phonesync_emulator::options::{NumberEcho, NumberInput};
use reqwest::StatusCode;
use serde_json::{Value, json};

#[tokio::test]
async fn create_answers_201_with_the_new_object_as_documented() {
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
async fn update_answers_204_without_a_body_as_documented() {
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
async fn create_status_and_update_body_are_configurable() {
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
async fn list_get_and_delete_use_the_fixed_method_ids() {
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
async fn graph_rules_refuse_writes_and_change_nothing() {
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
async fn rule_error_status_and_code_are_configurable() {
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
async fn numbers_are_accepted_strictly_or_leniently_and_echoed_as_configured() {
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
async fn sms_sign_in_actions_work_bare_and_qualified_and_need_a_unique_mobile() {
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
async fn all_methods_are_listed_each_with_its_odata_type() {
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
async fn beta_sign_in_preferences_name_the_default_method() {
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
