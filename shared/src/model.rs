//! Domain types: what the API is about, independent of storage and of the wire format.

use std::collections::BTreeMap;

/// An app: the tenant every request is authenticated as.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct App {
    pub id: String,
    pub name: String,
    pub active: bool,
    pub created_at: i64,
    pub updated_at: i64,
}

impl App {
    /// A new, active app.
    pub fn new(id: impl Into<String>, name: impl Into<String>, now: i64) -> App {
        App {
            id: id.into(),
            name: name.into(),
            active: true,
            created_at: now,
            updated_at: now,
        }
    }
}

/// An app with the digest its API key is checked against.
#[derive(Debug, Clone)]
pub struct AppCredentials {
    pub app: App,
    pub api_key_digest: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    pub id: String,
    pub username: String,
    pub profile_image_url: String,
    pub data: BTreeMap<String, String>,
    pub disable_push_notification: bool,
    pub created_at: i64,
    pub updated_at: i64,
}

/// What is stored beside a new user but never returned.
#[derive(Debug, Clone)]
pub struct UserSecrets {
    pub password_hash: String,
    pub login_token_digest: String,
}

/// A partial update of a user's profile; `None` leaves a field as it is.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UserChanges {
    pub username: Option<String>,
    pub profile_image_url: Option<String>,
    pub data: Option<BTreeMap<String, String>>,
}

/// One page of a keyset-paginated list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub has_next: bool,
}

/// Milliseconds since the epoch, the unit of every timestamp on the wire.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}
