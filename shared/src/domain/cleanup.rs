//! The sweeps of deleted channels and users, and jobs over a user's channels: what a request
//! leaves for later runs.

use std::time::Duration;

use crate::Error;
use crate::store::{Store, Swept};

/// How long a delete request sweeps itself before handing the rest to the sweeper (the
/// change stream on AWS, `talkplus-admin sweep` locally). A channel of a few thousand items,
/// or a user in a few hundred channels, is gone within the request (a user's tombstone
/// itself stays for the settle time; see `users::delete`).
pub const INLINE_SWEEP: Duration = Duration::from_secs(2);
/// How long one run of the sweeper works before handing on (its function times out at 60 s).
pub const WORKER_SWEEP: Duration = Duration::from_secs(40);

/// Sweeps one deleted channel or user for up to `budget`, and hands on what is left.
pub async fn sweep(store: &Store, target: &Swept, budget: Duration) -> Result<(), Error> {
    // Boxed: the user sweep's future nests a whole membership change, deep enough to exceed
    // the compiler's layout depth (and a debug build's stack) when held inline.
    match target {
        Swept::Channel { app_id, channel_id } => {
            Box::pin(crate::domain::channels::sweep(
                store, app_id, channel_id, budget,
            ))
            .await
        }
        Swept::User { app_id, user_id } => {
            Box::pin(crate::domain::users::delete::sweep(
                store, app_id, user_id, budget,
            ))
            .await
        }
        Swept::Job {
            app_id,
            user_id,
            kind,
        } => crate::domain::channels::bulk::resume(store, app_id, user_id, *kind, budget).await,
    }
}

/// The sweeper's round: every deleted channel and user and every job still listed for
/// cleanup, each for up to `budget`. Returns how many it looked at.
pub async fn sweep_pending(store: &Store, budget: Duration) -> Result<usize, Error> {
    let pending = store.pending_sweeps(100).await?;
    for target in &pending {
        sweep(store, target, budget).await?;
    }
    Ok(pending.len())
}
