//! Users over HTTP: the ways a path names a user (object id, UPN in any case, percent-encoded,
//! `users('…')`, a `$` name), the 404 for an unknown user, and `GET /users/{user}` with
//! `$select`, alone and as `$batch` items.

use crate::common::{batch_item, graph, response};
use reqwest::StatusCode;
use serde_json::json;

#[tokio::test]
async fn users_are_addressed_by_id_upn_encoded_upn_or_quoted_form() {
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
async fn get_user_by_id_or_upn_honours_select_alone_and_in_a_batch() {
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

/// `GET /users?$filter=userPrincipalName in (…)` resolves up to 15 UPNs in one request (any case,
/// a guest's `#EXT#`, a `$` name), leaves out those the directory does not have, refuses a 16th
/// value as Graph does, and `id in (…)` matches object ids only.
#[tokio::test]
async fn users_are_resolved_in_bulk_by_filter_in() {
    let g = graph().await;
    let filter = |clause: &str| {
        format!(
            "/v1.0/users?$filter={}&$select=id,userPrincipalName",
            percent_encoding::utf8_percent_encode(clause, percent_encoding::NON_ALPHANUMERIC)
        )
    };
    let r = g
        .call(
            "GET",
            &filter(
                "userPrincipalName in ('LEE@contoso.com', 'ann_fabrikam.com#EXT#@contoso.com', '$admin@contoso.com', 'nobody@contoso.com')",
            ),
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let mut upns: Vec<&str> = r.body["value"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["userPrincipalName"].as_str().unwrap())
        .collect();
    upns.sort_unstable();
    assert_eq!(upns, ["$admin@contoso.com", "ann_fabrikam.com#EXT#@contoso.com", "lee@contoso.com"]);
    let by_id = g.call("GET", &filter("id in ('u-lee', 'lee@contoso.com')"), None).await;
    let ids: Vec<&str> = by_id.body["value"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["u-lee"], "a UPN is no object id");
    let sixteen: Vec<String> = (0..16).map(|i| format!("'u{i}@contoso.com'")).collect();
    let r = g
        .call("GET", &filter(&format!("userPrincipalName in ({})", sixteen.join(","))), None)
        .await;
    assert_eq!((r.status, r.code()), (StatusCode::BAD_REQUEST, "Request_UnsupportedQuery"));
    assert!(r.message().contains("Max allowed: 15"), "{}", r.message());
}
