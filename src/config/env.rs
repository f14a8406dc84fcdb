//! The process environment the tool reads (the standard `AZURE_*` variables and its own
//! `PHONESYNC_*`), captured once so tests can supply their own.

use std::collections::BTreeMap;

/// The variable a pre-acquired bearer token is read from.
pub const ACCESS_TOKEN_VAR: &str = "PHONESYNC_ACCESS_TOKEN";

/// The variable holding the digest of the one plan `apply` may run (as `--expect-digest`).
pub const EXPECT_DIGEST_VAR: &str = "PHONESYNC_EXPECT_DIGEST";

/// The environment variables the tool reads, captured once so tests can supply their own.
#[derive(Debug, Clone, Default)]
pub struct Env(BTreeMap<String, String>);

impl Env {
    /// The variables of this process that the tool cares about.
    pub fn from_process() -> Env {
        Env(std::env::vars()
            .filter(|(k, _)| k.starts_with("AZURE_") || k.starts_with("PHONESYNC_"))
            .collect())
    }

    /// An environment with exactly these variables.
    pub fn from_pairs<K: Into<String>, V: Into<String>>(pairs: impl IntoIterator<Item = (K, V)>) -> Env {
        Env(pairs.into_iter().map(|(k, v)| (k.into(), v.into())).collect())
    }

    /// Sets the variable `key` (as a test or a caller's own environment would).
    pub fn set(&mut self, key: &str, value: &str) {
        self.0.insert(key.into(), value.into());
    }

    /// The variable `key`, unless unset or blank.
    pub fn get(&self, key: &str) -> Option<String> {
        self.0.get(key).filter(|v| !v.trim().is_empty()).cloned()
    }
}
