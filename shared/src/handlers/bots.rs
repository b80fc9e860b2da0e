use lambda_http::{Body, Response};

use crate::Error;
use crate::domain::bots::{self, DEFAULT_BOT_LIST_LIMIT, MAX_BOT_LIST_LIMIT};
use crate::domain::channels::{DEFAULT_CHANNEL_LIST_LIMIT, MAX_CHANNEL_LIST_LIMIT};
use crate::http::{json_body, ok, path_param, query_param};
use crate::lambda::Ctx;
use crate::validate;
use crate::wire::{BotEnvelope, BotList, ChannelEnvelope, ChannelList, Empty};

/// `POST /v1.4/api/bots/create`
pub async fn create(ctx: Ctx) -> Result<Response<Body>, Error> {
    let bot = bots::create(&ctx.store, &ctx.app, json_body(&ctx.req)?).await?;
    Ok(ok(&BotEnvelope { bot: bot.into() }))
}

/// `GET /v1.4/api/bots/{botId}`
pub async fn get(ctx: Ctx) -> Result<Response<Body>, Error> {
    let bot = bots::get(&ctx.store, &ctx.app, path_param(&ctx.req, "botId")?).await?;
    Ok(ok(&BotEnvelope { bot: bot.into() }))
}

/// `GET /v1.4/api/bots?lastBotId=&limit=`
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
pub async fn update(ctx: Ctx) -> Result<Response<Body>, Error> {
    let bot_id = path_param(&ctx.req, "botId")?;
    let bot = bots::update(&ctx.store, &ctx.app, bot_id, json_body(&ctx.req)?).await?;
    Ok(ok(&BotEnvelope { bot: bot.into() }))
}

/// `DELETE /v1.4/api/bots/{botId}`
pub async fn delete(ctx: Ctx) -> Result<Response<Body>, Error> {
    bots::delete(&ctx.store, &ctx.app, path_param(&ctx.req, "botId")?).await?;
    Ok(ok(&Empty {}))
}

/// `POST /v1.4/api/bots/{botId}/channels/{channelId}/join`
pub async fn join(ctx: Ctx) -> Result<Response<Body>, Error> {
    let bot_id = path_param(&ctx.req, "botId")?;
    let channel_id = path_param(&ctx.req, "channelId")?;
    let detail = bots::join(&ctx.store, &ctx.app, bot_id, channel_id).await?;
    Ok(ok(&ChannelEnvelope {
        channel: detail.into(),
    }))
}

/// `POST /v1.4/api/bots/{botId}/channels/{channelId}/leave`
pub async fn leave(ctx: Ctx) -> Result<Response<Body>, Error> {
    let bot_id = path_param(&ctx.req, "botId")?;
    let channel_id = path_param(&ctx.req, "channelId")?;
    let detail = bots::leave(&ctx.store, &ctx.app, bot_id, channel_id).await?;
    Ok(ok(&ChannelEnvelope {
        channel: detail.into(),
    }))
}

/// `GET /v1.4/api/bots/{botId}/channels?lastChannelId=&limit=`
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
    )
    .await?;
    Ok(ok(&ChannelList {
        channels: page.items.into_iter().map(Into::into).collect(),
        has_next: page.has_next,
    }))
}
