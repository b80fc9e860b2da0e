//! Peer mutes on the client API: `peer/mute` and `peer/unmute` (one function), `peer/muted`.
//! The rule is in `domain::channels::peer_mute`.

use lambda_http::{Body, Response};

use crate::Error;
use crate::domain::channels::mute_until;
use crate::domain::channels::peer_mute;
use crate::error::ErrorBody;
use crate::handlers::members::page_args;
use crate::http::{json_body, ok, path_param};
use crate::lambda::Ctx;
use crate::model::now_ms;
use crate::openapi::params;
use crate::wire::{ChannelMembersEnvelope, MemberList, MembersRequest, MuteRequest};

/// `POST /v1.4/channels/{channelId}/peer/mute`
#[utoipa::path(
    post,
    path = "/v1.4/channels/{channelId}/peer/mute",
    operation_id = "client.channels-peer-mute",
    tag = "client",
    request_body = MuteRequest,
    params(params::ChannelId),
    responses(
        (status = 200, description = "The channel, and the members named with the caller's peer mute as `muteExpiresAt` (0: without end). While any member's peer mute of them is in force, a member cannot send (`2027`); a mute again replaces its end", body = ChannelMembersEnvelope),
        (status = 500, description = "`1001` a malformed id, the caller named, more than 99, `expireInMinutes` out of 0–525600, or over 100 members peer-muted by the caller; `1002` `members` missing; `2003` no such channel; `2005` the caller is not a member; `2001` a user named is not a member", body = ErrorBody),
    )
)]
pub async fn mute(ctx: Ctx) -> Result<Response<Body>, Error> {
    let caller = ctx.caller()?.user_id.as_str();
    let channel_id = path_param(&ctx.req, "channelId")?;
    let (members, until) = if ctx.req.uri().path().ends_with("/peer/unmute") {
        let req: MembersRequest = json_body(&ctx.req)?;
        (req.members, None)
    } else {
        let req: MuteRequest = json_body(&ctx.req)?;
        (
            req.members,
            Some(mute_until(req.expire_in_minutes, now_ms())?),
        )
    };
    let done = peer_mute::set(&ctx.store, &ctx.app, caller, channel_id, members, until).await?;
    Ok(ok(&ChannelMembersEnvelope {
        channel: ctx.channel_view(done.channel),
        members: done.members.into_iter().map(Into::into).collect(),
    }))
}

/// `POST /v1.4/channels/{channelId}/peer/unmute`: the same function as `peer/mute`.
#[utoipa::path(
    post,
    path = "/v1.4/channels/{channelId}/peer/unmute",
    operation_id = "client.channels-peer-mute.unmute",
    tag = "client",
    request_body = MembersRequest,
    params(params::ChannelId),
    responses(
        (status = 200, description = "The channel, and the members named, the caller's peer mute of them lifted (`muteExpiresAt` 0); another member's peer mute of them stays", body = ChannelMembersEnvelope),
        (status = 500, description = "`1001` a malformed id, the caller named, or more than 99; `1002` `members` missing; `2003` no such channel; `2005` the caller is not a member; `2001` a user named is not a member", body = ErrorBody),
    )
)]
pub async fn unmute(ctx: Ctx) -> Result<Response<Body>, Error> {
    mute(ctx).await
}

/// `GET /v1.4/channels/{channelId}/peer/muted?lastUserId=&limit=`
#[utoipa::path(
    get,
    path = "/v1.4/channels/{channelId}/peer/muted",
    operation_id = "client.channels-peer-muted",
    tag = "client",
    params(params::ChannelId, params::UserPage),
    responses(
        (status = 200, description = "The members the caller has peer-muted now, in user id order, each with the mute's end as `muteExpiresAt` (0: without end)", body = MemberList),
        (status = 500, description = "`1001` a malformed id, cursor or `limit`; `2003` no such channel; `2005` the caller is not a member", body = ErrorBody),
    )
)]
pub async fn muted(ctx: Ctx) -> Result<Response<Body>, Error> {
    let caller = ctx.caller()?.user_id.as_str();
    let (channel_id, last, limit) = page_args(&ctx)?;
    let page = peer_mute::muted(&ctx.store, &ctx.app, caller, channel_id, last, limit).await?;
    Ok(ok(&MemberList {
        members: page.items.into_iter().map(Into::into).collect(),
        has_next: page.has_next,
    }))
}
