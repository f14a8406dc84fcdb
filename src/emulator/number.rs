//! The emulator's own check of Graph's number format `+{country code} {number}[x{extension}]`
//! (graph-contract.md §1.5). Written independently of the client's parser on purpose.

/// Accepts exactly `+CC NNNN…` with an optional `xEEE`, as the documentation requires.
pub fn check(value: &str) -> Result<(), String> {
    let refuse = || {
        Err(format!(
            "Invalid phone number '{value}': use the format +{{country code}} {{number}}x{{extension}}, for example +1 5555551234x123."
        ))
    };
    let Some(rest) = value.strip_prefix('+') else { return refuse() };
    let Some((cc, subscriber)) = rest.split_once(' ') else {
        return refuse();
    };
    let (national, ext) = match subscriber.split_once('x') {
        Some((n, e)) => (n, Some(e)),
        None => (subscriber, None),
    };
    let digits = |s: &str, min: usize, max: usize| s.len() >= min && s.len() <= max && s.bytes().all(|b| b.is_ascii_digit());
    let cc_ok = digits(cc, 1, 3) && !cc.starts_with('0');
    let national_ok = digits(national, 4, 14) && cc.len() + national.len() <= 15;
    let ext_ok = ext.is_none_or(|e| digits(e, 1, 10));
    if cc_ok && national_ok && ext_ok { Ok(()) } else { refuse() }
}

#[cfg(test)]
mod tests {
    #[test]
    fn follows_the_documented_format() {
        for ok in ["+1 2065555555", "+1 5555551234x123", "+44 2079460958", "+39 0612345678"] {
            assert!(super::check(ok).is_ok(), "{ok}");
        }
        for bad in [
            "2065555555",
            "+12065555555",
            "+1  2065555555",
            "+1 206-555-5555",
            "+1 2065555555x",
            "+0 2065555555",
            " +1 2065555555",
            "+1 (206) 5555555",
            "+1 2065555555X12",
        ] {
            assert!(super::check(bad).is_err(), "{bad}");
        }
    }
}
