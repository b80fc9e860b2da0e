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
//!   they are about.
//!
//! Frames show things as they are at fan-out, as webhook payloads do. A batch handed over
//! again posts frames with the same `uid`s, which the SDKs drop.

use std::collections::{HashMap, HashSet};

use serde_json::{Value, json};

use super::chunks::{Chunk, ChunkQueue};
use super::connections::{Connections, Posted};
use super::{MAX_KEPT_FRAME_BYTES, REPLAY_MAX_RECEIVERS, REPLAY_TTL_S, event_name, event_uid};
use crate::Error;
use crate::auth::AppId;
use crate::domain::Actor;
use crate::domain::channels::{self, client::Visibility};
use crate::model::{Channel, ChannelDetail, Membership, Message, MessageDetail, now_ms};
use crate::store::Store;
use crate::webhooks::dispatch::{ban_views, member_views, told_members};
use crate::webhooks::records::{Change, StreamRecord, Subject, changes};
use crate::wire::{ChannelView, MessageView};

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
}

impl Fanned {
    fn add(&mut self, (posts, gone): (usize, usize)) {
        self.posts += posts;
        self.gone += gone;
    }
}

/// Who an event goes to.
#[derive(Debug, Clone)]
enum Audience {
    Users(Vec<String>),
    /// Every member of a super channel (read page by page), but `except`, who may see
    /// `message` when there is one; and `plus`.
    Super {
        channel: Box<Channel>,
        message: Option<Box<Message>>,
        except: Vec<String>,
        plus: Vec<String>,
    },
}

#[derive(Debug, Clone)]
struct Delivery {
    event: &'static str,
    data: Value,
    to: Audience,
}

/// Fans out the events of a batch of stream records. An error fails the batch, which the
/// stream hands over again.
pub async fn fan_out(
    store: &Store,
    connections: &Connections,
    chunks: Option<&ChunkQueue>,
    records: &[StreamRecord],
) -> Result<Fanned, Error> {
    let mut active: HashMap<String, bool> = HashMap::new();
    let mut out = Fanned::default();
    // Channels deleted in this batch, as they were: their memberships' removals follow in
    // the stream (same partition, so same shard, in order), often after the tombstone
    // itself is gone.
    let mut deleted: HashMap<(String, String), Channel> = HashMap::new();
    for change in changes(records) {
        if event_name(change.event).is_none() {
            continue;
        }
        if let Subject::Channel {
            channel_id,
            removed: Some(old),
        } = &change.subject
            && let Ok(c) = Channel::try_from((**old).clone())
        {
            deleted.insert((change.app_id.clone(), channel_id.clone()), c);
        }
        let live = match active.get(&change.app_id) {
            Some(a) => *a,
            None => {
                let a = store
                    .app(&change.app_id)
                    .await?
                    .is_some_and(|a| a.app.active);
                active.insert(change.app_id.clone(), a);
                a
            }
        };
        if !live {
            continue;
        }
        for d in deliveries(store, &change, &deleted).await? {
            out.events += 1;
            let uid = event_uid(&change.source, d.event);
            let at = now_ms();
            let frame = super::frame(&uid, d.event, at, d.data);
            let app_id = change.app_id.as_str();
            match d.to {
                Audience::Users(mut to) => {
                    to.sort_unstable();
                    to.dedup();
                    let keep = async {
                        if to.len() <= REPLAY_MAX_RECEIVERS && frame.len() <= MAX_KEPT_FRAME_BYTES {
                            let expires = at / 1000 + REPLAY_TTL_S;
                            store
                                .keep_event(app_id, &uid, at, &frame, &to, expires)
                                .await?;
                        }
                        Ok::<_, Error>(())
                    };
                    let (_, sent) = futures::future::try_join(
                        keep,
                        send(store, connections, app_id, &to, &frame),
                    )
                    .await?;
                    out.add(sent);
                }
                Audience::Super {
                    channel,
                    message,
                    except,
                    plus,
                } if chunks.is_some() => {
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
                    };
                    if let Some(queue) = chunks {
                        queue.send(&chunk, 0).await.map_err(Error::Unavailable)?;
                    }
                    out.add(send(store, connections, app_id, &plus, &frame).await?);
                }
                Audience::Super {
                    channel,
                    message,
                    except,
                    plus,
                } => {
                    let mut after: Option<String> = None;
                    loop {
                        let page = store
                            .memberships_page(app_id, &channel, after.as_deref(), SUPER_PAGE, None)
                            .await?;
                        after = page.items.last().map(|m| m.user_id.clone());
                        let to: Vec<String> = page
                            .items
                            .iter()
                            .filter(|m| !except.contains(&m.user_id))
                            .filter(|m| sees(&channel, m, message.as_deref()))
                            .map(|m| m.user_id.clone())
                            .collect();
                        out.add(send(store, connections, app_id, &to, &frame).await?);
                        if !page.has_next || after.is_none() {
                            break;
                        }
                    }
                    out.add(send(store, connections, app_id, &plus, &frame).await?);
                }
            }
        }
    }
    Ok(out)
}

/// Whether `member` may see `message` (any event but a message's: yes).
fn sees(channel: &Channel, member: &Membership, message: Option<&Message>) -> bool {
    message.is_none_or(|m| {
        Visibility::of(channel, Actor::User(&member.user_id), Some(member))
            .is_none_or(|v| v.shows(m))
    })
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
    let mut posts = Vec::new();
    for (user, ids) in live {
        for id in ids {
            posts.push(post_one(store, connections, app_id, user, id, frame));
        }
    }
    use futures::StreamExt;
    let results: Vec<Result<Posted, Error>> = futures::stream::iter(posts)
        .buffer_unordered(POST_CONCURRENCY)
        .collect()
        .await;
    let (mut sent, mut gone) = (0, 0);
    for r in results {
        match r {
            Ok(Posted::Sent) => sent += 1,
            Ok(Posted::Gone) => gone += 1,
            // One connection that cannot be reached now does not hold back the others, nor
            // fail the batch (which would post everything again).
            Err(e) => tracing::warn!(error = %e, "realtime post failed"),
        }
    }
    Ok((sent, gone))
}

async fn post_one(
    store: &Store,
    connections: &Connections,
    app_id: &str,
    user_id: &str,
    connection_id: &str,
    frame: &str,
) -> Result<Posted, Error> {
    let posted = connections
        .post(connection_id, frame)
        .await
        .map_err(Error::Unavailable)?;
    if posted == Posted::Gone {
        store
            .forget_connection(app_id, user_id, connection_id)
            .await?;
        store.close_connection(connection_id).await?;
    }
    Ok(posted)
}

/// The change's events and their receivers.
async fn deliveries(
    store: &Store,
    change: &Change,
    deleted: &HashMap<(String, String), Channel>,
) -> Result<Vec<Delivery>, Error> {
    let app = AppId::stored(&change.app_id);
    let channel_id = match &change.subject {
        // No realtime event; a deleted channel's members are told as they are swept.
        Subject::Block { .. }
        | Subject::Channel {
            removed: Some(_), ..
        } => {
            return Ok(Vec::new());
        }
        Subject::Channel { channel_id, .. }
        | Subject::Members { channel_id, .. }
        | Subject::Bans { channel_id, .. }
        | Subject::Message { channel_id, .. } => channel_id,
    };
    let detail = match channels::get(store, &app, channel_id).await {
        Ok(d) => d,
        Err(Error::ChannelNotFound(_)) => {
            let known = deleted
                .get(&(change.app_id.clone(), channel_id.clone()))
                .cloned();
            return removed(store, change, channel_id, known).await;
        }
        Err(e) => return Err(e),
    };
    let channel = detail.channel.clone();
    let is_super = channel.channel_type.is_super();
    let memberships: Vec<Membership> = detail
        .members
        .iter()
        .map(|m| m.membership.clone())
        .collect();
    let banned: Vec<String> = detail
        .banned
        .iter()
        .map(|b| b.ban.user_id.clone())
        .collect();
    let mut known = HashMap::new();
    for p in detail.members.iter().filter_map(|m| m.profile.as_ref()) {
        known.insert(p.id.clone(), p.clone());
    }
    let everyone = |except: &[String], plus: &[String], message: Option<&Message>| {
        // A message a member who is neither its author nor the owner may not see (a super
        // broadcast channel's member message): only those two, not a page of every member.
        let hidden = message.filter(|m| {
            Visibility::of(&channel, Actor::User("\u{0}"), None).is_some_and(|v| !v.shows(m))
        });
        if let (true, Some(m)) = (is_super, hidden) {
            let mut to = vec![m.user_id.clone(), channel.owner_id.clone()];
            to.retain(|u| !u.is_empty() && !except.contains(u));
            to.extend(plus.iter().cloned());
            return Audience::Users(to);
        }
        if is_super {
            Audience::Super {
                channel: Box::new(channel.clone()),
                message: message.cloned().map(Box::new),
                except: except.to_vec(),
                plus: plus.to_vec(),
            }
        } else {
            let mut to: Vec<String> = memberships
                .iter()
                .filter(|m| !except.contains(&m.user_id))
                .filter(|m| sees(&channel, m, message))
                .map(|m| m.user_id.clone())
                .collect();
            to.extend(plus.iter().cloned());
            Audience::Users(to)
        }
    };
    // A member event of a super channel reaches only the users it is about: told to every
    // member, each of 100,000 joins would be 100,000 posts.
    let about = |users: &[String], except: &[String], plus: &[String]| {
        if is_super {
            Audience::Users(
                users
                    .iter()
                    .filter(|u| !except.contains(u))
                    .cloned()
                    .collect(),
            )
        } else {
            everyone(except, plus, None)
        }
    };
    let newest = detail.last_message.clone();
    let event = event_name(change.event).unwrap_or("");
    // Outside message events, a `lastMessage` is shown only where every member sees it.
    let channel_view = |mut d: ChannelDetail| {
        let shared = d.last_message.as_ref().is_none_or(|l| {
            !d.channel.hide_messages_before_join
                && Visibility::of(&d.channel, Actor::User("\u{0}"), None)
                    .is_none_or(|v| v.shows(&l.message))
        });
        if !shared {
            d.last_message = None;
        }
        ChannelView::from(d)
    };
    let out = match &change.subject {
        Subject::Channel { .. } => vec![Delivery {
            event,
            data: json!({"channel": channel_view(detail)}),
            to: everyone(&[], &[], None),
        }],
        Subject::Members { members, .. } => {
            let members = told_members(change, members, channel.created_at, &banned);
            if members.is_empty() {
                return Ok(Vec::new());
            }
            let ids: Vec<String> = members.iter().map(|m| m.user_id.clone()).collect();
            let users = member_views(store, &change.app_id, &members, known).await?;
            let view = channel_view(detail);
            match change.event {
                "member_added" => vec![
                    Delivery {
                        event: "channelAdded",
                        data: json!({"channel": view}),
                        to: Audience::Users(ids.clone()),
                    },
                    Delivery {
                        event,
                        data: json!({"channel": view, "users": users}),
                        to: about(&ids, &ids, &[]),
                    },
                ],
                "member_left" => vec![Delivery {
                    event,
                    data: json!({"channel": view, "users": users}),
                    to: about(&ids, &[], &ids),
                }],
                _ => vec![Delivery {
                    event,
                    data: json!({"channel": view, "users": users}),
                    to: about(&ids, &[], &[]),
                }],
            }
        }
        Subject::Bans { bans, .. } => {
            let ids: Vec<String> = bans.iter().map(|b| b.user_id.clone()).collect();
            let users = ban_views(store, &change.app_id, bans, known).await?;
            vec![Delivery {
                event,
                data: json!({"channel": channel_view(detail), "users": users}),
                to: about(&ids, &[], &ids),
            }]
        }
        Subject::Message { message, .. } => {
            let message = Message::try_from((**message).clone())?;
            let shown: MessageDetail = match newest {
                Some(d) if d.message.id == message.id && change.event == "message" => d,
                _ => {
                    let mut shown = crate::domain::messages::details(
                        store,
                        &change.app_id,
                        vec![message.clone()],
                    )
                    .await?;
                    let Some(d) = shown.pop() else {
                        return Ok(Vec::new());
                    };
                    d
                }
            };
            let to = everyone(&[], &[], Some(&message));
            let mut detail = detail;
            if change.event == "message" {
                // The message is the channel's newest for everyone it goes to.
                detail.last_message = Some(shown.clone());
            }
            vec![Delivery {
                event,
                data: json!({"channel": channel_view(detail), "message": MessageView::from(shown)}),
                to,
            }]
        }
        Subject::Block { .. } => Vec::new(),
    };
    Ok(out)
}

/// A change of a channel that is gone: a membership swept with a deleted channel is that
/// member's `channelRemoved` (the channel as it was); anything else is nobody's.
async fn removed(
    store: &Store,
    change: &Change,
    channel_id: &str,
    known: Option<Channel>,
) -> Result<Vec<Delivery>, Error> {
    let Subject::Members { members, .. } = &change.subject else {
        return Ok(Vec::new());
    };
    if change.event != "member_left" {
        return Ok(Vec::new());
    }
    let channel = match known {
        Some(c) => c,
        // A large channel's sweep runs on: its tombstone is still there.
        None => match store.removed_channel(&change.app_id, channel_id).await? {
            Some(c) => c,
            None => {
                tracing::warn!(
                    channel_id,
                    "channelRemoved: the deleted channel is no longer known"
                );
                return Ok(Vec::new());
            }
        },
    };
    let view = ChannelView::from(ChannelDetail {
        channel,
        viewer: None,
        members: Vec::new(),
        bots: Vec::new(),
        banned: Vec::new(),
        last_message: None,
    });
    let to: Vec<String> = members
        .iter()
        .map(|m| m.user_id.clone())
        .collect::<HashSet<_>>()
        .into_iter()
        .collect();
    Ok(vec![Delivery {
        event: "channelRemoved",
        data: json!({"channel": view}),
        to: Audience::Users(to),
    }])
}
