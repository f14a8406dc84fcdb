//! `plan.md`: the plan as a person reads it before approving it, and (after `apply`) with each
//! op's result beside it.

use crate::model::{Op, OpKind, TargetPlan};
use crate::report::run::{Mode, RunReport, TargetInfo, planned_counts, skip_counts, status_counts};
use std::fmt::Write;

/// Escapes text that came from the input, from Graph or from the system, so it shows as the
/// same text wherever it is put (a table cell, a heading, a paragraph) and cannot become
/// anything else: HTML, a link or image, emphasis, strikethrough, code, a heading, or a new
/// table cell or row.
///
/// - `& < >` become `&amp; &lt; &gt;` (no HTML, no `<…>` autolinks, in any renderer);
/// - ``\ ` * _ [ ] ( ) | ! # ~`` get a backslash in front;
/// - a `:` followed by `//` gets a backslash too, so GitHub does not turn a bare
///   `http://…` into a link;
/// - control characters and the bidirectional controls ([`crate::console::is_hidden`]), which
///   could make text read as something it is not, become a visible `\u{XXXX}`.
fn text(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for (i, c) in s.char_indices() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '\\' | '`' | '*' | '_' | '[' | ']' | '(' | ')' | '|' | '!' | '#' | '~' => {
                out.push('\\');
                out.push(c);
            }
            ':' if s[i + 1..].starts_with("//") => out.push_str("\\:"),
            c if crate::console::is_hidden(c) => out.push_str(&crate::console::visible(&c.to_string())),
            c => out.push(c),
        }
    }
    out
}

/// The legend of the op marks, said once above the changes.
const LEGEND: &str = "Legend: `+` add, `~` update, `±` type change \\(an add or update of the new type, then a delete of the old one\\), `-` delete, `!` blocked \\(reported, not sent\\).";

/// The mark of op `i` of a user's `ops`: `!` blocked, `±` either half of a type change (the
/// delete that moves its number, and the write of the type it moves to), else by kind.
fn mark(ops: &[Op], i: usize) -> &'static str {
    let op = &ops[i];
    let moved_here = || {
        ops.iter()
            .any(|o| o.kind == OpKind::Delete && o.moves_to.as_deref() == Some(op.phone_type.as_str()))
    };
    match op.kind {
        _ if op.blocked.is_some() => "!",
        OpKind::Delete if op.moves_to.is_some() => "±",
        OpKind::Add | OpKind::Update if moved_here() => "±",
        OpKind::Add => "+",
        OpKind::Update => "~",
        OpKind::Delete => "-",
    }
}

/// A number as the report shows it: masked unless the run was told `--unmask`.
fn number(value: Option<&str>, unmask: bool) -> String {
    match value {
        Some(v) if unmask => text(v),
        Some(v) => text(&crate::input::phone::mask(v)),
        None => String::new(),
    }
}

/// The `after` cell: the number, and the display name the op sets, if any.
fn after_cell(op: &Op, unmask: bool) -> String {
    let number = number(op.after.as_deref(), unmask);
    match &op.display_name {
        Some(name) => format!("{number} \\(name: {}\\)", text(name)),
        None => number,
    }
}

/// Renders the report: the run, a summary per target, then each target's changes, users left as
/// they are and users skipped, then the rejected rows.
pub fn plan(r: &RunReport) -> String {
    let mut out = String::new();
    head(&mut out, r);
    summary(&mut out, r);
    if r.plan.op_count() > 0 {
        let masked = if r.unmask {
            ""
        } else {
            " Numbers are masked: plan with `--unmask` to see them in full."
        };
        let _ = writeln!(out, "\n{LEGEND}{masked}");
    }
    let mut outcomes = r.outcomes.unwrap_or_default().iter();
    for (plan, info) in r.plan.targets.iter().zip(r.targets) {
        changes(&mut out, r, plan, info, &mut outcomes);
        left_as_they_are(&mut out, plan, info);
        skipped(&mut out, plan, info);
    }
    rows(&mut out, "Rejected rows", "reason", r.rejects);
    rows(&mut out, "Accepted with a note", "note", r.notes);
    if r.noted > r.notes.len() as u64 {
        let _ = writeln!(
            out,
            "… and {} more rows with the same kind of note.\n",
            r.noted - r.notes.len() as u64
        );
    }
    out
}

/// The run: when, what input, which Graph, which targets, prune.
fn head(out: &mut String, r: &RunReport) {
    let title = match r.mode {
        Mode::Plan => "phonesync plan",
        Mode::Apply => "phonesync apply",
    };
    let _ = writeln!(out, "# {title}\n");
    let _ = writeln!(out, "- Started: {}", text(&r.started_at));
    let _ = writeln!(
        out,
        "- Input: {} ({}, {} rejected; read as {}, columns separated by {})",
        text(&r.input.display().to_string()),
        crate::console::count(r.rows, "row"),
        r.rejects.len(),
        r.encoding,
        r.delimiter
    );
    let _ = writeln!(out, "- Graph: {}", text(r.endpoint));
    match (r.mode, r.digest) {
        (Mode::Plan, Some(digest)) => {
            let _ = writeln!(
                out,
                "- Plan digest: `{digest}` (`phonesync apply plan.json --expect-digest {digest}` runs this plan and no other)"
            );
        }
        (Mode::Apply, Some(digest)) => {
            let _ = writeln!(out, "- Applied the saved plan with digest `{digest}`");
        }
        (_, None) => {}
    }
    for t in r.targets {
        let _ = writeln!(
            out,
            "- Target {} ({}): managed types {}",
            t.name,
            t.title,
            t.managed_types.join(", ")
        );
    }
    let _ = writeln!(out, "- Prune: {}", if r.prune { "on" } else { "off" });
    if r.mode == Mode::Plan {
        let _ = writeln!(out, "- Nothing was changed: this is a plan.");
    }
    for (target, why) in r.refused {
        let _ = writeln!(out, "- **{target} writes refused for this run:** {}", text(why));
    }
}

/// The summary table: a column per target, a row per count.
fn summary(out: &mut String, r: &RunReport) {
    let plans = &r.plan.targets;
    let names: Vec<&str> = plans.iter().map(|p| p.target.as_str()).collect();
    let _ = writeln!(
        out,
        "\n## Summary\n\n| | {} |\n|---|{}",
        names.join(" | "),
        "---|".repeat(names.len())
    );
    let row = |out: &mut String, label: &str, cells: Vec<usize>| {
        let cells: Vec<String> = cells.iter().map(usize::to_string).collect();
        let _ = writeln!(out, "| {label} | {} |", cells.join(" | "));
    };
    let planned: Vec<_> = plans.iter().map(planned_counts).collect();
    for (i, kind) in [OpKind::Add, OpKind::Update, OpKind::Delete].into_iter().enumerate() {
        row(out, kind.as_str(), planned.iter().map(|p| p[i].1).collect());
    }
    row(out, "users named in the input", plans.iter().map(|p| p.users.len()).collect());
    row(out, "users already in line", plans.iter().map(|p| p.in_line()).collect());
    row(
        out,
        "users left as they are because of rejected rows",
        plans.iter().map(|p| p.held_back()).collect(),
    );
    let skips: Vec<_> = plans.iter().map(skip_counts).collect();
    let mut codes: Vec<&str> = skips.iter().flat_map(|s| s.keys().copied()).collect();
    codes.sort();
    codes.dedup();
    for code in codes {
        row(
            out,
            &format!("users skipped: {code}"),
            skips.iter().map(|s| s.get(code).copied().unwrap_or(0)).collect(),
        );
    }
    if let Some(outcomes) = r.outcomes {
        let by_target: Vec<_> = names
            .iter()
            .map(|n| status_counts(outcomes.iter().filter(|o| o.target == *n)))
            .collect();
        for status in status_counts([].iter()).keys() {
            row(out, &format!("ops {status}"), by_target.iter().map(|c| c[status]).collect());
        }
    }
}

/// A target's changes: a table of ops per user, with each op's result after an apply (taken
/// from `outcomes` in plan order), and the user's notes.
fn changes<'a>(
    out: &mut String,
    r: &RunReport,
    plan: &TargetPlan,
    info: &TargetInfo,
    outcomes: &mut impl Iterator<Item = &'a crate::pipeline::executor::Outcome>,
) {
    let changed: Vec<_> = plan.users.iter().filter(|u| !u.ops.is_empty()).collect();
    let _ = writeln!(out, "\n## Changes: {} ({})\n", info.title, info.name);
    if changed.is_empty() {
        let _ = writeln!(out, "None: every readable user already matches the input.");
    }
    for u in changed {
        let _ = writeln!(out, "### {}\n", text(&u.user));
        let result_header = if r.outcomes.is_some() { " result |" } else { "" };
        let _ = writeln!(out, "| # | op | type | before | after | why |{result_header}");
        let _ = writeln!(out, "|---|---|---|---|---|---|{}", if r.outcomes.is_some() { "---|" } else { "" });
        for (i, op) in u.ops.iter().enumerate() {
            // A reason may quote numbers (a profile phone's number change): masked like the cells.
            let mut why = match r.unmask {
                true => text(&op.reason),
                false => text(&crate::input::phone::mask_numbers_in(&op.reason)),
            };
            if !op.depends_on.is_empty() {
                let deps: Vec<String> = op.depends_on.iter().map(|d| (d + 1).to_string()).collect();
                let _ = write!(why, "; runs only if #{} succeeded", deps.join(", #"));
            }
            if let Some(b) = &op.blocked {
                let _ = write!(why, "; BLOCKED: {}", text(b));
            }
            let result = match r.outcomes.map(|_| outcomes.next()) {
                Some(Some(o)) if o.message.is_empty() => format!(" {} |", o.status.as_str()),
                Some(Some(o)) if r.unmask => format!(" {}: {} |", o.status.as_str(), text(&o.message)),
                Some(Some(o)) => format!(
                    " {}: {} |",
                    o.status.as_str(),
                    text(&crate::input::phone::mask_numbers_in(&o.message))
                ),
                Some(None) => " ? |".to_string(),
                None => String::new(),
            };
            let _ = writeln!(
                out,
                "| {} | {} {} | {} | {} | {} | {} |{result}",
                i + 1,
                mark(&u.ops, i),
                op.kind.as_str(),
                text(&op.phone_type),
                number(op.before.as_deref(), r.unmask),
                after_cell(op, r.unmask),
                why
            );
        }
        for note in &u.notes {
            let _ = writeln!(out, "\nNote: {}", text(note));
        }
        let _ = writeln!(out);
    }
}

/// Users left as they are, with a reason a person should see (e.g. a rejected row held a phone
/// back from pruning).
fn left_as_they_are(out: &mut String, plan: &TargetPlan, info: &TargetInfo) {
    let rows = plan
        .users
        .iter()
        .filter(|u| u.ops.is_empty())
        .flat_map(|u| u.notes.iter().map(move |note| (u.user.as_str(), note.clone())));
    user_table(out, &format!("Left as they are: {} ({})", info.title, info.name), "note", rows);
}

/// Users skipped, with why.
fn skipped(out: &mut String, plan: &TargetPlan, info: &TargetInfo) {
    let rows = plan
        .users
        .iter()
        .filter_map(|u| u.skip.as_ref().map(|s| (u.user.as_str(), s.to_string())));
    user_table(out, &format!("Users skipped: {} ({})", info.title, info.name), "reason", rows);
}

/// A section `heading` with a table of users and a `why` column, when there are rows.
fn user_table<'a>(out: &mut String, heading: &str, why: &str, rows: impl Iterator<Item = (&'a str, String)>) {
    let mut rows = rows.peekable();
    if rows.peek().is_none() {
        return;
    }
    let _ = writeln!(out, "## {heading}\n\n| user | {why} |\n|---|---|");
    for (user, text_) in rows {
        let _ = writeln!(out, "| {} | {} |", text(user), text(&text_));
    }
    let _ = writeln!(out);
}

/// A section listing input rows by line, with why each is listed.
fn rows(out: &mut String, heading: &str, why: &str, rows: &[crate::input::reader::Reject]) {
    if rows.is_empty() {
        return;
    }
    let _ = writeln!(out, "## {heading}\n\n| line | column | user | {why} |\n|---|---|---|---|");
    for row in rows {
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} |",
            row.line,
            text(&row.column),
            text(&row.user),
            text(&row.reason)
        );
    }
    let _ = writeln!(out);
}

#[cfg(test)]
mod tests {
    use super::{mark, text};
    use crate::model::{Op, OpKind};

    fn op(kind: OpKind, phone_type: &str, moves_to: Option<&str>, blocked: bool) -> Op {
        Op {
            kind,
            phone_type: phone_type.into(),
            item_id: None,
            before: None,
            after: None,
            display_name: None,
            depends_on: Vec::new(),
            blocked: blocked.then(|| "default method".to_string()),
            reason: String::new(),
            moves_to: moves_to.map(str::to_string),
        }
    }

    #[test]
    fn each_op_is_marked_by_what_it_does_for_the_user() {
        let ops = [
            op(OpKind::Add, "alternateMobile", None, false),
            op(OpKind::Update, "mobile", None, false),
            op(OpKind::Update, "office", None, false),
            op(OpKind::Delete, "alternateMobile", Some("office"), false),
            op(OpKind::Delete, "mobile", None, false),
            op(OpKind::Delete, "office", None, true),
        ];
        let marks: Vec<&str> = (0..ops.len()).map(|i| mark(&ops, i)).collect();
        // The update of office takes the number alternateMobile gives up: one type change.
        assert_eq!(marks, ["+", "~", "±", "±", "-", "!"]);
    }

    #[test]
    fn text_from_outside_cannot_render_as_markup() {
        let cases = [
            ("=cmd|' /C calc'!A0", "=cmd\\|' /C calc'\\!A0"),
            ("<script>alert(1)</script>", "&lt;script&gt;alert\\(1\\)&lt;/script&gt;"),
            ("[x](http://evil)", "\\[x\\]\\(http\\://evil\\)"),
            ("![i](http://evil)", "\\!\\[i\\]\\(http\\://evil\\)"),
            ("a\u{202E}b", "a\\u{202E}b"),
            ("line\nbreak\r\ttab", "line\\u{000A}break\\u{000D}\\u{0009}tab"),
            ("*em* _em_ ~~s~~ `code` # \\", "\\*em\\* \\_em\\_ \\~\\~s\\~\\~ \\`code\\` \\# \\\\"),
            (
                "&amp; \u{2066}\u{061C}\u{200E}\u{200F}",
                "&amp;amp; \\u{2066}\\u{061C}\\u{200E}\\u{200F}",
            ),
        ];
        for (raw, escaped) in cases {
            assert_eq!(text(raw), escaped, "{raw:?}");
        }
    }

    #[test]
    fn ordinary_text_is_unchanged() {
        for s in [
            "alex@contoso.com",
            "+1 2065555555",
            "number moves to mobile; already in line",
            "héllo 名前",
        ] {
            assert_eq!(text(s), s);
        }
    }
}
