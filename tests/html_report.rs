//! report.html in a real browser: headless Chromium (Debian's `chromium`) loads the page of a
//! real run, runs its script without an error, and shows the figures of summary.json; text from
//! the input cannot become markup. The browser is required: without it this test fails and says
//! how to install it (`.ci/run` installs it).

mod common;

use common::{World, summary};
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
         `sudo apt-get install chromium` (Debian/Ubuntu), or set PHONESYNC_CHROMIUM to a Chromium or Chrome binary. \
         .ci/run installs it."
    );
}

/// Runs the browser headless on `page` with `args`; returns its stdout.
fn browse(page: &Path, args: &[&str]) -> String {
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
        .args(["--virtual-time-budget=5000", "--window-size=1200,1800"])
        .args(args)
        .arg(format!("file://{}", page.display()))
        .output()
        .expect("chromium runs");
    assert!(out.status.success(), "chromium failed: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).into_owned()
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
    assert!(!html.contains("2065550123"), "numbers masked");
    // Self-contained: nothing is loaded from anywhere (the page links and embeds nothing).
    for external in ["src=\"", "href=\"", "url(", "@import"] {
        assert!(!html.contains(external), "self-contained: {external}");
    }

    let dom = browse(&page, &["--dump-dom"]);
    assert!(dom.contains("data-ready=\"1\""), "the page's script ran to the end: {dom}");
    assert!(!dom.contains("data-errors"), "no script error: {dom}");
    assert!(!dom.contains("<img"), "no injected element in the DOM");
    assert!(dom.contains("&lt;img src=x onerror=alert(1)&gt;@contoso.com"), "shown as text");
    let s = summary(&dir);
    assert_eq!(card(&dom, "succeeded"), s["ops"]["byStatus"]["succeeded"].to_string());
    assert_eq!(card(&dom, "failed"), s["ops"]["byStatus"]["failed"].to_string());
    assert_eq!(card(&dom, "rejected"), s["rows"]["rejected"].to_string());
    assert_eq!(card(&dom, "throttled"), s["throttledRequests"].to_string());
    assert_eq!(card(&dom, "users"), s["targets"]["auth"]["users"]["read"].to_string());
    assert_eq!(card(&dom, "skippedUsers"), "1");
    assert!(dom.contains("<svg"), "charts drawn");

    let png = dir.join("report.png");
    browse(&page, &[&format!("--screenshot={}", png.display())]);
    let bytes = std::fs::read(&png).unwrap();
    assert!(
        bytes.starts_with(b"\x89PNG") && bytes.len() > 10_000,
        "a real screenshot: {} bytes",
        bytes.len()
    );
}
