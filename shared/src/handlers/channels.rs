use lambda_http::{Body, Response};

use crate::Error;
use crate::domain::channels::{self, DEFAULT_CHANNEL_LIST_LIMIT, MAX_CHANNEL_LIST_LIMIT};
use crate::error::ErrorBody;
use crate::http::{json_body, ok, path_param, query_param};
use crate::lambda::Ctx;
use crate::openapi::params;
use crate::validate;
use crate::wire::{
    ChannelEnvelope, ChannelList, CreateChannelRequest, Empty, UpdateChannelRequest,
};

/// `POST /v1.4/api/channels/create`
#[utoipa::path(
    post,
    path = "/v1.4/api/channels/create",
    operation_id = "channels-create",
    tag = "channels",
    request_body = CreateChannelRequest,
    responses(
        (status = 200, description = "The new (or reused) channel", body = ChannelEnvelope),
        (status = 400, description = "`1001` a malformed or out-of-limit value; `1002` `type` or `members` missing; `1011` bad `data`; `2012` `invitationOnly` without `invitationCode`; `2013` an empty `invitationCode`", body = ErrorBody),
        (status = 403, description = "`2029` more members than `maxMemberCount`; `3010` the owner or a member is deactivated; `2019` the owner blocks a member; `2020` a member blocks the owner", body = ErrorBody),
        (status = 404, description = "`2000` the owner is not a user; `3003` a member is not a user", body = ErrorBody),
        (status = 409, description = "`2002` the channel id is taken; `2004` `reuseChannel` names a channel with other members", body = ErrorBody),
    )
)]
pub async fn create(ctx: Ctx) -> Result<Response<Body>, Error> {
    let detail = channels::create(&ctx.store, &ctx.app, ctx.actor(), json_body(&ctx.req)?).await?;
    Ok(ok(&ChannelEnvelope {
        channel: ctx.channel_view(detail),
    }))
}

/// `GET /v1.4/api/channels/{channelId}`
#[utoipa::path(
    get,
    path = "/v1.4/api/channels/{channelId}",
    operation_id = "channels-get",
    tag = "channels",
    params(params::ChannelId),
    responses(
        (status = 200, description = "The channel", body = ChannelEnvelope),
        (status = 400, description = "`1001` a malformed channel id", body = ErrorBody),
        (status = 404, description = "`2003` no such channel", body = ErrorBody),
    )
)]
pub async fn get(ctx: Ctx) -> Result<Response<Body>, Error> {
    let channel_id = path_param(&ctx.req, "channelId")?;
    let detail = channels::client::view(&ctx.store, &ctx.app, ctx.actor(), channel_id).await?;
    Ok(ok(&ChannelEnvelope {
        channel: ctx.channel_view(detail),
    }))
}

/// `GET /v1.4/api/users/{userId}/channels?lastChannelId=&limit=`
#[utoipa::path(
    get,
    path = "/v1.4/api/users/{userId}/channels",
    operation_id = "users-channels",
    tag = "users",
    params(params::UserId, params::ChannelPage, params::ChannelFilters),
    responses(
        (status = 200, description = "The user's channels in id order", body = ChannelList),
        (status = 400, description = "`1001` a malformed id, cursor or `limit`", body = ErrorBody),
        (status = 404, description = "`3003` no such user", body = ErrorBody),
    )
)]
pub async fn user_channels(ctx: Ctx) -> Result<Response<Body>, Error> {
    let limit = validate::limit(
        query_param(&ctx.req, "limit"),
        DEFAULT_CHANNEL_LIST_LIMIT,
        MAX_CHANNEL_LIST_LIMIT,
    )?;
    let page = channels::user_channels(
        &ctx.store,
        &ctx.app,
        path_param(&ctx.req, "userId")?,
        query_param(&ctx.req, "lastChannelId"),
        limit,
        &filters(&ctx, false)?,
        None,
    )
    .await?;
    Ok(ok(&ChannelList {
        channels: page
            .items
            .into_iter()
            .map(|d| ctx.channel_view(d))
            .collect(),
        has_next: page.has_next,
    }))
}

/// The list filters of the query string: `category`, `subcategory` and, for the app's list,
/// `type`.
pub(crate) fn filters(ctx: &Ctx, with_type: bool) -> Result<crate::store::ChannelFilter, Error> {
    channels::channel_filter(
        if with_type {
            query_param(&ctx.req, "type")
        } else {
            None
        },
        query_param(&ctx.req, "category"),
        query_param(&ctx.req, "subcategory"),
    )
}

/// `PUT /v1.4/api/channels/{channelId}`
#[utoipa::path(
    put,
    path = "/v1.4/api/channels/{channelId}",
    operation_id = "channels-update",
    tag = "channels",
    request_body = UpdateChannelRequest,
    params(params::ChannelId),
    responses(
        (status = 200, description = "The channel after the change", body = ChannelEnvelope),
        (status = 400, description = "`1001` a malformed or out-of-limit value, or a `subcategory` without a category; `1011` bad `data`; `2013` an empty `invitationCode` on an `invitationOnly` channel", body = ErrorBody),
        (status = 403, description = "`2029` `maxMemberCount` below the member count; `2030` `ownerId` already owns the channel; `3010` the new owner is deactivated", body = ErrorBody),
        (status = 404, description = "`2003` no such channel; `2001` the new owner is not a member", body = ErrorBody),
    )
)]
pub async fn update(ctx: Ctx) -> Result<Response<Body>, Error> {
    let channel_id = path_param(&ctx.req, "channelId")?;
    let detail = channels::update(
        &ctx.store,
        &ctx.app,
        ctx.actor(),
        channel_id,
        json_body(&ctx.req)?,
    )
    .await?;
    Ok(ok(&ChannelEnvelope {
        channel: ctx.channel_view(detail),
    }))
}

/// `DELETE /v1.4/api/channels/{channelId}`
#[utoipa::path(
    delete,
    path = "/v1.4/api/channels/{channelId}",
    operation_id = "channels-delete",
    tag = "channels",
    params(params::ChannelId),
    responses(
        (status = 200, description = "Deleted: gone for every reader; its members, bots, bans and mutes are removed (repeatable while anything is left)", body = Empty),
        (status = 400, description = "`1001` a malformed channel id", body = ErrorBody),
        (status = 404, description = "`2003` no such channel and nothing left of one", body = ErrorBody),
    )
)]
pub async fn delete(ctx: Ctx) -> Result<Response<Body>, Error> {
    channels::delete(
        &ctx.store,
        &ctx.app,
        ctx.actor(),
        path_param(&ctx.req, "channelId")?,
    )
    .await?;
    Ok(ok(&Empty {}))
}

/// `GET /v1.4/api/channels?lastChannelId=&limit=&type=&category=&subcategory=`
#[utoipa::path(
    get,
    path = "/v1.4/api/channels",
    operation_id = "channels-list",
    tag = "channels",
    params(params::ChannelPage, params::ChannelTypeFilter, params::ChannelFilters),
    responses(
        (status = 200, description = "The app's channels in id order", body = ChannelList),
        (status = 400, description = "`1001` a malformed cursor, `limit`, `type` or filter", body = ErrorBody),
    )
)]
pub async fn list(ctx: Ctx) -> Result<Response<Body>, Error> {
    let limit = validate::limit(
        query_param(&ctx.req, "limit"),
        DEFAULT_CHANNEL_LIST_LIMIT,
        MAX_CHANNEL_LIST_LIMIT,
    )?;
    let page = channels::list(
        &ctx.store,
        &ctx.app,
        query_param(&ctx.req, "lastChannelId"),
        limit,
        &filters(&ctx, true)?,
    )
    .await?;
    Ok(ok(&ChannelList {
        channels: page
            .items
            .into_iter()
            .map(|d| ctx.channel_view(d))
            .collect(),
        has_next: page.has_next,
    }))
}

async fn set_frozen(ctx: Ctx, frozen: bool) -> Result<Response<Body>, Error> {
    let channel_id = path_param(&ctx.req, "channelId")?;
    channels::set_frozen(&ctx.store, &ctx.app, ctx.actor(), channel_id, frozen).await?;
    Ok(ok(&Empty {}))
}

/// `POST /v1.4/api/channels/{channelId}/freeze`
#[utoipa::path(
    post,
    path = "/v1.4/api/channels/{channelId}/freeze",
    operation_id = "channels-freeze",
    tag = "channels",
    params(params::ChannelId),
    responses(
        (status = 200, description = "Frozen: only the owner (and admin messages) may send", body = Empty),
        (status = 400, description = "`1001` a malformed channel id", body = ErrorBody),
        (status = 404, description = "`2003` no such channel", body = ErrorBody),
    )
)]
pub async fn freeze(ctx: Ctx) -> Result<Response<Body>, Error> {
    set_frozen(ctx, true).await
}

/// `POST /v1.4/api/channels/{channelId}/unfreeze`
#[utoipa::path(
    post,
    path = "/v1.4/api/channels/{channelId}/unfreeze",
    operation_id = "channels-unfreeze",
    tag = "channels",
    params(params::ChannelId),
    responses(
        (status = 200, description = "Unfrozen", body = Empty),
        (status = 400, description = "`1001` a malformed channel id", body = ErrorBody),
        (status = 404, description = "`2003` no such channel", body = ErrorBody),
    )
)]
pub async fn unfreeze(ctx: Ctx) -> Result<Response<Body>, Error> {
    set_frozen(ctx, false).await
}
