//! report.html in a real browser: headless Chromium (Debian's `chromium`) loads the page of a
//! real run, runs its script without an error, and shows the figures of summary.json; text from
//! the input cannot become markup. The browser is required: without it this test fails and says
//! how to install it (`.ci/run` installs it).

use crate::world::{World, summary};
use serde_json::json;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};

/// The browser: `PHONESYNC_CHROMIUM`, else Debian's `chromium` on the PATH.
fn chromium() -> PathBuf {
    if let Some(path) = std::env::var_os("PHONESYNC_CHROMIUM") {
        return PathBuf::from(path);
    }
    for dir in std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default()) {
        for name in ["chromium", "chromium-browser"] {
            let path = dir.join(name);
            if path.is_file() {
                return path;
            }
        }
    }
    panic!(
        "this test needs headless Chromium and found none on the PATH. Install it with \
         `sudo apt-get install chromium` (Debian; on Ubuntu that package is a snap stub: install Chrome or a Chromium build instead), \
         or set PHONESYNC_CHROMIUM to a Chromium or Chrome binary. \
         .ci/run installs it."
    );
}

/// Runs the browser headless on `page` with `args`; returns its stdout, after checking that the
/// page wrote nothing to the console.
fn browse(page: &Path, args: &[&str]) -> String {
    let (stdout, console) = browse_logged(page, args);
    assert!(console.is_empty(), "console output: {console:?}");
    stdout
}

/// Runs the browser headless on `page` with `args`; returns its stdout and the console lines
/// (messages and uncaught errors) it logged.
fn browse_logged(page: &Path, args: &[&str]) -> (String, Vec<String>) {
    let profile = tempfile::tempdir().unwrap();
    let out = Command::new(chromium())
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--no-first-run",
            "--disable-extensions",
        ])
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .args([
            "--virtual-time-budget=5000",
            "--window-size=1200,1800",
            "--enable-logging=stderr",
            "--v=0",
        ])
        .args(args)
        .arg(format!("file://{}", page.display()))
        .output()
        .unwrap_or_else(|e| {
            panic!(
                "cannot run {} ({e}): install chromium (`sudo apt-get install chromium` on Debian) or set PHONESYNC_CHROMIUM",
                chromium().display()
            )
        });
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "chromium failed: {stderr}");
    let console = stderr.lines().filter(|l| l.contains("CONSOLE")).map(str::to_string).collect();
    (String::from_utf8_lossy(&out.stdout).into_owned(), console)
}

/// The text of the card whose `data-key` is `key`, from the DOM Chromium dumped.
fn card(dom: &str, key: &str) -> String {
    let at = dom.find(&format!("data-key=\"{key}\"")).unwrap_or_else(|| panic!("no {key} card"));
    let value = &dom[at..];
    let start = value.find("<div class=\"value\">").unwrap() + "<div class=\"value\">".len();
    value[start..start + value[start..].find('<').unwrap()].to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_report_renders_in_chromium_with_the_summarys_figures_and_no_injected_markup() {
    let seed = json!({"users": [
        {"id": "id1", "userPrincipalName": "a@contoso.com", "phoneMethods": [{"phoneType": "office", "phoneNumber": "+1 4255550100"}]},
        {"id": "id2", "userPrincipalName": "b@contoso.com"},
    ]});
    let w = World::new(seed).await;
    let csv = w.csv(
        "in.csv",
        "user,phoneType,phoneNumber\na@contoso.com,mobile,+1 4255550100\nb@contoso.com,mobile,+1 2065550123\n\
         <img src=x onerror=alert(1)>@contoso.com,mobile,+1 2065550124\nb@contoso.com,office,12\n",
    );
    let (code, dir) = w.run("apply", &csv, "apply").await;
    assert_eq!(code.unwrap(), ExitCode::from(1), "a user not found and a refused row");
    let page = dir.join("report.html");
    let html = std::fs::read_to_string(&page).unwrap();
    assert!(!html.contains("<img src=x"), "the input's markup is escaped");
    // Self-contained: nothing is loaded from anywhere (the page links and embeds nothing).
    for external in ["src=\"", "href=\"", "url(", "@import"] {
        assert!(!html.contains(external), "self-contained: {external}");
    }

    // The harness sees console output: a page that writes some is caught.
    let noisy = dir.join("noisy.html");
    std::fs::write(&noisy, "<!doctype html><body><script>console.error('noise')</script></body>").unwrap();
    let (_, console) = browse_logged(&noisy, &["--dump-dom"]);
    assert!(console.iter().any(|l| l.contains("noise")), "{console:?}");

    let dom = browse(&page, &["--dump-dom"]);
    assert!(dom.contains("data-ready=\"1\""), "the page's script ran to the end: {dom}");
    assert!(!dom.contains("data-errors"), "no script error or console.error: {dom}");
    assert!(!dom.contains("<img"), "no injected element in the DOM");
    assert!(dom.contains("&lt;img src=x onerror=alert(1)&gt;@contoso.com"), "shown as text");
    // Every card against summary.json.
    let s = summary(&dir);
    let auth = &s["targets"]["auth"];
    for status in ["succeeded", "failed", "skipped", "blocked"] {
        assert_eq!(card(&dom, status), s["ops"]["byStatus"][status].to_string(), "{status}");
    }
    for kind in ["add", "update", "delete"] {
        assert_eq!(
            card(&dom, &format!("planned-auth-{kind}")),
            auth["ops"]["planned"][kind].to_string(),
            "{kind}"
        );
    }
    let skipped: u64 = auth["users"]["skipped"]
        .as_object()
        .unwrap()
        .values()
        .map(|v| v.as_u64().unwrap())
        .sum();
    assert_eq!((card(&dom, "skippedUsers"), skipped), ("1".to_string(), 1));
    assert_eq!(card(&dom, "stale"), "0");
    assert_eq!(card(&dom, "rejected"), s["rows"]["rejected"].to_string());
    assert_eq!(card(&dom, "throttled"), s["throttledRequests"].to_string());
    assert_eq!(card(&dom, "users"), auth["users"]["read"].to_string());
    assert_eq!(
        card(&dom, "duration"),
        format!("{:.1} s", s["durationMs"].as_f64().unwrap() / 1000.0)
    );
    assert!(dom.contains("aria-label=\"Ops by kind and status\"") && dom.contains("aria-label=\"Requests per second\""));
    assert!(
        dom.contains("user not_found") && dom.contains("line 5"),
        "the table lists the skip and the reject"
    );

    // A plan's page lists every planned op, numbers masked unless --unmask.
    let next = w.csv("next.csv", "user,phoneType,phoneNumber\nb@contoso.com,mobile,+1 2065550177\n");
    let (_, plan) = w.run("plan", &next, "plan").await;
    let dom = browse(&plan.join("report.html"), &["--dump-dom"]);
    assert!(dom.contains("data-ready=\"1\"") && !dom.contains("data-errors"));
    assert!(dom.contains("+1 206*****23 → +1 206*****77"), "the planned update, masked: {dom}");
    assert!(!dom.contains("2065550177") && !dom.contains("2065550123"));
    let (_, unmasked) = w.run_with_args("plan", &next, "unmasked", &["--unmask"]).await;
    let html = std::fs::read_to_string(unmasked.join("report.html")).unwrap();
    assert!(html.contains("+1 2065550123 → +1 2065550177"), "in full with --unmask");

    let png = dir.join("report.png");
    browse(&page, &[&format!("--screenshot={}", png.display())]);
    let bytes = std::fs::read(&png).unwrap();
    assert!(
        bytes.starts_with(b"\x89PNG") && bytes.len() > 10_000,
        "a real screenshot: {} bytes",
        bytes.len()
    );
}
