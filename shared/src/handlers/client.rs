//! The client API (`/v1.4/...`, a session token): the paths the TalkPlus SDKs call
//! (../shared/reference/client-protocol.md §3). Each operation that the admin API has too is
//! served by the same function and handler, with `Actor::User` for the caller (see
//! `Ctx::actor`, `Ctx::subject`); the wrappers here document the client routes. Every error
//! is HTTP 500 with the TalkPlus body (`http::CLIENT_ERROR_STATUS`).

use lambda_http::{Body, Response};
use serde::Deserialize;
use utoipa::ToSchema;

use crate::Error;
use crate::domain::channels::{self, DEFAULT_CHANNEL_LIST_LIMIT, MAX_CHANNEL_LIST_LIMIT};
use crate::domain::message_changes;
use crate::domain::users::sessions;
use crate::error::ErrorBody;
use crate::handlers::{channels as channel_handlers, members, messages, users};
use crate::http::{json_body, ok, path_param, query_param};
use crate::lambda::Ctx;
use crate::openapi::params;
use crate::validate;
use crate::wire::{
    ChannelEnvelope, ChannelList, ClientLoginRequest, CountEnvelope, CreateChannelRequest,
    EditMessageRequest, Empty, MemberEnvelope, MemberList, MembersRequest, MessageEnvelope,
    MessageList, MuteRequest, NotificationEnvelope, ReactionRequest, ReactionsEnvelope,
    SendMessageRequest, SessionEnvelope, UpdateChannelRequest, UpdateUserRequest, UserEnvelope,
    UserList,
};

/// `POST /v1.4/users/login/token`
#[utoipa::path(
    post,
    path = "/v1.4/users/login/token",
    operation_id = "client.users-login-token",
    tag = "client",
    request_body = ClientLoginRequest,
    responses(
        (status = 200, description = "The user (its profile updated with the login's fields) and a new session", body = SessionEnvelope),
        (status = 500, description = "`1001` a malformed value; `1002` `userId` or `loginToken` missing; `1011` bad `data`; `3003` no such user; `3009` not the user's current login token; `3010` the user is deactivated", body = ErrorBody),
    )
)]
pub async fn login_token(ctx: Ctx) -> Result<Response<Body>, Error> {
    let done =
        sessions::login_with_token(&ctx.store, &ctx.app, ctx.client()?, json_body(&ctx.req)?)
            .await?;
    Ok(session_answer(done))
}

/// `POST /v1.4/users/login/anonymous`
#[utoipa::path(
    post,
    path = "/v1.4/users/login/anonymous",
    operation_id = "client.users-login-anonymous",
    tag = "client",
    request_body = ClientLoginRequest,
    responses(
        (status = 200, description = "The user (created if new) and a new session", body = SessionEnvelope),
        (status = 500, description = "`3006` the app does not allow anonymous login (`talkplus-admin set-app --anonymous-login true`); `1001` a malformed value; `1002` `userId` missing; `1011` bad `data`; `3009` the user has a password (made by the admin API); `3010` the user is deactivated; `3004` the id belongs to a deleted user still being removed", body = ErrorBody),
    )
)]
pub async fn login_anonymous(ctx: Ctx) -> Result<Response<Body>, Error> {
    let done = sessions::login_anonymous(&ctx.store, &ctx.app, ctx.client()?, json_body(&ctx.req)?)
        .await?;
    Ok(session_answer(done))
}

fn session_answer(done: sessions::LoggedIn) -> Response<Body> {
    ok(&SessionEnvelope {
        user: done.user.into(),
        session_id: done.session_id,
        session_token: done.session_token,
    })
}

/// `POST /v1.4/users/logout`
#[utoipa::path(
    post,
    path = "/v1.4/users/logout",
    operation_id = "client.users-logout",
    tag = "client",
    responses(
        (status = 200, description = "The session has ended: its token is refused from now on by this function, and by every function within the auth cache's time (30 s)", body = Empty),
    )
)]
pub async fn logout(ctx: Ctx) -> Result<Response<Body>, Error> {
    let session = ctx.caller()?.clone();
    sessions::logout(&ctx.store, &ctx.app, &session).await?;
    ctx.services
        .client
        .forget(ctx.app.as_str(), &session.session_id);
    Ok(ok(&Empty {}))
}

client_route! {
    /// `PUT /v1.4/users/update`
    user_update => users::update, put "/v1.4/users/update", "client.users-update",
    ok: (UserEnvelope, "The caller's profile after the change; a multipart body's `file` is stored and becomes its `profileImageUrl`"),
    errors: "`1001` a malformed or out-of-limit value; `1011` bad `data`; `6001` a file over 4 MB; `6000` the file could not be stored",
    body: UpdateUserRequest
}

client_route! {
    /// `DELETE /v1.4/users/delete`
    user_delete => users::delete, delete "/v1.4/users/delete", "client.users-delete",
    ok: (Empty, "The caller is deleted (and every session with them)"),
    errors: "`3003` the user is gone already"
}

client_route! {
    /// `POST /v1.4/users/settings/push/enable`
    push_enable => users::push_enable, post "/v1.4/users/settings/push/enable", "client.users-push-enable",
    ok: (UserEnvelope, "The caller, push notifications on"),
    errors: "`3003` the user is gone"
}

client_route! {
    /// `POST /v1.4/users/settings/push/disable`
    push_disable => users::push_disable, post "/v1.4/users/settings/push/disable", "client.users-push-disable",
    ok: (UserEnvelope, "The caller, push notifications off"),
    errors: "`3003` the user is gone"
}

/// `POST /v1.4/users/register/fcm`
#[utoipa::path(
    post,
    path = "/v1.4/users/register/fcm",
    operation_id = "client.users-register-fcm",
    tag = "client",
    request_body = crate::wire::RegisterFcmRequest,
    responses(
        (status = 200, description = "The caller's device (the one the session was opened on) gets the token; a 21st device replaces the one registered longest ago", body = Empty),
        (status = 500, description = "`1002` `fcmToken` missing or empty; `1001` an over-long token", body = ErrorBody),
    )
)]
pub async fn register_fcm(ctx: Ctx) -> Result<Response<Body>, Error> {
    if ctx.req.uri().path().ends_with("/register/pushkit") {
        let session = ctx.caller()?;
        let req: crate::wire::RegisterPushKitRequest = json_body(&ctx.req)?;
        crate::domain::users::devices::register_pushkit(
            &ctx.store,
            &ctx.app,
            &session.user_id,
            &session.device_id,
            req,
        )
        .await?;
        return Ok(ok(&Empty {}));
    }
    users::register_fcm(ctx).await
}

/// `POST /v1.4/users/register/pushkit`: the same function as `register/fcm` (a device's push
/// token of the other kind).
#[utoipa::path(
    post,
    path = "/v1.4/users/register/pushkit",
    operation_id = "client.users-register-fcm.pushkit",
    tag = "client",
    request_body = crate::wire::RegisterPushKitRequest,
    responses(
        (status = 200, description = "The caller's device (the one the session was opened on) gets the PushKit (iOS VoIP) token, beside its FCM token; a 21st device replaces the one registered longest ago", body = Empty),
        (status = 500, description = "`1002` `pushKitToken` missing or empty; `1001` an over-long token", body = ErrorBody),
    )
)]
pub async fn register_pushkit(ctx: Ctx) -> Result<Response<Body>, Error> {
    register_fcm(ctx).await
}

client_route! {
    /// `POST /v1.4/users/block`
    block => users::block, post "/v1.4/users/block", "client.users-block",
    ok: (Empty, "The caller blocks the user"),
    errors: "`1002` `userId` missing; `1001` a malformed id; `3003` no such user; `5000` the caller",
    body: crate::wire::BlockRequest
}

client_route! {
    /// `POST /v1.4/users/unblock`
    unblock => users::unblock, post "/v1.4/users/unblock", "client.users-unblock",
    ok: (Empty, "The block is lifted"),
    errors: "`1002` `userId` missing; `1001` a malformed id; `3003` no such user; `5001` the caller; `5002` not blocked",
    body: crate::wire::BlockRequest
}

client_route! {
    /// `GET /v1.4/users/blocked?lastUserId=&limit=`
    blocked => users::blocked, get "/v1.4/users/blocked", "client.users-blocked",
    ok: (UserList, "The users the caller blocks, in id order"),
    errors: "`1001` a malformed cursor or `limit`",
    params: (params::UserPage)
}

/// `GET /v1.4/channels?type=&lastChannelId=&limit=&category=&subcategory=`
#[utoipa::path(
    get,
    path = "/v1.4/channels",
    operation_id = "client.users-channels",
    tag = "client",
    params(params::ChannelPage, params::ClientChannelFilters),
    responses(
        (status = 200, description = "`type=default` (or none): the caller's channels but the hidden ones; `hidden`: the caller's hidden channels; `public`: the app's public channels. In id order", body = ChannelList),
        (status = 500, description = "`1001` a malformed cursor, `limit`, `type` or filter (the filters `filter=name` + `query`, `members`, `privateTag`, `hasUnread`, `isFrozen` apply to the caller's lists, not `public`)", body = ErrorBody),
    )
)]
pub async fn channel_list(ctx: Ctx) -> Result<Response<Body>, Error> {
    let limit = validate::limit(
        query_param(&ctx.req, "limit"),
        DEFAULT_CHANNEL_LIST_LIMIT,
        MAX_CHANNEL_LIST_LIMIT,
    )?;
    let last = query_param(&ctx.req, "lastChannelId");
    let category = query_param(&ctx.req, "category");
    let subcategory = query_param(&ctx.req, "subcategory");
    let caller = ctx.caller()?.user_id.clone();
    let ctx = &ctx;
    let mine = |hidden: bool| async move {
        let filter = channels::channel_filter(None, category, subcategory)?;
        let client_filter = client_filter(ctx, caller, hidden)?;
        channels::user_channels(
            &ctx.store,
            &ctx.app,
            &client_filter.viewer,
            last,
            limit,
            &filter,
            Some(&client_filter),
        )
        .await
    };
    let page = match query_param(&ctx.req, "type").unwrap_or_default() {
        "" | "default" => mine(false).await?,
        "hidden" => mine(true).await?,
        "public" => {
            let filter = channels::channel_filter(Some("public"), category, subcategory)?;
            channels::list(&ctx.store, &ctx.app, last, limit, &filter).await?
        }
        other => {
            return Err(Error::InvalidParam(format!(
                "type must be default, public or hidden, not {other:?}"
            )));
        }
    };
    let mut page = page;
    let caller = ctx.caller()?.user_id.as_str();
    channels::client::seen_last_messages(&ctx.store, &ctx.app, caller, &mut page.items).await?;
    Ok(ok(&ChannelList {
        channels: page
            .items
            .into_iter()
            .map(|d| ctx.channel_view(d))
            .collect(),
        has_next: page.has_next,
    }))
}

/// The filters of `GET channels` on the caller's own lists. `members` comes repeated
/// (`members=a&members=b`, the JS SDK) or comma-joined (Unity, iOS).
fn client_filter(
    ctx: &Ctx,
    viewer: String,
    hidden: bool,
) -> Result<channels::client::ClientFilter, Error> {
    let flag = |name: &str| -> Result<Option<bool>, Error> {
        match query_param(&ctx.req, name).unwrap_or_default() {
            "" => Ok(None),
            "true" => Ok(Some(true)),
            "false" => Ok(Some(false)),
            other => Err(Error::InvalidParam(format!(
                "{name} must be true or false, not {other:?}"
            ))),
        }
    };
    let name = match query_param(&ctx.req, "filter").unwrap_or_default() {
        "" => None,
        "name" => query_param(&ctx.req, "query")
            .filter(|q| !q.is_empty())
            .map(str::to_owned),
        other => {
            return Err(Error::InvalidParam(format!(
                "filter must be name, not {other:?}"
            )));
        }
    };
    if let Some(q) = &name {
        validate::max_chars("query", q, channels::MAX_CHANNEL_NAME_CHARS)?;
    }
    let private_tag = query_param(&ctx.req, "privateTag")
        .filter(|t| !t.is_empty())
        .map(str::to_owned);
    let mut members = Vec::new();
    for value in crate::http::query_params(&ctx.req, "members") {
        for id in value.split(',').filter(|id| !id.is_empty()) {
            validate::id("members", id, validate::MAX_USER_ID_CHARS)?;
            members.push(id.to_owned());
        }
    }
    if members.len() > channels::MAX_MEMBER_IDS {
        return Err(Error::InvalidParam(format!(
            "members may name at most {} users",
            channels::MAX_MEMBER_IDS
        )));
    }
    Ok(channels::client::ClientFilter {
        viewer,
        hidden,
        name,
        is_frozen: flag("isFrozen")?,
        has_unread: flag("hasUnread")?,
        private_tag,
        members,
    })
}

client_route! {
    /// `POST /v1.4/channels/create`
    channel_create => channel_handlers::create, post "/v1.4/channels/create", "client.channels-create",
    ok: (ChannelEnvelope, "The new (or reused) channel; the caller is its owner"),
    errors: "as the admin API's create: `1001`, `1002`, `1011`, `2012`, `2013`, `2029`, `3010`, `2019`, `2020`, `3003`, `2002`, `2004`",
    body: CreateChannelRequest
}

client_route! {
    /// `GET /v1.4/channels/{channelId}`
    channel_get => channel_handlers::get, get "/v1.4/channels/{channelId}", "client.channels-get",
    ok: (ChannelEnvelope, "The channel"),
    errors: "`2003` no such channel; `2005` the caller is not a member of a channel that is not public",
    params: (params::ChannelId)
}

client_route! {
    /// `PUT /v1.4/channels/{channelId}`
    channel_update => channel_handlers::update, put "/v1.4/channels/{channelId}", "client.channels-update",
    ok: (ChannelEnvelope, "The channel after the change"),
    errors: "`2006` the caller is not the owner; `2031` a transfer (`ownerId`) by a non-owner; `2003` no such channel; as the admin API's update otherwise",
    body: UpdateChannelRequest, params: (params::ChannelId)
}

client_route! {
    /// `DELETE /v1.4/channels/{channelId}`
    channel_delete => channel_handlers::delete, delete "/v1.4/channels/{channelId}", "client.channels-delete",
    ok: (Empty, "Deleted"),
    errors: "`2031` the caller is not the owner; `2003` no such channel",
    params: (params::ChannelId)
}

client_route! {
    /// `POST /v1.4/channels/{channelId}/freeze`
    freeze => channel_handlers::freeze, post "/v1.4/channels/{channelId}/freeze", "client.channels-freeze",
    ok: (Empty, "Frozen"),
    errors: "`2031` the caller is not the owner; `2003` no such channel",
    params: (params::ChannelId)
}

client_route! {
    /// `POST /v1.4/channels/{channelId}/unfreeze`
    unfreeze => channel_handlers::unfreeze, post "/v1.4/channels/{channelId}/unfreeze", "client.channels-unfreeze",
    ok: (Empty, "Unfrozen"),
    errors: "`2031` the caller is not the owner; `2003` no such channel",
    params: (params::ChannelId)
}

client_route! {
    /// `GET /v1.4/channels/{channelId}/members`
    member_list => members::list, get "/v1.4/channels/{channelId}/members", "client.channels-members",
    ok: (MemberList, "A page of the channel's members"),
    errors: "`2003` no such channel; `2005` not a member of a channel that is not public",
    params: (params::ChannelId, params::UserPage)
}

client_route! {
    /// `GET /v1.4/channels/{channelId}/members/{memberId}`
    member_get => members::get, get "/v1.4/channels/{channelId}/members/{memberId}", "client.channels-member",
    ok: (MemberEnvelope, "The member"),
    errors: "`2003` no such channel; `2001` not a member; `2005` the caller is not a member of a channel that is not public",
    params: (params::ChannelId, params::MemberId)
}

client_route! {
    /// `POST /v1.4/channels/{channelId}/members/add`
    member_add => members::add, post "/v1.4/channels/{channelId}/members/add", "client.channels-members-add",
    ok: (ChannelEnvelope, "The channel after the change"),
    errors: "`2005` the caller is not a member; as the admin API's add otherwise (`3003`, `3010`, `2017`, `2008`, `2021`, `2022`, `2029`)",
    body: MembersRequest, params: (params::ChannelId)
}

client_route! {
    /// `POST /v1.4/channels/{channelId}/members/remove`
    member_remove => members::remove, post "/v1.4/channels/{channelId}/members/remove", "client.channels-members-remove",
    ok: (ChannelEnvelope, "The channel after the change"),
    errors: "`2031` the caller is not the owner; `2007` the owner; `2009` not a member",
    body: MembersRequest, params: (params::ChannelId)
}

client_route! {
    /// `POST /v1.4/channels/{channelId}/members/ban`
    member_ban => members::ban, post "/v1.4/channels/{channelId}/members/ban", "client.channels-members-ban",
    ok: (ChannelEnvelope, "The channel after the change"),
    errors: "`2031` the caller is not the owner; `2016` the owner; `2010` not a member",
    body: MembersRequest, params: (params::ChannelId)
}

client_route! {
    /// `POST /v1.4/channels/{channelId}/members/unban`
    member_unban => members::unban, post "/v1.4/channels/{channelId}/members/unban", "client.channels-members-unban",
    ok: (ChannelEnvelope, "The channel after the change"),
    errors: "`2031` the caller is not the owner",
    body: MembersRequest, params: (params::ChannelId)
}

client_route! {
    /// `POST /v1.4/channels/{channelId}/members/mute`
    member_mute => members::mute, post "/v1.4/channels/{channelId}/members/mute", "client.channels-members-mute",
    ok: (ChannelEnvelope, "The channel after the change"),
    errors: "`2031` the caller is not the owner; `2028` the owner; `2001` not a member",
    body: MuteRequest, params: (params::ChannelId)
}

client_route! {
    /// `POST /v1.4/channels/{channelId}/members/unmute`
    member_unmute => members::unmute, post "/v1.4/channels/{channelId}/members/unmute", "client.channels-members-unmute",
    ok: (ChannelEnvelope, "The channel after the change"),
    errors: "`2031` the caller is not the owner; `2001` not a member",
    body: MembersRequest, params: (params::ChannelId)
}

client_route! {
    /// `GET /v1.4/channels/{channelId}/members/banned`
    banned => members::banned, get "/v1.4/channels/{channelId}/members/banned", "client.channels-members-banned",
    ok: (UserList, "A page of the channel's banned users"),
    errors: "`2003` no such channel; `2005` not a member of a channel that is not public",
    params: (params::ChannelId, params::UserPage)
}

client_route! {
    /// `GET /v1.4/channels/{channelId}/members/muted`
    muted => members::muted, get "/v1.4/channels/{channelId}/members/muted", "client.channels-members-muted",
    ok: (MemberList, "A page of the channel's muted members"),
    errors: "`2003` no such channel; `2005` not a member of a channel that is not public",
    params: (params::ChannelId, params::UserPage)
}

/// The body of `join/invitation`.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct JoinRequest {
    #[schema(value_type = String, required = true, max_length = 128)]
    pub invitation_code: Option<String>,
}

/// The body of `leave`.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct LeaveRequest {
    /// Delete the channel if the caller was its last member.
    pub delete_channel_if_empty: Option<bool>,
}

/// `POST /v1.4/channels/{channelId}/join`
#[utoipa::path(
    post,
    path = "/v1.4/channels/{channelId}/join",
    operation_id = "client.channels-join",
    tag = "client",
    params(params::ChannelId),
    responses(
        (status = 200, description = "The channel, the caller a member", body = ChannelEnvelope),
        (status = 500, description = "`2003` no such channel; `2011` a private channel; `2014` an invitationOnly channel (join with its code); `2018` the caller is banned; `2008` already a member; `2023` the owner blocks the caller; `2024` the caller blocks the owner; `2029` the channel is full", body = ErrorBody),
    )
)]
pub async fn join(ctx: Ctx) -> Result<Response<Body>, Error> {
    let code = if ctx.req.uri().path().ends_with("/join/invitation") {
        let req: JoinRequest = json_body(&ctx.req)?;
        Some(validate::required("invitationCode", req.invitation_code)?)
    } else {
        None
    };
    let caller = ctx.caller()?.user_id.as_str();
    let channel_id = path_param(&ctx.req, "channelId")?;
    let detail = channels::client::join(&ctx.store, &ctx.app, caller, channel_id, code).await?;
    Ok(ok(&ChannelEnvelope {
        channel: ctx.channel_view(detail),
    }))
}

/// `POST /v1.4/channels/{channelId}/join/invitation`
#[utoipa::path(
    post,
    path = "/v1.4/channels/{channelId}/join/invitation",
    operation_id = "client.channels-join.invitation",
    tag = "client",
    request_body = JoinRequest,
    params(params::ChannelId),
    responses(
        (status = 200, description = "The channel, the caller a member", body = ChannelEnvelope),
        (status = 500, description = "`1002` `invitationCode` missing; `2014` the wrong code; `2015` not an invitationOnly channel; `2003`, `2018`, `2008`, `2023`, `2024`, `2029` as for `join`", body = ErrorBody),
    )
)]
pub async fn join_invitation(ctx: Ctx) -> Result<Response<Body>, Error> {
    join(ctx).await
}

/// `POST /v1.4/channels/{channelId}/leave`
#[utoipa::path(
    post,
    path = "/v1.4/channels/{channelId}/leave",
    operation_id = "client.channels-leave",
    tag = "client",
    request_body = LeaveRequest,
    params(params::ChannelId),
    responses(
        (status = 200, description = "The caller has left (an owner too: the channel goes on without one); with `deleteChannelIfEmpty`, a channel left empty is deleted", body = Empty),
        (status = 500, description = "`2003` no such channel; `2005` not a member", body = ErrorBody),
    )
)]
pub async fn leave(ctx: Ctx) -> Result<Response<Body>, Error> {
    let req: LeaveRequest = json_body(&ctx.req)?;
    let caller = ctx.caller()?.user_id.as_str();
    let channel_id = path_param(&ctx.req, "channelId")?;
    channels::client::leave(
        &ctx.store,
        &ctx.app,
        caller,
        channel_id,
        req.delete_channel_if_empty.unwrap_or(false),
    )
    .await?;
    Ok(ok(&Empty {}))
}

/// `POST /v1.4/channels/{channelId}/transfer/ownership`
#[utoipa::path(
    post,
    path = "/v1.4/channels/{channelId}/transfer/ownership",
    operation_id = "client.channels-transfer-ownership",
    tag = "client",
    request_body = crate::wire::BlockRequest,
    params(params::ChannelId),
    responses(
        (status = 200, description = "The channel, `userId` its owner", body = ChannelEnvelope),
        (status = 500, description = "`1002` `userId` missing; `2031` the caller is not the owner; `2030` `userId` owns it already; `2001` `userId` is not a member; `3010` `userId` is deactivated; `2003` no such channel", body = ErrorBody),
    )
)]
pub async fn transfer_ownership(ctx: Ctx) -> Result<Response<Body>, Error> {
    let req: crate::wire::BlockRequest = json_body(&ctx.req)?;
    let caller = ctx.caller()?.user_id.as_str();
    let channel_id = path_param(&ctx.req, "channelId")?;
    let detail =
        channels::client::transfer_ownership(&ctx.store, &ctx.app, caller, channel_id, req.user_id)
            .await?;
    Ok(ok(&ChannelEnvelope {
        channel: ctx.channel_view(detail),
    }))
}

/// `POST /v1.4/channels/{channelId}/markread`
#[utoipa::path(
    post,
    path = "/v1.4/channels/{channelId}/markread",
    operation_id = "client.channels-markread",
    tag = "client",
    params(params::ChannelId),
    responses(
        (status = 200, description = "The channel, the caller's `unreadCount` 0 and `lastReadAt` now (a message sent meanwhile is counted again, never skipped)", body = ChannelEnvelope),
        (status = 500, description = "`2003` no such channel; `2005` not a member", body = ErrorBody),
    )
)]
pub async fn mark_read(ctx: Ctx) -> Result<Response<Body>, Error> {
    let caller = ctx.caller()?.user_id.as_str();
    if ctx.req.uri().path().ends_with("/channels/markread/all") {
        return every_channel(&ctx, crate::store::JobKind::MarkReadAll).await;
    }
    let channel_id = path_param(&ctx.req, "channelId")?;
    let detail = channels::client::mark_read(&ctx.store, &ctx.app, caller, channel_id).await?;
    Ok(ok(&ChannelEnvelope {
        channel: ctx.channel_view(detail),
    }))
}

/// `POST /v1.4/channels/markread/all`: the same function as `markread`.
#[utoipa::path(
    post,
    path = "/v1.4/channels/markread/all",
    operation_id = "client.channels-markread.all",
    tag = "client",
    responses(
        (status = 200, description = "Every channel of the caller with unread messages is marked read (super channels have no read marks). A caller in more channels than the request works through in 2 s has the rest marked by the sweeper moments later; channels are found through an eventually consistent index (one joined a moment ago may be missed)", body = Empty),
    )
)]
pub async fn mark_read_all(ctx: Ctx) -> Result<Response<Body>, Error> {
    mark_read(ctx).await
}

/// `markread/all` and `hide/all`: the change to every channel of the caller.
pub(crate) async fn every_channel(
    ctx: &Ctx,
    kind: crate::store::JobKind,
) -> Result<Response<Body>, Error> {
    let caller = ctx.caller()?.user_id.as_str();
    channels::bulk::start(
        &ctx.store,
        ctx.app.as_str(),
        caller,
        kind,
        crate::domain::cleanup::INLINE_SWEEP,
    )
    .await?;
    Ok(ok(&Empty {}))
}

/// `PUT /v1.4/channels/{channelId}/messages/{messageId}`
#[utoipa::path(
    put,
    path = "/v1.4/channels/{channelId}/messages/{messageId}",
    operation_id = "client.channels-messages-update",
    tag = "client",
    request_body = EditMessageRequest,
    params(params::ChannelId, params::MessageId),
    responses(
        (status = 200, description = "The message after the edit", body = MessageEnvelope),
        (status = 500, description = "`1006` not the message's sender; `2005` not a member; `2003` no such channel; `4003` no such message; `2026` a mention who is not a member; `4001` text over 8192 characters; `4002` text and data both empty after the edit; `1011` bad `data`; `1001` a malformed value", body = ErrorBody),
    )
)]
pub async fn message_update(ctx: Ctx) -> Result<Response<Body>, Error> {
    let caller = ctx.caller()?.user_id.as_str();
    let message = message_changes::edit(
        &ctx.store,
        &ctx.app,
        caller,
        path_param(&ctx.req, "channelId")?,
        path_param(&ctx.req, "messageId")?,
        json_body(&ctx.req)?,
    )
    .await?;
    Ok(ok(&MessageEnvelope {
        message: message.into(),
    }))
}

/// `POST /v1.4/channels/{channelId}/messages/{messageId}/reactions`
#[utoipa::path(
    post,
    path = "/v1.4/channels/{channelId}/messages/{messageId}/reactions",
    operation_id = "client.channels-messages-react",
    tag = "client",
    request_body = ReactionRequest,
    params(params::ChannelId, params::MessageId),
    responses(
        (status = 200, description = "The message with the caller's reaction (adding it twice changes nothing)", body = MessageEnvelope),
        (status = 500, description = "`1002` `reaction` missing; `1001` a reaction over 64 characters, or more than 50 kinds or 1,000 users of one on a message; `2005` not a member; `2003` no such channel; `4003` no such message", body = ErrorBody),
    )
)]
pub async fn react(ctx: Ctx) -> Result<Response<Body>, Error> {
    let req: ReactionRequest = json_body(&ctx.req)?;
    let reaction = validate::required("reaction", req.reaction)?;
    reaction_change(ctx, &reaction, true).await
}

async fn reaction_change(ctx: Ctx, reaction: &str, add: bool) -> Result<Response<Body>, Error> {
    let caller = ctx.caller()?.user_id.as_str();
    let message = message_changes::react(
        &ctx.store,
        &ctx.app,
        caller,
        path_param(&ctx.req, "channelId")?,
        path_param(&ctx.req, "messageId")?,
        reaction,
        add,
    )
    .await?;
    Ok(ok(&MessageEnvelope {
        message: message.into(),
    }))
}

/// `DELETE /v1.4/channels/{channelId}/messages/{messageId}/reactions/{reaction}`
#[utoipa::path(
    delete,
    path = "/v1.4/channels/{channelId}/messages/{messageId}/reactions/{reaction}",
    operation_id = "client.channels-messages-unreact",
    tag = "client",
    params(params::ChannelId, params::MessageId, params::Reaction),
    responses(
        (status = 200, description = "The message without the caller's reaction (removing one not there changes nothing)", body = MessageEnvelope),
        (status = 500, description = "`1001` a malformed reaction; `2005` not a member; `2003` no such channel; `4003` no such message", body = ErrorBody),
    )
)]
pub async fn unreact(ctx: Ctx) -> Result<Response<Body>, Error> {
    // Both forms the SDK versions use: the reaction in the path, or in a JSON body.
    let reaction = match path_param(&ctx.req, "reaction") {
        Ok(r) => percent_decoded(r)?,
        Err(_) => {
            let req: ReactionRequest = json_body(&ctx.req)?;
            validate::required("reaction", req.reaction)?
        }
    };
    reaction_change(ctx, &reaction, false).await
}

/// `DELETE /v1.4/channels/{channelId}/messages/{messageId}/reactions` with `{"reaction"}`
#[utoipa::path(
    delete,
    path = "/v1.4/channels/{channelId}/messages/{messageId}/reactions",
    operation_id = "client.channels-messages-unreact.body",
    tag = "client",
    request_body = ReactionRequest,
    params(params::ChannelId, params::MessageId),
    responses(
        (status = 200, description = "The message without the caller's reaction", body = MessageEnvelope),
        (status = 500, description = "`1002` `reaction` missing; `1001` a malformed reaction; `2005` not a member; `2003` no such channel; `4003` no such message", body = ErrorBody),
    )
)]
pub async fn unreact_body(ctx: Ctx) -> Result<Response<Body>, Error> {
    unreact(ctx).await
}

/// A path segment as sent: percent-encoded by HTTP clients when it is an emoji.
fn percent_decoded(segment: &str) -> Result<String, Error> {
    let bytes = segment.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = segment
                .get(i + 1..i + 3)
                .and_then(|h| u8::from_str_radix(h, 16).ok())
                .ok_or_else(|| {
                    Error::InvalidParam("reaction: malformed percent-encoding".into())
                })?;
            out.push(hex);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).map_err(|_| Error::InvalidParam("reaction is not UTF-8".into()))
}

/// `GET /v1.4/channels/{channelId}/messages/{messageId}/reactions`
#[utoipa::path(
    get,
    path = "/v1.4/channels/{channelId}/messages/{messageId}/reactions",
    operation_id = "client.channels-messages-reactions",
    tag = "client",
    params(params::ChannelId, params::MessageId),
    responses(
        (status = 200, description = "The message's reactions: reaction → the users, in id order", body = ReactionsEnvelope),
        (status = 500, description = "`2003` no such channel; `4003` no such message; `2005` not a member of a channel that is not public", body = ErrorBody),
    )
)]
pub async fn reactions(ctx: Ctx) -> Result<Response<Body>, Error> {
    let reactions = message_changes::reactions(
        &ctx.store,
        &ctx.app,
        ctx.actor(),
        path_param(&ctx.req, "channelId")?,
        path_param(&ctx.req, "messageId")?,
    )
    .await?;
    Ok(ok(&ReactionsEnvelope { reactions }))
}

/// `GET /v1.4/channels/unread/count`
#[utoipa::path(
    get,
    path = "/v1.4/channels/unread/count",
    operation_id = "client.channels-unread-count",
    tag = "client",
    responses(
        (status = 200, description = "The caller's unread messages over all their channels (super channels count none). The channels are found through an eventually consistent index: one joined a moment ago may be missing", body = CountEnvelope),
    )
)]
pub async fn unread_count(ctx: Ctx) -> Result<Response<Body>, Error> {
    let caller = ctx.caller()?.user_id.as_str();
    let count = channels::client::unread_total(&ctx.store, &ctx.app, caller).await?;
    Ok(ok(&CountEnvelope { count }))
}

/// `GET /v1.4/notifications/{notificationId}`: a push notification's link.
#[utoipa::path(
    get,
    path = "/v1.4/notifications/{notificationId}",
    operation_id = "client.notifications-get",
    tag = "client",
    params(params::NotificationId),
    responses(
        (status = 200, description = "The event the push notification is about, its `data` as the WebSocket frame's", body = NotificationEnvelope),
        (status = 500, description = "`1001` not a notification link's id; `4003` no such notification for the caller (another user's, or older than the 6 hours events are kept)", body = ErrorBody),
    )
)]
pub async fn notification(ctx: Ctx) -> Result<Response<Body>, Error> {
    let caller = ctx.caller()?.user_id.as_str();
    let id = path_param(&ctx.req, "notificationId")?;
    let notification =
        crate::realtime::push::notification(&ctx.store, ctx.app.as_str(), caller, id).await?;
    Ok(ok(&NotificationEnvelope { notification }))
}

client_route! {
    /// `POST /v1.4/channels/{channelId}/messages/send`
    message_send => messages::send, post "/v1.4/channels/{channelId}/messages/send", "client.channels-messages-send",
    ok: (MessageEnvelope, "The message, sent by the caller; a multipart body's `file` is stored and becomes its `fileUrl`"),
    errors: "`4000` the caller is not a member; `1001` an admin type or a malformed value; `2025` frozen; `2027` muted (by the owner or a peer); `4001`, `4002`, `2026` as the admin API's send; `6001` a file over 4 MB; `6000` the file could not be stored",
    body: SendMessageRequest, params: (params::ChannelId, params::IdempotencyKey)
}

client_route! {
    /// `GET /v1.4/channels/{channelId}/messages`
    message_list => messages::list, get "/v1.4/channels/{channelId}/messages", "client.channels-messages",
    ok: (MessageList, "A page of the channel's messages"),
    errors: "`2003` no such channel; `2005` not a member of a channel that is not public; `1001` a malformed cursor, `order` or `limit`",
    params: (params::ChannelId, params::MessagePage)
}

client_route! {
    /// `GET /v1.4/channels/{channelId}/messages/files`
    message_files => messages::list, get "/v1.4/channels/{channelId}/messages/files", "client.channels-messages.files",
    ok: (MessageList, "A page of the channel's messages with a file (`fileUrl`)"),
    errors: "`2003` no such channel; `2005` not a member of a channel that is not public; `1001` a malformed cursor, `order` or `limit`",
    params: (params::ChannelId, params::MessagePage)
}

client_route! {
    /// `GET /v1.4/channels/{channelId}/messages/{messageId}`
    message_get => messages::get, get "/v1.4/channels/{channelId}/messages/{messageId}", "client.channels-messages-get",
    ok: (MessageEnvelope, "The message"),
    errors: "`2003` no such channel; `4003` no such message; `2005` not a member of a channel that is not public",
    params: (params::ChannelId, params::MessageId)
}

client_route! {
    /// `DELETE /v1.4/channels/{channelId}/messages/{messageId}`
    message_delete => messages::delete, delete "/v1.4/channels/{channelId}/messages/{messageId}", "client.channels-messages-delete",
    ok: (Empty, "Deleted"),
    errors: "`2031` neither the message's sender nor the channel's owner; `2003` no such channel; `4003` no such message",
    params: (params::ChannelId, params::MessageId)
}
