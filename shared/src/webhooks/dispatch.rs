//! The stream consumer: each committed change becomes its webhook event and, for messages,
//! the bot callbacks; each delivery is queued (`queue`), never sent from here, so a slow
//! receiver holds back nothing but its own deliveries.
//!
//! Payloads show things as they are when the event is dispatched (a fraction of a second
//! after the change): the channel after the change, the message, the members with their
//! current profiles. `channel_removed` shows the channel as it was before the delete, without
//! members (they are removed with it).

use std::collections::HashMap;

use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use super::records::{Change, StreamRecord, Subject, changes};
use super::{INLINE_BODY_BYTES, Job, STORED_BODY_TTL_S, Target, WebhookSettings};
use crate::Error;
use crate::auth::AppId;
use crate::domain::{channels, messages};
use crate::model::{
    Ban, BannedUser, ChannelDetail, Member, Membership, Message, MessageDetail, User, now_ms,
};
use crate::store::Store;
use crate::store::items::{BanItem, MembershipItem};
use crate::wire::{ChannelView, MemberView, MessageView, UserView};

use super::queue::Queue;

/// What the batch produced (for logs and tests).
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Dispatched {
    pub events: usize,
    pub queued: usize,
}

/// Dispatches a batch of stream records. An error fails the batch and the stream hands it
/// over again: jobs already queued are queued again with the same ids, which the FIFO queue's
/// deduplication drops within five minutes and receivers can drop by `webhook-id` after.
pub async fn dispatch(
    store: &Store,
    queue: &Queue,
    records: &[StreamRecord],
) -> Result<Dispatched, Error> {
    let mut settings: HashMap<String, Option<WebhookSettings>> = HashMap::new();
    let mut out = Dispatched::default();
    for change in changes(records) {
        if !super::EVENTS.contains(&change.event) {
            // A realtime event only (an edit, a reaction): `realtime::fanout`'s.
            continue;
        }
        let webhook = match settings.get(&change.app_id) {
            Some(s) => s.clone(),
            None => {
                let s = store
                    .app(&change.app_id)
                    .await?
                    .filter(|a| a.app.active)
                    .map(|a| a.webhook);
                settings.insert(change.app_id.clone(), s.clone());
                s
            }
        };
        // A change of an app that no longer exists, or is deactivated, is nobody's event.
        let Some(webhook) = webhook else { continue };
        let wants_webhook = webhook.url_for(change.event).is_some();
        if !wants_webhook {
            // Nobody but a bot may want it: only a message can reach a bot, and only in a
            // channel with bots (one item read, not the channel and its members' profiles).
            let Subject::Message { channel_id, .. } = &change.subject else {
                continue;
            };
            let bots = store.channel_bot_count(&change.app_id, channel_id).await?;
            if bots.unwrap_or(0) == 0 {
                continue;
            }
        }
        let Some((body, bots)) = payload(store, &change).await? else {
            continue;
        };
        out.events += 1;
        let mut body = body.to_string();
        let id = webhook_id(&change);
        let mut body_parts = 0;
        if body.len() > INLINE_BODY_BYTES {
            let expires = now_ms() / 1000 + STORED_BODY_TTL_S;
            body_parts = store
                .put_webhook_body(&change.app_id, &id, &body, expires)
                .await?;
            body = String::new();
        }
        let mut targets = Vec::new();
        if wants_webhook {
            targets.push(Target::Webhook);
        }
        targets.extend(bots.into_iter().map(|bot_id| Target::Bot { bot_id }));
        for target in targets {
            let job = Job {
                id: id.clone(),
                app_id: change.app_id.clone(),
                event: change.event.to_owned(),
                target,
                retry: webhook.retry,
                queued_at: now_ms(),
                body: body.clone(),
                body_parts,
            };
            queue
                .send(&change.scope(), &job)
                .await
                .map_err(Error::Unavailable)?;
            out.queued += 1;
        }
    }
    Ok(out)
}

/// The same change always has the same id (a replayed batch included).
fn webhook_id(change: &Change) -> String {
    let digest = Sha256::digest(format!("{}\0{}", change.source, change.event).as_bytes());
    format!("msg_{}", &crate::secrets::hex(&digest)[..32])
}

/// The event's body, and the bots whose callback gets it; `None` when there is nothing to
/// send any more (the channel was swept, the removal was a ban, ...).
async fn payload(store: &Store, change: &Change) -> Result<Option<(Value, Vec<String>)>, Error> {
    let app = AppId::stored(&change.app_id);
    let head = |channel: ChannelView| json!({"event": change.event, "appId": change.app_id, "channel": channel});
    match &change.subject {
        Subject::Block { user_id, target_id } => {
            let users = store
                .users_by_id(&change.app_id, &[user_id.clone(), target_id.clone()])
                .await?;
            let (Some(user), Some(blocked)) = (users.get(user_id), users.get(target_id)) else {
                // One of them was deleted: the block went with them.
                return Ok(None);
            };
            return Ok(Some((
                json!({
                    "event": change.event,
                    "appId": change.app_id,
                    "user": UserView::from(user.clone()),
                    "blockedUser": UserView::from(blocked.clone()),
                }),
                Vec::new(),
            )));
        }
        Subject::Channel {
            removed: Some(old), ..
        } => {
            let channel = crate::model::Channel::try_from((**old).clone())?;
            let view = ChannelView::from(ChannelDetail::alone(channel));
            return Ok(Some((head(view), Vec::new())));
        }
        _ => {}
    }
    let Some(channel_id) = change.subject.channel_id() else {
        return Ok(None);
    };
    let detail = match channels::get(store, &app, channel_id).await {
        Ok(d) => d,
        // Deleted since: its members, bans and messages went with it.
        Err(Error::ChannelNotFound(_)) => return Ok(None),
        Err(e) => return Err(e),
    };
    let created_at = detail.channel.created_at;
    let banned: Vec<String> = detail
        .banned
        .iter()
        .map(|b| b.ban.user_id.clone())
        .collect();
    let bots: Vec<_> = detail.bots.clone();
    // What the channel read already showed: its newest message (most often the message of the
    // event) and the profiles of its members and banned users.
    let newest = detail.last_message.clone();
    let mut known: HashMap<String, User> = HashMap::new();
    for p in detail.members.iter().filter_map(|m| m.profile.as_ref()) {
        known.insert(p.id.clone(), p.clone());
    }
    for p in detail.banned.iter().filter_map(|b| b.profile.as_ref()) {
        known.insert(p.id.clone(), p.clone());
    }
    let mut body = head(ChannelView::from(detail));
    match &change.subject {
        Subject::Members { members, .. } => {
            let members = told_members(change, members, created_at, &banned);
            if members.is_empty() {
                return Ok(None);
            }
            body["users"] = json!(member_views(store, &change.app_id, &members, known).await?);
        }
        Subject::Bans { bans, .. } => {
            body["users"] = json!(ban_views(store, &change.app_id, bans, known).await?);
        }
        Subject::Message { message, .. } => {
            let message = Message::try_from((**message).clone())?;
            let author = message.user_id.clone();
            let from_bot = message.message_type.is_bot();
            let detail = match newest {
                Some(d) if d.message.id == message.id => d,
                _ => {
                    let mut shown: Vec<MessageDetail> =
                        messages::details(store, &change.app_id, vec![message]).await?;
                    let Some(d) = shown.pop() else {
                        return Ok(None);
                    };
                    d
                }
            };
            body["message"] = json!(MessageView::from(detail));
            if change.event == "message" {
                // Every bot of the channel with a callback, but not to itself.
                let to_bots = bots
                    .into_iter()
                    .filter(|b| !b.callback_url.is_empty())
                    .filter(|b| !(from_bot && b.id == author))
                    .map(|b| b.id)
                    .collect();
                return Ok(Some((body, to_bots)));
            }
        }
        Subject::Channel { .. } | Subject::Block { .. } => {}
    }
    Ok(Some((body, Vec::new())))
}

/// The memberships a member event is about: not those a channel was created with (they are in
/// its `channel_added`), not a removal that was a ban (that is `member_banned`).
pub(crate) fn told_members<'a>(
    change: &Change,
    members: &'a [MembershipItem],
    channel_created_at: i64,
    banned: &[String],
) -> Vec<&'a MembershipItem> {
    members
        .iter()
        .filter(|m| !(change.event == "member_added" && m.created_at == channel_created_at))
        .filter(|m| !(change.event == "member_left" && banned.contains(&m.user_id)))
        .collect()
}

/// Members as an event shows them, with their current profiles.
pub(crate) async fn member_views(
    store: &Store,
    app_id: &str,
    members: &[&MembershipItem],
    known: HashMap<String, User>,
) -> Result<Vec<MemberView>, Error> {
    let ids = members.iter().map(|m| m.user_id.as_str());
    let profiles = profiles(store, app_id, ids, known).await?;
    Ok(members
        .iter()
        .map(|m| {
            MemberView::from(Member {
                profile: profiles.get(&m.user_id).cloned(),
                membership: Membership::from((*m).clone()),
            })
        })
        .collect())
}

/// Banned (or unbanned) users as an event shows them, with their current profiles.
pub(crate) async fn ban_views(
    store: &Store,
    app_id: &str,
    bans: &[BanItem],
    known: HashMap<String, User>,
) -> Result<Vec<MemberView>, Error> {
    let ids = bans.iter().map(|b| b.user_id.as_str());
    let profiles = profiles(store, app_id, ids, known).await?;
    Ok(bans
        .iter()
        .map(|b| {
            MemberView::from(BannedUser {
                profile: profiles.get(&b.user_id).cloned(),
                ban: Ban {
                    user_id: b.user_id.clone(),
                    created_at: b.created_at,
                },
            })
        })
        .collect())
}

/// The profiles of `ids`: those the channel read found, and one batch read for the rest
/// (users no longer members; every one in a super channel, whose members are never read).
async fn profiles(
    store: &Store,
    app_id: &str,
    ids: impl Iterator<Item = &str>,
    mut known: HashMap<String, User>,
) -> Result<HashMap<String, User>, Error> {
    let missing: Vec<String> = ids
        .filter(|id| !known.contains_key(*id))
        .map(str::to_owned)
        .collect();
    if !missing.is_empty() {
        known.extend(store.users_by_id(app_id, &missing).await?);
    }
    Ok(known)
}
