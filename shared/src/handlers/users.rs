use lambda_http::{Body, Response};

use crate::Error;
use crate::domain::users::{self, DEFAULT_LIST_LIMIT, MAX_LIST_LIMIT};
use crate::error::ErrorBody;
use crate::http::{json_body, ok, path_param, query_param};
use crate::lambda::Ctx;
use crate::openapi::params;
use crate::validate;
use crate::wire::{
    BlockRequest, CreateUserRequest, CreatedUserEnvelope, Empty, LoginRequest, PasswordRequest,
    RegisterFcmRequest, UpdateUserRequest, UserEnvelope, UserList,
};

/// `POST /v1.4/api/users/create`
#[utoipa::path(
    post,
    path = "/v1.4/api/users/create",
    operation_id = "users-create",
    tag = "users",
    request_body = CreateUserRequest,
    responses(
        (status = 200, description = "The new user and its login token (shown once)", body = CreatedUserEnvelope),
        (status = 400, description = "`1001` a malformed or out-of-limit value; `1002` `userId` or `password` missing; `1011` bad `data`", body = ErrorBody),
        (status = 409, description = "`3004` the user id is taken", body = ErrorBody),
    )
)]
pub async fn create(ctx: Ctx) -> Result<Response<Body>, Error> {
    let (mut req, file): (CreateUserRequest, _) = ctx.form_with_file().await?;
    if file.is_some() {
        req.profile_image_url = file;
    }
    let created = users::create(&ctx.store, &ctx.app, req).await?;
    Ok(ok(&CreatedUserEnvelope {
        user: created.user.into(),
        login_token: created.login_token,
    }))
}

/// `GET /v1.4/api/users/{userId}`
#[utoipa::path(
    get,
    path = "/v1.4/api/users/{userId}",
    operation_id = "users-get",
    tag = "users",
    params(params::UserId),
    responses(
        (status = 200, description = "The user", body = UserEnvelope),
        (status = 400, description = "`1001` a malformed user id", body = ErrorBody),
        (status = 404, description = "`3003` no such user", body = ErrorBody),
    )
)]
pub async fn get(ctx: Ctx) -> Result<Response<Body>, Error> {
    let user = users::get(&ctx.store, &ctx.app, path_param(&ctx.req, "userId")?).await?;
    Ok(ok(&UserEnvelope { user: user.into() }))
}

/// `GET /v1.4/api/users?lastUserId=&limit=`
#[utoipa::path(
    get,
    path = "/v1.4/api/users",
    operation_id = "users-list",
    tag = "users",
    params(params::UserPage),
    responses(
        (status = 200, description = "The app's users in id order", body = UserList),
        (status = 400, description = "`1001` a malformed cursor or `limit`", body = ErrorBody),
    )
)]
pub async fn list(ctx: Ctx) -> Result<Response<Body>, Error> {
    let limit = validate::limit(
        query_param(&ctx.req, "limit"),
        DEFAULT_LIST_LIMIT,
        MAX_LIST_LIMIT,
    )?;
    let page = users::list(
        &ctx.store,
        &ctx.app,
        query_param(&ctx.req, "lastUserId"),
        limit,
    )
    .await?;
    Ok(ok(&UserList {
        users: page.items.into_iter().map(Into::into).collect(),
        has_next: page.has_next,
    }))
}

/// `PUT /v1.4/api/users/{userId}`
#[utoipa::path(
    put,
    path = "/v1.4/api/users/{userId}",
    operation_id = "users-update",
    tag = "users",
    request_body = UpdateUserRequest,
    params(params::UserId),
    responses(
        (status = 200, description = "The user after the change", body = UserEnvelope),
        (status = 400, description = "`1001` a malformed or out-of-limit value; `1011` bad `data`", body = ErrorBody),
        (status = 404, description = "`3003` no such user", body = ErrorBody),
    )
)]
pub async fn update(ctx: Ctx) -> Result<Response<Body>, Error> {
    let user_id = ctx.subject()?;
    let (mut req, file): (UpdateUserRequest, _) = ctx.form_with_file().await?;
    if file.is_some() {
        req.profile_image_url = file;
    }
    let user = users::update(&ctx.store, &ctx.app, user_id, req).await?;
    Ok(ok(&UserEnvelope { user: user.into() }))
}

/// `POST /v1.4/api/users/login`
#[utoipa::path(
    post,
    path = "/v1.4/api/users/login",
    operation_id = "users-login",
    tag = "users",
    request_body = LoginRequest,
    responses(
        (status = 200, description = "The user and a new login token, which replaces the previous one", body = CreatedUserEnvelope),
        (status = 400, description = "`1001` a malformed user id or an over-long password; `1002` `userId` or `password` missing", body = ErrorBody),
        (status = 401, description = "`3008` wrong password", body = ErrorBody),
        (status = 403, description = "`3010` the user is deactivated", body = ErrorBody),
        (status = 404, description = "`3003` no such user", body = ErrorBody),
    )
)]
pub async fn login(ctx: Ctx) -> Result<Response<Body>, Error> {
    let logged_in = users::login::login(&ctx.store, &ctx.app, json_body(&ctx.req)?).await?;
    Ok(ok(&CreatedUserEnvelope {
        user: logged_in.user.into(),
        login_token: logged_in.login_token,
    }))
}

/// `PUT /v1.4/api/users/{userId}/password`
#[utoipa::path(
    put,
    path = "/v1.4/api/users/{userId}/password",
    operation_id = "users-password",
    tag = "users",
    request_body = PasswordRequest,
    params(params::UserId),
    responses(
        (status = 200, description = "The user; login tokens issued before stop working", body = UserEnvelope),
        (status = 400, description = "`1001` an empty or over-long password or a malformed id; `1002` `password` missing", body = ErrorBody),
        (status = 404, description = "`3003` no such user", body = ErrorBody),
    )
)]
pub async fn password(ctx: Ctx) -> Result<Response<Body>, Error> {
    let user_id = path_param(&ctx.req, "userId")?;
    let user =
        users::login::set_password(&ctx.store, &ctx.app, user_id, json_body(&ctx.req)?).await?;
    Ok(ok(&UserEnvelope { user: user.into() }))
}

async fn set_active(ctx: Ctx, active: bool) -> Result<Response<Body>, Error> {
    users::set_active(
        &ctx.store,
        &ctx.app,
        path_param(&ctx.req, "userId")?,
        active,
    )
    .await?;
    Ok(ok(&Empty {}))
}

/// `POST /v1.4/api/users/{userId}/activate`
#[utoipa::path(
    post,
    path = "/v1.4/api/users/{userId}/activate",
    operation_id = "users-activate",
    tag = "users",
    params(params::UserId),
    responses(
        (status = 200, description = "The user is active (also if it was)", body = Empty),
        (status = 400, description = "`1001` a malformed user id", body = ErrorBody),
        (status = 404, description = "`3003` no such user", body = ErrorBody),
    )
)]
pub async fn activate(ctx: Ctx) -> Result<Response<Body>, Error> {
    set_active(ctx, true).await
}

/// `POST /v1.4/api/users/{userId}/deactivate`
#[utoipa::path(
    post,
    path = "/v1.4/api/users/{userId}/deactivate",
    operation_id = "users-deactivate",
    tag = "users",
    params(params::UserId),
    responses(
        (status = 200, description = "The user is deactivated: no login, no new ownership or membership; still listed and readable", body = Empty),
        (status = 400, description = "`1001` a malformed user id", body = ErrorBody),
        (status = 404, description = "`3003` no such user", body = ErrorBody),
    )
)]
pub async fn deactivate(ctx: Ctx) -> Result<Response<Body>, Error> {
    set_active(ctx, false).await
}

async fn set_push(ctx: Ctx, enabled: bool) -> Result<Response<Body>, Error> {
    let user_id = ctx.subject()?;
    let user = users::set_push(&ctx.store, &ctx.app, user_id, enabled).await?;
    Ok(ok(&UserEnvelope { user: user.into() }))
}

/// `POST /v1.4/api/users/{userId}/push/enable`
#[utoipa::path(
    post,
    path = "/v1.4/api/users/{userId}/push/enable",
    operation_id = "users-push-enable",
    tag = "users",
    params(params::UserId),
    responses(
        (status = 200, description = "The user, `disablePushNotification` false", body = UserEnvelope),
        (status = 400, description = "`1001` a malformed user id", body = ErrorBody),
        (status = 404, description = "`3003` no such user", body = ErrorBody),
    )
)]
pub async fn push_enable(ctx: Ctx) -> Result<Response<Body>, Error> {
    set_push(ctx, true).await
}

/// `POST /v1.4/api/users/{userId}/push/disable`
#[utoipa::path(
    post,
    path = "/v1.4/api/users/{userId}/push/disable",
    operation_id = "users-push-disable",
    tag = "users",
    params(params::UserId),
    responses(
        (status = 200, description = "The user, `disablePushNotification` true", body = UserEnvelope),
        (status = 400, description = "`1001` a malformed user id", body = ErrorBody),
        (status = 404, description = "`3003` no such user", body = ErrorBody),
    )
)]
pub async fn push_disable(ctx: Ctx) -> Result<Response<Body>, Error> {
    set_push(ctx, false).await
}

/// `POST /v1.4/api/users/{userId}/register/fcm`
#[utoipa::path(
    post,
    path = "/v1.4/api/users/{userId}/register/fcm",
    operation_id = "users-register-fcm",
    tag = "users",
    request_body = RegisterFcmRequest,
    params(params::UserId),
    responses(
        (status = 200, description = "Registered; the same `deviceId` replaces its token; a 21st device replaces the one registered longest ago", body = Empty),
        (status = 400, description = "`1001` a malformed id or an over-long value; `1002` `deviceId` or `fcmToken` missing or empty", body = ErrorBody),
        (status = 404, description = "`3003` no such user", body = ErrorBody),
    )
)]
pub async fn register_fcm(ctx: Ctx) -> Result<Response<Body>, Error> {
    let user_id = ctx.subject()?;
    let mut req: RegisterFcmRequest = json_body(&ctx.req)?;
    // The SDKs send the token alone: the device is the session's.
    if let Some(session) = ctx.client.as_ref().and_then(|c| c.session.as_ref()) {
        req.device_id = Some(session.device_id.clone());
    }
    users::devices::register_fcm(&ctx.store, &ctx.app, user_id, req).await?;
    Ok(ok(&Empty {}))
}

/// `DELETE /v1.4/api/users/{userId}`
#[utoipa::path(
    delete,
    path = "/v1.4/api/users/{userId}",
    operation_id = "users-delete",
    tag = "users",
    params(params::UserId),
    responses(
        (status = 200, description = "Deleted: gone at once; memberships, blocks and devices are swept (a repeated delete sweeps on)", body = Empty),
        (status = 400, description = "`1001` a malformed user id", body = ErrorBody),
        (status = 404, description = "`3003` no such user and nothing left of one", body = ErrorBody),
    )
)]
pub async fn delete(ctx: Ctx) -> Result<Response<Body>, Error> {
    users::delete::delete(&ctx.store, &ctx.app, ctx.subject()?).await?;
    Ok(ok(&Empty {}))
}

/// `POST /v1.4/api/users/{userId}/block`
#[utoipa::path(
    post,
    path = "/v1.4/api/users/{userId}/block",
    operation_id = "users-block",
    tag = "users",
    request_body = BlockRequest,
    params(params::UserId),
    responses(
        (status = 200, description = "Blocked (also if it was)", body = Empty),
        (status = 400, description = "`5000` a user cannot block themselves; `1001` a malformed id; `1002` `userId` missing", body = ErrorBody),
        (status = 404, description = "`3003` either user does not exist", body = ErrorBody),
    )
)]
pub async fn block(ctx: Ctx) -> Result<Response<Body>, Error> {
    let user_id = ctx.subject()?;
    users::blocks::block(&ctx.store, &ctx.app, user_id, json_body(&ctx.req)?).await?;
    Ok(ok(&Empty {}))
}

/// `POST /v1.4/api/users/{userId}/unblock`
#[utoipa::path(
    post,
    path = "/v1.4/api/users/{userId}/unblock",
    operation_id = "users-unblock",
    tag = "users",
    request_body = BlockRequest,
    params(params::UserId),
    responses(
        (status = 200, description = "Unblocked", body = Empty),
        (status = 400, description = "`5001` a user cannot unblock themselves; `1001` a malformed id; `1002` `userId` missing", body = ErrorBody),
        (status = 404, description = "`5002` the user is not blocked; `3003` either user does not exist", body = ErrorBody),
    )
)]
pub async fn unblock(ctx: Ctx) -> Result<Response<Body>, Error> {
    let user_id = ctx.subject()?;
    users::blocks::unblock(&ctx.store, &ctx.app, user_id, json_body(&ctx.req)?).await?;
    Ok(ok(&Empty {}))
}

/// `GET /v1.4/api/users/{userId}/blocked?lastUserId=&limit=`
#[utoipa::path(
    get,
    path = "/v1.4/api/users/{userId}/blocked",
    operation_id = "users-blocked",
    tag = "users",
    params(params::UserId, params::UserPage),
    responses(
        (status = 200, description = "The users this user blocks, in id order", body = UserList),
        (status = 400, description = "`1001` a malformed id, cursor or `limit`", body = ErrorBody),
        (status = 404, description = "`3003` no such user", body = ErrorBody),
    )
)]
pub async fn blocked(ctx: Ctx) -> Result<Response<Body>, Error> {
    let limit = validate::limit(
        query_param(&ctx.req, "limit"),
        DEFAULT_LIST_LIMIT,
        MAX_LIST_LIMIT,
    )?;
    let page = users::blocks::blocked(
        &ctx.store,
        &ctx.app,
        ctx.subject()?,
        query_param(&ctx.req, "lastUserId"),
        limit,
    )
    .await?;
    Ok(ok(&UserList {
        users: page.items.into_iter().map(Into::into).collect(),
        has_next: page.has_next,
    }))
}
