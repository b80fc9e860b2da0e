//! The client API's own channel operations (join, leave, ownership transfer) and its read
//! rule. Everything else a client does to a channel is the admin operation with
//! `Actor::User`, whose rules live beside the admin ones.

use super::{MemberOp, change, validate_channel_id};
use crate::Error;
use crate::auth::AppId;
use crate::domain::Actor;
use crate::model::{Channel, ChannelDetail, ChannelType};
use crate::store::{ChannelLookup, Store};
use crate::wire::UpdateChannelRequest;

/// Channels any user of the app may read without being a member.
pub fn open_to_readers(channel_type: ChannelType) -> bool {
    matches!(channel_type, ChannelType::Public | ChannelType::SuperPublic)
}

/// The read rule of the client API: a member, or anyone for a public channel (`2005`).
/// `member` is whether the caller's membership was found.
pub fn check_reader(channel: &Channel, actor: Actor, member: bool) -> Result<(), Error> {
    match actor {
        Actor::User(caller) if !member && !open_to_readers(channel.channel_type) => {
            Err(Error::NotChannelMember(caller.to_owned()))
        }
        _ => Ok(()),
    }
}

/// Whether `actor` is a member of the channel (true for the admin API, which reads all):
/// one batch read, to run beside the channel read.
pub async fn reads_as_member(
    store: &Store,
    app: &AppId,
    channel_id: &str,
    actor: Actor<'_>,
) -> Result<bool, Error> {
    match actor {
        Actor::Admin => Ok(true),
        Actor::User(caller) => Ok(store
            .member_states(app.as_str(), channel_id, &[caller.to_owned()], false)
            .await?
            .memberships
            .contains_key(caller)),
    }
}

/// `GET /channels/{channelId}` for `actor`: the channel and, on the client API, the caller's
/// membership read beside it.
pub async fn view(
    store: &Store,
    app: &AppId,
    actor: Actor<'_>,
    channel_id: &str,
) -> Result<ChannelDetail, Error> {
    validate_channel_id(channel_id)?;
    let (detail, member) = futures::future::try_join(
        super::get(store, app, channel_id),
        reads_as_member(store, app, channel_id, actor),
    )
    .await?;
    check_reader(&detail.channel, actor, member)?;
    Ok(detail)
}

/// `POST /v1.4/channels/{channelId}/join` and `/join/invitation`.
pub async fn join(
    store: &Store,
    app: &AppId,
    caller: &str,
    channel_id: &str,
    invitation_code: Option<String>,
) -> Result<ChannelDetail, Error> {
    change(
        store,
        app,
        channel_id,
        MemberOp::Join { invitation_code },
        Actor::User(caller),
        vec![caller.to_owned()],
    )
    .await
}

/// `POST /v1.4/channels/{channelId}/leave`: the caller leaves (an owner too: the channel goes
/// on without one); with `delete_if_empty`, a channel left empty is deleted, unless someone
/// joined it meanwhile.
pub async fn leave(
    store: &Store,
    app: &AppId,
    caller: &str,
    channel_id: &str,
    delete_if_empty: bool,
) -> Result<(), Error> {
    let after = change(
        store,
        app,
        channel_id,
        MemberOp::Leave,
        Actor::User(caller),
        vec![caller.to_owned()],
    )
    .await?;
    if delete_if_empty && after.channel.member_count == 0 {
        let deleted = store
            .delete_empty_channel(app.as_str(), channel_id, crate::model::now_ms())
            .await?;
        if deleted {
            super::sweep(store, app.as_str(), channel_id, super::INLINE_SWEEP).await?;
        }
    }
    Ok(())
}

/// `POST /v1.4/channels/{channelId}/transfer/ownership`: the owner's (`2031`) to a member.
pub async fn transfer_ownership(
    store: &Store,
    app: &AppId,
    caller: &str,
    channel_id: &str,
    new_owner: Option<String>,
) -> Result<ChannelDetail, Error> {
    let owner_id = crate::validate::required("userId", new_owner)?;
    super::update(
        store,
        app,
        Actor::User(caller),
        channel_id,
        UpdateChannelRequest {
            owner_id: Some(owner_id),
            ..UpdateChannelRequest::default()
        },
    )
    .await
}

/// Reads and marks one mark-read makes before giving up on a channel whose messages keep
/// coming in between.
const MARK_ATTEMPTS: usize = 6;

/// `POST /v1.4/channels/{channelId}/markread`: the caller's read mark moves to the channel's
/// message count as read, in one transaction that holds only while the count is still that
/// (a message sent in between is read again, never skipped): two round trips, the profiles
/// of the answer read beside the write. `2005` for a non-member.
pub async fn mark_read(
    store: &Store,
    app: &AppId,
    caller: &str,
    channel_id: &str,
) -> Result<ChannelDetail, Error> {
    validate_channel_id(channel_id)?;
    let app_id = app.as_str();
    let ids = [caller.to_owned()];
    for _ in 0..MARK_ATTEMPTS {
        let (lookup, states) = futures::future::try_join(
            store.channel(app_id, channel_id),
            store.member_states(app_id, channel_id, &ids, false),
        )
        .await?;
        let ChannelLookup::Found(mut cm) = lookup else {
            return Err(Error::ChannelNotFound(channel_id.to_owned()));
        };
        if cm.unfinished {
            store.finish_pending(app_id, channel_id).await?;
            continue;
        }
        if !states.memberships.contains_key(caller) {
            return Err(Error::NotChannelMember(caller.to_owned()));
        }
        let now = crate::model::now_ms();
        let seen = cm.channel.message_count;
        for m in cm.members.iter_mut().filter(|m| m.user_id == caller) {
            m.read_count = seen;
            m.sent_since_read = 0;
            m.last_read_at = now;
        }
        let sort_key = crate::store::keys::member_sk(cm.channel.channel_type, caller);
        let (marked, detail) = futures::future::try_join(
            store.mark_read(app_id, channel_id, &sort_key, seen, now),
            super::add_profiles(store, app, vec![*cm], std::collections::HashMap::new()),
        )
        .await?;
        if marked {
            return super::one(detail);
        }
        tracing::debug!(
            channel = channel_id,
            "a message arrived during a mark-read; reading again"
        );
    }
    Err(Error::Unavailable(format!(
        "channel {channel_id} kept receiving messages during the mark-read; retry"
    )))
}

/// Whether the channel exists (for answers that must tell `2003` from a permission).
pub async fn exists(store: &Store, app: &AppId, channel_id: &str) -> Result<bool, Error> {
    Ok(matches!(
        store.channel_head(app.as_str(), channel_id).await?,
        ChannelLookup::Found(_)
    ))
}
