//! The emulator's own handling of Graph's number format `+{country code} {number}[x{extension}]`
//! (docs/graph.md#number-format-and-echo): which spellings are accepted and how they are echoed.
//! Written independently of the client's parser on purpose.

use crate::options::{NumberEcho, NumberInput};

/// A number split into its parts.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Parts {
    /// Country code, when the spelling separates it (`+1 206…`).
    cc: Option<String>,
    /// All digits after the `+` up to the extension (country code included).
    digits: String,
    ext: Option<String>,
}

fn refuse(value: &str) -> String {
    format!("Invalid phone number '{value}': use the format +{{country code}} {{number}}x{{extension}}, for example +1 5555551234x123.")
}

fn all_digits(s: &str, min: usize, max: usize) -> bool {
    s.len() >= min && s.len() <= max && s.bytes().all(|b| b.is_ascii_digit())
}

fn split(value: &str, mode: NumberInput) -> Option<Parts> {
    let rest = value.strip_prefix('+')?;
    let (main, ext) = match rest.split_once('x') {
        Some((m, e)) => (m, Some(e)),
        None => (rest, None),
    };
    if ext.is_some_and(|e| !all_digits(e, 1, 10)) {
        return None;
    }
    let ext = ext.map(str::to_string);
    match mode {
        NumberInput::Strict => {
            let (cc, national) = main.split_once(' ')?;
            let ok = all_digits(cc, 1, 3) && !cc.starts_with('0') && all_digits(national, 4, 14) && cc.len() + national.len() <= 15;
            ok.then(|| Parts {
                cc: Some(cc.to_string()),
                digits: format!("{cc}{national}"),
                ext,
            })
        }
        NumberInput::Lenient => {
            if main.starts_with(' ') || main.ends_with(' ') || !main.chars().all(|c| c.is_ascii_digit() || " -.()".contains(c)) {
                return None;
            }
            let digits: String = main.chars().filter(char::is_ascii_digit).collect();
            let cc = main
                .split_once(' ')
                .map(|(cc, _)| cc)
                .filter(|cc| all_digits(cc, 1, 3))
                .map(str::to_string);
            (all_digits(&digits, 5, 15) && !digits.starts_with('0')).then_some(Parts { cc, digits, ext })
        }
    }
}

/// Checks `value` under `mode`, and returns the form to store and echo under `echo`.
pub fn accept(value: &str, mode: NumberInput, echo: NumberEcho) -> Result<String, String> {
    let parts = split(value, mode).ok_or_else(|| refuse(value))?;
    let ext = parts.ext.as_ref().map(|e| format!("x{e}")).unwrap_or_default();
    Ok(match echo {
        NumberEcho::Verbatim => value.to_string(),
        NumberEcho::Compact => format!("+{}{ext}", parts.digits),
        NumberEcho::Respaced => {
            let cc_len = parts.cc.as_ref().map_or(1, String::len);
            let (cc, national) = parts.digits.split_at(cc_len.min(parts.digits.len()));
            // Groups of three from the left, the last group taking the remainder (206 555 5555).
            let mut groups = Vec::new();
            let mut rest = national;
            while rest.len() > 4 {
                let (g, r) = rest.split_at(3);
                groups.push(g);
                rest = r;
            }
            groups.push(rest);
            format!("+{cc} {}{ext}", groups.join(" "))
        }
    })
}

/// The digits that identify a number for SMS sign-in uniqueness (extension ignored).
pub fn identity(value: &str) -> String {
    value
        .split(['x', 'X'])
        .next()
        .unwrap_or("")
        .chars()
        .filter(char::is_ascii_digit)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strict(v: &str) -> Result<String, String> {
        accept(v, NumberInput::Strict, NumberEcho::Verbatim)
    }

    #[test]
    fn strict_follows_the_documented_format() {
        for ok in ["+1 2065555555", "+1 5555551234x123", "+44 2079460958", "+39 0612345678"] {
            assert_eq!(strict(ok).as_deref(), Ok(ok), "{ok}");
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
            assert!(strict(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn lenient_takes_e164_and_punctuation_but_still_needs_a_plus() {
        for ok in ["+12065555555", "+1 (206) 555-5555", "+1 206.555.5555x12", "+31612345678"] {
            assert!(accept(ok, NumberInput::Lenient, NumberEcho::Verbatim).is_ok(), "{ok}");
        }
        for bad in ["2065555555", "+", "+1 206 555 abc", " +12065555555"] {
            assert!(accept(bad, NumberInput::Lenient, NumberEcho::Verbatim).is_err(), "{bad}");
        }
    }

    #[test]
    fn echo_modes() {
        assert_eq!(
            accept("+1 2065555555x12", NumberInput::Strict, NumberEcho::Compact).unwrap(),
            "+12065555555x12"
        );
        assert_eq!(
            accept("+1 2065555555x12", NumberInput::Strict, NumberEcho::Respaced).unwrap(),
            "+1 206 555 5555x12"
        );
        assert_eq!(
            accept("+44 2079460958", NumberInput::Strict, NumberEcho::Respaced).unwrap(),
            "+44 207 946 0958"
        );
        assert_eq!(identity("+1 206 555 5555x12"), identity("+12065555555"));
    }
}
