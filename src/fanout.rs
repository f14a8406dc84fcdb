//! Fan-out: many Graph calls at once, their answers in the order they were asked. The one way
//! the stages that read (fetcher, identity) run users concurrently.

use futures_util::{StreamExt, stream};

/// Runs `f` on every item, `concurrency` at a time, and returns the results in the items'
/// order. Unordered underneath, so one slow call (retries, a held answer) never stops the
/// others from starting.
pub async fn in_order<'a, T: Sync, R, F, Fut>(items: &'a [T], concurrency: usize, f: F) -> Vec<R>
where
    F: Fn(&'a T) -> Fut,
    Fut: Future<Output = R> + 'a,
{
    let mut done: Vec<(usize, R)> = stream::iter(items.iter().enumerate())
        .map(|(i, item)| {
            let fut = f(item);
            async move { (i, fut.await) }
        })
        .buffer_unordered(concurrency.max(1))
        .collect()
        .await;
    done.sort_by_key(|(i, _)| *i);
    done.into_iter().map(|(_, r)| r).collect()
}
