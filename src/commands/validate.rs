//! `phonesync validate FILE`: reads an HR file exactly as a run would (the same `[input]`
//! layout, phone types and number rules) with no network and no report folder, and says whether
//! every row is usable: counts, each refused row or cell with its line, column and reason, and a
//! preview of the first users as read. Numbers are masked on the console unless `--unmask`.
//! Exit 0: every row usable; 1: some refused, or a user's rows contradict each other; 2 (an
//! error): the file cannot be used at all.

use crate::cli::ValidateArgs;
use crate::commands::setup;
use crate::config::{Config, Env};
use crate::console::{Out, visible};
use crate::input::phone;
use crate::input::reader::Reject;
use anyhow::Result;
use std::io::Write;
use std::process::ExitCode;

/// Refused rows listed on the console; the rest are counted.
const LISTED: usize = 50;

/// Checks `args.input` and prints what it found.
pub fn validate(args: &ValidateArgs, env: &Env, out: Out<'_>) -> Result<ExitCode> {
    let config = if args.config.exists() {
        Config::load(&args.config, env)?
    } else {
        Config::parse("", &args.config, env)?
    };
    let (region, targets) = setup::prepare(&config)?;
    let input = setup::read_input(&config, region, &targets, &args.input, false)?;
    let show = |number: &str| if args.unmask { number.to_string() } else { phone::mask(number) };
    let _ = writeln!(
        out,
        "{}: {}, {}, {} refused (read as {}, columns separated by {})",
        args.input.display(),
        crate::console::count(input.rows, "row"),
        crate::console::count(input.users.len() as u64, "user"),
        input.rejects.len(),
        input.encoding,
        input.delimiter
    );
    if !input.blank_columns.is_empty() {
        let _ = writeln!(
            out,
            "note: the column of {} is empty in every row, so a run takes it as saying nothing (set [input] empty_column_means_none = true if nobody has one)",
            input.blank_columns.join(", ")
        );
    }
    list(out, "refused", &input.rejects, input.rejects.len() as u64, args.unmask);
    // Usable, but worth knowing: a fixed line where text messages are meant to arrive.
    list(out, "note", &input.notes, input.noted, args.unmask);
    // A user whose rows contradict each other is skipped by a run: as unusable as a refused row.
    let conflicts: Vec<_> = input
        .users
        .iter()
        .filter_map(|u| u.conflict.as_ref().map(|c| (&u.user, c)))
        .collect();
    for (user, why) in &conflicts {
        let _ = writeln!(out, "  conflict: {}: {}", visible(user), visible(why));
    }
    let preview: Vec<_> = input.users.iter().filter(|u| !u.phones.is_empty()).take(args.preview).collect();
    if !preview.is_empty() {
        let _ = writeln!(out, "First users as read:");
    }
    for user in preview {
        let phones: Vec<String> = user.phones.iter().map(|(t, p)| format!("{t} {}", show(&p.phone.display))).collect();
        let _ = writeln!(out, "  {}: {}", visible(&user.user), phones.join(", "));
    }
    Ok(if input.rejects.is_empty() && conflicts.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

/// Lists up to [`LISTED`] rows labelled `label` with their line, column and reason (masked
/// unless `unmask`: a reason may quote the value), then counts the rest of `total`.
fn list(out: &mut dyn Write, label: &str, rows: &[Reject], total: u64, unmask: bool) {
    for r in rows.iter().take(LISTED) {
        let reason = if unmask { r.reason.clone() } else { r.masked().reason };
        let column = if r.column.is_empty() {
            String::new()
        } else {
            format!(", {}", r.column)
        };
        let _ = writeln!(out, "  {label}: line {}{}: {}", r.line, visible(&column), visible(&reason));
    }
    let listed = rows.len().min(LISTED) as u64;
    if total > listed {
        let _ = writeln!(out, "  … and {} more ({label})", total - listed);
    }
}
