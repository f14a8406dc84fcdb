//! Property runs over the reader and the phone adapter: arbitrary bytes and strings never panic
//! and never abort a run. A file is either refused as a whole with a message, or read into users
//! and refused rows with every row accounted for. `cargo test` runs 256 cases per property; the
//! long run is `PROPTEST_CASES=100000 cargo test --release --test input_properties`.

use phonesync::config::{InputFormat, InputSettings};
use phonesync::{phone, reader};
use proptest::prelude::*;

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

proptest! {
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
    fn every_row_of_a_well_formed_file_is_used_or_refused(
        rows in prop::collection::vec(("[a-z]{0,6}(@x\\.com)?", "(mobile|Office|pager|)", "[0-9 +()x-]{0,16}"), 0..40)
    ) {
        let mut csv = String::from("user,phoneType,phoneNumber\n");
        for (u, t, n) in &rows {
            csv.push_str(&format!("{u},{t},{n}\n"));
        }
        let input = read(csv.as_bytes(), &InputSettings::default()).unwrap();
        // A blank row is no row, but still a line of the file.
        let blank = |(u, t, n): &(String, String, String)| u.is_empty() && t.is_empty() && n.trim().is_empty();
        prop_assert_eq!(input.rows, rows.iter().filter(|r| !blank(r)).count() as u64);
        for (line, (u, t, n)) in rows.iter().enumerate().filter(|(_, r)| !blank(r)) {
            let usable = !u.is_empty()
                && types().iter().any(|k| k.eq_ignore_ascii_case(t))
                && phone::parse(n, us()).is_ok();
            let refused = input.rejects.iter().any(|r| r.line == line as u64 + 2);
            prop_assert_eq!(usable, !refused, "line {}: {:?}", line + 2, (u, t, n));
            if usable {
                prop_assert!(input.users.iter().any(|d| d.user.eq_ignore_ascii_case(u)));
            }
        }
    }
}
