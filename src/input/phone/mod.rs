//! The only place that touches the `phonenumber` crate: turns the many ways HR systems write a
//! number into Graph's `+{cc} {national}[x{ext}]` form, decides validity, and derives the key
//! numbers are compared by. It also masks numbers for the console.
//!
//! `phonenumber` has panicked on malformed input in the past, so every call into it is fenced
//! with `catch_unwind`: a bad value becomes a rejected row, never a crashed run.

use crate::model::Phone;
use phonenumber::country;
use phonenumber::metadata::{DATABASE, Database};
use std::borrow::Cow;
use std::cell::OnceCell;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::str::FromStr;

/// libphonenumber's numbering plans (Apache-2.0), the very file the `phonenumber` crate in
/// Cargo.lock builds its own database from; a test checks that both read numbers alike.
const PLANS_XML: &str = include_str!("PhoneNumberMetadata.xml");

thread_local! {
    /// This thread's own copy of the numbering plans, once [`own_plans`] made one.
    static OWN: OnceCell<Option<Database>> = const { OnceCell::new() };
}

/// Gives the calling thread its own copy of the numbering plans (a few megabytes, parsed in
/// tens of milliseconds) for the rest of its life. `phonenumber` keeps one process-wide cache
/// of compiled patterns behind a lock held for every match, so threads sharing its database
/// take turns: two threads parse no faster than one. A thread with its own copy has its own
/// cache. For threads that parse many numbers (the reader's workers on a large file).
pub fn own_plans() {
    OWN.with(|own| {
        own.get_or_init(|| Database::parse(PLANS_XML).ok());
    });
}

/// Runs `f` with this thread's numbering plans: its own copy, else the shared one.
fn with_plans<R>(f: impl FnOnce(&Database) -> R) -> R {
    OWN.with(|own| match own.get() {
        Some(Some(db)) => f(db),
        _ => f(&DATABASE),
    })
}

/// A country whose numbering plan is used for numbers written without `+` or `00`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Region(country::Id);

impl FromStr for Region {
    type Err = String;

    /// Parses a two-letter ISO 3166 region code such as `US` or `de`.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let upper = s.trim().to_ascii_uppercase();
        country::Id::from_str(&upper)
            .map(Region)
            .map_err(|_| format!("'{s}' is not a two-letter region code such as US, GB or DE"))
    }
}

/// English country names HR systems write in a region column, with the ISO code each means.
/// Codes themselves (`GB`, `de`) are always taken.
const COUNTRY_NAMES: &[(&str, &str)] = &[
    ("united states", "US"),
    ("united states of america", "US"),
    ("usa", "US"),
    ("america", "US"),
    ("canada", "CA"),
    ("mexico", "MX"),
    ("brazil", "BR"),
    ("argentina", "AR"),
    ("chile", "CL"),
    ("colombia", "CO"),
    ("peru", "PE"),
    ("united kingdom", "GB"),
    ("uk", "GB"),
    ("great britain", "GB"),
    ("england", "GB"),
    ("scotland", "GB"),
    ("wales", "GB"),
    ("northern ireland", "GB"),
    ("ireland", "IE"),
    ("germany", "DE"),
    ("france", "FR"),
    ("spain", "ES"),
    ("portugal", "PT"),
    ("italy", "IT"),
    ("netherlands", "NL"),
    ("holland", "NL"),
    ("belgium", "BE"),
    ("luxembourg", "LU"),
    ("switzerland", "CH"),
    ("austria", "AT"),
    ("denmark", "DK"),
    ("norway", "NO"),
    ("sweden", "SE"),
    ("finland", "FI"),
    ("iceland", "IS"),
    ("poland", "PL"),
    ("czech republic", "CZ"),
    ("czechia", "CZ"),
    ("slovakia", "SK"),
    ("hungary", "HU"),
    ("romania", "RO"),
    ("bulgaria", "BG"),
    ("greece", "GR"),
    ("turkey", "TR"),
    ("türkiye", "TR"),
    ("ukraine", "UA"),
    ("russia", "RU"),
    ("israel", "IL"),
    ("united arab emirates", "AE"),
    ("uae", "AE"),
    ("saudi arabia", "SA"),
    ("qatar", "QA"),
    ("egypt", "EG"),
    ("south africa", "ZA"),
    ("nigeria", "NG"),
    ("kenya", "KE"),
    ("morocco", "MA"),
    ("india", "IN"),
    ("pakistan", "PK"),
    ("bangladesh", "BD"),
    ("sri lanka", "LK"),
    ("china", "CN"),
    ("hong kong", "HK"),
    ("taiwan", "TW"),
    ("japan", "JP"),
    ("south korea", "KR"),
    ("korea", "KR"),
    ("singapore", "SG"),
    ("malaysia", "MY"),
    ("indonesia", "ID"),
    ("thailand", "TH"),
    ("vietnam", "VN"),
    ("viet nam", "VN"),
    ("philippines", "PH"),
    ("australia", "AU"),
    ("new zealand", "NZ"),
    ("estonia", "EE"),
    ("latvia", "LV"),
    ("lithuania", "LT"),
    ("croatia", "HR"),
    ("slovenia", "SI"),
    ("serbia", "RS"),
    ("cyprus", "CY"),
    ("malta", "MT"),
    ("costa rica", "CR"),
    ("puerto rico", "PR"),
    ("uruguay", "UY"),
    ("venezuela", "VE"),
    ("ecuador", "EC"),
];

impl Region {
    /// The region a region column names: a two-letter ISO code, or an English country name
    /// (case, spaces and a leading "the" ignored).
    pub fn from_column(value: &str) -> Result<Region, String> {
        let v = value.trim();
        if let Ok(r) = v.parse() {
            return Ok(r);
        }
        let name = v.to_lowercase();
        let name = name.split_whitespace().collect::<Vec<_>>().join(" ");
        let name = name.strip_prefix("the ").unwrap_or(&name);
        COUNTRY_NAMES
            .iter()
            .find(|(n, _)| *n == name)
            .and_then(|(_, code)| code.parse().ok())
            .ok_or_else(|| format!("region '{v}' is neither a two-letter code (GB, DE) nor a country name phonesync knows"))
    }
}

/// Parses `raw` as written by a person and returns it in Graph's form, or a reason a person
/// understands. Letters in the number (a vanity number) are refused.
pub fn parse(raw: &str, region: Region) -> Result<Phone, String> {
    parse_with(raw, region, false)
}

/// Like [`parse`]; with `vanity`, letters in the number are read as the digits of a phone
/// keypad (`1-800-FLOWERS`), as config allows.
pub fn parse_with(raw: &str, region: Region, vanity: bool) -> Result<Phone, String> {
    parse_kind(raw, region, vanity).map(|(phone, _)| phone)
}

/// What the numbering plan of a number's country says it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Only a fixed line: no text message reaches it.
    FixedLine,
    /// A mobile, or a number the plan cannot tell (the NANP's), or a special service.
    Other,
}

/// Like [`parse_with`], also saying whether the number can only be a fixed line. It costs no
/// more: validity is the number's type being known.
pub fn parse_kind(raw: &str, region: Region, vanity: bool) -> Result<(Phone, Kind), String> {
    let cleaned = clean(raw);
    let text = cleaned.trim();
    if text.is_empty() {
        return Err("phone number is empty".into());
    }
    if text.chars().count() > 64 {
        return Err("phone number is longer than 64 characters".into());
    }
    let normalised = normalise_extension(text);
    // Letters left once the extension is read are a vanity number, or not a number at all.
    let number_part = normalised.split(" ext. ").next().unwrap_or_default();
    if let Some(odd) = number_part
        .chars()
        .find(|c| !(c.is_ascii_digit() || c.is_alphabetic() || c.is_whitespace() || "+-().,/".contains(*c)))
    {
        return Err(format!(
            "'{text}' contains {}, which is not part of a phone number",
            if odd.is_control() {
                "a control character".to_string()
            } else {
                format!("'{odd}'")
            }
        ));
    }
    if !vanity && number_part.chars().any(char::is_alphabetic) {
        return Err(format!(
            "'{text}' contains letters: a vanity number (1-800-FLOWERS) is read only with input.allow_vanity_numbers = true"
        ));
    }
    // A number in international form is parsed with no region at all: `phonenumber` 0.3
    // applies the default region's national prefix to it otherwise, and with US as the region
    // reads `+49 171 1234567` as `+49 711234567`, another valid number. International
    // prefixes are made `+` first: `00` (almost everywhere; HR data from Europe writes
    // `0049 30 1234567` even when the default region is US) and `011` (the NANP's).
    let nanp = DATABASE.by_id(region.0.as_ref()).is_some_and(|m| m.country_code() == 1);
    let international = normalised
        .strip_prefix('+')
        .or_else(|| normalised.strip_prefix("00"))
        .or_else(|| normalised.strip_prefix("011").filter(|_| nanp));
    let plus = international.map(|rest| match normalised.starts_with('+') {
        true => (Cow::Borrowed(&*normalised), None),
        false => (Cow::Owned(format!("+{rest}")), None),
    });
    let national = (!normalised.starts_with('+')).then(|| (Cow::Borrowed(&*normalised), Some(region)));
    let mut last_error = String::new();
    let mut found = None;
    for (candidate, region) in plus.into_iter().chain(national) {
        match parse_one(&candidate, region) {
            Ok(number) => {
                found = Some(number);
                break;
            }
            Err(e) => last_error = e,
        }
    }
    let Some((number, kind)) = found else {
        return Err(format!("'{text}' {last_error}"));
    };
    let mut display = format!("+{} {}", number.code().value(), number.national());
    if let Some(ext) = number.extension() {
        let digits: String = ext.chars().filter(|c| c.is_ascii_digit()).collect();
        if !digits.is_empty() {
            display.push('x');
            display.push_str(&digits);
        }
    }
    Ok((
        Phone {
            key: key(&display),
            display,
        },
        kind,
    ))
}

/// Parses and validates one candidate spelling; the error completes a sentence about the value.
fn parse_one(candidate: &str, region: Option<Region>) -> Result<(phonenumber::PhoneNumber, Kind), String> {
    let parsed = catch_unwind(AssertUnwindSafe(|| {
        with_plans(|db| {
            phonenumber::parse_with(db, region.map(|r| r.0), candidate).map(|n| {
                let kind = classify(db, &n);
                (n, kind)
            })
        })
    }));
    match parsed {
        Ok(Ok((number, Some(kind)))) => Ok((number, kind)),
        Ok(Ok((_, None))) => Err("is not a valid number for its country".into()),
        Ok(Err(e)) => Err(format!("is not a phone number ({e})")),
        Err(_) => Err("could not be parsed as a phone number".into()),
    }
}

/// The number's kind, or `None` when it is not valid: `phonenumber`'s own validity rule (the
/// number's type is known in its region's plan), computed once for both answers. The crate's
/// `PhoneNumber::number_type` and `metadata` would do, but they drop a national number's
/// leading zeros (Italy's fixed lines) and call such numbers unknown; this follows `is_valid`,
/// which keeps them.
fn classify(db: &Database, number: &phonenumber::PhoneNumber) -> Option<Kind> {
    let code = number.code().value();
    let national = number.national().to_string();
    let regions = db.region(&code)?;
    match regions.as_slice() {
        ["001"] => db.by_code(&code)?.into_iter().next().and_then(|meta| kind_in(meta, &national)),
        [one] => kind_in(db.by_id(*one)?, &national),
        // A code several regions share: the first whose leading digits match, or (without
        // leading digits) whose plan knows the number, decides.
        many => many.iter().find_map(|region| {
            let meta = db.by_id(*region)?;
            match meta.leading_digits() {
                Some(lead) => lead
                    .find(&national)
                    .is_some_and(|m| m.start() == 0)
                    .then(|| kind_in(meta, &national)),
                None => kind_in(meta, &national).map(Some),
            }
        })?,
    }
}

/// What `national` is in `meta`'s plan, in `phonenumber`'s order of types; `None` if nothing.
fn kind_in(meta: &phonenumber::Metadata, national: &str) -> Option<Kind> {
    let d = meta.descriptors();
    let matches = |desc: Option<&phonenumber::metadata::Descriptor>| desc.is_some_and(|d| d.is_match(national));
    if !d.general().is_match(national) {
        return None;
    }
    let special = [
        d.premium_rate(),
        d.toll_free(),
        d.shared_cost(),
        d.voip(),
        d.personal_number(),
        d.pager(),
        d.uan(),
        d.voicemail(),
    ];
    if special.into_iter().any(matches) {
        return Some(Kind::Other);
    }
    if matches(d.fixed_line()) {
        // A plan whose fixed and mobile patterns are one cannot tell them apart (the NANP's).
        let same = d.fixed_line().map(|f| f.national_number().as_str()) == d.mobile().map(|m| m.national_number().as_str());
        return Some(if same || matches(d.mobile()) {
            Kind::Other
        } else {
            Kind::FixedLine
        });
    }
    matches(d.mobile()).then_some(Kind::Other)
}

/// Wraps a number Graph returned. Graph may echo what was sent or re-space it, so only the
/// key matters for comparison.
pub fn from_graph(value: &str) -> Phone {
    Phone {
        display: value.to_string(),
        key: key(value),
    }
}

/// The comparison key: `+`, digits and a lowercase `x`, nothing else.
pub fn key(value: &str) -> String {
    value
        .chars()
        .filter_map(|c| match c {
            '0'..='9' | '+' => Some(c),
            'x' | 'X' => Some('x'),
            _ => None,
        })
        .collect()
}

/// Masks a number for the console and reports (`+1 206*****55`): the country code, the first
/// three digits after it (the area, when at least eight follow it, so at least three stay
/// hidden) and the last two digits stay.
pub fn mask(value: &str) -> String {
    // The country code runs from a leading `+` to the first space (one to three digits). When
    // it cannot be told (no `+`, no space), only the last two digits stay. Full-width and other
    // Unicode digits are digits too.
    let digits = value.chars().filter(|c| c.is_numeric()).count();
    let cc_len = match value.trim_start().strip_prefix('+').and_then(|v| v.split_once(' ')) {
        Some((cc, _)) if (1..=3).contains(&cc.chars().filter(|c| c.is_numeric()).count()) => cc.chars().filter(|c| c.is_numeric()).count(),
        _ => 0,
    };
    let national = digits - cc_len.min(digits);
    let head = if cc_len > 0 && national >= 8 { 3 } else { 0 };
    let keep_to = cc_len + head;
    let keep_from = digits.saturating_sub(2);
    let mut seen = 0;
    value
        .chars()
        .map(|c| {
            if c.is_numeric() {
                seen += 1;
                if seen > keep_to && seen <= keep_from {
                    return '*';
                }
            }
            c
        })
        .collect()
}

/// `text` (a Graph message, a reason) with every run that looks like a phone number (a `+` or a
/// digit, then digits, spaces, dashes, dots and brackets, seven digits or more) masked as
/// [`mask`] does.
pub fn mask_numbers_in(text: &str) -> String {
    let chars: Vec<char> = text.chars().collect();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    while i < chars.len() {
        let starts = chars[i] == '+' || chars[i].is_ascii_digit();
        let after_word = i > 0 && chars[i - 1].is_alphanumeric();
        if !starts || after_word {
            out.push(chars[i]);
            i += 1;
            continue;
        }
        let mut end = i + 1;
        while end < chars.len() && (chars[end].is_ascii_digit() || " -.()".contains(chars[end])) {
            end += 1;
        }
        // Trailing separators are not part of the number.
        while end > i + 1 && !chars[end - 1].is_ascii_digit() {
            end -= 1;
        }
        let run: String = chars[i..end].iter().collect();
        if run.chars().filter(char::is_ascii_digit).count() >= 7 {
            out.push_str(&mask(&run));
        } else {
            out.push_str(&run);
        }
        i = end;
    }
    out
}

/// The spellings people paste from other systems, made plain: full-width digits and plus,
/// non-breaking and other spaces, dashes of every width; invisible marks (right-to-left,
/// zero-width) dropped; and the trunk zero written in brackets after a country code
/// (`+44 (0)20 7946 0958`) removed, as it is never dialled after one.
fn clean(raw: &str) -> Cow<'_, str> {
    // Plain ASCII without a bracketed trunk zero needs nothing: most numbers are.
    if raw.is_ascii() && !raw.contains("(0)") {
        return Cow::Borrowed(raw);
    }
    let mut out: String = raw
        .chars()
        .filter_map(|c| match c {
            '\u{FF10}'..='\u{FF19}' => char::from_u32(c as u32 - 0xFF10 + u32::from(b'0')),
            '\u{FF0B}' => Some('+'),
            '\u{FF08}' => Some('('),
            '\u{FF09}' => Some(')'),
            '\u{00A0}' | '\u{2000}'..='\u{200A}' | '\u{202F}' | '\u{205F}' | '\u{3000}' => Some(' '),
            '\u{2010}'..='\u{2015}' | '\u{2212}' | '\u{FF0D}' => Some('-'),
            '\u{200B}'..='\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}' | '\u{FEFF}' => None,
            c => Some(c),
        })
        .collect();
    let international = {
        let t = out.trim_start();
        t.starts_with('+') || t.starts_with("00")
    };
    if international && let Some(at) = out.find("(0)") {
        out.replace_range(at..at + 3, " ");
    }
    Cow::Owned(out)
}

/// `phonenumber` understands `ext.`/`ext`/`x` but not every HR spelling; map the common ones
/// (`extension 12`, `ext: 12`, `#12`, `;ext=12`) onto ` ext. 12`.
fn normalise_extension(text: &str) -> Cow<'_, str> {
    // Every marker has a letter, `#` or `;`: most numbers have none and are taken as they are.
    if !text.bytes().any(|b| b.is_ascii_alphabetic() || b == b'#' || b == b';') {
        return Cow::Borrowed(text);
    }
    let lower = text.to_ascii_lowercase();
    for marker in [";ext=", "extension", "ext:", "ext.", "ext", " x", "x", "#"] {
        if let Some(pos) = lower.rfind(marker) {
            let (head, tail) = text.split_at(pos);
            let ext = &tail[marker.len()..];
            let ext_digits: String = ext.chars().filter(|c| !c.is_whitespace() && *c != ':' && *c != '.').collect();
            if !ext_digits.is_empty() && ext_digits.chars().all(|c| c.is_ascii_digit()) && head.chars().any(|c| c.is_ascii_digit()) {
                return Cow::Owned(format!("{} ext. {}", head.trim_end(), ext_digits));
            }
        }
    }
    Cow::Borrowed(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn us() -> Region {
        "US".parse().unwrap()
    }

    #[test]
    fn a_region_column_takes_codes_and_english_names() {
        for (v, code) in [
            ("GB", "GB"),
            ("de", "DE"),
            ("United Kingdom", "GB"),
            (" the  Netherlands ", "NL"),
            ("USA", "US"),
        ] {
            assert_eq!(Region::from_column(v), code.parse(), "{v}");
        }
        assert!(Region::from_column("Atlantis").unwrap_err().contains("Atlantis"));
        let gb = Region::from_column("United Kingdom").unwrap();
        assert_eq!(parse("020 7946 0958", gb).map(|p| p.display), Ok("+44 2079460958".into()));
    }

    #[test]
    fn spellings_pasted_from_other_systems() {
        for (raw, want) in [
            ("+44 (0)20 7946 0958", "+44 2079460958"),
            ("0044 (0)20 7946 0958", "+44 2079460958"),
            ("011 44 20 7946 0958", "+44 2079460958"),
            ("\u{FF0B}\u{FF14}\u{FF14} 20 7946 0958", "+44 2079460958"),
            ("+1\u{00A0}206\u{202F}555\u{2011}5555", "+1 2065555555"),
            ("\u{200F}+1 206 555 5555\u{200E}", "+1 2065555555"),
            ("(206) 555-5555 x12", "+1 2065555555x12"),
            ("206-555-5555 ext. 12", "+1 2065555555x12"),
            ("+1 206 555 5555;ext=12", "+1 2065555555x12"),
            ("206 555 5555 #12", "+1 2065555555x12"),
        ] {
            assert_eq!(parse(raw, us()).map(|p| p.display), Ok(want.to_string()), "{raw:?}");
        }
    }

    #[test]
    fn international_numbers_keep_every_digit_whatever_the_default_region() {
        // `phonenumber` given a default region strips that region's national prefix (the NANP's
        // `1`) from an international number, making another valid number of it.
        let de: Region = "DE".parse().unwrap();
        for region in [us(), de, "CA".parse().unwrap(), "GB".parse().unwrap()] {
            for (raw, want) in [
                ("+49 171 1234567", "+49 1711234567"),
                ("+4915123450001", "+49 15123450001"),
                ("0049 171 1234567", "+49 1711234567"),
                ("+44 121 496 0000", "+44 1214960000"),
                ("+33 1 42 68 53 00", "+33 142685300"),
                ("+1 206 555 0100", "+1 2065550100"),
                ("+39 06 1234 5678", "+39 0612345678"),
            ] {
                assert_eq!(parse(raw, region).map(|p| p.display), Ok(want.to_string()), "{raw} in {region:?}");
            }
        }
        assert_eq!(parse("011 49 171 1234567", us()).map(|p| p.display), Ok("+49 1711234567".into()));
        // National forms still take the default region.
        assert_eq!(parse("0171 1234567", de).map(|p| p.display), Ok("+49 1711234567".into()));
        assert_eq!(parse("1 (206) 555-0100", us()).map(|p| p.display), Ok("+1 2065550100".into()));
    }

    #[test]
    fn numbers_that_can_only_be_fixed_lines_are_told_apart() {
        let gb: Region = "GB".parse().unwrap();
        let kind = |raw: &str, region| parse_kind(raw, region, false).map(|(_, k)| k);
        assert_eq!(kind("020 7946 0958", gb), Ok(Kind::FixedLine));
        assert_eq!(kind("07400 123456", gb), Ok(Kind::Other), "a UK mobile");
        assert_eq!(kind("+39 06 1234 5678", us()), Ok(Kind::FixedLine), "a leading zero kept");
        assert_eq!(kind("+49 30 1234567", us()), Ok(Kind::FixedLine));
        assert_eq!(kind("206 555 5555", us()), Ok(Kind::Other), "the NANP cannot tell");
        // Validity is unchanged: what `is_valid` refuses is still refused.
        for raw in ["+1 555", "+44 20 7946", "12345"] {
            assert!(kind(raw, us()).is_err(), "{raw}");
        }
    }

    #[test]
    fn validity_is_exactly_phonenumbers_is_valid() {
        // Random national digits after many country codes, shared ones included (+1, +39, +44,
        // +7): the kind is known exactly when `is_valid` says the number is valid.
        let codes = ["1", "39", "44", "7", "49", "33", "61", "81", "86", "91", "212", "590", "47", "358"];
        let mut state: u64 = 0x2545_F491_4F6C_DD1D;
        let mut valid = 0;
        for i in 0..3_000 {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            let len = 6 + (state % 7) as usize;
            let digits: String = (0..len).map(|k| char::from(b'0' + ((state >> (k * 4)) % 10) as u8)).collect();
            let text = format!("+{} {digits}", codes[i % codes.len()]);
            let Ok(n) = phonenumber::parse(None, &text) else { continue };
            assert_eq!(classify(&DATABASE, &n).is_some(), n.is_valid(), "{text}");
            valid += usize::from(n.is_valid());
        }
        assert!(valid > 100, "the sweep must include valid numbers: {valid}");
    }

    #[test]
    fn a_thread_with_its_own_plans_reads_numbers_as_the_shared_database_does() {
        // If the `phonenumber` crate is updated, the vendored PhoneNumberMetadata.xml must be
        // too (from the crate's assets/): this fails when the two disagree.
        let regions: Vec<Region> = ["US", "GB", "DE", "FR", "IT", "IN", "BR", "JP", "AU", "CA"]
            .iter()
            .map(|r| r.parse().unwrap())
            .collect();
        let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
        let samples: Vec<(String, Region)> = (0..1500)
            .map(|i| {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                let digits: String = (0..6 + (state % 7) as usize)
                    .map(|k| char::from(b'0' + ((state >> (k * 4)) % 10) as u8))
                    .collect();
                let prefix = ["+", "0", "", "+1 ", "+49 1", "+44 7"][i % 6];
                (format!("{prefix}{digits}"), regions[i % regions.len()])
            })
            .collect();
        let read = |samples: &[(String, Region)]| -> Vec<Result<(Phone, Kind), String>> {
            samples.iter().map(|(raw, region)| parse_kind(raw, *region, false)).collect()
        };
        let shared = read(&samples);
        let own = std::thread::scope(|s| {
            s.spawn(|| {
                own_plans();
                assert!(OWN.with(|o| matches!(o.get(), Some(Some(_)))), "the vendored plans load");
                read(&samples)
            })
            .join()
            .unwrap()
        });
        assert!(
            shared.iter().filter(|r| r.is_ok()).count() > 100,
            "the sample must hold valid numbers"
        );
        for ((raw, _), (a, b)) in samples.iter().zip(shared.iter().zip(&own)) {
            assert_eq!(a, b, "{raw}");
        }
    }

    #[test]
    fn vanity_letters_only_when_allowed_and_never_silently() {
        let e = parse("1-800-FLOWERS", us()).unwrap_err();
        assert!(e.contains("contains letters") && e.contains("allow_vanity_numbers"), "{e}");
        assert_eq!(
            parse_with("1-800-FLOWERS", us(), true).map(|p| p.display),
            Ok("+1 8003569377".into())
        );
        assert!(parse("call me", us()).unwrap_err().contains("letters"));
        assert!(parse("\u{1F4DE} 206 555 5555", us()).is_err(), "an emoji is no digit");
    }

    #[test]
    fn renders_the_graph_form_from_hr_spellings() {
        for (raw, want) in [
            ("(206) 555-5555", "+1 2065555555"),
            ("206.555.5555", "+1 2065555555"),
            ("+1 206 555 5555", "+1 2065555555"),
            ("001 206 555 5555", "+1 2065555555"),
            ("+31612345678", "+31 612345678"),
            ("0049 30 1234567", "+49 301234567"),
            ("+44 20 7946 0958", "+44 2079460958"),
            ("+39 06 1234 5678", "+39 0612345678"),
            ("206.555.5555 ext. 12", "+1 2065555555x12"),
            ("206-555-5555 x12", "+1 2065555555x12"),
            ("206-555-5555 extension 12", "+1 2065555555x12"),
            ("+44 2079460958x12", "+44 2079460958x12"),
        ] {
            let got = parse(raw, us()).unwrap_or_else(|e| panic!("{raw}: {e}"));
            assert_eq!(got.display, want, "{raw}");
            assert_eq!(got.key, key(want));
        }
    }

    #[test]
    fn rejects_what_is_not_a_valid_number() {
        for raw in ["", "   ", "12345", "hello", "+1 555", "+999 1234567", "206-555-555"] {
            assert!(parse(raw, us()).is_err(), "{raw:?} should be rejected");
        }
    }

    #[test]
    fn hostile_input_is_refused_with_a_reason_or_parsed_into_a_number_that_reads_back_the_same() {
        // What any input must come out as: refused, saying why, or a number whose key is `+`,
        // digits and an optional `x` extension, and whose display form reads back to that key.
        let check = |s: &str| match parse(s, us()) {
            Err(why) => {
                assert!(!why.trim().is_empty(), "{s:?} refused without a reason");
                false
            }
            Ok(phone) => {
                let (number, extension) = phone.key.split_once('x').unwrap_or((&phone.key, ""));
                assert!(
                    number.len() > 1
                        && number.starts_with('+')
                        && number[1..].bytes().all(|b| b.is_ascii_digit())
                        && extension.bytes().all(|b| b.is_ascii_digit()),
                    "{s:?} parsed to a key that is no number: {:?}",
                    phone.key
                );
                let again = parse(&phone.display, us()).unwrap_or_else(|e| panic!("{s:?} → {:?} does not read back: {e}", phone.display));
                assert_eq!(again.key, phone.key, "{s:?} reads back as another number");
                true
            }
        };
        for s in [
            "+",
            "++1",
            "x",
            "ext.",
            "\u{0}",
            "+1 ☎",
            "+00000000000000000000",
            "#",
            ";ext=",
            "(((((",
            "+٣٤٥",
        ] {
            assert!(!check(s), "{s:?} is no phone number and must be refused");
        }
        assert!(check("+1 206 555 0100"), "a good number among them is taken");
        // A deterministic sweep over short strings of the characters that matter: some parse,
        // some are refused, each as above.
        let alphabet = ['+', '0', '1', '9', ' ', 'x', '-', '(', ')', '#', '.', '2', '5'];
        let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
        let mut parsed = 0;
        for i in 0..5000 {
            // Half start as a real number, so the noise after one is met too.
            let mut s = if i % 2 == 0 {
                format!("+1 206 555 {:04}", state % 10_000)
            } else {
                String::new()
            };
            for _ in 0..(state % if i % 2 == 0 { 3 } else { 20 }) {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                s.push(alphabet[(state % alphabet.len() as u64) as usize]);
            }
            parsed += usize::from(check(&s));
        }
        assert!(parsed > 0 && parsed < 5000, "the sweep meets both kinds of input: {parsed} parsed");
    }

    #[test]
    fn keys_ignore_spacing_and_case() {
        assert_eq!(key("+1 2065555555"), key("+12065555555"));
        assert_eq!(key("+1 2065555555X12"), "+12065555555x12");
        assert_ne!(key("+1 2065555555"), key("+1 2065555556"));
    }

    #[test]
    fn masks_all_but_country_code_area_and_last_two_digits() {
        assert_eq!(mask("+1 2065555555"), "+1 206*****55");
        assert_eq!(mask("+44 2079460958x12"), "+44 207*******x12");
        assert_eq!(mask("+49 15112345"), "+49 151***45");
        // Short numbers show only their last two digits.
        assert_eq!(mask("+354 5512345"), "+354 *****45");
        assert_eq!(mask("555-0101"), "***-**01");
        // Without a country code to go by, only the last two digits show.
        assert_eq!(mask("206-555-0101"), "***-***-**01");
        assert_eq!(mask("+12065555555"), "+*********55");
        assert_eq!(mask(""), "");
    }

    #[test]
    fn numbers_inside_text_are_masked_and_the_rest_kept() {
        assert_eq!(
            mask_numbers_in("Invalid phone number '+1 2065550123'. Retry at 12:30, code 404."),
            "Invalid phone number '+1 206*****23'. Retry at 12:30, code 404."
        );
        assert_eq!(mask_numbers_in("call 206-555-0123 now"), "call ***-***-**23 now");
        assert_eq!(mask_numbers_in("request abc1234567"), "request abc1234567", "inside a word: an id");
        assert_eq!(mask_numbers_in(""), "");
    }

    #[test]
    fn region_codes_are_checked() {
        assert!("us".parse::<Region>().is_ok());
        assert!("XX".parse::<Region>().is_err());
    }
}
