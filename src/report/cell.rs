//! Spreadsheet-safe CSV cells. The report CSVs are opened in Excel or LibreOffice, and a cell
//! that starts like a formula is run as one (CSV injection). These are the two rules every
//! report CSV cell is written by:
//!
//! - **Free text** (users, messages, error codes, request ids, the raw HR values and reasons of
//!   `rejects.csv`, anything that came from the input or from Graph): a value that begins with
//!   `=`, `+`, `-`, `@`, a tab or a carriage return gets a single quote `'` in front of it, so a
//!   spreadsheet shows it as text instead of evaluating it (OWASP's advice). Every other value
//!   is written as it is.
//! - **Phone numbers** (the `before` and `after` columns of `outcomes.csv`): a value made only
//!   of `+`, digits, spaces and `x` (Graph's form, e.g. `+1 2065555555` or `+44 2079460958x12`)
//!   is written as the formula `="+1 2065555555"`, which a spreadsheet shows as exactly that
//!   text (not as a number, and not as `+1 2065555555` evaluated). Any other value in those
//!   columns, and a phone-shaped value longer than 255 characters (the longest string a
//!   spreadsheet formula may hold), follows the free-text rule. `rejects.csv`'s `phoneNumber`
//!   column holds the raw HR text and follows the free-text rule.
//!
//! A program reading the files back gets the original value with [`phone_from_cell`] (phone
//! columns) or [`text_from_cell`] (everything else). Like a spreadsheet, they drop the quote in
//! front of a `'=`, `'+`, `'-`, `'@`, `'<tab>` or `'<CR>`, so a value that itself began that
//! way reads back without its quote.

use std::borrow::Cow;

/// The longest phone number written as a formula: spreadsheets refuse longer string literals.
const MAX_FORMULA_TEXT: usize = 255;

/// Whether a value starting with `c` would be taken for a formula.
fn is_trigger(c: char) -> bool {
    matches!(c, '=' | '+' | '-' | '@' | '\t' | '\r')
}

/// Whether `s` is a phone number in the form written as a formula.
fn is_phone_shaped(s: &str) -> bool {
    !s.is_empty() && s.len() <= MAX_FORMULA_TEXT && s.chars().all(|c| matches!(c, '+' | '0'..='9' | ' ' | 'x'))
}

/// Applies the free-text rule: a quote in front of a value that begins like a formula.
pub fn text(s: &str) -> Cow<'_, str> {
    match s.chars().next() {
        Some(c) if is_trigger(c) => Cow::Owned(format!("'{s}")),
        _ => Cow::Borrowed(s),
    }
}

/// Applies the phone rule: `="…"` around a phone-shaped value, the free-text rule otherwise.
pub fn phone(s: &str) -> Cow<'_, str> {
    if is_phone_shaped(s) {
        Cow::Owned(format!("=\"{s}\""))
    } else {
        text(s)
    }
}

/// The value a free-text cell was written from (the inverse of the free-text rule).
pub fn text_from_cell(cell: &str) -> &str {
    match cell.strip_prefix('\'') {
        Some(rest) if rest.starts_with(is_trigger) => rest,
        _ => cell,
    }
}

/// The value a phone-column cell was written from (the inverse of the phone rule).
pub fn phone_from_cell(cell: &str) -> &str {
    match cell.strip_prefix("=\"").and_then(|c| c.strip_suffix('"')) {
        Some(inner) if is_phone_shaped(inner) => inner,
        _ => text_from_cell(cell),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn free_text_that_starts_like_a_formula_is_quoted() {
        for s in ["=cmd|' /C calc'!A0", "+1", "-2", "@SUM(A1)", "\tx", "\rx"] {
            assert_eq!(text(s), format!("'{s}"));
            assert_eq!(text_from_cell(&text(s)), s);
        }
        for s in ["", "alex@contoso.com", "a=b", "'quoted", "Request_BadRequest"] {
            assert_eq!(text(s), s);
            assert_eq!(text_from_cell(&text(s)), s);
        }
    }

    #[test]
    fn graph_phone_numbers_are_written_as_text_formulas() {
        for s in ["+1 2065555555", "+44 2079460958x12"] {
            assert_eq!(phone(s), format!("=\"{s}\""));
            assert_eq!(phone_from_cell(&phone(s)), s);
        }
        assert_eq!(phone(""), "");
    }

    #[test]
    fn other_values_in_phone_columns_are_free_text() {
        for (s, written) in [
            ("=1+1", "'=1+1"),
            ("+1 (206) 555", "'+1 (206) 555"),
            ("-1", "'-1"),
            ("\"+1\"", "\"+1\""),
            ("n/a", "n/a"),
        ] {
            assert_eq!(phone(s), written);
            assert_eq!(phone_from_cell(&phone(s)), s);
        }
        let long = format!("+{}", "1".repeat(MAX_FORMULA_TEXT));
        assert_eq!(phone(&long), format!("'{long}"));
        assert_eq!(phone_from_cell(&phone(&long)), long);
    }
}
