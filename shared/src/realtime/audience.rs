//! Who gets a change's realtime events, and in which frame (the rules in `fanout`'s docs).

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use serde_json::{Map, Value, json};

use super::event_name;
use crate::Error;
use crate::auth::AppId;
use crate::domain::Actor;
use crate::domain::channels::{
    self,
    client::{Visibility, open_to_readers},
};
use crate::model::{Channel, ChannelDetail, Membership, Message, MessageDetail, now_ms};
use crate::store::Store;
use crate::webhooks::dispatch::{ban_views, member_views, told_members};
use crate::webhooks::records::{Change, Subject};
use crate::wire::{ChannelView, MessageView};

/// Who an event goes to.
#[derive(Debug, Clone)]
pub(super) enum Audience {
    Users(Vec<String>),
    /// Every member of a super channel (read page by page), but `except`, who may see
    /// `message` when there is one; and `plus`.
    Super {
        channel: Box<Channel>,
        message: Option<Box<Message>>,
        except: Vec<String>,
        plus: Vec<String>,
    },
    /// The public channel's watchers (read page by page) who are neither members nor banned,
    /// but `except`.
    Watchers {
        channel_id: String,
        is_super: bool,
        except: Vec<String>,
    },
}

#[derive(Debug, Clone)]
pub(super) struct Delivery {
    pub(super) event: &'static str,
    /// The event's fields: shared by the members' delivery and the watchers' marked one.
    pub(super) data: Arc<Map<String, Value>>,
    pub(super) to: Audience,
    /// Receivers who get a push notification when they have no live connection.
    pub(super) push: Vec<String>,
    /// Marked `isPublicChannelEvent` (a public channel's event to its watchers).
    pub(super) marked: bool,
}

impl Delivery {
    fn new(event: &'static str, data: Map<String, Value>, to: Audience) -> Delivery {
        Delivery {
            event,
            data: Arc::new(data),
            to,
            push: Vec::new(),
            marked: false,
        }
    }
}

/// An event's data from its fields.
fn fields<const N: usize>(pairs: [(&str, Value); N]) -> Map<String, Value> {
    pairs.into_iter().map(|(k, v)| (k.to_owned(), v)).collect()
}

/// Whether `member` may see `message` (any event but a message's: yes).
fn sees(channel: &Channel, member: &Membership, message: Option<&Message>) -> bool {
    message.is_none_or(|m| {
        Visibility::of(channel, Actor::User(&member.user_id), Some(member))
            .is_none_or(|v| v.shows(m))
    })
}

/// The change's events and their receivers.
pub(super) async fn deliveries(
    store: &Store,
    change: &Change,
    deleted: &HashMap<(String, String), Channel>,
) -> Result<Vec<Delivery>, Error> {
    let app = AppId::stored(&change.app_id);
    // A channel's removal has no realtime event: its members are told as they are swept.
    let removal = matches!(
        change.subject,
        Subject::Channel {
            removed: Some(_),
            ..
        }
    );
    if removal {
        return Ok(watched_removal(change));
    }
    let Some(channel_id) = change.subject.channel_id() else {
        return Ok(Vec::new());
    };
    let detail = match channels::get(store, &app, channel_id).await {
        Ok(d) => d,
        Err(Error::ChannelNotFound(_)) => {
            let known = deleted
                .get(&(change.app_id.clone(), channel_id.to_owned()))
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
    let open = open_to_readers(channel.channel_type);
    let mut out = match &change.subject {
        Subject::Channel { .. } => vec![Delivery::new(
            event,
            fields([("channel", json!(channel_view(detail)))]),
            everyone(&[], &[], None),
        )],
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
                    Delivery::new(
                        "channelAdded",
                        fields([("channel", json!(view))]),
                        Audience::Users(ids.clone()),
                    ),
                    Delivery::new(
                        event,
                        fields([("channel", json!(view)), ("users", json!(users))]),
                        about(&ids, &ids, &[]),
                    ),
                ],
                "member_left" => vec![Delivery::new(
                    event,
                    fields([("channel", json!(view)), ("users", json!(users))]),
                    about(&ids, &[], &ids),
                )],
                _ => vec![Delivery::new(
                    event,
                    fields([("channel", json!(view)), ("users", json!(users))]),
                    about(&ids, &[], &[]),
                )],
            }
        }
        Subject::Bans { bans, .. } => {
            let ids: Vec<String> = bans.iter().map(|b| b.user_id.clone()).collect();
            let users = ban_views(store, &change.app_id, bans, known).await?;
            vec![Delivery::new(
                event,
                fields([
                    ("channel", json!(channel_view(detail))),
                    ("users", json!(users)),
                ]),
                about(&ids, &[], &ids),
            )]
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
            let push =
                if change.event == "message" && !is_super && !message.message_type.is_hidden() {
                    detail
                        .members
                        .iter()
                        .filter(|m| m.membership.user_id != message.user_id)
                        .filter(|m| !m.membership.push_disabled)
                        .filter(|m| {
                            m.profile
                                .as_ref()
                                .is_some_and(|p| !p.disable_push_notification)
                        })
                        .filter(|m| sees(&channel, &m.membership, Some(&message)))
                        .map(|m| m.membership.user_id.clone())
                        .collect()
                } else {
                    Vec::new()
                };
            let mut detail = detail;
            if change.event == "message" {
                // The message is the channel's newest for everyone it goes to.
                detail.last_message = Some(shown.clone());
            }
            vec![Delivery {
                push,
                ..Delivery::new(
                    event,
                    fields([
                        ("channel", json!(channel_view(detail))),
                        ("message", json!(MessageView::from(shown))),
                    ]),
                    to,
                )
            }]
        }
        Subject::Block { .. } => Vec::new(),
    };
    // A super channel's member events reach only the users they are about: no watcher either.
    let member_event = matches!(
        change.subject,
        Subject::Members { .. } | Subject::Bans { .. }
    );
    if open && !(is_super && member_event) {
        // The users a member event is about have theirs beside the members.
        let about: Vec<String> = match &change.subject {
            Subject::Members { members, .. } => members.iter().map(|m| m.user_id.clone()).collect(),
            Subject::Bans { bans, .. } => bans.iter().map(|b| b.user_id.clone()).collect(),
            _ => Vec::new(),
        };
        let watched: Vec<Delivery> = out
            .iter()
            .filter(|d| d.event != "channelAdded")
            .map(|d| watched(d.event, d.data.clone(), &channel, about.clone()))
            .collect();
        out.extend(watched);
    }
    Ok(out)
}

/// A public channel's event as its watchers get it: marked `isPublicChannelEvent`.
fn watched(
    event: &'static str,
    data: Arc<Map<String, Value>>,
    channel: &Channel,
    except: Vec<String>,
) -> Delivery {
    Delivery {
        event,
        data,
        to: Audience::Watchers {
            channel_id: channel.id.clone(),
            is_super: channel.channel_type.is_super(),
            except,
        },
        push: Vec::new(),
        marked: true,
    }
}

/// A deleted public channel's `channelRemoved` to its watchers (its members are told as their
/// memberships are swept).
fn watched_removal(change: &Change) -> Vec<Delivery> {
    let Subject::Channel {
        removed: Some(old), ..
    } = &change.subject
    else {
        return Vec::new();
    };
    match Channel::try_from((**old).clone()) {
        Ok(c) if open_to_readers(c.channel_type) => {
            let view = ChannelView::from(ChannelDetail::alone(c.clone()));
            vec![watched(
                "channelRemoved",
                Arc::new(fields([("channel", json!(view))])),
                &c,
                Vec::new(),
            )]
        }
        _ => Vec::new(),
    }
}

/// One page of a public channel's watchers to send to: those of `page` (read after `after`)
/// who are neither members nor banned, nor in `except`; and where the next page starts.
pub(super) async fn watchers_page(
    store: &Store,
    app_id: &str,
    channel_id: &str,
    after: Option<&str>,
    limit: usize,
    except: &[String],
) -> Result<(Vec<String>, Option<String>), Error> {
    let page = store
        .watchers_page(app_id, channel_id, after, limit, now_ms() / 1000)
        .await?;
    let next = page.items.last().cloned().filter(|_| page.has_next);
    let candidates: Vec<String> = page
        .items
        .into_iter()
        .filter(|u| !except.contains(u))
        .collect();
    if candidates.is_empty() {
        return Ok((candidates, next));
    }
    // A watcher who joined (or was banned) since: members have their own frames.
    let states = store
        .member_states(app_id, channel_id, &candidates, false)
        .await?;
    let to = candidates
        .into_iter()
        .filter(|u| !states.memberships.contains_key(u) && !states.banned.contains(u))
        .collect();
    Ok((to, next))
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
    let view = ChannelView::from(ChannelDetail::alone(channel));
    let to: Vec<String> = members
        .iter()
        .map(|m| m.user_id.clone())
        .collect::<HashSet<_>>()
        .into_iter()
        .collect();
    Ok(vec![Delivery::new(
        "channelRemoved",
        fields([("channel", json!(view))]),
        Audience::Users(to),
    )])
}
