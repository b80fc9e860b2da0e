//! Users: create, view, list, update, push settings, activation; login and password
//! (`login`), blocks (`blocks`), push devices (`devices`), delete (`delete`).

pub mod blocks;
pub mod delete;
pub mod devices;
pub mod login;
pub mod sessions;

use crate::Error;
use crate::auth::AppId;
use crate::model::{Page, User, UserChanges, UserSecrets, now_ms};
use crate::secrets::{new_secret, secret_digest};
use crate::store::Store;
use crate::validate::{
    self, MAX_PASSWORD_CHARS, MAX_URL_CHARS, MAX_USER_ID_CHARS, MAX_USERNAME_CHARS,
};
use crate::wire::{CreateUserRequest, UpdateUserRequest};

/// List pages: `limit` defaults to 50 and may be 1..=100.
pub const DEFAULT_LIST_LIMIT: usize = 50;
pub const MAX_LIST_LIMIT: usize = 100;

/// A new user and the login token shown once to the caller (only its digest is stored).
#[derive(Debug)]
pub struct CreatedUser {
    pub user: User,
    pub login_token: String,
}

pub fn validate_user_id(user_id: &str) -> Result<(), Error> {
    validate::id("userId", user_id, MAX_USER_ID_CHARS)
}

fn validate_changes(
    username: Option<String>,
    profile_image_url: Option<String>,
    data: Option<serde_json::Value>,
) -> Result<UserChanges, Error> {
    if let Some(v) = &username {
        validate::max_chars("username", v, MAX_USERNAME_CHARS)?;
    }
    if let Some(v) = &profile_image_url {
        validate::max_chars("profileImageUrl", v, MAX_URL_CHARS)?;
    }
    let data = data.map(|d| validate::data_map("data", &d)).transpose()?;
    Ok(UserChanges {
        username,
        profile_image_url,
        data,
        disable_push_notification: None,
    })
}

pub async fn create(
    store: &Store,
    app: &AppId,
    req: CreateUserRequest,
) -> Result<CreatedUser, Error> {
    let user_id = validate::required("userId", req.user_id)?;
    validate_user_id(&user_id)?;
    let password = new_password(req.password)?;
    let profile = validate_changes(req.username, req.profile_image_url, req.data)?;
    let password_hash = login::hash(password).await?;
    let login_token = new_secret();
    let now = now_ms();
    let user = User {
        username: profile.username.unwrap_or_default(),
        profile_image_url: profile.profile_image_url.unwrap_or_default(),
        data: profile.data.unwrap_or_default(),
        ..User::new(user_id, now)
    };
    let secrets = UserSecrets {
        password_hash,
        login_token_digest: secret_digest(&login_token),
    };
    store.create_user(app.as_str(), &user, &secrets).await?;
    Ok(CreatedUser { user, login_token })
}

/// A password to store: required, not empty, within the length limit.
fn new_password(password: Option<String>) -> Result<String, Error> {
    let password = validate::required("password", password)?;
    if password.is_empty() {
        return Err(Error::InvalidParam("password must not be empty".into()));
    }
    validate::max_chars("password", &password, MAX_PASSWORD_CHARS)?;
    Ok(password)
}

pub async fn get(store: &Store, app: &AppId, user_id: &str) -> Result<User, Error> {
    validate_user_id(user_id)?;
    store
        .user(app.as_str(), user_id)
        .await?
        .ok_or_else(|| Error::UserNotFound(user_id.to_owned()))
}

pub async fn list(
    store: &Store,
    app: &AppId,
    last_user_id: Option<&str>,
    limit: usize,
) -> Result<Page<User>, Error> {
    let last = last_user_id.filter(|s| !s.is_empty());
    if let Some(last) = last {
        validate::id("lastUserId", last, MAX_USER_ID_CHARS)?;
    }
    store.users_after(app.as_str(), last, limit).await
}

pub async fn update(
    store: &Store,
    app: &AppId,
    user_id: &str,
    req: UpdateUserRequest,
) -> Result<User, Error> {
    validate_user_id(user_id)?;
    let changes = validate_changes(req.username, req.profile_image_url, req.data)?;
    store
        .update_user(app.as_str(), user_id, &changes, now_ms())
        .await
}

/// `POST /users/{userId}/push/enable` and `/push/disable`.
pub async fn set_push(
    store: &Store,
    app: &AppId,
    user_id: &str,
    enabled: bool,
) -> Result<User, Error> {
    validate_user_id(user_id)?;
    let changes = UserChanges {
        disable_push_notification: Some(!enabled),
        ..UserChanges::default()
    };
    store
        .update_user(app.as_str(), user_id, &changes, now_ms())
        .await
}

/// `POST /users/{userId}/activate` and `/deactivate`. A deactivated user keeps everything
/// but cannot log in, own a channel or become a member (`3010`).
pub async fn set_active(
    store: &Store,
    app: &AppId,
    user_id: &str,
    active: bool,
) -> Result<(), Error> {
    validate_user_id(user_id)?;
    store
        .set_deactivated(app.as_str(), user_id, !active, now_ms())
        .await
        .map(|_| ())
}
