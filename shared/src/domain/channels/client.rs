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

/// Whether the channel exists (for answers that must tell `2003` from a permission).
pub async fn exists(store: &Store, app: &AppId, channel_id: &str) -> Result<bool, Error> {
    Ok(matches!(
        store.channel_head(app.as_str(), channel_id).await?,
        ChannelLookup::Found(_)
    ))
}
