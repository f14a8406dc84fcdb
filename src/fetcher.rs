//! Fetcher: reads each input user's current phone methods from Graph, concurrently and in
//! input order. A user Graph does not know, or whose phones cannot be read, becomes a skip
//! reason for the planner rather than an error for the run.

use crate::graph::{GraphError, PhoneMethods};
use crate::model::{CurrentUser, DesiredUser, PhoneType, SkipReason};
use crate::phone;
use futures_util::{StreamExt, stream};
use indicatif::ProgressBar;

/// Current state for each of `users`, in the same order.
pub async fn fetch<A: PhoneMethods>(
    api: &A,
    users: &[DesiredUser],
    concurrency: usize,
    progress: &ProgressBar,
) -> Vec<Result<CurrentUser, SkipReason>> {
    // Unordered, so one slow read (retries, a held answer) never stops the others from starting;
    // the input order is restored afterwards.
    let mut read: Vec<(usize, Result<CurrentUser, SkipReason>)> = stream::iter(users.iter().enumerate())
        .map(|(i, user)| async move {
            // A conflicting user is skipped by the planner; reading it would only cost quota.
            let result = if user.conflict.is_some() {
                Ok(CurrentUser::default())
            } else {
                read_one(api, &user.user).await
            };
            progress.inc(1);
            (i, result)
        })
        .buffer_unordered(concurrency.max(1))
        .collect()
        .await;
    read.sort_by_key(|(i, _)| *i);
    read.into_iter().map(|(_, r)| r).collect()
}

async fn read_one<A: PhoneMethods>(api: &A, user: &str) -> Result<CurrentUser, SkipReason> {
    match api.list(user).await {
        Ok((methods, _)) => {
            let mut current = CurrentUser::default();
            for m in methods {
                // A type this tool does not know (Graph's `unknownFutureValue`) is left alone.
                if let Some(t) = PhoneType::parse(&m.phone_type) {
                    current.phones.insert(t, phone::from_graph(&m.phone_number));
                }
            }
            Ok(current)
        }
        Err(GraphError { status: Some(404), .. }) => Err(SkipReason::NotFound),
        Err(e) => Err(SkipReason::ReadFailed(e.to_string())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::graph::{CallInfo, ChainOp, ChainResult, PhoneMethod};
    use std::time::{Duration, Instant};

    /// Every tenth user's read takes a second; the rest answer at once.
    struct SlowTenth;

    impl PhoneMethods for SlowTenth {
        async fn list(&self, user: &str) -> Result<(Vec<PhoneMethod>, CallInfo), GraphError> {
            if user.ends_with('0') {
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
            Ok((Vec::new(), CallInfo::default()))
        }
        async fn run_chain(&self, _: &str, _: &[ChainOp]) -> Vec<ChainResult> {
            Vec::new()
        }
    }

    #[tokio::test]
    async fn one_slow_read_does_not_hold_up_the_others() {
        let users: Vec<DesiredUser> = (0..300)
            .map(|i| DesiredUser {
                user: format!("u{i}"),
                phones: Default::default(),
                conflict: None,
                ..Default::default()
            })
            .collect();
        let started = Instant::now();
        let current = fetch(&SlowTenth, &users, 48, &ProgressBar::hidden()).await;
        assert_eq!(current.len(), 300);
        // 30 slow reads, 48 at a time: about one second, not one per round of 48.
        assert!(started.elapsed() < Duration::from_millis(2500), "{:?}", started.elapsed());
    }
}
