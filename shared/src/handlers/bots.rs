use lambda_http::{Body, Response};

use crate::Error;
use crate::domain::bots::{self, DEFAULT_BOT_LIST_LIMIT, MAX_BOT_LIST_LIMIT};
use crate::domain::channels::{DEFAULT_CHANNEL_LIST_LIMIT, MAX_CHANNEL_LIST_LIMIT};
use crate::error::ErrorBody;
use crate::http::{json_body, ok, path_param, query_param};
use crate::lambda::Ctx;
use crate::openapi::params;
use crate::validate;
use crate::wire::{
    BotEnvelope, BotList, ChannelEnvelope, ChannelList, CreateBotRequest, Empty, UpdateBotRequest,
};

/// `POST /v1.4/api/bots/create`
#[utoipa::path(
    post,
    path = "/v1.4/api/bots/create",
    operation_id = "bots-create",
    tag = "bots",
    request_body = CreateBotRequest,
    responses(
        (status = 200, description = "The new bot", body = BotEnvelope),
        (status = 400, description = "`1001` a malformed or out-of-limit value; `1002` `id` missing", body = ErrorBody),
        (status = 409, description = "`7002` the bot id is taken", body = ErrorBody),
    )
)]
pub async fn create(ctx: Ctx) -> Result<Response<Body>, Error> {
    let bot = bots::create(&ctx.store, &ctx.app, json_body(&ctx.req)?).await?;
    Ok(ok(&BotEnvelope { bot: bot.into() }))
}

/// `GET /v1.4/api/bots/{botId}`
#[utoipa::path(
    get,
    path = "/v1.4/api/bots/{botId}",
    operation_id = "bots-get",
    tag = "bots",
    params(params::BotId),
    responses(
        (status = 200, description = "The bot", body = BotEnvelope),
        (status = 400, description = "`1001` a malformed bot id", body = ErrorBody),
        (status = 404, description = "`7001` no such bot", body = ErrorBody),
    )
)]
pub async fn get(ctx: Ctx) -> Result<Response<Body>, Error> {
    let bot = bots::get(&ctx.store, &ctx.app, path_param(&ctx.req, "botId")?).await?;
    Ok(ok(&BotEnvelope { bot: bot.into() }))
}

/// `GET /v1.4/api/bots?lastBotId=&limit=`
#[utoipa::path(
    get,
    path = "/v1.4/api/bots",
    operation_id = "bots-list",
    tag = "bots",
    params(params::BotPage),
    responses(
        (status = 200, description = "The app's bots in id order", body = BotList),
        (status = 400, description = "`1001` a malformed cursor or `limit`", body = ErrorBody),
    )
)]
pub async fn list(ctx: Ctx) -> Result<Response<Body>, Error> {
    let limit = validate::limit(
        query_param(&ctx.req, "limit"),
        DEFAULT_BOT_LIST_LIMIT,
        MAX_BOT_LIST_LIMIT,
    )?;
    let page = bots::list(
        &ctx.store,
        &ctx.app,
        query_param(&ctx.req, "lastBotId"),
        limit,
    )
    .await?;
    Ok(ok(&BotList {
        bots: page.items.into_iter().map(Into::into).collect(),
        has_next: page.has_next,
    }))
}

/// `PUT /v1.4/api/bots/{botId}`
#[utoipa::path(
    put,
    path = "/v1.4/api/bots/{botId}",
    operation_id = "bots-update",
    tag = "bots",
    request_body = UpdateBotRequest,
    params(params::BotId),
    responses(
        (status = 200, description = "The bot after the change", body = BotEnvelope),
        (status = 400, description = "`1001` a malformed or out-of-limit value", body = ErrorBody),
        (status = 404, description = "`7001` no such bot", body = ErrorBody),
    )
)]
pub async fn update(ctx: Ctx) -> Result<Response<Body>, Error> {
    let bot_id = path_param(&ctx.req, "botId")?;
    let bot = bots::update(&ctx.store, &ctx.app, bot_id, json_body(&ctx.req)?).await?;
    Ok(ok(&BotEnvelope { bot: bot.into() }))
}

/// `DELETE /v1.4/api/bots/{botId}`
#[utoipa::path(
    delete,
    path = "/v1.4/api/bots/{botId}",
    operation_id = "bots-delete",
    tag = "bots",
    params(params::BotId),
    responses(
        (status = 200, description = "Deleted, and removed from every channel", body = Empty),
        (status = 400, description = "`1001` a malformed bot id", body = ErrorBody),
        (status = 404, description = "`7001` no such bot and nothing left of it", body = ErrorBody),
    )
)]
pub async fn delete(ctx: Ctx) -> Result<Response<Body>, Error> {
    bots::delete(&ctx.store, &ctx.app, path_param(&ctx.req, "botId")?).await?;
    Ok(ok(&Empty {}))
}

/// `POST /v1.4/api/bots/{botId}/channels/{channelId}/join`
#[utoipa::path(
    post,
    path = "/v1.4/api/bots/{botId}/channels/{channelId}/join",
    operation_id = "bots-join",
    tag = "bots",
    params(params::BotId, params::ChannelId),
    responses(
        (status = 200, description = "The channel after the join (idempotent)", body = ChannelEnvelope),
        (status = 400, description = "`1001` a malformed id", body = ErrorBody),
        (status = 403, description = "`7003` the channel has 20 bots", body = ErrorBody),
        (status = 404, description = "`7001` no such bot; `2003` no such channel", body = ErrorBody),
    )
)]
pub async fn join(ctx: Ctx) -> Result<Response<Body>, Error> {
    let bot_id = path_param(&ctx.req, "botId")?;
    let channel_id = path_param(&ctx.req, "channelId")?;
    let detail = bots::join(&ctx.store, &ctx.app, bot_id, channel_id).await?;
    Ok(ok(&ChannelEnvelope {
        channel: detail.into(),
    }))
}

/// `POST /v1.4/api/bots/{botId}/channels/{channelId}/leave`
#[utoipa::path(
    post,
    path = "/v1.4/api/bots/{botId}/channels/{channelId}/leave",
    operation_id = "bots-leave",
    tag = "bots",
    params(params::BotId, params::ChannelId),
    responses(
        (status = 200, description = "The channel after the leave (idempotent)", body = ChannelEnvelope),
        (status = 400, description = "`1001` a malformed id", body = ErrorBody),
        (status = 404, description = "`7001` no such bot; `2003` no such channel", body = ErrorBody),
    )
)]
pub async fn leave(ctx: Ctx) -> Result<Response<Body>, Error> {
    let bot_id = path_param(&ctx.req, "botId")?;
    let channel_id = path_param(&ctx.req, "channelId")?;
    let detail = bots::leave(&ctx.store, &ctx.app, bot_id, channel_id).await?;
    Ok(ok(&ChannelEnvelope {
        channel: detail.into(),
    }))
}

/// `GET /v1.4/api/bots/{botId}/channels?lastChannelId=&limit=`
#[utoipa::path(
    get,
    path = "/v1.4/api/bots/{botId}/channels",
    operation_id = "bots-channels",
    tag = "bots",
    params(params::BotId, params::ChannelPage, params::ChannelFilters),
    responses(
        (status = 200, description = "The bot's channels in id order", body = ChannelList),
        (status = 400, description = "`1001` a malformed id, cursor or `limit`", body = ErrorBody),
        (status = 404, description = "`7001` no such bot", body = ErrorBody),
    )
)]
pub async fn channels(ctx: Ctx) -> Result<Response<Body>, Error> {
    let limit = validate::limit(
        query_param(&ctx.req, "limit"),
        DEFAULT_CHANNEL_LIST_LIMIT,
        MAX_CHANNEL_LIST_LIMIT,
    )?;
    let page = bots::channels(
        &ctx.store,
        &ctx.app,
        path_param(&ctx.req, "botId")?,
        query_param(&ctx.req, "lastChannelId"),
        limit,
        &super::channels::filters(&ctx, false)?,
    )
    .await?;
    Ok(ok(&ChannelList {
        channels: page.items.into_iter().map(Into::into).collect(),
        has_next: page.has_next,
    }))
}
