use lambda_http::{Body, Request, Response};

use crate::Error;
use crate::domain::messages::{
    self, DEFAULT_MESSAGE_LIST_LIMIT, Idempotency, MAX_MESSAGE_LIST_LIMIT,
};
use crate::error::ErrorBody;
use crate::http::{json_body, ok, path_param, query_param, raw_body};
use crate::lambda::Ctx;
use crate::openapi::params;
use crate::validate;
use crate::wire::{BotSendRequest, Empty, MessageEnvelope, MessageList, SendMessageRequest};

/// The request's `Idempotency-Key`, bound to its method, path and body.
fn idempotency(req: &Request) -> Result<Option<Idempotency>, Error> {
    let key = req
        .headers()
        .get("idempotency-key")
        .map(|v| {
            v.to_str()
                .map_err(|_| Error::InvalidParam("Idempotency-Key must be printable ASCII".into()))
        })
        .transpose()?;
    Idempotency::from_request(key, req.method().as_str(), req.uri().path(), raw_body(req))
}

/// `POST /v1.4/api/channels/{channelId}/messages/send`
#[utoipa::path(
    post,
    path = "/v1.4/api/channels/{channelId}/messages/send",
    operation_id = "channels-messages-send",
    tag = "messages",
    request_body = SendMessageRequest,
    params(params::ChannelId, params::IdempotencyKey),
    responses(
        (status = 200, description = "The message sent (or, for a repeated `Idempotency-Key`, the first one)", body = MessageEnvelope),
        (status = 400, description = "`1001` a malformed value, an unknown `type`, a `parentMessageId` not in this channel, or an `Idempotency-Key` reused with another body; `1002` `senderId` missing; `1011` bad `data`; `4001` `text` over 8192 characters; `4002` `text` and `data` both empty; `2026` a mentioned user is not a member", body = ErrorBody),
        (status = 403, description = "`4000` the sender is not a member; `2025` the channel is frozen; `2027` the sender is muted; `3010` the sender is deactivated", body = ErrorBody),
        (status = 404, description = "`2003` no such channel", body = ErrorBody),
    )
)]
pub async fn send(ctx: Ctx) -> Result<Response<Body>, Error> {
    let channel_id = path_param(&ctx.req, "channelId")?;
    let idempotency = idempotency(&ctx.req)?;
    let (mut req, file): (SendMessageRequest, _) = ctx.form_with_file().await?;
    if file.is_some() {
        req.file_url = file;
    }
    let message = messages::send(
        &ctx.store,
        &ctx.app,
        ctx.actor(),
        channel_id,
        req,
        idempotency,
    )
    .await?;
    Ok(ok(&MessageEnvelope {
        message: message.into(),
    }))
}

/// `POST /v1.4/api/bots/{botId}/channels/{channelId}/send`
#[utoipa::path(
    post,
    path = "/v1.4/api/bots/{botId}/channels/{channelId}/send",
    operation_id = "bots-send",
    tag = "bots",
    request_body = BotSendRequest,
    params(params::BotId, params::ChannelId, params::IdempotencyKey),
    responses(
        (status = 200, description = "The message, `userId` the bot's id, with its current name and picture", body = MessageEnvelope),
        (status = 400, description = "`1001` a malformed value or a type other than `bot` and `bot_hidden`; `1011` bad `data`; `4001` `text` over 8192 characters; `4002` `text` and `data` both empty", body = ErrorBody),
        (status = 403, description = "`4000` the bot is not in the channel; `2025` the channel is frozen", body = ErrorBody),
        (status = 404, description = "`7001` no such bot; `2003` no such channel", body = ErrorBody),
    )
)]
pub async fn bot_send(ctx: Ctx) -> Result<Response<Body>, Error> {
    let bot_id = path_param(&ctx.req, "botId")?;
    let channel_id = path_param(&ctx.req, "channelId")?;
    let idempotency = idempotency(&ctx.req)?;
    let message = messages::bot_send(
        &ctx.store,
        &ctx.app,
        bot_id,
        channel_id,
        json_body(&ctx.req)?,
        idempotency,
    )
    .await?;
    Ok(ok(&MessageEnvelope {
        message: message.into(),
    }))
}

/// `GET /v1.4/api/channels/{channelId}/messages?lastMessageId=&order=&limit=`
#[utoipa::path(
    get,
    path = "/v1.4/api/channels/{channelId}/messages",
    operation_id = "channels-messages",
    tag = "messages",
    params(params::ChannelId, params::MessagePage),
    responses(
        (status = 200, description = "A page of the channel's messages", body = MessageList),
        (status = 400, description = "`1001` a malformed id, cursor, `order` or `limit`", body = ErrorBody),
        (status = 404, description = "`2003` no such channel", body = ErrorBody),
    )
)]
pub async fn list(ctx: Ctx) -> Result<Response<Body>, Error> {
    let limit = validate::limit(
        query_param(&ctx.req, "limit"),
        DEFAULT_MESSAGE_LIST_LIMIT,
        MAX_MESSAGE_LIST_LIMIT,
    )?;
    let order = messages::history_order(query_param(&ctx.req, "order"))?;
    let wanted = messages::HistoryPage {
        last_message_id: query_param(&ctx.req, "lastMessageId"),
        order,
        limit,
        // The client API's `messages/files` is this list of the messages with a file.
        files_only: ctx.req.uri().path().ends_with("/messages/files"),
    };
    let page = messages::list(
        &ctx.store,
        &ctx.app,
        ctx.actor(),
        path_param(&ctx.req, "channelId")?,
        wanted,
    )
    .await?;
    Ok(ok(&MessageList {
        messages: page
            .items
            .into_iter()
            .map(|m| ctx.message_view(m))
            .collect(),
        has_next: page.has_next,
    }))
}

async fn view(ctx: Ctx) -> Result<Response<Body>, Error> {
    let message = messages::get(
        &ctx.store,
        &ctx.app,
        ctx.actor(),
        path_param(&ctx.req, "channelId")?,
        path_param(&ctx.req, "messageId")?,
    )
    .await?;
    Ok(ok(&MessageEnvelope {
        message: ctx.message_view(message),
    }))
}

/// `GET /v1.4/api/channels/{channelId}/messages/{messageId}`
#[utoipa::path(
    get,
    path = "/v1.4/api/channels/{channelId}/messages/{messageId}",
    operation_id = "channels-messages-get",
    tag = "messages",
    params(params::ChannelId, params::MessageId),
    responses(
        (status = 200, description = "The message", body = MessageEnvelope),
        (status = 400, description = "`1001` a malformed id", body = ErrorBody),
        (status = 404, description = "`2003` no such channel; `4003` no such message in the channel", body = ErrorBody),
    )
)]
pub async fn get(ctx: Ctx) -> Result<Response<Body>, Error> {
    view(ctx).await
}

/// `GET /v1.4/api/channels/{channelId}/message/{messageId}`: the singular path of the
/// TalkPlus docs, the same answer.
#[utoipa::path(
    get,
    path = "/v1.4/api/channels/{channelId}/message/{messageId}",
    operation_id = "channels-message-get",
    tag = "messages",
    params(params::ChannelId, params::MessageId),
    responses(
        (status = 200, description = "The message", body = MessageEnvelope),
        (status = 400, description = "`1001` a malformed id", body = ErrorBody),
        (status = 404, description = "`2003` no such channel; `4003` no such message in the channel", body = ErrorBody),
    )
)]
pub async fn get_singular(ctx: Ctx) -> Result<Response<Body>, Error> {
    view(ctx).await
}

/// `DELETE /v1.4/api/channels/{channelId}/messages/{messageId}`
#[utoipa::path(
    delete,
    path = "/v1.4/api/channels/{channelId}/messages/{messageId}",
    operation_id = "channels-messages-delete",
    tag = "messages",
    params(params::ChannelId, params::MessageId),
    responses(
        (status = 200, description = "Deleted for every reader", body = Empty),
        (status = 400, description = "`1001` a malformed id", body = ErrorBody),
        (status = 404, description = "`2003` no such channel; `4003` no such message in the channel", body = ErrorBody),
    )
)]
pub async fn delete(ctx: Ctx) -> Result<Response<Body>, Error> {
    messages::delete(
        &ctx.store,
        &ctx.app,
        ctx.actor(),
        path_param(&ctx.req, "channelId")?,
        path_param(&ctx.req, "messageId")?,
    )
    .await?;
    Ok(ok(&Empty {}))
}
