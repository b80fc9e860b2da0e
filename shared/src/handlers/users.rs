use lambda_http::{Body, Response};

use crate::Error;
use crate::domain::users::{self, DEFAULT_LIST_LIMIT, MAX_LIST_LIMIT};
use crate::http::{json_body, ok, path_param, query_param};
use crate::lambda::Ctx;
use crate::validate;
use crate::wire::{CreatedUserEnvelope, UserEnvelope, UserList};

/// `POST /v1.4/api/users/create`
pub async fn create(ctx: Ctx) -> Result<Response<Body>, Error> {
    let created = users::create(&ctx.store, &ctx.app, json_body(&ctx.req)?).await?;
    Ok(ok(&CreatedUserEnvelope {
        user: created.user.into(),
        login_token: created.login_token,
    }))
}

/// `GET /v1.4/api/users/{userId}`
pub async fn get(ctx: Ctx) -> Result<Response<Body>, Error> {
    let user = users::get(&ctx.store, &ctx.app, path_param(&ctx.req, "userId")?).await?;
    Ok(ok(&UserEnvelope { user: user.into() }))
}

/// `GET /v1.4/api/users?lastUserId=&limit=`
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
pub async fn update(ctx: Ctx) -> Result<Response<Body>, Error> {
    let user_id = path_param(&ctx.req, "userId")?;
    let user = users::update(&ctx.store, &ctx.app, user_id, json_body(&ctx.req)?).await?;
    Ok(ok(&UserEnvelope { user: user.into() }))
}
