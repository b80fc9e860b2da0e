//! `/v1.4/api/channels/{channelId}/members/...`: member lists and membership changes.

use lambda_http::{Body, Response};

use crate::Error;
use crate::domain::channels::{
    self, DEFAULT_MEMBER_LIST_LIMIT, MAX_MEMBER_LIST_LIMIT, MemberFilter, MemberOp, member_ids,
    mute_until,
};
use crate::error::ErrorBody;
use crate::http::{json_body, ok, path_param, query_param};
use crate::lambda::Ctx;
use crate::model::now_ms;
use crate::openapi::params;
use crate::validate;
use crate::wire::{
    ChannelEnvelope, MemberEnvelope, MemberList, MembersRequest, MuteRequest, UserList,
};

pub(crate) fn page_args(ctx: &Ctx) -> Result<(&str, Option<&str>, usize), Error> {
    let limit = validate::limit(
        query_param(&ctx.req, "limit"),
        DEFAULT_MEMBER_LIST_LIMIT,
        MAX_MEMBER_LIST_LIMIT,
    )?;
    Ok((
        path_param(&ctx.req, "channelId")?,
        query_param(&ctx.req, "lastUserId"),
        limit,
    ))
}

/// `GET /v1.4/api/channels/{channelId}/members?lastUserId=&limit=`
#[utoipa::path(
    get,
    path = "/v1.4/api/channels/{channelId}/members",
    operation_id = "channels-members",
    tag = "members",
    params(params::ChannelId, params::UserPage),
    responses(
        (status = 200, description = "The channel's members in user id order", body = MemberList),
        (status = 400, description = "`1001` a malformed id, cursor or `limit`", body = ErrorBody),
        (status = 404, description = "`2003` no such channel", body = ErrorBody),
    )
)]
pub async fn list(ctx: Ctx) -> Result<Response<Body>, Error> {
    member_list(ctx, MemberFilter::All).await
}

async fn member_list(ctx: Ctx, filter: MemberFilter) -> Result<Response<Body>, Error> {
    let (channel_id, last, limit) = page_args(&ctx)?;
    let page = channels::members(
        &ctx.store,
        &ctx.app,
        ctx.actor(),
        channel_id,
        filter,
        last,
        limit,
    )
    .await?;
    Ok(ok(&MemberList {
        members: page.items.into_iter().map(Into::into).collect(),
        has_next: page.has_next,
    }))
}

/// `GET /v1.4/api/channels/{channelId}/members/muted?lastUserId=&limit=`
#[utoipa::path(
    get,
    path = "/v1.4/api/channels/{channelId}/members/muted",
    operation_id = "channels-members-muted",
    tag = "members",
    params(params::ChannelId, params::UserPage),
    responses(
        (status = 200, description = "The members muted now, in user id order", body = MemberList),
        (status = 400, description = "`1001` a malformed id, cursor or `limit`", body = ErrorBody),
        (status = 404, description = "`2003` no such channel", body = ErrorBody),
    )
)]
pub async fn muted(ctx: Ctx) -> Result<Response<Body>, Error> {
    member_list(ctx, MemberFilter::Muted).await
}

/// `GET /v1.4/api/channels/{channelId}/members/banned?lastUserId=&limit=`
#[utoipa::path(
    get,
    path = "/v1.4/api/channels/{channelId}/members/banned",
    operation_id = "channels-members-banned",
    tag = "members",
    params(params::ChannelId, params::UserPage),
    responses(
        (status = 200, description = "The banned users in user id order", body = UserList),
        (status = 400, description = "`1001` a malformed id, cursor or `limit`", body = ErrorBody),
        (status = 404, description = "`2003` no such channel", body = ErrorBody),
    )
)]
pub async fn banned(ctx: Ctx) -> Result<Response<Body>, Error> {
    let (channel_id, last, limit) = page_args(&ctx)?;
    let page = channels::banned(&ctx.store, &ctx.app, ctx.actor(), channel_id, last, limit).await?;
    Ok(ok(&UserList {
        users: page.items.into_iter().map(Into::into).collect(),
        has_next: page.has_next,
    }))
}

/// `GET /v1.4/api/channels/{channelId}/members/{memberId}`
#[utoipa::path(
    get,
    path = "/v1.4/api/channels/{channelId}/members/{memberId}",
    operation_id = "channels-member",
    tag = "members",
    params(params::ChannelId, params::MemberId),
    responses(
        (status = 200, description = "The member", body = MemberEnvelope),
        (status = 400, description = "`1001` a malformed id", body = ErrorBody),
        (status = 404, description = "`2003` no such channel; `2001` the user is not a member", body = ErrorBody),
    )
)]
pub async fn get(ctx: Ctx) -> Result<Response<Body>, Error> {
    let channel_id = path_param(&ctx.req, "channelId")?;
    let member_id = path_param(&ctx.req, "memberId")?;
    let member = channels::member(&ctx.store, &ctx.app, ctx.actor(), channel_id, member_id).await?;
    Ok(ok(&MemberEnvelope {
        member: member.into(),
    }))
}

/// The six changes: the same `members`, the same answer.
async fn change(
    ctx: Ctx,
    op: MemberOp,
    members: Option<Vec<String>>,
) -> Result<Response<Body>, Error> {
    let channel_id = path_param(&ctx.req, "channelId")?;
    let ids = member_ids(members)?;
    let detail = channels::change(&ctx.store, &ctx.app, channel_id, op, ctx.actor(), ids).await?;
    Ok(ok(&ChannelEnvelope {
        channel: ctx.channel_view(detail),
    }))
}

/// `POST /v1.4/api/channels/{channelId}/members/add`
#[utoipa::path(
    post,
    path = "/v1.4/api/channels/{channelId}/members/add",
    operation_id = "channels-members-add",
    tag = "members",
    request_body = MembersRequest,
    params(params::ChannelId),
    responses(
        (status = 200, description = "The channel after the change (all added, or none)", body = ChannelEnvelope),
        (status = 400, description = "`1001` a malformed id, or more than 100; `1002` `members` missing", body = ErrorBody),
        (status = 403, description = "`2017` a user is banned; `2029` the channel would exceed `maxMemberCount`; `3010` a user is deactivated; `2021` the owner blocks a user; `2022` a user blocks the owner", body = ErrorBody),
        (status = 404, description = "`2003` no such channel; `3003` a user does not exist", body = ErrorBody),
        (status = 409, description = "`2008` a user is already a member", body = ErrorBody),
    )
)]
pub async fn add(ctx: Ctx) -> Result<Response<Body>, Error> {
    let req: MembersRequest = json_body(&ctx.req)?;
    change(ctx, MemberOp::Add, req.members).await
}

/// `POST /v1.4/api/channels/{channelId}/members/remove`
#[utoipa::path(
    post,
    path = "/v1.4/api/channels/{channelId}/members/remove",
    operation_id = "channels-members-remove",
    tag = "members",
    request_body = MembersRequest,
    params(params::ChannelId),
    responses(
        (status = 200, description = "The channel after the change (all removed, or none)", body = ChannelEnvelope),
        (status = 400, description = "`1001` a malformed id, or more than 100; `1002` `members` missing", body = ErrorBody),
        (status = 403, description = "`2007` the owner cannot be removed", body = ErrorBody),
        (status = 404, description = "`2003` no such channel; `2009` a user is not a member", body = ErrorBody),
    )
)]
pub async fn remove(ctx: Ctx) -> Result<Response<Body>, Error> {
    let req: MembersRequest = json_body(&ctx.req)?;
    change(ctx, MemberOp::Remove, req.members).await
}

/// `POST /v1.4/api/channels/{channelId}/members/ban`
#[utoipa::path(
    post,
    path = "/v1.4/api/channels/{channelId}/members/ban",
    operation_id = "channels-members-ban",
    tag = "members",
    request_body = MembersRequest,
    params(params::ChannelId),
    responses(
        (status = 200, description = "The channel after the change: the users removed and banned", body = ChannelEnvelope),
        (status = 400, description = "`1001` a malformed id, or more than 100; `1002` `members` missing", body = ErrorBody),
        (status = 403, description = "`2016` the owner cannot be banned", body = ErrorBody),
        (status = 404, description = "`2003` no such channel; `2010` a user is not a member", body = ErrorBody),
    )
)]
pub async fn ban(ctx: Ctx) -> Result<Response<Body>, Error> {
    let req: MembersRequest = json_body(&ctx.req)?;
    change(ctx, MemberOp::Ban, req.members).await
}

/// `POST /v1.4/api/channels/{channelId}/members/unban`
#[utoipa::path(
    post,
    path = "/v1.4/api/channels/{channelId}/members/unban",
    operation_id = "channels-members-unban",
    tag = "members",
    request_body = MembersRequest,
    params(params::ChannelId),
    responses(
        (status = 200, description = "The channel after the change (a user not banned is left as is)", body = ChannelEnvelope),
        (status = 400, description = "`1001` a malformed id, or more than 100; `1002` `members` missing", body = ErrorBody),
        (status = 404, description = "`2003` no such channel", body = ErrorBody),
    )
)]
pub async fn unban(ctx: Ctx) -> Result<Response<Body>, Error> {
    let req: MembersRequest = json_body(&ctx.req)?;
    change(ctx, MemberOp::Unban, req.members).await
}

/// `POST /v1.4/api/channels/{channelId}/members/mute`
#[utoipa::path(
    post,
    path = "/v1.4/api/channels/{channelId}/members/mute",
    operation_id = "channels-members-mute",
    tag = "members",
    request_body = MuteRequest,
    params(params::ChannelId),
    responses(
        (status = 200, description = "The channel after the change; a mute again replaces the expiry", body = ChannelEnvelope),
        (status = 400, description = "`1001` a malformed id, more than 100, or `expireInMinutes` out of 0–525600; `1002` `members` missing", body = ErrorBody),
        (status = 403, description = "`2028` the owner cannot be muted", body = ErrorBody),
        (status = 404, description = "`2003` no such channel; `2001` a user is not a member", body = ErrorBody),
    )
)]
pub async fn mute(ctx: Ctx) -> Result<Response<Body>, Error> {
    let req: MuteRequest = json_body(&ctx.req)?;
    let until = mute_until(req.expire_in_minutes, now_ms())?;
    change(ctx, MemberOp::Mute { until }, req.members).await
}

/// `POST /v1.4/api/channels/{channelId}/members/unmute`
#[utoipa::path(
    post,
    path = "/v1.4/api/channels/{channelId}/members/unmute",
    operation_id = "channels-members-unmute",
    tag = "members",
    request_body = MembersRequest,
    params(params::ChannelId),
    responses(
        (status = 200, description = "The channel after the change (a member not muted is left as is)", body = ChannelEnvelope),
        (status = 400, description = "`1001` a malformed id, or more than 100; `1002` `members` missing", body = ErrorBody),
        (status = 404, description = "`2003` no such channel; `2001` a user is not a member", body = ErrorBody),
    )
)]
pub async fn unmute(ctx: Ctx) -> Result<Response<Body>, Error> {
    let req: MembersRequest = json_body(&ctx.req)?;
    change(ctx, MemberOp::Unmute, req.members).await
}
