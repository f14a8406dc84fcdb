//! Property runs over the reader, the phone adapter and the planner: arbitrary bytes and
//! strings never panic and never abort a run. A file is either refused as a whole with a
//! message, or read into users and refused rows with every row accounted for; and what the
//! planner makes of any file keeps the safety rules. `cargo test` runs 256 cases per property; the
//! long run is `PROPTEST_CASES=100000 cargo test --release --test it input_properties::`.
//!
//! Failing cases proptest found are kept in `input_properties.proptest-regressions` beside this
//! file and replayed first: the default location would be `tests/proptest-regressions/`, since
//! this binary has a `main.rs`, so [`config`] names the file.

use phonesync::config::{Config, Env, InputFormat, InputSettings};
use phonesync::input::{phone, reader};
use phonesync::model::{CurrentUser, OpKind};
use phonesync::targets;
use proptest::prelude::*;
use proptest::test_runner::FileFailurePersistence;

fn us() -> phone::Region {
    "US".parse().unwrap()
}

fn types() -> Vec<String> {
    ["mobile", "alternateMobile", "office"].map(String::from).to_vec()
}

fn settings(wide: bool, delimiter: Option<u8>) -> InputSettings {
    let mut s = InputSettings {
        delimiter,
        ..InputSettings::default()
    };
    if wide {
        s.format = InputFormat::Wide;
        s.columns = vec![("Mobile".into(), "mobile".into()), ("Office".into(), "office".into())];
    }
    s
}

/// Number cells: random number-like text (mostly invalid) or a valid number in one of the
/// spellings people use, so usable rows are common.
fn number() -> impl Strategy<Value = String> {
    prop_oneof![
        "[0-9 +()x-]{0,16}",
        prop::sample::select(vec![
            "206 555 0100",
            "(425) 555-0101 x12",
            "+44 20 7946 0958",
            "+49 171 1234567",
            "0049 30 1234567"
        ])
        .prop_map(String::from),
    ]
}

/// Reads `bytes` as a run does, with the sign-in phone types.
fn read(bytes: &[u8], settings: &InputSettings) -> Result<reader::Input, reader::ReadError> {
    let types = types();
    let spec = reader::Spec {
        region: us(),
        types: &types,
        texted: &types[..2],
        settings,
    };
    reader::read(std::io::Cursor::new(bytes), &spec, &|_| {})
}

/// The properties' config: `PROPTEST_CASES` and the rest as proptest reads them, and failures
/// persisted in `<this file>.proptest-regressions`.
fn config() -> ProptestConfig {
    ProptestConfig {
        failure_persistence: Some(Box::new(FileFailurePersistence::WithSource("proptest-regressions"))),
        ..ProptestConfig::default()
    }
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn the_phone_adapter_never_panics(raw in any::<String>(), vanity in any::<bool>()) {
        if let Ok(p) = phone::parse_with(&raw, us(), vanity) {
            prop_assert!(p.display.starts_with('+'), "{:?} gave {:?}", raw, p.display);
            prop_assert_eq!(phone::key(&p.display), p.key);
        }
    }

    #[test]
    fn number_like_text_is_a_number_in_graph_form_or_a_reason(
        raw in "[0-9+()\\-. x#;=extEXT\u{FF10}-\u{FF19}\u{00A0}\u{200F}]{0,40}"
    ) {
        match phone::parse(&raw, us()) {
            Ok(p) => prop_assert!(p.key.starts_with('+') && p.key.len() > 4, "{:?} gave {:?}", raw, p),
            Err(why) => prop_assert!(!why.is_empty()),
        }
    }

    #[test]
    fn the_reader_never_panics_on_any_bytes(
        bytes in prop::collection::vec(any::<u8>(), 0..3000),
        wide in any::<bool>(),
        delimiter in prop::sample::select(vec![None, Some(b','), Some(b';'), Some(b'\t')]),
    ) {
        match read(&bytes, &settings(wide, delimiter)) {
            Ok(input) => {
                // A long row is refused at most once; a wide row at most once per phone column.
                let per_row = if wide { 2 } else { 1 };
                prop_assert!(input.rejects.len() as u64 <= input.rows * per_row);
            }
            Err(e) => prop_assert!(!e.to_string().is_empty()),
        }
    }

    #[test]
    fn the_reader_never_panics_on_any_bytes_after_a_real_header(
        body in prop::collection::vec(any::<u8>(), 0..3000),
        wide in any::<bool>(),
    ) {
        let header: &[u8] = if wide { b"user,Mobile,Office\n" } else { b"user,phoneType,phoneNumber\n" };
        let bytes = [header, &body].concat();
        // The header is sound, so the file is read; every row is accounted for.
        match read(&bytes, &settings(wide, None)) {
            Ok(input) => {
                let per_row = if wide { 2 } else { 1 };
                prop_assert!(input.rejects.len() as u64 <= input.rows * per_row);
                prop_assert!(input.rejects.iter().all(|r| r.line >= 2), "no row is on the header's line");
            }
            // A body that is not text makes the whole file unusable, with a reason.
            Err(e) => prop_assert!(matches!(e, reader::ReadError::NotText(_)), "{}", e),
        }
    }

    #[test]
    fn every_row_of_a_well_formed_file_is_used_or_refused(
        rows in prop::collection::vec(
            ("[a-z]{0,6}(@x\\.com)?", "(mobile|Office|ALTERNATEmobile|pager|)", number(), any::<bool>(), 0..3usize),
            0..40,
        ),
        ending in prop::sample::select(vec!["\n", "\r\n", "\r"]),
        shape in 0..4usize,
    ) {
        // Fields quoted at random; a quoted user may hold a comma and a doubled quote (a user key
        // like any other) or a line break (refused): that record spans lines, and lines are still
        // counted as an editor shows them, whichever line ends the file uses, with or without a
        // byte-order mark, in UTF-16, or after Excel's `sep=,` line.
        let quote = |v: &str| format!("\"{}\"", v.replace('"', "\"\""));
        let sep = shape == 3;
        let mut csv = format!("{}user,phoneType,phoneNumber{ending}", if sep { format!("sep=,{ending}") } else { String::new() });
        let mut lines = Vec::new();
        let mut line = if sep { 3u64 } else { 2 };
        for (u, t, n, quoted, extra) in &rows {
            let user = match (quoted, extra) {
                (false, _) => u.clone(),
                (true, 0) => quote(u),
                (true, 1) => quote(&format!("{u},\"x\"")),
                (true, _) => quote(&format!("x{ending}y{u}")),
            };
            lines.push(line);
            line += 1 + u64::from(*quoted && *extra == 2);
            csv.push_str(&format!("{user},{},{n}{ending}", if *quoted { quote(t) } else { t.clone() }));
        }
        let bytes = match shape {
            1 => [b"\xef\xbb\xbf".as_slice(), csv.as_bytes()].concat(),
            2 => [0xFF, 0xFE].into_iter().chain(csv.encode_utf16().flat_map(u16::to_le_bytes)).collect(),
            _ => csv.into_bytes(),
        };
        let input = read(&bytes, &InputSettings::default()).unwrap();
        // A blank row is no row, but still a line of the file.
        let blank = |(u, t, n, q, x): &(String, String, String, bool, usize)| {
            u.is_empty() && (!q || *x == 0) && t.is_empty() && n.trim().is_empty()
        };
        prop_assert_eq!(input.rows, rows.iter().filter(|r| !blank(r)).count() as u64);
        for ((u, t, n, quoted, extra), &line) in rows.iter().zip(&lines).filter(|(r, _)| !blank(r)) {
            let user = if *quoted && *extra == 1 { format!("{u},\"x\"") } else { u.clone() };
            // A line break in the user field is a control character: the row is refused.
            let line_break = *quoted && *extra == 2;
            let user_ok = !(user.is_empty() || line_break);
            let phone_type = types().into_iter().find(|k| k.eq_ignore_ascii_case(t));
            let parsed = phone::parse(n, us());
            let usable = user_ok && phone_type.is_some() && parsed.is_ok();
            let refused = input.rejects.iter().any(|r| r.line == line);
            prop_assert_eq!(usable, !refused, "line {}: {:?}", line, (u, t, n, quoted, extra));
            if let (true, Some(phone_type), Ok(parsed)) = (usable, phone_type, parsed) {
                // The phone is under its canonical type, from this row or an earlier one.
                let d = input.users.iter().find(|d| d.user.eq_ignore_ascii_case(&user));
                let wanted = d.and_then(|d| d.phones.get(phone_type.as_str()));
                prop_assert!(wanted.is_some(), "line {}: no {} phone for {:?}", line, phone_type, user);
                let wanted = wanted.unwrap();
                prop_assert!(wanted.line <= line, "line {}: kept line {}", line, wanted.line);
                if wanted.line == line {
                    prop_assert_eq!(&wanted.phone.key, &parsed.key);
                }
            }
        }
    }

    /// Hostile number cells (the adapter's old "never panics" samples, and random strings of the
    /// characters that matter to a phone parser), each on its own user's row, with one good row
    /// among them: the file is read; every row is either used, under its user and type with a
    /// number in Graph form that parses back to itself, or refused with its line and a reason,
    /// never both; the counts add up; and the good row is used.
    #[test]
    fn hostile_numbers_are_each_used_or_refused_and_a_good_row_among_them_is_used(
        numbers in prop::collection::vec(
            prop_oneof![
                prop::sample::select(vec![
                    "+", "++1", "x", "ext.", "+1 \u{260E}", "+00000000000000000000", "#", ";ext=", "(((((",
                    "+\u{663}\u{664}\u{665}", "", "   ", "1-800-FLOWERS", "+1 555", "+999 1234567",
                ])
                .prop_map(String::from),
                "[+019 x\\-()#.;=]{0,20}",
            ],
            1..30,
        ),
        good_at in any::<prop::sample::Index>(),
    ) {
        const GOOD: &str = "206 555 0100";
        let good_at = good_at.index(numbers.len() + 1);
        let mut cells: Vec<&str> = numbers.iter().map(String::as_str).collect();
        cells.insert(good_at, GOOD);
        let mut csv = String::from("user,phoneType,phoneNumber\n");
        for (i, n) in cells.iter().enumerate() {
            csv.push_str(&format!("u{i}@x.com,mobile,\"{}\"\n", n.replace('"', "\"\"")));
        }
        let input = read(csv.as_bytes(), &InputSettings::default());
        prop_assert!(input.is_ok(), "the file is refused as a whole: {:?}", input.err().map(|e| e.to_string()));
        let input = input.unwrap();
        prop_assert_eq!(input.rows, cells.len() as u64, "every row counted");
        prop_assert_eq!(input.users.len(), cells.len(), "every row's user named, used or refused");
        let mut used = 0;
        for (i, n) in cells.iter().enumerate() {
            let line = i as u64 + 2;
            let user = format!("u{i}@x.com");
            let d = input.users.iter().find(|d| d.user == user);
            prop_assert!(d.is_some(), "line {}: no user {}", line, user);
            let d = d.unwrap();
            let kept = d.phones.get("mobile");
            let refusals: Vec<&reader::Reject> = input.rejects.iter().filter(|r| r.line == line).collect();
            match (kept, refusals.as_slice()) {
                (Some(kept), []) => {
                    used += 1;
                    prop_assert_eq!(kept.line, line);
                    prop_assert!(kept.phone.display.starts_with('+'), "line {}: {:?} kept as {:?}", line, n, kept.phone.display);
                    let again = phone::parse(&kept.phone.display, us());
                    prop_assert!(again.is_ok(), "line {}: the Graph form {:?} does not parse: {:?}", line, kept.phone.display, again);
                    prop_assert_eq!(&again.unwrap().key, &kept.phone.key, "line {}: {:?}", line, n);
                    prop_assert!(phone::parse(n, us()).is_ok(), "line {}: {:?} used, yet the adapter refuses it", line, n);
                }
                (None, [refusal]) => {
                    prop_assert!(!refusal.reason.trim().is_empty(), "line {}: refused without a reason", line);
                    prop_assert_eq!(&refusal.user, &user);
                    prop_assert_eq!(d.rejected.get("mobile"), Some(&line), "line {}: the refusal is on the user", line);
                    prop_assert!(phone::parse(n, us()).is_err(), "line {}: {:?} refused, yet the adapter takes it", line, n);
                }
                (kept, refusals) => prop_assert!(false, "line {}: {:?} kept as {:?} and refused as {:?}", line, n, kept.map(|k| &k.phone.display), refusals),
            }
        }
        prop_assert_eq!(used + input.rejects.len(), cells.len(), "used and refused rows add up");
        let good_user = format!("u{good_at}@x.com");
        let good = input.users.iter().find(|d| d.user == good_user).and_then(|d| d.phones.get("mobile"));
        prop_assert_eq!(good.map(|g| g.phone.key.clone()), Some(phone::parse(GOOD, us()).unwrap().key), "the good row is used");
    }

    /// A quote opened and never closed, on any rows of an otherwise sound file: exactly those
    /// lines are refused, each naming its user; every other row is read as if they were not
    /// there; users come in the order the file first names them.
    #[test]
    fn stray_quotes_refuse_their_line_and_nothing_else(
        rows in prop::collection::vec((0..6usize, prop::sample::select(vec!["mobile", "office", "alternateMobile"]), 0..3usize, any::<bool>(), any::<bool>()), 1..40),
    ) {
        const NUMBERS: [&str; 3] = ["206 555 0100", "+44 20 7946 0958", "(425) 555-0101 x12"];
        let mut csv = String::from("user,phoneType,phoneNumber\n");
        for (u, t, n, stray, quoted) in &rows {
            let t = if *quoted { format!("\"{t}\"") } else { t.to_string() };
            let n = if *stray { format!("\"{}", NUMBERS[*n]) } else { NUMBERS[*n].to_string() };
            csv.push_str(&format!("u{u}@x.com,{t},{n}\n"));
        }
        let input = read(csv.as_bytes(), &InputSettings::default()).unwrap();
        prop_assert_eq!(input.rows, rows.len() as u64);
        let stray_lines: Vec<u64> = rows.iter().enumerate().filter(|(_, r)| r.3).map(|(i, _)| i as u64 + 2).collect();
        let reject_lines: Vec<u64> = input.rejects.iter().map(|r| r.line).collect();
        prop_assert_eq!(&reject_lines, &stray_lines);
        for (r, (u, ..)) in input.rejects.iter().zip(rows.iter().filter(|r| r.3)) {
            prop_assert!(r.reason.contains("never closed"), "{:?}", r);
            prop_assert_eq!(&r.user, &format!("u{u}@x.com"));
        }
        for (i, (u, t, n, ..)) in rows.iter().enumerate().filter(|(_, r)| !r.3) {
            let d = input.users.iter().find(|d| d.user == format!("u{u}@x.com")).unwrap();
            let kept = &d.phones[*t];
            prop_assert!(kept.line <= i as u64 + 2);
            if kept.line == i as u64 + 2 {
                prop_assert_eq!(&kept.phone.key, &phone::parse(NUMBERS[*n], us()).unwrap().key);
            }
        }
        let mut order: Vec<String> = Vec::new();
        for (u, ..) in &rows {
            let name = format!("u{u}@x.com");
            if !order.contains(&name) {
                order.push(name);
            }
        }
        let users: Vec<&String> = input.users.iter().map(|d| &d.user).collect();
        prop_assert_eq!(users, order.iter().collect::<Vec<_>>());
    }

    /// Reader, phone adapter and the sign-in planner together, prune on, over any rows of four
    /// users (valid, invalid and empty numbers; known, unknown and empty types) and any phones
    /// they have: a type with a refused row is never touched and an unreadable type blocks every
    /// prune delete (both worked out from the rows written, not from what the reader says), a
    /// user whose rows contradict each other gets no ops, and no order of the planned ops leaves
    /// a user with fewer phones than both before and after.
    #[test]
    fn planning_from_any_file_keeps_the_safety_rules(
        rows in prop::collection::vec((0..4usize, "(mobile|office|alternateMobile|pager|)", 0..8usize), 0..24),
        current in prop::collection::vec(prop::collection::vec((0..3usize, 0..5usize), 0..3), 4),
    ) {
        const NUMBERS: [&str; 8] = ["206 555 0100", "+1 425 555 0101", "+49 171 1234567", "(206) 555-0102", "+44 20 7946 0958", "12345", "", "call me"];
        const TYPES: [&str; 3] = ["mobile", "alternateMobile", "office"];
        const IDS: [&str; 3] = ["3179e48a-750b-4051-897c-87b9720928f7", "b6332ec1-7057-4abe-9331-3d72feddfe41", "e37fc753-ff3b-4958-9484-eaa9425c82bc"];
        let mut csv = String::from("user,phoneType,phoneNumber\n");
        for (u, t, n) in &rows {
            csv.push_str(&format!("u{u}@x.com,{t},{}\n", NUMBERS[*n]));
        }
        let input = read(csv.as_bytes(), &InputSettings::default()).unwrap();
        let config = Config::parse("[plan]\nprune = true\n", std::path::Path::new("config.toml"), &Env::default()).unwrap();
        let targets = targets::build(&config, us()).unwrap();
        let auth = targets.iter().find(|t| t.name() == "auth").unwrap();
        // What the file says, from the rows themselves: (user, type) pairs refused for their
        // number, and users with a row of a type no target takes.
        let valid = |n: usize| phone::parse(NUMBERS[n], us()).is_ok();
        let refused: Vec<(usize, &str)> = rows.iter().filter(|(_, t, n)| TYPES.contains(&t.as_str()) && !valid(*n)).map(|(u, t, _)| (*u, t.as_str())).collect();
        let untyped: Vec<usize> = rows.iter().filter(|(_, t, _)| !TYPES.contains(&t.as_str())).map(|(u, _, _)| *u).collect();
        for desired in &input.users {
            let index: usize = desired.user[1..2].parse().unwrap();
            let mut have: Vec<(usize, usize)> = current[index].clone();
            have.sort();
            have.dedup_by_key(|(t, _)| *t);
            let body = serde_json::json!({"value": have.iter().map(|(t, n)| serde_json::json!({
                "id": IDS[*t], "phoneType": TYPES[*t], "phoneNumber": phone::parse(NUMBERS[*n], us()).unwrap().display,
            })).collect::<Vec<_>>()});
            let items = auth.parse(body).unwrap();
            let before = items.len();
            let user = CurrentUser { items, default_method: None, unfinished_moves: vec![] };
            let plan = targets::plan_user_or_skip(auth.as_ref(), desired, &Ok(user));
            if desired.conflict.is_some() {
                prop_assert!(plan.ops.is_empty(), "{}: conflicting rows, yet {:?}", desired.user, plan.ops);
            }
            for op in &plan.ops {
                prop_assert!(
                    !refused.contains(&(index, op.phone_type.as_str())),
                    "{}: {:?} touches a type whose row was refused", desired.user, op
                );
                prop_assert!(
                    !(untyped.contains(&index) && op.kind == OpKind::Delete && op.moves_to.is_none()),
                    "{}: {:?} prunes although a row's type could not be read", desired.user, op
                );
            }
            // Phones held at each step, the ops applied in their order.
            let mut held = before as i64;
            let mut lowest = held;
            for op in &plan.ops {
                held += match op.kind { OpKind::Add => 1, OpKind::Delete => -1, OpKind::Update => 0 };
                lowest = lowest.min(held);
            }
            prop_assert!(lowest >= (before as i64).min(held), "{}: {:?} dips to {} from {} to {}", desired.user, plan.ops, lowest, before, held);
        }
    }
}
