//! Input files as HR systems write them: wide exports in Windows-1252 with semicolons, numbers
//! accepted with a note (a fixed line offered as a mobile), a missing column refused as a whole,
//! and `validate`, which checks a file with no network and says by its exit code.

use crate::world::{World, csv_rows, pairs, phonesync, sample, summary, text};
use serde_json::json;
use std::process::ExitCode;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wide_windows_1252_export_with_semicolons_is_applied_as_configured() {
    let seed = json!({"users": [
        {"id": "id1", "userPrincipalName": "kim@contoso.com",
         "phoneMethods": [{"phoneType": "office", "phoneNumber": "+1 4255550100"}]},
        {"id": "id2", "userPrincipalName": "lee@contoso.com"},
    ]});
    let w = World::builder(seed)
        .wide("Work Email", &[("Mobile Phone", "mobile"), ("Office Phone", "office")])
        .build()
        .await;
    // As Excel saves "CSV" on a Western European Windows: Windows-1252, `;`, CRLF.
    let text = "Work Email;Mobile Phone;Office Phone;Name\r\n\
                kim@contoso.com;(206) 555-0100;425-555-0100;Müller\r\n\
                lee@contoso.com;;425 555 0199;Ødegård\r\n";
    let (bytes, _, unmappable) = encoding_rs::WINDOWS_1252.encode(text);
    assert!(!unmappable);
    let input = w.dir.path().join("wide.csv");
    std::fs::write(&input, &bytes).unwrap();
    let (code, dir) = w.run("apply", &input, "r").await;
    let s = summary(&dir);
    assert_eq!(code.unwrap(), ExitCode::SUCCESS, "{s}");
    assert_eq!(
        w.phones("kim@contoso.com"),
        pairs(&[("mobile", "+1 2065550100"), ("office", "+1 4255550100")])
    );
    assert_eq!(
        w.phones("lee@contoso.com"),
        pairs(&[("office", "+1 4255550199")]),
        "an empty cell adds nothing"
    );
    assert_eq!(s["inputFile"], json!({"encoding": "windows-1252", "delimiter": ";"}), "{s}");
    let md = std::fs::read_to_string(dir.join("plan.md")).unwrap();
    assert!(md.contains("read as windows-1252, columns separated by ;"), "{md}");
}

/// A number that can only be a fixed line, offered as a mobile: Graph takes it, so it is
/// applied, and plan.md notes that text messages will not reach it — masked unless --unmask,
/// like every number in the reports.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fixed_line_offered_as_mobile_is_applied_with_a_note_masked_unless_unmask() {
    let seed = json!({"users": [{"id": "id1", "userPrincipalName": "kim@contoso.com"}]});
    let w = World::new(seed).await;
    let csv = w.csv(
        "in.csv",
        "user,phoneType,phoneNumber\nkim@contoso.com,mobile,+49 30 1234567\nkim@contoso.com,office,+49 30 7654321\nkim@contoso.com,alternateMobile,12345\n",
    );
    let (code, dir) = w.run("plan", &csv, "plan").await;
    assert_eq!(code.unwrap(), ExitCode::from(1), "one row refused");
    let md = std::fs::read_to_string(dir.join("plan.md")).unwrap();
    let notes = md
        .split("## Accepted with a note")
        .nth(1)
        .unwrap_or_else(|| panic!("no notes section: {md}"));
    assert!(notes.contains("| 2 | phoneNumber | kim@contoso.com |"), "{notes}");
    // Markdown-escaped, as every cell of plan.md.
    assert!(
        notes.contains(r"'+49 301\*\*\*\*67' is a fixed-line number") && notes.contains("text messages"),
        "{notes}"
    );
    assert!(!notes.contains("| 3 |"), "an office number needs no note: {notes}");
    assert!(!notes.contains("1234567"), "masked in the note: {notes}");
    let rejected = md
        .split("## Rejected rows")
        .nth(1)
        .unwrap_or_else(|| panic!("no rejects section: {md}"));
    assert!(
        rejected.contains("'\\*\\*\\*45'") && !rejected.contains("12345"),
        "masked in the reason: {rejected}"
    );
    let rejects = csv_rows(&dir.join("rejects.csv"));
    assert_eq!(rejects[0]["phoneNumber"], "***45");
    assert_eq!(summary(&dir)["rows"], json!({"read": 3, "rejected": 1, "noted": 1}));

    let (code, dir) = w.run_with_args("apply", &csv, "apply", &["--unmask"]).await;
    assert_eq!(code.unwrap(), ExitCode::from(1));
    assert_eq!(
        w.phones("kim@contoso.com"),
        pairs(&[("mobile", "+49 301234567"), ("office", "+49 307654321")]),
        "the fixed line is applied as the mobile"
    );
    let md = std::fs::read_to_string(dir.join("plan.md")).unwrap();
    assert!(md.contains("'+49 301234567' is a fixed-line number"), "--unmask shows it: {md}");
    assert_eq!(csv_rows(&dir.join("rejects.csv"))[0]["phoneNumber"], "12345");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_column_stops_with_a_clear_message_and_writes_nothing() {
    let w = World::new(json!({"users": []})).await;
    let csv = w.csv("in.csv", "user,phone\na@contoso.com,2065550100\n");
    let (result, _) = w.run("apply", &csv, "r").await;
    let message = format!("{:#}", result.unwrap_err());
    assert!(
        message.contains("missing column 'phoneType'") && message.contains("in.csv"),
        "{message}"
    );
    assert!(w.calls().is_empty());
}

#[test]
fn validate_checks_a_file_with_no_network_and_says_by_exit_code() {
    let dir = tempfile::tempdir().unwrap();
    let hr_phones = sample("hr_phones.csv");
    // No config file here: the defaults apply (long format, sign-in phone types, US).
    let o = phonesync(dir.path(), &["validate", hr_phones.to_str().unwrap()]);
    let out = text(&o);
    assert_eq!(o.status.code(), Some(1), "{out}");
    assert!(
        out.contains("13 rows, 9 users, 2 refused (read as utf-8, columns separated by ,)"),
        "{out}"
    );
    assert!(out.contains("refused: line 8, phoneNumber: '***-01'"), "the value masked: {out}");
    assert!(out.contains("refused: line 9, phoneType: unknown phoneType 'pager'"), "{out}");
    assert!(out.contains("conflict: casey@contoso.com: lines 11 and 12"), "{out}");
    assert!(
        out.contains("kim@contoso.com: mobile +1 ") && !out.contains("2065555555"),
        "masked: {out}"
    );
    assert!(
        !dir.path().join("reports").exists() && !dir.path().join(".phonesync").exists(),
        "no run"
    );
    let o = phonesync(dir.path(), &["validate", "--unmask", hr_phones.to_str().unwrap()]);
    assert!(text(&o).contains("kim@contoso.com: mobile +1 2065555555"), "{}", text(&o));
    // The wide sample with its own config.
    let wide = sample("wide");
    let (config, file) = (wide.join("config.toml"), wide.join("hr_wide.csv"));
    let args = ["validate", "-c", config.to_str().unwrap(), file.to_str().unwrap()];
    let out = text(&phonesync(dir.path(), &args));
    assert!(
        out.contains("6 rows, 6 users, 1 refused") && out.contains("line 7, Mobile Phone"),
        "{out}"
    );
    // A user name with bidi controls (a right-to-left override that shows "moc.osotnoc@kim"
    // reversed) is previewed with them visible, as plan.md shows them; nothing raw reaches the
    // terminal.
    std::fs::write(
        dir.path().join("bidi.csv"),
        "user,phoneType,phoneNumber\nkim\u{202E}moc.liam@x.com,mobile,2065550100\nlee\u{2066}@x.com,pager,1\n",
    )
    .unwrap();
    let out = text(&phonesync(dir.path(), &["validate", "bidi.csv"]));
    assert!(out.contains("kim\\u{202E}moc.liam@x.com: mobile"), "{out}");
    assert!(!out.contains('\u{202E}') && !out.contains('\u{2066}'), "{out}");
    // Every row usable: 0. Not a CSV at all: 2, naming what it is.
    std::fs::write(dir.path().join("ok.csv"), "user,phoneType,phoneNumber\nk@x.com,mobile,2065550100\n").unwrap();
    assert_eq!(phonesync(dir.path(), &["validate", "ok.csv"]).status.code(), Some(0));
    std::fs::write(dir.path().join("book.csv"), b"PK\x03\x04 k@x.com 2065550100").unwrap();
    let o = phonesync(dir.path(), &["validate", "book.csv"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(text(&o).contains("ZIP") && !text(&o).contains("2065550100"), "{}", text(&o));
}
