//! `POST /v1.4/channels/markread/all` and `POST /v1.4/channels/hide/all`: one change to every
//! channel of the caller. A user may be in any number of channels, so the work is bounded
//! like a delete's sweep: the request works through the caller's channels (pages of 100 from
//! the reverse index, 16 writes at a time) for up to `cleanup::INLINE_SWEEP`, and what is
//! left becomes a job the sweeper finishes (the change stream on AWS, `talkplus-admin sweep`
//! locally), each run for up to `cleanup::WORKER_SWEEP` before it hands on again.

use std::time::{Duration, Instant};

use futures::{StreamExt, TryStreamExt};

use crate::Error;
use crate::model::now_ms;
use crate::store::{JobKind, MemberStateChange, MembershipEntry, Store};

/// Memberships read per page (one BatchGetItem of their channels' counters).
const PAGE: usize = crate::store::MAX_BATCH_GET_KEYS;
/// Writes of one page in flight at once.
const WRITES_AT_ONCE: usize = 16;

/// The request's part: the change to the caller's channels for up to `budget`, then the rest
/// handed to the sweeper. A job of the same kind that an earlier request left is replaced
/// (or removed, when this request does it all), so it never runs on behind this one.
pub async fn start(
    store: &Store,
    app_id: &str,
    user_id: &str,
    kind: JobKind,
    budget: Duration,
) -> Result<(), Error> {
    match run(store, app_id, user_id, kind, None, budget).await? {
        Some(after) => {
            store
                .hand_on_job(app_id, user_id, kind, &after, None)
                .await?;
        }
        None => {
            if let Some(old) = store.job(app_id, user_id, kind).await? {
                store.end_job(app_id, user_id, kind, &old.token).await?;
            }
        }
    }
    Ok(())
}

/// The sweeper's part: the job's next stretch, then its end or its next hand-off. A job
/// replaced meanwhile by a newer request's keeps the newer one (its token changed).
pub async fn resume(
    store: &Store,
    app_id: &str,
    user_id: &str,
    kind: JobKind,
    budget: Duration,
) -> Result<(), Error> {
    let Some(job) = store.job(app_id, user_id, kind).await? else {
        return Ok(());
    };
    match run(store, app_id, user_id, kind, job.after.clone(), budget).await? {
        Some(after) => {
            store
                .hand_on_job(app_id, user_id, kind, &after, Some(&job.token))
                .await?;
        }
        None => store.end_job(app_id, user_id, kind, &job.token).await?,
    }
    Ok(())
}

/// Works through the user's channels after `after` until they are done (`None`) or the
/// budget is spent (`Some`: the last channel id done, `""` for none).
async fn run(
    store: &Store,
    app_id: &str,
    user_id: &str,
    kind: JobKind,
    mut after: Option<String>,
    budget: Duration,
) -> Result<Option<String>, Error> {
    let started = Instant::now();
    loop {
        if started.elapsed() >= budget {
            return Ok(Some(after.unwrap_or_default()));
        }
        let page = store
            .user_memberships_page(app_id, user_id, after.as_deref(), PAGE)
            .await?;
        match kind {
            JobKind::MarkReadAll => mark_read(store, app_id, user_id, &page.items).await?,
            JobKind::HideAll => hide(store, app_id, &page.items).await?,
        }
        if let Some(last) = page.items.last() {
            after = Some(last.channel_id.clone());
        }
        if !page.has_next {
            return Ok(None);
        }
    }
}

/// Marks read the channels of a page that have unread messages for the user (super channels
/// have no read marks). The index's view of each membership may be a moment old: a mark
/// conditioned on it that fails (the user sent, or marked, meanwhile) is made again from a
/// fresh snapshot, as `markread` of that one channel does.
async fn mark_read(
    store: &Store,
    app_id: &str,
    user_id: &str,
    entries: &[MembershipEntry],
) -> Result<(), Error> {
    let marked: Vec<&MembershipEntry> = entries.iter().filter(|m| !m.is_super()).collect();
    if marked.is_empty() {
        return Ok(());
    }
    let counts = store
        .message_counts(app_id, marked.iter().map(|m| m.channel_id.as_str()))
        .await?;
    let now = now_ms();
    let unread: Vec<(&MembershipEntry, i64)> = marked
        .into_iter()
        .filter_map(|m| {
            let count = *counts.get(&m.channel_id)?;
            (count > m.read_count + m.sent_since_read).then_some((m, count))
        })
        .collect();
    // Futures made up front (they start only when polled): a closure mapping borrowed
    // entries inside the stream trips the compiler's `Send` proof for the handler.
    let marks: Vec<_> = unread
        .into_iter()
        .map(|(m, count)| mark_one(store, app_id, user_id, m, count, now))
        .collect();
    futures::stream::iter(marks)
        .buffer_unordered(WRITES_AT_ONCE)
        .try_collect::<Vec<()>>()
        .await?;
    Ok(())
}

async fn mark_one(
    store: &Store,
    app_id: &str,
    user_id: &str,
    m: &MembershipEntry,
    count: i64,
    now: i64,
) -> Result<(), Error> {
    let marked = store
        .mark_read(app_id, &m.channel_id, &m.sk, count, m.sent_since_read, now)
        .await?;
    if !marked {
        super::client::mark_exact(store, app_id, &m.channel_id, user_id).await?;
    }
    Ok(())
}

/// Hides every channel of a page (one the user has left meanwhile is skipped).
async fn hide(store: &Store, app_id: &str, entries: &[MembershipEntry]) -> Result<(), Error> {
    let hidden = MemberStateChange::Hidden(true);
    let hides: Vec<_> = entries
        .iter()
        .filter(|m| !m.hidden)
        .map(|m| store.set_member_state_at(app_id, &m.channel_id, &m.sk, &hidden))
        .collect();
    futures::stream::iter(hides)
        .buffer_unordered(WRITES_AT_ONCE)
        .try_collect::<Vec<_>>()
        .await?;
    Ok(())
}
