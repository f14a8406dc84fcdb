//! Digests of what a plan was made against: a user's current state (`fingerprint`), the state
//! once the plan's ops succeeded (`outcome`), and a file's bytes. A saved plan carries them so
//! apply can tell a user changed since planning from one an earlier apply already finished.

use crate::model::{CurrentUser, Item, Op, OpKind, UnfinishedMove};
use anyhow::{Context, Result};
use std::path::Path;

/// SHA-256 of `bytes`, in hex.
pub fn hex_sha256(bytes: &[u8]) -> String {
    aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, bytes)
        .as_ref()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// SHA-256 of the file at `path`, read in pieces (an HR file may be large), in hex.
pub fn file_sha256(path: &Path) -> Result<String> {
    use std::io::Read;
    let mut file = std::fs::File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
    let mut context = aws_lc_rs::digest::Context::new(&aws_lc_rs::digest::SHA256);
    let mut buffer = vec![0; 64 * 1024];
    loop {
        let n = file.read(&mut buffer).with_context(|| format!("cannot read {}", path.display()))?;
        if n == 0 {
            break;
        }
        context.update(&buffer[..n]);
    }
    Ok(context.finish().as_ref().iter().map(|b| format!("{b:02x}")).collect())
}

/// A digest of one user's current state in one target: every item (id, type, number, display
/// name), the default sign-in method where it was read, and the type changes on record as
/// unfinished: everything a planner reads of the current state, so a change to any of it
/// changes the digest.
pub fn fingerprint(current: &CurrentUser) -> String {
    let mut items: Vec<String> = current
        .items
        .iter()
        .map(|i| {
            format!(
                "{}\u{1f}{}\u{1f}{}\u{1f}{}",
                i.id,
                i.phone_type,
                i.phone.key,
                i.display_name.as_deref().unwrap_or("\u{0}")
            )
        })
        .collect();
    items.sort();
    let mut moves: Vec<String> = current
        .unfinished_moves
        .iter()
        .map(|m: &UnfinishedMove| format!("{}\u{1f}{}\u{1f}{}", m.from, m.to, m.key))
        .collect();
    moves.sort();
    let text = format!(
        "items\u{1e}{}\u{1d}default\u{1e}{}\u{1d}moves\u{1e}{}",
        items.join("\u{1e}"),
        current.default_method.as_deref().unwrap_or("\u{0}"),
        moves.join("\u{1e}")
    );
    hex_sha256(text.as_bytes())[..32].to_string()
}

/// A digest of the phones (type, number, display name; not server ids, which a new item only
/// gets when written) `current` holds once every op of `ops` that is sent has succeeded.
pub fn outcome(current: &CurrentUser, ops: &[Op]) -> String {
    let same_item = |i: &Item, op: &Op| match &op.item_id {
        Some(id) => i.id == *id,
        None => i.phone_type == op.phone_type,
    };
    let mut items: Vec<Item> = current.items.clone();
    for op in ops.iter().filter(|o| o.blocked.is_none()) {
        let number = || crate::input::phone::from_graph(op.after.as_deref().unwrap_or_default());
        match op.kind {
            OpKind::Add => items.push(Item {
                id: String::new(),
                phone_type: op.phone_type.clone(),
                phone: number(),
                display_name: op.display_name.clone(),
            }),
            OpKind::Update => {
                if let Some(item) = items.iter_mut().find(|i| same_item(i, op)) {
                    // A number written as the item holds it (a profile number stored nationally)
                    // is the item's own, as read.
                    if op.after != op.before {
                        item.phone = number();
                    }
                    item.phone_type = op.phone_type.clone();
                    if op.display_name.is_some() {
                        item.display_name = op.display_name.clone();
                    }
                }
            }
            OpKind::Delete => {
                if let Some(at) = items.iter().position(|i| same_item(i, op)) {
                    items.remove(at);
                }
            }
        }
    }
    outcome_of(&items)
}

/// The digest [`outcome`] gives a user holding `items`.
pub fn outcome_of(items: &[Item]) -> String {
    let mut phones: Vec<String> = items
        .iter()
        .map(|i| {
            format!(
                "{}\u{1f}{}\u{1f}{}",
                i.phone_type,
                i.phone.key,
                i.display_name.as_deref().unwrap_or("\u{0}")
            )
        })
        .collect();
    phones.sort();
    hex_sha256(phones.join("\u{1e}").as_bytes())[..32].to_string()
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::model::Phone;

    /// An item of type `t` whose number has comparison key `key` (shown the same).
    pub(crate) fn item(id: &str, t: &str, key: &str) -> Item {
        Item {
            id: id.into(),
            phone_type: t.into(),
            phone: Phone {
                display: key.into(),
                key: key.into(),
            },
            display_name: None,
        }
    }

    #[test]
    fn a_fingerprint_changes_with_every_part_of_the_state_and_not_with_item_order() {
        let base = CurrentUser {
            items: vec![item("a", "mobile", "+12065550100"), item("b", "office", "+12065550101")],
            ..CurrentUser::default()
        };
        let same = CurrentUser {
            items: base.items.iter().rev().cloned().collect(),
            ..CurrentUser::default()
        };
        assert_eq!(fingerprint(&base), fingerprint(&same), "Graph lists items in any order");
        let mut variants = Vec::new();
        let mut v = base.clone();
        v.items[0].phone.key = "+12065550199".into();
        variants.push(v);
        let mut v = base.clone();
        v.items[1].phone_type = "alternateMobile".into();
        variants.push(v);
        let mut v = base.clone();
        v.items[1].id = "c".into();
        variants.push(v);
        let mut v = base.clone();
        v.items[0].display_name = Some("desk".into());
        variants.push(v);
        let mut v = base.clone();
        v.items.pop();
        variants.push(v);
        let mut v = base.clone();
        v.default_method = Some("mobile".into());
        variants.push(v);
        let mut v = base.clone();
        v.unfinished_moves.push(UnfinishedMove {
            from: "office".into(),
            to: "mobile".into(),
            key: "+12065550101".into(),
        });
        variants.push(v);
        for (i, v) in variants.iter().enumerate() {
            assert_ne!(fingerprint(&base), fingerprint(v), "variant {i}");
        }
    }

    #[test]
    fn the_outcome_is_the_state_once_every_sent_op_succeeded() {
        let op = |kind, t: &str, item_id: Option<&str>, after: Option<&str>, blocked: bool| Op {
            kind,
            phone_type: t.into(),
            item_id: item_id.map(str::to_string),
            before: Some("+1 4255550100".into()),
            after: after.map(str::to_string),
            display_name: None,
            depends_on: Vec::new(),
            blocked: blocked.then(|| "default".to_string()),
            reason: String::new(),
            moves_to: None,
        };
        let current = CurrentUser {
            items: vec![item("o", "office", "+14255550100"), item("p", "business", "+12065550100")],
            ..CurrentUser::default()
        };
        let ops = [
            op(OpKind::Add, "mobile", None, Some("+1 4255550100"), false),
            op(OpKind::Delete, "office", None, None, false),
            op(OpKind::Update, "mobile", Some("p"), Some("+1 2065550100"), false),
            op(OpKind::Add, "alternateMobile", None, Some("+1 2065550199"), true),
        ];
        let expected = [item("", "mobile", "+14255550100"), item("p", "mobile", "+12065550100")];
        assert_eq!(outcome(&current, &ops), outcome_of(&expected));
        assert_ne!(outcome(&current, &ops[..1]), outcome_of(&expected));
    }
}
