//! The shape of every Graph answer over HTTP: an error body with its `innerError`, and the
//! correlation and resource-unit headers on every answer (docs/graph.md#error-bodies).

use crate::common::{LEE, graph};

#[tokio::test]
async fn error_bodies_carry_inner_error_and_correlation_headers() {
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
