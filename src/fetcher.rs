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
    stream::iter(users)
        .map(|user| async move {
            // A conflicting user is skipped by the planner; reading it would only cost quota.
            let result = if user.conflict.is_some() {
                Ok(CurrentUser::default())
            } else {
                read_one(api, &user.user).await
            };
            progress.inc(1);
            result
        })
        .buffered(concurrency.max(1))
        .collect()
        .await
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
