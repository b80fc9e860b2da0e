//! From the change stream to the WebSocket: each change's realtime event (client-protocol.md
//! §4), to the connections of the users who should see it, and kept for replay.
//!
//! Who gets what:
//! - a channel's events go to its members; a message event only to the members who may see
//!   the message (a broadcast channel's member messages reach their author and the owner;
//!   `hideMessagesBeforeJoin` hides older messages' edits from later members);
//! - a user added to a channel gets `channelAdded`, the others `memberAdded`; users who
//!   left, were banned or unbanned get the event beside the members;
//! - a deleted channel's members each get `channelRemoved` as their membership is swept;
//! - super channels' members are read page by page (their events are not kept for replay);
//!   a super channel's member events (added, left, muted, banned, ...) reach only the users
//!   they are about;
//! - a public channel's watchers (non-members who read it lately) get its events marked
//!   `isPublicChannelEvent`, page by page (docs/design.md, "Public channel watchers").
//!
//! Frames show things as they are at fan-out, as webhook payloads do. A batch handed over
//! again posts frames with the same `uid`s, which the SDKs drop.

use std::collections::{HashMap, HashSet};

use super::audience::{Audience, deliveries};
use super::chunks::{Chunk, ChunkQueue, page};
use super::connections::{Connections, Posted};
use super::push::Push;
use super::{MAX_KEPT_FRAME_BYTES, REPLAY_MAX_RECEIVERS, REPLAY_TTL_S, event_name, event_uid};
use crate::Error;
use crate::model::{Channel, now_ms};
use crate::store::Store;
use crate::webhooks::records::{Change, StreamRecord, Subject, changes};

/// Posts to connections at once, per fan-out.
const POST_CONCURRENCY: usize = 64;

/// Super channel members read per page.
const SUPER_PAGE: usize = 1_000;

/// What a batch did (for logs, tests and the bench).
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Fanned {
    pub events: usize,
    pub posts: usize,
    /// Connections found gone (and forgotten).
    pub gone: usize,
    /// Push notifications FCM accepted, for receivers with no live connection.
    pub pushes: usize,
}

impl Fanned {
    fn add(&mut self, (posts, gone): (usize, usize)) {
        self.posts += posts;
        self.gone += gone;
    }

    pub fn merge(&mut self, other: Fanned) {
        self.events += other.events;
        self.posts += other.posts;
        self.gone += other.gone;
        self.pushes += other.pushes;
    }
}

/// Changes of different channels fanned out at once, per batch.
const CHANNEL_CONCURRENCY: usize = 16;

/// Fans out the events of a batch of stream records: the changes of one channel in stream
/// order, those of different channels side by side. An error fails the batch, which the
/// stream hands over again.
pub async fn fan_out(
    store: &Store,
    connections: &Connections,
    chunks: Option<&ChunkQueue>,
    push: Option<&Push>,
    records: &[StreamRecord],
) -> Result<Fanned, Error> {
    let all: Vec<Change> = changes(records)
        .into_iter()
        .filter(|c| event_name(c.event).is_some())
        .collect();
    // Channels deleted in this batch, as they were: their memberships' removals follow in
    // the stream (same partition, so same shard, in order), often after the tombstone
    // itself is gone.
    let mut deleted: HashMap<(String, String), Channel> = HashMap::new();
    for change in &all {
        if let Subject::Channel {
            channel_id,
            removed: Some(old),
        } = &change.subject
            && let Ok(c) = Channel::try_from((**old).clone())
        {
            deleted.insert((change.app_id.clone(), channel_id.clone()), c);
        }
    }
    // Each app of the batch, read once and side by side; the active ones, with their sealed
    // FCM service account if they have one (their pushes). The others' changes are not
    // fanned out.
    let app_ids: Vec<&str> = all
        .iter()
        .map(|c| c.app_id.as_str())
        .collect::<HashSet<_>>()
        .into_iter()
        .collect();
    let reads: Vec<_> = app_ids.iter().map(|id| store.app(id)).collect();
    let apps: HashMap<String, Option<String>> = app_ids
        .iter()
        .zip(futures::future::try_join_all(reads).await?)
        .filter_map(|(id, app)| {
            app.filter(|a| a.app.active)
                .map(|a| ((*id).to_owned(), a.fcm_service_account))
        })
        .collect();
    // One sequence per channel, in the order of the stream.
    let mut order: Vec<(String, String)> = Vec::new();
    let mut by_channel: HashMap<(String, String), Vec<&Change>> = HashMap::new();
    for change in all.iter().filter(|c| apps.contains_key(&c.app_id)) {
        let Some(channel_id) = change.subject.channel_id() else {
            continue;
        };
        let key = (change.app_id.clone(), channel_id.to_owned());
        by_channel
            .entry(key.clone())
            .or_insert_with(|| {
                order.push(key);
                Vec::new()
            })
            .push(change);
    }
    let out = Outlets {
        store,
        connections,
        chunks,
        push,
        apps: &apps,
        deleted: &deleted,
    };
    // Futures built first, then run: a stream combinator's closure over these references
    // would not be provably Send (rust-lang/rust#102211).
    let sequences: Vec<_> = order
        .into_iter()
        .map(|key| out.sequence(by_channel.remove(&key).unwrap_or_default()))
        .collect();
    use futures::StreamExt;
    let done: Vec<Result<Fanned, Error>> = futures::stream::iter(sequences)
        .buffer_unordered(CHANNEL_CONCURRENCY)
        .collect()
        .await;
    let mut total = Fanned::default();
    for d in done {
        total.merge(d?);
    }
    Ok(total)
}

/// Where a batch's events go, and what the batch knows of deleted channels.
struct Outlets<'a> {
    store: &'a Store,
    connections: &'a Connections,
    chunks: Option<&'a ChunkQueue>,
    push: Option<&'a Push>,
    /// The batch's active apps, with their sealed FCM service account if they have one.
    apps: &'a HashMap<String, Option<String>>,
    deleted: &'a HashMap<(String, String), Channel>,
}

impl Outlets<'_> {
    /// One channel's changes, one after another.
    async fn sequence(&self, changes: Vec<&Change>) -> Result<Fanned, Error> {
        let mut fanned = Fanned::default();
        for change in changes {
            fanned.merge(self.change(change).await?);
        }
        Ok(fanned)
    }

    /// One change's events, to their receivers.
    async fn change(&self, change: &Change) -> Result<Fanned, Error> {
        let (store, connections) = (self.store, self.connections);
        let mut out = Fanned::default();
        for d in deliveries(store, change, self.deleted).await? {
            out.events += 1;
            let uid = event_uid(&change.source, d.event);
            let at = now_ms();
            let frame = super::frame(&uid, d.event, at, &d.data, d.marked);
            let app_id = change.app_id.as_str();
            match d.to {
                Audience::Users(mut to) => {
                    to.sort_unstable();
                    to.dedup();
                    let live = if to.is_empty() {
                        HashMap::new()
                    } else {
                        store.connections_of(app_id, &to, at / 1000).await?
                    };
                    let kept =
                        to.len() <= REPLAY_MAX_RECEIVERS && frame.len() <= MAX_KEPT_FRAME_BYTES;
                    // Live receivers first: the replay's writes (up to 101 items) and the
                    // pushes come after the posts, not beside them.
                    let (mut posts, mut gone, reached) =
                        send_reaching(store, connections, app_id, &live, &frame).await;
                    let mut reached: HashSet<String> =
                        reached.into_iter().map(str::to_owned).collect();
                    let mut pushed = 0;
                    if kept {
                        let expires = at / 1000 + REPLAY_TTL_S;
                        store
                            .keep_event(app_id, &uid, at, &frame, &to, expires)
                            .await?;
                        // A connection authenticated after `live` was read and whose replay
                        // read the feed before the keep would get the event neither way:
                        // one more read, after the keep, finds it (docs/design.md, "Realtime").
                        let late =
                            not_in(store.connections_of(app_id, &to, at / 1000).await?, &live);
                        let (p, g, r) =
                            send_reaching(store, connections, app_id, &late, &frame).await;
                        (posts, gone) = (posts + p, gone + g);
                        reached.extend(r.into_iter().map(str::to_owned));
                        // The pushes' links point at the kept event. Offline: no live
                        // connection, or none that took the frame (all found gone).
                        let offline: Vec<&str> = d
                            .push
                            .iter()
                            .map(String::as_str)
                            .filter(|u| !reached.contains(*u))
                            .collect();
                        if let (Some(push), Some(account), false) = (
                            self.push,
                            self.apps.get(app_id).and_then(Option::as_ref),
                            offline.is_empty(),
                        ) {
                            pushed = push
                                .notify(store, app_id, account, &offline, &uid, at, d.event)
                                .await;
                        }
                    }
                    out.add((posts, gone));
                    out.pushes += pushed;
                }
                Audience::Watchers {
                    channel_id,
                    is_super,
                    except,
                } => {
                    out.add(
                        self.to_watchers(app_id, &channel_id, is_super, except, frame)
                            .await?,
                    );
                }
                Audience::Super {
                    channel,
                    message,
                    except,
                    plus,
                } => {
                    let chunk = Chunk {
                        app_id: app_id.to_owned(),
                        channel_id: channel.id.clone(),
                        channel_type: channel.channel_type.as_str().to_owned(),
                        frame: frame.clone(),
                        joined_by: message
                            .filter(|_| channel.hide_messages_before_join)
                            .map(|m| m.created_at),
                        except,
                        after: None,
                        watchers: false,
                    };
                    out.add(self.walk(chunk, 0).await?);
                    out.add(send(store, connections, app_id, &plus, &frame).await?);
                }
            }
        }
        Ok(out)
    }

    /// A public channel's event to its watchers: with a chunk queue, a super channel's from
    /// the first page and any other's after the first, under the channel's send-rate cap.
    async fn to_watchers(
        &self,
        app_id: &str,
        channel_id: &str,
        is_super: bool,
        except: Vec<String>,
        frame: String,
    ) -> Result<(usize, usize), Error> {
        let chunk = Chunk {
            app_id: app_id.to_owned(),
            channel_id: channel_id.to_owned(),
            channel_type: String::new(),
            frame,
            joined_by: None,
            except,
            after: None,
            watchers: true,
        };
        if self.chunks.is_some() && is_super {
            // Whether anyone watches (one item read) before a chunk is queued.
            let any = self
                .store
                .watchers_page(app_id, channel_id, None, 1, now_ms() / 1000)
                .await?;
            if any.items.is_empty() {
                return Ok((0, 0));
            }
            return self.walk(chunk, 0).await;
        }
        self.walk(chunk, 1).await
    }

    /// Posts the chunk's pages from `chunk.after` on: `here` of them in this invocation and
    /// the rest handed to the chunk queue, or all of them here when there is no queue.
    async fn walk(&self, mut chunk: Chunk, here: usize) -> Result<(usize, usize), Error> {
        let (mut posts, mut gone) = (0, 0);
        for walked in 0.. {
            if let (Some(queue), true) = (self.chunks, walked >= here) {
                queue.send(&chunk, 0).await.map_err(Error::Unavailable)?;
                break;
            }
            let (to, next) = page(self.store, &chunk, SUPER_PAGE).await?;
            let (p, g) = send(
                self.store,
                self.connections,
                &chunk.app_id,
                &to,
                &chunk.frame,
            )
            .await?;
            (posts, gone) = (posts + p, gone + g);
            match next {
                Some(next) => chunk.after = Some(next),
                None => break,
            }
        }
        Ok((posts, gone))
    }
}

/// Posts `frame` to every live connection of `users`; returns (posted, found gone).
async fn send(
    store: &Store,
    connections: &Connections,
    app_id: &str,
    users: &[String],
    frame: &str,
) -> Result<(usize, usize), Error> {
    if users.is_empty() {
        return Ok((0, 0));
    }
    let live = store.connections_of(app_id, users, now_ms() / 1000).await?;
    send_to(store, connections, app_id, &live, frame).await
}

/// Posts `frame` to these connections (by user); returns (posted, found gone).
pub(crate) async fn send_to(
    store: &Store,
    connections: &Connections,
    app_id: &str,
    live: &HashMap<String, Vec<String>>,
    frame: &str,
) -> Result<(usize, usize), Error> {
    let (sent, gone, _) = send_reaching(store, connections, app_id, live, frame).await;
    Ok((sent, gone))
}

/// The connections in `now` that `before` did not list.
fn not_in(
    mut now: HashMap<String, Vec<String>>,
    before: &HashMap<String, Vec<String>>,
) -> HashMap<String, Vec<String>> {
    now.retain(|user, ids| {
        if let Some(old) = before.get(user) {
            ids.retain(|id| !old.contains(id));
        }
        !ids.is_empty()
    });
    now
}

/// `send_to`, with the users at least one of whose connections took the frame.
async fn send_reaching<'a>(
    store: &Store,
    connections: &Connections,
    app_id: &str,
    live: &'a HashMap<String, Vec<String>>,
    frame: &str,
) -> (usize, usize, HashSet<&'a str>) {
    let mut posts = Vec::new();
    for (user, ids) in live {
        for id in ids {
            posts.push(post_one(store, connections, app_id, user, id, frame));
        }
    }
    use futures::StreamExt;
    let results: Vec<(&str, Result<Posted, Error>)> = futures::stream::iter(posts)
        .buffer_unordered(POST_CONCURRENCY)
        .collect()
        .await;
    let (mut sent, mut gone, mut reached) = (0, 0, HashSet::new());
    for (user, r) in results {
        match r {
            Ok(Posted::Sent) => {
                sent += 1;
                reached.insert(user);
            }
            Ok(Posted::Gone) => gone += 1,
            // One connection that cannot be reached now does not hold back the others, nor
            // fail the batch (which would post everything again).
            Err(e) => {
                // Not known to be gone: counted as reached, so no push doubles the frame.
                reached.insert(user);
                tracing::warn!(error = %e, "realtime post failed");
            }
        }
    }
    (sent, gone, reached)
}

async fn post_one<'a>(
    store: &Store,
    connections: &Connections,
    app_id: &str,
    user_id: &'a str,
    connection_id: &str,
    frame: &str,
) -> (&'a str, Result<Posted, Error>) {
    let posted = async {
        let posted = connections
            .post(connection_id, frame)
            .await
            .map_err(Error::Unavailable)?;
        if posted == Posted::Gone {
            store
                .gone_connection(app_id, user_id, connection_id)
                .await?;
        }
        Ok(posted)
    };
    (user_id, posted.await)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn not_in_keeps_only_the_connections_the_first_read_did_not_list() {
        let map = |v: &[(&str, &[&str])]| -> HashMap<String, Vec<String>> {
            v.iter()
                .map(|(u, ids)| (u.to_string(), ids.iter().map(|i| i.to_string()).collect()))
                .collect()
        };
        let before = map(&[("ann", &["a1"]), ("bob", &["b1"])]);
        let now = map(&[("ann", &["a1", "a2"]), ("bob", &["b1"]), ("cy", &["c1"])]);
        assert_eq!(
            not_in(now, &before),
            map(&[("ann", &["a2"]), ("cy", &["c1"])])
        );
        assert_eq!(not_in(before.clone(), &before), HashMap::new());
    }
}
