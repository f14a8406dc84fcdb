//! Profile phones (beta `itemPhone`, `/beta/users/{user}/profile/phones`) over HTTP: the
//! shapes and statuses of list, create, get, update and delete; the list's pages (`$top`,
//! `$skip`, `--profile-page-size` and `@odata.nextLink`); body validation; v1.0 refusing the
//! segment; the seed and state format; `--profile-app-only-forbidden`; `$batch`; throttling and
//! faults; and the journal the checker reads, with the profile phones' own floor and the item
//! a plan paired a write with.

use crate::common::{Graph, batch_item, form_post, response, token_form, try_start, with_headers};
use phonesync_emulator::check::{PlannedWrite, Violation, assert_safe, check};
use phonesync_emulator::{Effect, Fault, Options, Resource, Seed};
use reqwest::StatusCode;
use serde_json::{Value, json};
use std::time::Duration;

const KIM: &str = "/beta/users/kim@contoso.com/profile/phones";
const LEE_ITEM: &str = "5a4c1f3e-0000-4000-8000-00000000001e";

fn seed() -> Seed {
    serde_json::from_value(json!({"users": [
        {"id": "u-kim", "userPrincipalName": "kim@contoso.com"},
        {"id": "u-lee", "userPrincipalName": "lee@contoso.com",
         "phoneMethods": [{"phoneType": "mobile", "phoneNumber": "+1 2065550100"}],
         "profilePhones": [
            {"id": LEE_ITEM, "type": "business", "number": "+1 425 555 0100", "displayName": "Desk"},
            {"number": "ext. 42"}]}
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
    /// The same emulator and client with a delegated token for app-1, from the device-code grant
    /// (the emulator must auto-approve).
    async fn delegated(self) -> Graph {
        let base = self.emu.url();
        let (_, code) = form_post(
            &self.http,
            &format!("{base}/contoso/oauth2/v2.0/devicecode"),
            &[("client_id", "app-1")],
        )
        .await;
        let form = [
            ("grant_type", "urn:ietf:params:oauth:grant-type:device_code"),
            ("client_id", "app-1"),
            ("device_code", code["device_code"].as_str().expect("a device code")),
        ];
        let (status, body) = token_form(&self.http, &base, &form).await;
        assert_eq!(status, StatusCode::OK, "a delegated token: {body}");
        let token = body["access_token"].as_str().expect("an access token").to_string();
        Graph { token, ..self }
    }

    /// The profile phones of `upn` in the state, as (id, type, number).
    fn profile_of(&self, upn: &str) -> Vec<(Option<String>, Option<String>, String)> {
        self.emu
            .state()
            .users
            .into_iter()
            .find(|u| u.user_principal_name == upn)
            .unwrap()
            .profile_phones
            .into_iter()
            .map(|p| (p.id, p.phone_type, p.number))
            .collect()
    }
}

fn is_timestamp(v: &Value) -> bool {
    v.as_str()
        .is_some_and(|s| s.len() >= 20 && s.as_bytes()[4] == b'-' && s.as_bytes()[10] == b'T' && s.ends_with('Z'))
}

fn uuid_like(s: &str) -> bool {
    s.len() == 36 && s.chars().filter(|c| *c == '-').count() == 4
}

#[tokio::test]
async fn create_get_list_update_and_delete_answer_in_graphs_shapes() {
    let g = graph().await;
    let empty = g.call("GET", KIM, None).await;
    assert_eq!(empty.status, StatusCode::OK);
    assert_eq!(empty.body["value"], json!([]));
    assert_eq!(
        empty.body["@odata.context"],
        "https://graph.microsoft.com/beta/$metadata#users('kim%40contoso.com')/profile/phones"
    );

    let created = g
        .call("POST", KIM, Some(json!({"displayName": "Car Phone", "number": "+7 499 342 22 13"})))
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
    let b = &created.body;
    let id = b["id"].as_str().unwrap().to_string();
    assert!(uuid_like(&id), "{id}");
    assert_eq!(b["number"], "+7 499 342 22 13");
    assert_eq!(b["displayName"], "Car Phone");
    assert_eq!(b["type"], Value::Null);
    assert_eq!(b["allowedAudiences"], "organization");
    assert_eq!(b["isSearchable"], false);
    assert_eq!(b["inference"], Value::Null);
    assert_eq!(b["source"], json!({"type": ["User"]}));
    assert!(
        is_timestamp(&b["createdDateTime"]) && b["createdDateTime"] == b["lastModifiedDateTime"],
        "{b}"
    );
    assert_eq!(b["createdBy"], json!({"application": {"id": "app-1", "displayName": null}}));
    assert_eq!(b["lastModifiedBy"], b["createdBy"]);
    assert!(b["@odata.context"].as_str().unwrap().ends_with("/profile/phones/$entity"));

    // Same type and number again, by object id: allowed.
    let by_id = "/beta/users/u-kim/profile/phones";
    for _ in 0..2 {
        let again = g
            .call(
                "POST",
                by_id,
                Some(json!({"type": "business", "number": "+1 425 555 0199", "allowedAudiences": "me"})),
            )
            .await;
        assert_eq!(again.status, StatusCode::CREATED, "{}", again.body);
        assert_eq!(
            (again.body["type"].as_str(), again.body["allowedAudiences"].as_str()),
            (Some("business"), Some("me"))
        );
    }
    let list = g.call("GET", by_id, None).await;
    assert_eq!(
        list.each("number"),
        ["+7 499 342 22 13", "+1 425 555 0199", "+1 425 555 0199"],
        "in created order"
    );
    assert_ne!(list.body["value"][1]["id"], list.body["value"][2]["id"]);

    let item = format!("{KIM}/{id}");
    let got = g.call("GET", &item, None).await;
    assert_eq!(got.status, StatusCode::OK);
    assert_eq!(
        (got.body["id"].as_str(), got.body["number"].as_str()),
        (Some(id.as_str()), Some("+7 499 342 22 13"))
    );

    tokio::time::sleep(Duration::from_millis(5)).await;
    let patched = g.call("PATCH", &item, Some(json!({"type": "mobile", "displayName": null}))).await;
    assert_eq!(patched.status, StatusCode::OK, "{}", patched.body);
    let p = &patched.body;
    assert_eq!((p["id"].as_str(), p["type"].as_str()), (Some(id.as_str()), Some("mobile")));
    assert_eq!(p["displayName"], Value::Null);
    assert_eq!(p["number"], "+7 499 342 22 13", "untouched");
    assert_eq!(p["createdDateTime"], b["createdDateTime"]);
    assert!(p["lastModifiedDateTime"].as_str() > b["lastModifiedDateTime"].as_str(), "{p}");
    let number = g.call("PATCH", &item, Some(json!({"number": "+7 499 000 00 00"}))).await;
    assert_eq!((number.status, number.body["type"].as_str()), (StatusCode::OK, Some("mobile")));
    assert_eq!(g.call("GET", &item, None).await.body["number"], "+7 499 000 00 00");

    assert_eq!(
        g.call("PUT", &item, Some(json!({"number": "1"}))).await.status,
        StatusCode::METHOD_NOT_ALLOWED
    );

    let deleted = g.call("DELETE", &item, None).await;
    assert_eq!(deleted.status, StatusCode::NO_CONTENT);
    assert_eq!(deleted.body, Value::Null);
    for method in ["GET", "DELETE"] {
        let gone = g.call(method, &item, None).await;
        assert_eq!((gone.status, gone.code()), (StatusCode::NOT_FOUND, "itemNotFound"), "{method}");
    }
    let gone = g.call("PATCH", &item, Some(json!({"number": "+1 1"}))).await;
    assert_eq!((gone.status, gone.code()), (StatusCode::NOT_FOUND, "itemNotFound"));
    assert_eq!(g.profile_of("kim@contoso.com").len(), 2);

    let nobody = g.call("GET", "/beta/users/nobody@contoso.com/profile/phones", None).await;
    assert_eq!((nobody.status, nobody.code()), (StatusCode::NOT_FOUND, "Request_ResourceNotFound"));
    let unauthenticated = g.http.get(format!("{}{KIM}", g.emu.url())).send().await.unwrap();
    assert_eq!(unauthenticated.status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn bodies_with_unknown_read_only_or_mistyped_properties_are_refused() {
    let g = graph().await;
    let refused = [
        (
            json!({"type": "fax", "number": "+1 1"}),
            "BadRequest",
            "Requested value 'fax' was not found.",
        ),
        (
            json!({"type": "Business", "number": "+1 1"}),
            "BadRequest",
            "Requested value 'Business' was not found.",
        ),
        (json!({"displayName": "x"}), "invalidRequest", "number"),
        (json!({"number": ""}), "invalidRequest", "number"),
        (json!({"number": null}), "invalidRequest", "number"),
        (
            json!({"number": "+1 1", "phoneNumber": "+1 1"}),
            "BadRequest",
            "'phoneNumber' does not exist",
        ),
        (json!({"number": "+1 1", "id": "mine"}), "BadRequest", "read-only"),
        (
            json!({"number": "+1 1", "allowedAudiences": "world"}),
            "BadRequest",
            "Requested value 'world' was not found.",
        ),
    ];
    for (body, code, message) in refused {
        let r = g.call("POST", KIM, Some(body.clone())).await;
        assert_eq!((r.status, r.code()), (StatusCode::BAD_REQUEST, code), "{body}: {}", r.body);
        assert!(r.message().contains(message), "{body}: {}", r.body);
    }
    let lee_item = format!("/beta/users/lee@contoso.com/profile/phones/{LEE_ITEM}");
    for (body, code) in [(json!({"type": "car"}), "BadRequest"), (json!({"number": " "}), "invalidRequest")] {
        let r = g.call("PATCH", &lee_item, Some(body.clone())).await;
        assert_eq!((r.status, r.code()), (StatusCode::BAD_REQUEST, code), "{body}: {}", r.body);
    }
    assert!(g.profile_of("kim@contoso.com").is_empty());
    assert_eq!(g.profile_of("lee@contoso.com")[0].1.as_deref(), Some("business"));
    assert!(g.emu.changes().is_empty(), "no refused write is journaled");
    // Every enum value is accepted.
    for t in [
        "home",
        "business",
        "mobile",
        "other",
        "assistant",
        "homeFax",
        "businessFax",
        "otherFax",
        "pager",
        "radio",
    ] {
        let r = g.call("POST", KIM, Some(json!({"type": t, "number": "+1 1"}))).await;
        assert_eq!((r.status, r.body["type"].as_str()), (StatusCode::CREATED, Some(t)));
    }
}

#[tokio::test]
async fn v1_0_has_no_profile_segment() {
    let g = graph().await;
    for (method, body) in [("GET", None), ("POST", Some(json!({"number": "+1 1"})))] {
        let r = g.call(method, "/v1.0/users/kim@contoso.com/profile/phones", body).await;
        assert_eq!((r.status, r.code()), (StatusCode::BAD_REQUEST, "BadRequest"), "{method}");
        assert_eq!(r.message(), "Resource not found for the segment 'profile'.");
    }
    let item = g
        .call("GET", &format!("/v1.0/users/lee@contoso.com/profile/phones/{LEE_ITEM}"), None)
        .await;
    assert_eq!(item.status, StatusCode::BAD_REQUEST);
    assert!(g.emu.changes().is_empty());
    // The same on beta is served.
    assert_eq!(
        g.call("GET", &format!("/beta/users/lee@contoso.com/profile/phones/{LEE_ITEM}"), None)
            .await
            .status,
        StatusCode::OK
    );
}

#[tokio::test]
async fn seeded_profile_phones_keep_their_ids_through_the_state() {
    let g = graph().await;
    let lee = g.profile_of("lee@contoso.com");
    assert_eq!(lee.len(), 2);
    assert_eq!(
        lee[0],
        (Some(LEE_ITEM.to_string()), Some("business".into()), "+1 425 555 0100".into())
    );
    let generated = lee[1].0.clone().expect("an id was assigned");
    assert!(uuid_like(&generated), "{generated}");
    assert_eq!((lee[1].1.as_deref(), lee[1].2.as_str()), (None, "ext. 42"));

    let listed = g.call("GET", "/beta/users/lee@contoso.com/profile/phones", None).await.body;
    assert_eq!(listed["value"][0]["id"], LEE_ITEM);
    assert_eq!(listed["value"][0]["displayName"], "Desk");
    assert_eq!(listed["value"][1]["id"], generated.as_str());
    assert_eq!(
        listed["value"][0]["createdBy"],
        json!({"user": {"id": "u-lee", "displayName": null}})
    );

    // The state over HTTP and as a file: profilePhones only where there are some.
    let state = g.emulator_json("state").await;
    assert!(state["users"][0].get("profilePhones").is_none(), "{state}");
    assert_eq!(state["users"][1]["profilePhones"][0]["id"], LEE_ITEM);
    assert_eq!(state["users"][1]["profilePhones"][0]["type"], "business");
    assert_eq!(state["users"][1]["profilePhones"][1]["id"], generated.as_str());
    let reloaded: Seed = serde_json::from_value(state).unwrap();
    let again = Graph::start(&reloaded, Options::default()).await;
    assert_eq!(again.emu.state(), g.emu.state(), "a saved state loads back the same");
    let item = again
        .call("GET", &format!("/beta/users/u-lee/profile/phones/{generated}"), None)
        .await;
    assert_eq!(item.status, StatusCode::OK);

    let bad: Seed = serde_json::from_value(
        json!({"users": [{"id": "1", "userPrincipalName": "a@b", "profilePhones": [{"type": "car", "number": "1"}]}]}),
    )
    .unwrap();
    let e = try_start(&bad, Options::default()).await.err().expect("refused").to_string();
    assert!(e.contains("profilePhones[0]") && e.contains("unknown type 'car'"), "{e}");
    let duplicate: Seed = serde_json::from_value(
        json!({"users": [{"id": "1", "userPrincipalName": "a@b", "profilePhones": [{"id": "x", "number": "1"}, {"id": "X", "number": "2"}]}]}),
    )
    .unwrap();
    assert!(try_start(&duplicate, Options::default()).await.is_err());
    let unknown_field = serde_json::from_value::<Seed>(
        json!({"users": [{"id": "1", "userPrincipalName": "a@b", "profilePhones": [{"number": "1", "phoneNumber": "2"}]}]}),
    );
    assert!(unknown_field.is_err());
}

#[tokio::test]
async fn app_only_writes_are_refused_when_flagged() {
    let options = Options {
        profile_app_only_forbidden: true,
        device_code_auto_approve: true,
        ..Options::default()
    };
    let g = graph_with(options).await;
    let lee_item = format!("/beta/users/lee@contoso.com/profile/phones/{LEE_ITEM}");
    for (method, path, body) in [
        ("POST", KIM.to_string(), Some(json!({"number": "+1 1"}))),
        ("PATCH", lee_item.clone(), Some(json!({"number": "+1 1"}))),
        ("DELETE", lee_item.clone(), None),
    ] {
        let r = g.call(method, &path, body).await;
        assert_eq!(r.status, StatusCode::FORBIDDEN, "{method}");
        assert_eq!(r.code(), "Authorization_RequestDenied");
        assert_eq!(r.message(), "Insufficient privileges to complete the operation.");
    }
    assert!(g.emu.changes().is_empty());
    assert_eq!(g.call("GET", KIM, None).await.status, StatusCode::OK, "reads stay allowed");
    assert_eq!(g.call("GET", &lee_item, None).await.status, StatusCode::OK);
    // Phone methods are not affected.
    let pm = g
        .call(
            "POST",
            "/v1.0/users/kim@contoso.com/authentication/phoneMethods",
            Some(json!({"phoneNumber": "+1 2065550111", "phoneType": "mobile"})),
        )
        .await;
    assert_eq!(pm.status, StatusCode::CREATED);

    // A delegated token may write, and is named as a user.
    let delegated = g.delegated().await;
    let created = delegated.call("POST", KIM, Some(json!({"number": "+1 2"}))).await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
    assert!(created.body["createdBy"].get("user").is_some() && created.body["createdBy"].get("application").is_none());
    assert_eq!(delegated.call("DELETE", &lee_item, None).await.status, StatusCode::NO_CONTENT);
}

#[tokio::test]
async fn profile_items_ride_in_a_beta_batch() {
    let g = graph().await;
    let url = "/users/kim@contoso.com/profile/phones";
    let requests = json!({"requests": [
        with_headers(
            batch_item("1", "POST", url, Some(json!({"type": "business", "number": "+1 425 555 0101"})), &[]),
            &[("client-request-id", "op-1")],
        ),
        with_headers(
            batch_item("2", "POST", url, Some(json!({"type": "mobile", "number": "+1 206 555 0102", "displayName": "Work cell"})), &["1"]),
            &[("client-request-id", "op-2")],
        ),
        batch_item("3", "GET", url, None, &["2"]),
    ]});
    let r = g.call("POST", "/beta/$batch", Some(requests)).await;
    assert_eq!(r.status, StatusCode::OK);
    for id in ["1", "2"] {
        let item = response(&r.body, id);
        assert_eq!(item["status"], 201, "{item}");
        assert!(item["body"]["id"].as_str().is_some_and(uuid_like), "{item}");
    }
    assert_eq!(response(&r.body, "2")["body"]["displayName"], "Work cell");
    assert_eq!(response(&r.body, "3")["body"]["value"].as_array().unwrap().len(), 2);
    let state: Vec<_> = g.profile_of("kim@contoso.com").into_iter().map(|p| (p.1.unwrap(), p.2)).collect();
    assert_eq!(
        state,
        [
            ("business".into(), "+1 425 555 0101".into()),
            ("mobile".to_string(), "+1 206 555 0102".to_string())
        ]
    );
    let by: Vec<Option<String>> = g.emu.change_records().into_iter().map(|c| c.by).collect();
    assert_eq!(by, [Some("op-1".to_string()), Some("op-2".to_string())]);

    let v1 = json!({"requests": [batch_item("a", "POST", url, Some(json!({"number": "+1 1"})), &[])]});
    let r = g.call("POST", "/v1.0/$batch", Some(v1)).await;
    assert_eq!(r.status, StatusCode::OK);
    let item = response(&r.body, "a");
    assert_eq!(item["status"], 400);
    assert_eq!(item["body"]["error"]["message"], "Resource not found for the segment 'profile'.");
    assert_eq!(g.profile_of("kim@contoso.com").len(), 2);
}

#[tokio::test]
async fn profile_requests_are_throttled_and_faulted_like_phone_methods() {
    let g = graph_with(Options {
        throttle_ru: Some(2),
        throttle_window: 60.0,
        ..Options::default()
    })
    .await;
    let first = g.call("GET", KIM, None).await;
    assert_eq!(first.header("x-ms-resource-unit"), Some("1"));
    assert_eq!(
        g.call("POST", KIM, Some(json!({"number": "+1 1"}))).await.status,
        StatusCode::CREATED
    );
    let throttled = g.call("GET", KIM, None).await;
    assert_eq!(
        (throttled.status, throttled.code()),
        (StatusCode::TOO_MANY_REQUESTS, "TooManyRequests")
    );

    let g = graph().await;
    g.emu.inject([Fault::status(503).only("POST").path("/profile/phones")]);
    let r = g
        .call_with("POST", KIM, Some(json!({"number": "+1 1"})), &[("client-request-id", "op-1")])
        .await;
    assert_eq!(r.status, StatusCode::SERVICE_UNAVAILABLE);
    assert!(g.profile_of("kim@contoso.com").is_empty(), "a status fault is not applied");
    let requests = g.emu.requests();
    let last = requests.last().unwrap();
    assert_eq!((last.status, last.client_request_id.as_deref()), (503, Some("op-1")));
    assert!(last.fault.is_some());
}

/// Kim's business phone added (op a1), updated (u1, after a1) and deleted (d1, after u1); the
/// item's id.
async fn kims_add_update_delete(g: &Graph) -> String {
    let created = g
        .call_with(
            "POST",
            KIM,
            Some(json!({"type": "business", "number": "+1 1", "displayName": "Desk"})),
            &[("client-request-id", "a1")],
        )
        .await;
    let id = created.body["id"].as_str().unwrap().to_string();
    let item = format!("{KIM}/{id}");
    g.call_with(
        "PATCH",
        &item,
        Some(json!({"number": "+1 2"})),
        &[("client-request-id", "u1"), ("x-phonesync-after", "a1")],
    )
    .await;
    g.call_with("DELETE", &item, None, &[("client-request-id", "d1"), ("x-phonesync-after", "u1")])
        .await;
    id
}

#[tokio::test]
async fn profile_writes_are_journaled_with_their_item_and_op_id() {
    let g = graph().await;
    let id = kims_add_update_delete(&g).await;
    let records = g.emu.change_records();
    let seen: Vec<_> = records
        .iter()
        .map(|r| {
            let c = &r.change;
            (
                c.op,
                c.resource,
                c.phone_type,
                c.item_id.as_deref(),
                c.display_name.as_deref(),
                c.before.as_deref(),
                c.after.as_deref(),
                (c.methods_before, c.methods_after),
                r.by.as_deref(),
            )
        })
        .collect();
    let p = Resource::ProfilePhones;
    let i = Some(id.as_str());
    assert_eq!(
        seen,
        [
            ("add", p, "business", i, Some("Desk"), None, Some("+1 1"), (0, 1), Some("a1")),
            (
                "update",
                p,
                "business",
                i,
                Some("Desk"),
                Some("+1 1"),
                Some("+1 2"),
                (1, 1),
                Some("u1")
            ),
            ("delete", p, "business", i, None, Some("+1 2"), None, (1, 0), Some("d1")),
        ]
    );
    // The journal's JSON names the resource.
    let journal = g.emulator_json("journal").await;
    let change = journal.as_array().unwrap().iter().find(|e| e["kind"] == "change").unwrap();
    assert_eq!(
        (change["resource"].as_str(), change["itemId"].as_str()),
        (Some("profilePhones"), i),
        "{change}"
    );
    assert_eq!(change["displayName"], "Desk");
}

#[tokio::test]
async fn profile_writes_are_checked_for_op_tags_plan_and_items() {
    let g = graph().await;
    let id = kims_add_update_delete(&g).await;
    // Lee's business number moves to a new item, the add first and the delete after it.
    let lee = "/beta/users/lee@contoso.com/profile/phones";
    let a0 = g
        .call_with(
            "POST",
            lee,
            Some(json!({"type": "business", "number": "+1 425 555 0100"})),
            &[("client-request-id", "a0")],
        )
        .await;
    assert_eq!(a0.status, StatusCode::CREATED);
    let d0 = g
        .call_with(
            "DELETE",
            &format!("{lee}/{LEE_ITEM}"),
            None,
            &[("client-request-id", "d0"), ("x-phonesync-after", "a0")],
        )
        .await;
    assert_eq!(d0.status, StatusCode::NO_CONTENT);

    let entries = g.emu.journal();
    assert_safe(&entries, None);
    let planned = |op_id: &str, user_id: &str, op: &str, item: Option<&str>| PlannedWrite {
        op_id: op_id.into(),
        user_id: user_id.into(),
        phone_type: "business".into(),
        op: op.into(),
        resource: Resource::ProfilePhones,
        item_id: item.map(str::to_string),
    };
    // Updates and deletes paired with the items they were planned for.
    let plan = [
        planned("a1", "u-kim", "add", None),
        planned("u1", "u-kim", "update", Some(&id)),
        planned("d1", "u-kim", "delete", Some(&id)),
        planned("a0", "u-lee", "add", None),
        planned("d0", "u-lee", "delete", Some(LEE_ITEM)),
    ];
    assert_safe(&entries, Some(&plan));
    let as_methods: Vec<PlannedWrite> = plan
        .iter()
        .map(|p| PlannedWrite {
            resource: Resource::PhoneMethods,
            ..p.clone()
        })
        .collect();
    assert_eq!(check(&entries, Some(&as_methods)).len(), 5, "the plan's resource must match");

    // A write applied, answered 500, and retried under the same op id is a duplicate write.
    g.emu
        .inject([Fault::effect(Effect::Applied(500)).only("POST").path("/profile/phones")]);
    for _ in 0..2 {
        g.call_with("POST", KIM, Some(json!({"number": "+1 3"})), &[("client-request-id", "a2")])
            .await;
    }
    assert_eq!(g.profile_of("kim@contoso.com").len(), 2, "both applied");
    let v = check(&g.emu.journal(), None);
    assert_eq!(v.len(), 1, "{v:?}");
    assert!(
        matches!(&v[0], Violation::DuplicateWrite { at, earlier: Some(_) } if at.op_id.as_deref() == Some("a2") && at.resource == Resource::ProfilePhones),
        "{v:?}"
    );
    // A write that ran before the op it depends on had made its change.
    g.call_with(
        "POST",
        KIM,
        Some(json!({"number": "+1 4"})),
        &[("client-request-id", "a4"), ("x-phonesync-after", "never")],
    )
    .await;
    let v = check(&g.emu.journal(), None);
    assert!(
        v.iter()
            .any(|v| matches!(v, Violation::DependencyNotMet { at, missing } if missing == "never" && at.op_id.as_deref() == Some("a4"))),
        "{v:?}"
    );
}

/// Reads a list from `path` and every page its `@odata.nextLink`s lead to, each link on Graph's
/// host, read on the emulator; the items' numbers page by page, and the links followed.
async fn pages(g: &Graph, path: &str) -> (Vec<Vec<String>>, Vec<String>) {
    let (mut pages, mut links) = (Vec::new(), Vec::new());
    let mut next = Some(path.to_string());
    while let Some(path) = next.take() {
        let r = g.call("GET", &path, None).await;
        assert_eq!(r.status, StatusCode::OK, "{path}: {}", r.body);
        pages.push(r.each("number").into_iter().map(str::to_string).collect());
        if let Some(link) = r.body["@odata.nextLink"].as_str() {
            let rest = link.strip_prefix("https://graph.microsoft.com").expect("a link on Graph's host");
            links.push(link.to_string());
            next = Some(rest.to_string());
        }
        assert!(pages.len() <= 10, "the links go round: {links:?}");
    }
    (pages, links)
}

/// Kim with five profile phones, `+1 1` to `+1 5` in creation order, in an emulator with `options`.
async fn five_phones(options: Options) -> Graph {
    let g = graph_with(options).await;
    for n in 1..=5 {
        let r = g.call("POST", KIM, Some(json!({"number": format!("+1 {n}")}))).await;
        assert_eq!(r.status, StatusCode::CREATED);
    }
    g
}

#[tokio::test]
async fn with_a_page_size_the_list_pages_by_next_link_through_every_item_once_in_order() {
    let g = five_phones(Options {
        profile_page_size: Some(2),
        ..Options::default()
    })
    .await;
    let (read, links) = pages(&g, KIM).await;
    assert_eq!(read, [vec!["+1 1", "+1 2"], vec!["+1 3", "+1 4"], vec!["+1 5"]]);
    assert_eq!(
        links,
        [
            "https://graph.microsoft.com/beta/users/kim%40contoso.com/profile/phones?$skip=2",
            "https://graph.microsoft.com/beta/users/kim%40contoso.com/profile/phones?$skip=4"
        ],
        "absolute, on the user as addressed"
    );
    // Addressed by object id, the links are too; `$top` beats the page size; other options
    // ride along.
    let (read, links) = pages(&g, "/beta/users/u-kim/profile/phones?$select=number,type&$top=3").await;
    assert_eq!(read, [vec!["+1 1", "+1 2", "+1 3"], vec!["+1 4", "+1 5"]]);
    assert_eq!(
        links,
        ["https://graph.microsoft.com/beta/users/u-kim/profile/phones?$select=number,type&$top=3&$skip=3"]
    );
    // The other pages of the five, by `$skip`.
    assert_eq!(pages_of(&g, "?$skip=1").await, [vec!["+1 2", "+1 3"], vec!["+1 4", "+1 5"]]);
    assert_eq!(pages_of(&g, "?$skip=4").await, [vec!["+1 5"]]);
    assert_eq!(pages_of(&g, "?$skip=5").await, [Vec::<String>::new()]);
    assert_eq!(pages_of(&g, "?$top=5").await, [vec!["+1 1", "+1 2", "+1 3", "+1 4", "+1 5"]]);
}

/// The pages of kim's list with `query`.
async fn pages_of(g: &Graph, query: &str) -> Vec<Vec<String>> {
    pages(g, &format!("{KIM}{query}")).await.0
}

#[tokio::test]
async fn without_a_page_size_the_list_is_one_page_unless_top_or_skip_say_otherwise() {
    let g = five_phones(Options::default()).await;
    let all = g.call("GET", KIM, None).await;
    assert_eq!(all.each("number"), ["+1 1", "+1 2", "+1 3", "+1 4", "+1 5"]);
    assert!(all.body.get("@odata.nextLink").is_none(), "{}", all.body);
    assert_eq!(
        pages_of(&g, "?$top=2").await,
        [vec!["+1 1", "+1 2"], vec!["+1 3", "+1 4"], vec!["+1 5"]]
    );
    assert_eq!(pages_of(&g, "?$skip=3").await, [vec!["+1 4", "+1 5"]], "the rest, one page");
    assert_eq!(pages_of(&g, "?$SKIP=2&$Top=2").await, [vec!["+1 3", "+1 4"], vec!["+1 5"]]);
    for query in ["$top=0", "$top=1000", "$top=two", "$top=-1"] {
        let r = g.call("GET", &format!("{KIM}?{query}"), None).await;
        assert_eq!((r.status, r.code()), (StatusCode::BAD_REQUEST, "Request_BadRequest"), "{query}");
        assert!(r.message().contains("between 1 and 999"), "{query}: {}", r.message());
    }
    for query in ["$skip=-1", "$skip=x"] {
        let r = g.call("GET", &format!("{KIM}?{query}"), None).await;
        assert_eq!((r.status, r.code()), (StatusCode::BAD_REQUEST, "BadRequest"), "{query}");
    }
    assert_eq!(g.call("GET", &format!("{KIM}?$top=999"), None).await.each("number").len(), 5);
}

#[tokio::test]
async fn next_links_address_a_dollar_name_as_addressed_and_a_page_size_must_be_a_page() {
    let g = Graph::start(
        &crate::common::seed(),
        Options {
            profile_page_size: Some(1),
            ..Options::default()
        },
    )
    .await;
    let dollar = "/beta/users('$admin@contoso.com')/profile/phones";
    for n in ["+1 1", "+1 2"] {
        assert_eq!(g.call("POST", dollar, Some(json!({"number": n}))).await.status, StatusCode::CREATED);
    }
    let (read, links) = pages(&g, dollar).await;
    assert_eq!(read, [vec!["+1 1"], vec!["+1 2"]]);
    assert_eq!(
        links,
        ["https://graph.microsoft.com/beta/users('%24admin%40contoso.com')/profile/phones?$skip=1"]
    );
    for size in [0, 1000] {
        let e = try_start(
            &seed(),
            Options {
                profile_page_size: Some(size),
                ..Options::default()
            },
        )
        .await
        .err()
        .expect("refused")
        .to_string();
        assert!(e.contains("--profile-page-size") && e.contains("between 1 and 999"), "{e}");
    }
}

#[tokio::test]
async fn the_journal_check_holds_profile_phones_to_their_floor_and_to_the_planned_item() {
    let g = graph().await;
    let lee = "/beta/users/lee@contoso.com/profile/phones";
    // Lee's desk number moves to a new item the wrong way round: delete, then add. Lee's two
    // profile phones go down to one between.
    let d0 = g
        .call_with("DELETE", &format!("{lee}/{LEE_ITEM}"), None, &[("client-request-id", "d0")])
        .await;
    assert_eq!(d0.status, StatusCode::NO_CONTENT);
    let a0 = g
        .call_with(
            "POST",
            lee,
            Some(json!({"type": "business", "number": "+1 425 555 0100"})),
            &[("client-request-id", "a0")],
        )
        .await;
    assert_eq!(a0.status, StatusCode::CREATED);
    let entries = g.emu.journal();
    let v = check(&entries, None);
    assert!(
        matches!(&v[..], [Violation::BelowFloor { at, lowest: 1, before: 2, after: 2 }]
            if at.resource == Resource::ProfilePhones && at.op_id.as_deref() == Some("d0") && at.item_id.as_deref() == Some(LEE_ITEM)),
        "{v:?}"
    );
    assert!(v[0].to_string().contains("went down to 1 profile phones"), "{}", v[0]);

    // The delete was planned for the other item: outside the plan, naming both items.
    let other = g.profile_of("lee@contoso.com")[0].0.clone().unwrap();
    assert_ne!(other, LEE_ITEM);
    let plan = [PlannedWrite {
        op_id: "d0".into(),
        user_id: "u-lee".into(),
        phone_type: "business".into(),
        op: "delete".into(),
        resource: Resource::ProfilePhones,
        item_id: Some(other.clone()),
    }];
    let v = check(&entries, Some(&plan));
    let outside: Vec<String> = v
        .iter()
        .filter(|v| matches!(v, Violation::OutsidePlan { .. }))
        .map(Violation::to_string)
        .collect();
    assert_eq!(outside.len(), 2, "the delete of the wrong item, and the add the plan lacks: {v:?}");
    assert!(
        outside[0].contains(&format!(
            "on item {LEE_ITEM}, planned as delete profile phone business of user u-lee on item {other}"
        )),
        "{}",
        outside[0]
    );
}
