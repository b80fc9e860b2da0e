use lambda_http::{Body, Response};

use crate::Error;
use crate::domain::users::{self, DEFAULT_LIST_LIMIT, MAX_LIST_LIMIT};
use crate::error::ErrorBody;
use crate::http::{json_body, ok, path_param, query_param};
use crate::lambda::Ctx;
use crate::openapi::params;
use crate::validate;
use crate::wire::{
    CreateUserRequest, CreatedUserEnvelope, UpdateUserRequest, UserEnvelope, UserList,
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
    let created = users::create(&ctx.store, &ctx.app, json_body(&ctx.req)?).await?;
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
    let user_id = path_param(&ctx.req, "userId")?;
    let user = users::update(&ctx.store, &ctx.app, user_id, json_body(&ctx.req)?).await?;
    Ok(ok(&UserEnvelope { user: user.into() }))
}
