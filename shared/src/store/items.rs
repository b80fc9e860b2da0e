//! Stored item types, kept apart from the wire types in `crate::wire`. Mapped with serde_dynamo.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AppItem {
    pub pk: String,
    pub sk: String,
    pub gsi1pk: String,
    pub gsi1sk: String,
    pub entity: String,
    pub app_id: String,
    pub name: String,
    /// SHA-256 of the API key; the key itself is shown once and never stored.
    pub api_key_digest: String,
    pub active: bool,
    pub created_at: i64,
    pub updated_at: i64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct UserItem {
    pub pk: String,
    pub sk: String,
    pub gsi1pk: String,
    pub gsi1sk: String,
    pub entity: String,
    pub user_id: String,
    pub username: String,
    pub profile_image_url: String,
    pub data: BTreeMap<String, String>,
    pub disable_push_notification: bool,
    /// Argon2id PHC string.
    pub password_hash: String,
    /// SHA-256 of the login token.
    pub login_token_digest: String,
    pub created_at: i64,
    pub updated_at: i64,
}
