//! TalkPlus wire types: camelCase JSON, millisecond timestamps. Requests take every field as
//! an `Option` so that a missing required field is reported as `1002`, not as a parse error.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::model::User;

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct UserView {
    pub id: String,
    pub username: String,
    pub profile_image_url: String,
    pub disable_push_notification: bool,
    pub data: BTreeMap<String, String>,
    pub updated_at: i64,
    pub created_at: i64,
}

impl From<User> for UserView {
    fn from(u: User) -> Self {
        UserView {
            id: u.id,
            username: u.username,
            profile_image_url: u.profile_image_url,
            disable_push_notification: u.disable_push_notification,
            data: u.data,
            updated_at: u.updated_at,
            created_at: u.created_at,
        }
    }
}

/// `{"user": {...}}`
#[derive(Debug, Serialize)]
pub struct UserEnvelope {
    pub user: UserView,
}

/// `{"user": {...}, "loginToken": "..."}`, the answer to `users/create`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CreatedUserEnvelope {
    pub user: UserView,
    pub login_token: String,
}

/// `{"users": [...], "hasNext": bool}`
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct UserList {
    pub users: Vec<UserView>,
    pub has_next: bool,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CreateUserRequest {
    pub user_id: Option<String>,
    pub password: Option<String>,
    pub username: Option<String>,
    pub profile_image_url: Option<String>,
    /// Kept as JSON so that a bad `data` is `1011`, as TalkPlus answers, not `1001`.
    pub data: Option<Value>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UpdateUserRequest {
    pub username: Option<String>,
    pub profile_image_url: Option<String>,
    pub data: Option<Value>,
}
