//! Type changes in progress. Graph cannot change a phone's type, so a move is a write of the
//! new type and then a delete of the old one. A run that stops between the two leaves the
//! number on both types; without a record of the move, the next run could not tell that from
//! a number deliberately on two types (which it must leave alone). This file is that record:
//! written before the first write of a run, kept until the move's delete succeeded.

use crate::model::{OpKind, Plan, UnfinishedMove};
use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::path::{Path, PathBuf};

/// The file, in the reports folder, holding unfinished moves.
pub const FILE: &str = "unfinished-moves.json";

/// One type change that was planned and has not been seen finished.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Move {
    /// What the run talked to (moves of one tenant never license deletes in another).
    pub endpoint: String,
    /// The target whose type changes (records from before targets existed are `auth`'s).
    #[serde(default = "auth")]
    pub target: String,
    /// The user, as written in the input, lowercased.
    pub user: String,
    /// The type the number leaves.
    pub from: String,
    /// The type the number goes to.
    pub to: String,
    /// The number's comparison key.
    pub key: String,
}

fn auth() -> String {
    "auth".into()
}

/// The unfinished moves on record.
#[derive(Debug)]
pub struct Moves {
    path: PathBuf,
    endpoint: String,
    moves: Vec<Move>,
}

impl Moves {
    /// Reads the record in `dir` for `endpoint` (none yet is an empty record).
    pub fn load(dir: &Path, endpoint: &str) -> Result<Moves> {
        let path = dir.join(FILE);
        let moves = match std::fs::read(&path) {
            Ok(bytes) => serde_json::from_slice(&bytes).with_context(|| {
                format!(
                    "{} is damaged: delete it (it only records type changes in progress)",
                    path.display()
                )
            })?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
            Err(e) => return Err(e).with_context(|| format!("cannot read {}", path.display())),
        };
        Ok(Moves {
            path,
            endpoint: endpoint.to_string(),
            moves,
        })
    }

    /// The unfinished moves of this endpoint by target and user (lowercased). One pass, so a
    /// migration that stopped with thousands of moves on record costs no more per user.
    pub fn by_user(&self) -> HashMap<(String, String), Vec<UnfinishedMove>> {
        let mut index: HashMap<(String, String), Vec<UnfinishedMove>> = HashMap::new();
        for m in self.moves.iter().filter(|m| m.endpoint == self.endpoint) {
            index.entry((m.target.clone(), m.user.clone())).or_default().push(UnfinishedMove {
                from: m.from.clone(),
                to: m.to.clone(),
                key: m.key.clone(),
            });
        }
        index
    }

    /// Before the first write: the moves of this plan go on record, and records of (target,
    /// user) this run read (`read`) but did not plan a move for are dropped, since their state
    /// was seen.
    pub fn begin(&mut self, plan: &Plan, read: impl Fn(&str, &str) -> bool) -> Result<()> {
        let endpoint = self.endpoint.clone();
        self.moves.retain(|m| m.endpoint != endpoint || !read(&m.target, &m.user));
        for (target, u) in plan.user_plans() {
            for op in u.ops.iter().filter(|o| o.kind == OpKind::Delete) {
                if let (Some(to), Some(before)) = (&op.moves_to, &op.before) {
                    self.moves.push(Move {
                        endpoint: endpoint.clone(),
                        target: target.to_string(),
                        user: u.user.to_lowercase(),
                        from: op.phone_type.clone(),
                        to: to.clone(),
                        key: crate::input::phone::key(before),
                    });
                }
            }
        }
        self.save()
    }

    /// After the run: a move whose delete succeeded (`done(target, user, from)`) is finished.
    pub fn finish(&mut self, done: impl Fn(&str, &str, &str) -> bool) -> Result<()> {
        let endpoint = self.endpoint.clone();
        self.moves.retain(|m| m.endpoint != endpoint || !done(&m.target, &m.user, &m.from));
        self.save()
    }

    fn save(&self) -> Result<()> {
        if self.moves.is_empty() && !self.path.exists() {
            return Ok(());
        }
        let dir = self.path.parent().unwrap_or(Path::new("."));
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
        crate::files::write_private(&self.path, &serde_json::to_vec_pretty(&self.moves)?)
    }
}
