//! Deleting a user, at any size.
//!
//! The request makes the user item a tombstone in one conditional write: from then on the
//! user is absent for every reader, every write about the user is refused (membership adds
//! and creates check the user in their commit transaction, blocks and devices in theirs),
//! and the id cannot be created again until the sweep is done. The sweep then removes the
//! user's memberships (found through the user's channel index; each one a membership change
//! that keeps the channel's count exact and clears `ownerId` of a channel the user owned),
//! the user's blocks both ways (with the other users' block counts), the devices, and last
//! the tombstone. The request sweeps for up to `INLINE_SWEEP`; the rest runs in the
//! sweeper (the change stream on AWS, `talkplus-admin sweep --watch` locally), as for a
//! deleted channel.

use std::time::Duration;

use super::validate_user_id;
use crate::Error;
use crate::auth::AppId;
use crate::domain::channels::drop_deleted_member;
use crate::domain::cleanup::INLINE_SWEEP;
use crate::model::now_ms;
use crate::store::{Store, SweepOutcome, Swept};

/// Channels (and blocks) read per page, and removed at once.
const SWEEP_PAGE: usize = 100;
const SWEEP_CONCURRENCY: usize = 25;

/// `DELETE /users/{userId}`: 200 while anything of the user is left (a repeated delete
/// sweeps on), `3003` only when nothing is.
pub async fn delete(store: &Store, app: &AppId, user_id: &str) -> Result<(), Error> {
    validate_user_id(user_id)?;
    if !store.delete_user(app.as_str(), user_id, now_ms()).await? {
        return Err(Error::UserNotFound(user_id.to_owned()));
    }
    sweep(store, app.as_str(), user_id, INLINE_SWEEP).await
}

/// Sweeps a deleted user for up to `budget`, and hands on what is left.
pub async fn sweep(
    store: &Store,
    app_id: &str,
    user_id: &str,
    budget: Duration,
) -> Result<(), Error> {
    if sweep_user(store, app_id, user_id, budget).await? == SweepOutcome::More {
        store
            .rearm_sweep(&Swept::User {
                app_id: app_id.to_owned(),
                user_id: user_id.to_owned(),
            })
            .await?;
    }
    Ok(())
}

async fn sweep_user(
    store: &Store,
    app_id: &str,
    user_id: &str,
    budget: Duration,
) -> Result<SweepOutcome, Error> {
    let deadline = tokio::time::Instant::now() + budget;
    let Some(deleted_at) = store.user_deleted_at(app_id, user_id).await? else {
        return Ok(SweepOutcome::Done);
    };
    let settle_ms = i64::try_from(store.sweep_settle().as_millis()).unwrap_or(i64::MAX);
    loop {
        let clean = sweep_pass(store, app_id, user_id, deadline).await?;
        // The tombstone goes only after a pass that found nothing, made once the settle time
        // has passed: by then every request that read the user before the delete is over and
        // the index shows what it wrote.
        let settled_in = deleted_at.saturating_add(settle_ms) - now_ms();
        if clean && settled_in <= 0 {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            return store
                .sweep_user_partition(app_id, user_id, left, true)
                .await;
        }
        let now = tokio::time::Instant::now();
        let pause = if clean {
            Duration::from_millis(u64::try_from(settled_in).unwrap_or(0))
        } else {
            // Another pass at once would mostly meet the index's lag (entries just removed)
            // or a channel still being created: a short pause, not a busy loop.
            Duration::from_millis(50)
        };
        // A run that cannot reach the settle time hands on at once rather than wait (the
        // request answers; the sweeper waits).
        if now + pause > deadline {
            return Ok(SweepOutcome::More);
        }
        tokio::time::sleep(pause).await;
    }
}

/// One pass over what the user has outside their partition; true if it found nothing.
async fn sweep_pass(
    store: &Store,
    app_id: &str,
    user_id: &str,
    deadline: tokio::time::Instant,
) -> Result<bool, Error> {
    let channels = store
        .user_channel_ids(app_id, user_id, None, SWEEP_PAGE)
        .await?;
    for chunk in channels.items.chunks(SWEEP_CONCURRENCY) {
        futures::future::try_join_all(
            chunk
                .iter()
                .map(|channel| drop_deleted_member(store, app_id, channel, user_id)),
        )
        .await?;
        if tokio::time::Instant::now() >= deadline {
            return Ok(false);
        }
    }
    let (blocked, blockers) = futures::future::try_join(
        store.blocked_ids(app_id, user_id, None, SWEEP_PAGE),
        store.blocker_ids(app_id, user_id, SWEEP_PAGE),
    )
    .await?;
    for chunk in blocked.items.chunks(SWEEP_CONCURRENCY) {
        futures::future::try_join_all(
            chunk
                .iter()
                .map(|target| store.drop_block(app_id, user_id, target, (target, "blocked_by"))),
        )
        .await?;
    }
    for chunk in blockers.items.chunks(SWEEP_CONCURRENCY) {
        futures::future::try_join_all(
            chunk
                .iter()
                .map(|blocker| store.drop_block(app_id, blocker, user_id, (blocker, "blocking"))),
        )
        .await?;
    }
    Ok(channels.items.is_empty() && blocked.items.is_empty() && blockers.items.is_empty())
}
