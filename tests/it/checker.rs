//! The tests' journal check is able to fail: the helper every test uses to ask the emulator's
//! checker about a journal panics on a type change done the wrong way round and on an add of a
//! type the user already holds, and lists every violation it finds.

use crate::world::assert_entries_safe;
use phonesync_emulator::{Change, ChangeRecord, Event, JournalEntry};

/// A journal of `changes` to user `u`'s phone methods, in order, made by requests without op ids.
fn journal(changes: &[Change]) -> Vec<JournalEntry> {
    changes
        .iter()
        .enumerate()
        .map(|(i, change)| JournalEntry {
            seq: i as u64 + 1,
            at_ms: 0,
            event: Event::Change(ChangeRecord {
                change: change.clone(),
                by: None,
            }),
        })
        .collect()
}

/// A change to user `u`'s `phone_type`, from `before` to `after`, taking the user from `b` to
/// `a` phone methods.
fn change(op: &'static str, phone_type: &'static str, before: Option<&str>, after: Option<&str>, b: usize, a: usize) -> Change {
    Change {
        user_id: "u".into(),
        op,
        phone_type,
        before: before.map(str::to_string),
        after: after.map(str::to_string),
        methods_before: b,
        methods_after: a,
        resource: Default::default(),
        item_id: None,
        display_name: None,
    }
}

#[test]
#[should_panic(expected = "below floor: user u went down to 0 phone methods")]
fn the_journal_check_catches_a_delete_before_its_add() {
    // office → mobile done the wrong way round: delete first, then add.
    assert_entries_safe(
        &journal(&[
            change("delete", "office", Some("+1 4255550100"), None, 1, 0),
            change("add", "mobile", None, Some("+1 4255550100"), 0, 1),
        ]),
        None,
    );
}

#[test]
#[should_panic(expected = "duplicate write")]
fn the_journal_check_catches_a_duplicate_add() {
    let add = change("add", "mobile", None, Some("+1 2065550100"), 0, 1);
    let again = change("add", "mobile", None, Some("+1 2065550100"), 1, 2);
    assert_entries_safe(&journal(&[add, again]), None);
}

#[test]
fn the_journal_check_lists_every_violation() {
    let broken = journal(&[
        change("delete", "office", Some("+1 4255550100"), None, 1, 0),
        change("add", "mobile", None, Some("+1 4255550100"), 0, 1),
        change("add", "mobile", None, Some("+1 4255550100"), 1, 2),
    ]);
    let panic = std::panic::catch_unwind(|| assert_entries_safe(&broken, None)).expect_err("the check fails");
    let message = panic
        .downcast_ref::<String>()
        .cloned()
        .unwrap_or_else(|| panic.downcast_ref::<&str>().unwrap().to_string());
    // A first line counting them, then one line per violation.
    let listed: Vec<&str> = message.lines().skip(1).collect();
    assert!(listed.len() >= 2, "{message}");
    assert!(listed.iter().any(|l| l.contains("below floor")), "{message}");
    assert!(listed.iter().any(|l| l.contains("duplicate write")), "{message}");
    // A safe journal passes: the same type change in the right order.
    assert_entries_safe(
        &journal(&[
            change("add", "mobile", None, Some("+1 4255550100"), 1, 2),
            change("delete", "office", Some("+1 4255550100"), None, 2, 1),
        ]),
        None,
    );
}
