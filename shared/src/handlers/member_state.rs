//! A member's own view of a channel: hide / show and push settings on both APIs (the admin
//! API names the user in the body), private tag, private data and member info on the client
//! API (the caller's).

use lambda_http::{Body, Response};

use crate::Error;
use crate::domain::channels::member_state::{
    self, member_info, private_data, private_tag, push_sounds, whose,
};
use crate::error::ErrorBody;
use crate::http::{json_body, ok, path_param};
use crate::lambda::Ctx;
use crate::model::{ChannelDetail, Member};
use crate::openapi::params;
use crate::store::MemberStateChange;
use crate::wire::{
    ChannelEnvelope, ChannelUserRequest, Empty, MemberEnvelope, MemberInfoRequest,
    PrivateDataRequest, PrivateTagRequest, PushSettingsRequest,
};

/// Applies `change` for the caller (client) or the user named (admin).
async fn apply(
    ctx: &Ctx,
    named: Option<String>,
    change: Option<MemberStateChange>,
) -> Result<(ChannelDetail, Member), Error> {
    let user = whose(ctx.actor(), named)?;
    let channel_id = path_param(&ctx.req, "channelId")?;
    member_state::set(&ctx.store, &ctx.app, ctx.actor(), &user, channel_id, change).await
}

/// The admin API's body names the user; the client API's names nobody (the SDKs send
/// `channelId` and the like, which are ignored).
fn named_user(ctx: &Ctx) -> Result<Option<String>, Error> {
    match ctx.client {
        Some(_) => Ok(None),
        None => Ok(json_body::<ChannelUserRequest>(&ctx.req)?.user_id),
    }
}

async fn set_hidden(ctx: Ctx, hidden: bool) -> Result<Response<Body>, Error> {
    let named = named_user(&ctx)?;
    apply(&ctx, named, Some(MemberStateChange::Hidden(hidden))).await?;
    Ok(ok(&Empty {}))
}

async fn set_push(ctx: Ctx, enabled: bool) -> Result<Response<Body>, Error> {
    let named = named_user(&ctx)?;
    let (detail, _) = apply(&ctx, named, Some(MemberStateChange::Push(enabled))).await?;
    Ok(ok(&ChannelEnvelope {
        channel: ctx.channel_view(detail),
    }))
}

/// `POST /v1.4/api/channels/{channelId}/hide`
#[utoipa::path(
    post,
    path = "/v1.4/api/channels/{channelId}/hide",
    operation_id = "channels-hide",
    tag = "channels",
    request_body = ChannelUserRequest,
    params(params::ChannelId),
    responses(
        (status = 200, description = "The channel is hidden from the user's channel list (`type=hidden` lists it)", body = Empty),
        (status = 400, description = "`1002` `userId` missing; `1001` a malformed id", body = ErrorBody),
        (status = 404, description = "`2003` no such channel; `2001` the user is not a member", body = ErrorBody),
    )
)]
pub async fn hide(ctx: Ctx) -> Result<Response<Body>, Error> {
    set_hidden(ctx, true).await
}

/// `POST /v1.4/api/channels/{channelId}/show`
#[utoipa::path(
    post,
    path = "/v1.4/api/channels/{channelId}/show",
    operation_id = "channels-show",
    tag = "channels",
    request_body = ChannelUserRequest,
    params(params::ChannelId),
    responses(
        (status = 200, description = "The channel is back in the user's channel list", body = Empty),
        (status = 400, description = "`1002` `userId` missing; `1001` a malformed id", body = ErrorBody),
        (status = 404, description = "`2003` no such channel; `2001` the user is not a member", body = ErrorBody),
    )
)]
pub async fn show(ctx: Ctx) -> Result<Response<Body>, Error> {
    set_hidden(ctx, false).await
}

/// `POST /v1.4/api/channels/{channelId}/push/enable`
#[utoipa::path(
    post,
    path = "/v1.4/api/channels/{channelId}/push/enable",
    operation_id = "channels-push-enable",
    tag = "channels",
    request_body = ChannelUserRequest,
    params(params::ChannelId),
    responses(
        (status = 200, description = "The channel; the user gets its push notifications", body = ChannelEnvelope),
        (status = 400, description = "`1002` `userId` missing; `1001` a malformed id", body = ErrorBody),
        (status = 404, description = "`2003` no such channel; `2001` the user is not a member", body = ErrorBody),
    )
)]
pub async fn push_enable(ctx: Ctx) -> Result<Response<Body>, Error> {
    set_push(ctx, true).await
}

/// `POST /v1.4/api/channels/{channelId}/push/disable`
#[utoipa::path(
    post,
    path = "/v1.4/api/channels/{channelId}/push/disable",
    operation_id = "channels-push-disable",
    tag = "channels",
    request_body = ChannelUserRequest,
    params(params::ChannelId),
    responses(
        (status = 200, description = "The channel; the user gets none of its push notifications", body = ChannelEnvelope),
        (status = 400, description = "`1002` `userId` missing; `1001` a malformed id", body = ErrorBody),
        (status = 404, description = "`2003` no such channel; `2001` the user is not a member", body = ErrorBody),
    )
)]
pub async fn push_disable(ctx: Ctx) -> Result<Response<Body>, Error> {
    set_push(ctx, false).await
}

/// `POST /v1.4/api/channels/{channelId}/push/settings`
#[utoipa::path(
    post,
    path = "/v1.4/api/channels/{channelId}/push/settings",
    operation_id = "channels-push-settings",
    tag = "channels",
    request_body = PushSettingsRequest,
    params(params::ChannelId),
    responses(
        (status = 200, description = "The channel; the user's push sounds for it are set", body = ChannelEnvelope),
        (status = 400, description = "`1002` `userId` missing; `1001` a malformed id or a sound over 256 characters", body = ErrorBody),
        (status = 404, description = "`2003` no such channel; `2001` the user is not a member", body = ErrorBody),
    )
)]
pub async fn push_settings(ctx: Ctx) -> Result<Response<Body>, Error> {
    // The client API's GET reads them.
    let change = if ctx.req.method() == lambda_http::http::Method::GET {
        (None, None)
    } else {
        let req: PushSettingsRequest = json_body(&ctx.req)?;
        let named = if ctx.client.is_some() {
            None
        } else {
            req.user_id
        };
        (
            named,
            Some(push_sounds(
                req.push_notification_sound_aos,
                req.push_notification_sound_ios,
            )?),
        )
    };
    let (detail, _) = apply(&ctx, change.0, change.1).await?;
    Ok(ok(&ChannelEnvelope {
        channel: ctx.channel_view(detail),
    }))
}

/// `POST /v1.4/channels/{channelId}/hide`
#[utoipa::path(
    post,
    path = "/v1.4/channels/{channelId}/hide",
    operation_id = "client.channels-hide",
    tag = "client",
    params(params::ChannelId),
    responses(
        (status = 200, description = "The channel is hidden from the caller's list (`GET channels?type=hidden` lists it)", body = Empty),
        (status = 500, description = "`2003` no such channel; `2005` not a member", body = ErrorBody),
    )
)]
pub async fn client_hide(ctx: Ctx) -> Result<Response<Body>, Error> {
    if ctx.req.uri().path().ends_with("/channels/hide/all") {
        return crate::handlers::client::every_channel(&ctx, crate::store::JobKind::HideAll).await;
    }
    hide(ctx).await
}

/// `POST /v1.4/channels/hide/all`: the same function as `hide`.
#[utoipa::path(
    post,
    path = "/v1.4/channels/hide/all",
    operation_id = "client.channels-hide.all",
    tag = "client",
    responses(
        (status = 200, description = "Every channel of the caller is hidden (`GET channels?type=hidden` lists them). A caller in more channels than the request works through in 2 s has the rest hidden by the sweeper moments later; channels are found through an eventually consistent index (one joined a moment ago may be missed)", body = Empty),
    )
)]
pub async fn client_hide_all(ctx: Ctx) -> Result<Response<Body>, Error> {
    client_hide(ctx).await
}

client_route! {
    /// `POST /v1.4/channels/{channelId}/show`
    client_show => show, post "/v1.4/channels/{channelId}/show", "client.channels-show",
    ok: (Empty, "The channel is back in the caller's list"),
    errors: "`2003` no such channel; `2005` not a member",
    params: (params::ChannelId)
}

client_route! {
    /// `POST /v1.4/channels/{channelId}/push/enable`
    client_push_enable => push_enable, post "/v1.4/channels/{channelId}/push/enable", "client.channels-push-enable",
    ok: (ChannelEnvelope, "The channel, `pushNotificationDisabled` false"),
    errors: "`2003` no such channel; `2005` not a member",
    params: (params::ChannelId)
}

client_route! {
    /// `POST /v1.4/channels/{channelId}/push/disable`
    client_push_disable => push_disable, post "/v1.4/channels/{channelId}/push/disable", "client.channels-push-disable",
    ok: (ChannelEnvelope, "The channel, `pushNotificationDisabled` true"),
    errors: "`2003` no such channel; `2005` not a member",
    params: (params::ChannelId)
}

client_route! {
    /// `POST /v1.4/channels/{channelId}/push/settings`
    client_push_settings => push_settings, post "/v1.4/channels/{channelId}/push/settings", "client.channels-push-settings",
    ok: (ChannelEnvelope, "The channel with the caller's push sounds"),
    errors: "`1001` a sound over 256 characters; `2003` no such channel; `2005` not a member",
    body: PushSettingsRequest,
    params: (params::ChannelId)
}

client_route! {
    /// `GET /v1.4/channels/{channelId}/push/settings`
    client_push_settings_get => push_settings, get "/v1.4/channels/{channelId}/push/settings", "client.channels-push-settings.get",
    ok: (ChannelEnvelope, "The channel with the caller's push setting and sounds"),
    errors: "`2003` no such channel; `2005` not a member",
    params: (params::ChannelId)
}

async fn set_and_show(ctx: Ctx, change: MemberStateChange) -> Result<Response<Body>, Error> {
    let (detail, _) = apply(&ctx, None, Some(change)).await?;
    Ok(ok(&ChannelEnvelope {
        channel: ctx.channel_view(detail),
    }))
}

/// `POST /v1.4/channels/{channelId}/privateTag`
#[utoipa::path(
    post,
    path = "/v1.4/channels/{channelId}/privateTag",
    operation_id = "client.channels-private-tag",
    tag = "client",
    request_body = PrivateTagRequest,
    params(params::ChannelId),
    responses(
        (status = 200, description = "The channel with the caller's `privateTag`", body = ChannelEnvelope),
        (status = 500, description = "`1002` `privateTag` missing; `1014` over 128 characters; `2003` no such channel; `2005` not a member", body = ErrorBody),
    )
)]
pub async fn set_private_tag(ctx: Ctx) -> Result<Response<Body>, Error> {
    let req: PrivateTagRequest = json_body(&ctx.req)?;
    set_and_show(ctx, private_tag(req.private_tag)?).await
}

/// `POST /v1.4/channels/{channelId}/privateData`
#[utoipa::path(
    post,
    path = "/v1.4/channels/{channelId}/privateData",
    operation_id = "client.channels-private-data",
    tag = "client",
    request_body = PrivateDataRequest,
    params(params::ChannelId),
    responses(
        (status = 200, description = "The channel with the caller's `privateData`", body = ChannelEnvelope),
        (status = 500, description = "`1002` `privateData` missing; `1013` not an object of at most 5 string pairs; `2003` no such channel; `2005` not a member", body = ErrorBody),
    )
)]
pub async fn set_private_data(ctx: Ctx) -> Result<Response<Body>, Error> {
    let req: PrivateDataRequest = json_body(&ctx.req)?;
    set_and_show(ctx, private_data(req.private_data)?).await
}

/// `POST /v1.4/channels/{channelId}/memberInfo`
#[utoipa::path(
    post,
    path = "/v1.4/channels/{channelId}/memberInfo",
    operation_id = "client.channels-member-info",
    tag = "client",
    request_body = MemberInfoRequest,
    params(params::ChannelId),
    responses(
        (status = 200, description = "The caller as a member, with the `memberInfo` every member sees", body = MemberEnvelope),
        (status = 500, description = "`1002` `memberInfo` missing; `1015` not an object of at most 5 string pairs; `2003` no such channel; `2005` not a member", body = ErrorBody),
    )
)]
pub async fn set_member_info(ctx: Ctx) -> Result<Response<Body>, Error> {
    let req: MemberInfoRequest = json_body(&ctx.req)?;
    let (_, member) = apply(&ctx, None, Some(member_info(req.member_info)?)).await?;
    Ok(ok(&MemberEnvelope {
        member: member.into(),
    }))
}
