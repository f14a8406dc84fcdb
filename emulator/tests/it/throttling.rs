//! Throttling over HTTP: the resource-unit bucket with Graph's headers in every `Retry-After`
//! style, and the separate write budget with its usage warning.

use crate::common::{LEE, OFFICE, graph_with};
use phonesync_emulator::Options;
use phonesync_emulator::options::RetryAfterMode;
use reqwest::StatusCode;
use serde_json::json;

#[tokio::test]
async fn resource_unit_bucket_throttles_with_graph_headers_in_every_retry_after_mode() {
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
async fn writes_have_their_own_budget_and_usage_warns_past_80_percent() {
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
