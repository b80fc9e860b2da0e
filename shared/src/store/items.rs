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
    /// Absent: the server's default (see `model::RateLimits`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub admin_rate_limit: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_rate_limit: Option<u32>,
    /// See `model::App::anonymous_login`.
    #[serde(default)]
    pub anonymous_login: bool,
    /// The API key sealed for webhook signing (`crate::seal`); absent when the key was set
    /// where no sealing key was configured.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signing_key: Option<String>,
    /// The FCM service account (`realtime::push::ServiceAccount`), sealed as the signing
    /// key is; absent: no push notifications.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fcm_service_account: Option<String>,
    /// The webhook: absent while off.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub webhook_url: Option<String>,
    /// Absent: every event.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub webhook_events: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub webhook_retry: Option<String>,
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
    #[serde(default)]
    pub deactivated: bool,
    /// See `model::User::blocking`.
    #[serde(default)]
    pub blocking: i64,
    #[serde(default)]
    pub blocked_by: i64,
    /// The user's push devices (device items); the cap is a condition on it.
    #[serde(default)]
    pub device_count: i64,
    /// Moved by every password change: sessions opened before it end (client API).
    #[serde(default)]
    pub password_epoch: i64,
    /// Set when the user is deleted: the item is a tombstone until the user's memberships,
    /// blocks and devices are swept, and reads as absent everywhere.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deleted_at: Option<i64>,
    pub created_at: i64,
    pub updated_at: i64,
}

/// One user blocking another; in the blocker's partition, indexed by the blocked user.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct BlockItem {
    pub pk: String,
    pub sk: String,
    pub gsi1pk: String,
    pub gsi1sk: String,
    pub entity: String,
    pub user_id: String,
    pub target_id: String,
    pub created_at: i64,
}

impl UserItem {
    /// The item of a new user.
    pub fn new(
        app_id: &str,
        user: &crate::model::User,
        secrets: &crate::model::UserSecrets,
    ) -> Self {
        UserItem {
            pk: super::keys::user_pk(app_id, &user.id),
            sk: super::keys::USER_SK.into(),
            gsi1pk: super::keys::users_index(app_id),
            gsi1sk: user.id.clone(),
            entity: "user".into(),
            user_id: user.id.clone(),
            username: user.username.clone(),
            profile_image_url: user.profile_image_url.clone(),
            data: user.data.clone(),
            disable_push_notification: user.disable_push_notification,
            password_hash: secrets.password_hash.clone(),
            login_token_digest: secrets.login_token_digest.clone(),
            deactivated: user.deactivated,
            blocking: 0,
            blocked_by: 0,
            device_count: 0,
            password_epoch: 0,
            deleted_at: None,
            created_at: user.created_at,
            updated_at: user.updated_at,
        }
    }
}

/// A client API session, in its user's partition; DynamoDB's TTL removes it once expired.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SessionItem {
    pub pk: String,
    pub sk: String,
    pub entity: String,
    pub user_id: String,
    pub session_id: String,
    pub device_id: String,
    pub device_type: String,
    /// The user's password epoch when the session was opened: a password change ends it.
    pub password_epoch: i64,
    pub created_at: i64,
    pub expires_at: i64,
    /// Seconds, for DynamoDB's TTL.
    pub ttl: i64,
}

impl SessionItem {
    pub fn new(app_id: &str, s: &super::sessions::NewSession) -> Self {
        SessionItem {
            pk: super::keys::user_pk(app_id, &s.user_id),
            sk: super::keys::session_sk(&s.session_id),
            entity: "session".into(),
            user_id: s.user_id.clone(),
            session_id: s.session_id.clone(),
            device_id: s.device_id.clone(),
            device_type: s.device_type.clone(),
            password_epoch: s.password_epoch,
            created_at: s.created_at,
            expires_at: s.expires_at,
            ttl: s.expires_at.div_euclid(1000),
        }
    }
}

/// A push device of a user (FCM, and PushKit on iOS).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DeviceItem {
    pub pk: String,
    pub sk: String,
    pub entity: String,
    pub device_id: String,
    #[serde(default)]
    pub fcm_token: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub pushkit_token: String,
    pub updated_at: i64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ChannelItem {
    pub pk: String,
    pub sk: String,
    /// `{app}#CHANNELS` / the channel id: the app's channel list. A deleted channel's
    /// tombstone moves to `#CLEANUP` / `{app}#{channelId}` until its partition is swept.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gsi1pk: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gsi1sk: Option<String>,
    pub entity: String,
    pub channel_id: String,
    pub channel_type: String,
    pub name: String,
    pub owner_id: String,
    pub image_url: String,
    pub invitation_code: String,
    pub is_frozen: bool,
    pub hide_messages_before_join: bool,
    pub category: String,
    pub subcategory: String,
    pub data: BTreeMap<String, String>,
    pub member_count: i64,
    pub max_member_count: i64,
    /// See `model::Channel::message_count`.
    #[serde(default)]
    pub message_count: i64,
    /// Bots in the channel; written in the same transaction as each bot membership.
    #[serde(default)]
    pub bot_count: i64,
    pub created_at: i64,
    pub updated_at: i64,
    /// Set while a creation that needs two transactions is between them (see
    /// `Store::create_channel`); such a channel does not exist for readers yet.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pending_token: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pending_since: Option<i64>,
    /// A membership change too large for one transaction that has committed its first part:
    /// the writes still to make (see `store::members`). Readers show the change as done.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pending_rest: Option<Vec<String>>,
    /// Bumped by every ban, so an add that read no ban can be refused if one landed since.
    #[serde(default)]
    pub ban_seq: i64,
    /// Set when the channel is deleted: the item stays as a tombstone (absent for readers,
    /// blocking a new channel under the id) until the partition has been swept.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deleted_at: Option<i64>,
    /// Bumped each time a sweep hands the rest of the work on (the change stream starts the
    /// next run; see `store::cleanup`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sweep_round: Option<i64>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct MembershipItem {
    pub pk: String,
    pub sk: String,
    pub gsi1pk: String,
    pub gsi1sk: String,
    pub entity: String,
    pub channel_id: String,
    pub user_id: String,
    pub member_info: BTreeMap<String, String>,
    pub last_read_at: i64,
    pub last_sent_at: i64,
    /// See `model::Membership::read_count`.
    #[serde(default)]
    pub read_count: i64,
    #[serde(default)]
    pub sent_since_read: i64,
    /// See `model::Membership::hidden` and the fields after it.
    #[serde(default)]
    pub hidden: bool,
    #[serde(default)]
    pub push_disabled: bool,
    #[serde(default)]
    pub push_sound_aos: String,
    #[serde(default)]
    pub push_sound_ios: String,
    #[serde(default)]
    pub private_tag: String,
    #[serde(default)]
    pub private_data: BTreeMap<String, String>,
    pub created_at: i64,
    pub updated_at: i64,
    /// Present while muted: 0 until unmuted, else the time (ms) the mute ends by itself.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mute_expires_at: Option<i64>,
    /// See `model::PeerMutes`.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub peer_muted_by: BTreeMap<String, i64>,
    #[serde(default, skip_serializing_if = "is_zero")]
    pub peer_muted_by_version: i64,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub peer_muting: BTreeMap<String, i64>,
    #[serde(default, skip_serializing_if = "is_zero")]
    pub peer_muting_version: i64,
}

/// A ban: keeps a user out of a channel until unbanned. In the channel's partition, apart
/// from the memberships (a ban is not a membership).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct BanItem {
    pub pk: String,
    pub sk: String,
    pub entity: String,
    pub channel_id: String,
    pub user_id: String,
    pub created_at: i64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct BotItem {
    pub pk: String,
    pub sk: String,
    pub gsi1pk: String,
    pub gsi1sk: String,
    pub entity: String,
    pub bot_id: String,
    pub name: String,
    pub profile_image_url: String,
    pub bot_type: String,
    pub callback_url: String,
    pub created_at: i64,
    pub updated_at: i64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct BotMembershipItem {
    pub pk: String,
    pub sk: String,
    pub gsi1pk: String,
    pub gsi1sk: String,
    pub entity: String,
    pub channel_id: String,
    pub bot_id: String,
    pub created_at: i64,
}

/// A message, in its channel's message partition.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct MessageItem {
    pub pk: String,
    pub sk: String,
    pub entity: String,
    pub message_id: String,
    pub channel_id: String,
    pub user_id: String,
    pub message_type: String,
    pub text: String,
    pub data: BTreeMap<String, String>,
    pub file_url: String,
    pub mentions: Vec<String>,
    /// A reply: the parent's id, author and type (the author never changes, so a reader
    /// reads the parent and its author's profile in one round).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parent_message_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parent_user_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parent_type: Option<String>,
    /// Reaction → string set of user ids; absent until the first reaction (a set is never
    /// empty: DynamoDB drops one with its last member).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub reactions: BTreeMap<String, Vec<String>>,
    pub created_at: i64,
}

/// What an `Idempotency-Key` was first used for; expires (and is ignored) after 24 hours.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct IdempotencyItem {
    pub pk: String,
    pub sk: String,
    pub entity: String,
    /// SHA-256 of the route, path and body of the first request.
    pub request_digest: String,
    pub channel_id: String,
    pub message_id: String,
    /// Seconds since the epoch (the table's TTL attribute).
    pub ttl: i64,
}

fn is_zero(v: &i64) -> bool {
    *v == 0
}
