use lambda_http::{Body, Response};

use crate::Error;
use crate::domain::channels::{self, DEFAULT_CHANNEL_LIST_LIMIT, MAX_CHANNEL_LIST_LIMIT};
use crate::http::{json_body, ok, path_param, query_param};
use crate::lambda::Ctx;
use crate::validate;
use crate::wire::{ChannelEnvelope, ChannelList};

/// `POST /v1.4/api/channels/create`
pub async fn create(ctx: Ctx) -> Result<Response<Body>, Error> {
    let detail = channels::create(&ctx.store, &ctx.app, json_body(&ctx.req)?).await?;
    Ok(ok(&ChannelEnvelope {
        channel: detail.into(),
    }))
}

/// `GET /v1.4/api/channels/{channelId}`
pub async fn get(ctx: Ctx) -> Result<Response<Body>, Error> {
    let channel_id = path_param(&ctx.req, "channelId")?;
    let detail = channels::get(&ctx.store, &ctx.app, channel_id).await?;
    Ok(ok(&ChannelEnvelope {
        channel: detail.into(),
    }))
}

/// `GET /v1.4/api/users/{userId}/channels?lastChannelId=&limit=`
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
    )
    .await?;
    Ok(ok(&ChannelList {
        channels: page.items.into_iter().map(Into::into).collect(),
        has_next: page.has_next,
    }))
}
