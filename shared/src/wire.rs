//! TalkPlus wire types: camelCase JSON, millisecond timestamps. Requests take every field as
//! an `Option` so that a missing required field is reported as `1002`, not as a parse error.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;

use crate::model::{
    BannedUser, Bot, ChannelDetail, Member, Membership, MessageDetail, User, now_ms,
};

#[derive(Debug, Clone, Serialize, PartialEq, Eq, ToSchema)]
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
#[derive(Debug, Serialize, ToSchema)]
pub struct UserEnvelope {
    pub user: UserView,
}

/// `{"user": {...}, "loginToken": "..."}`, the answer to `users/create` and `users/login`.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CreatedUserEnvelope {
    pub user: UserView,
    pub login_token: String,
}

/// `{"users": [...], "hasNext": bool}`
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct UserList {
    pub users: Vec<UserView>,
    pub has_next: bool,
}

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CreateUserRequest {
    #[schema(value_type = String, required = true, pattern = "^[A-Za-z0-9._~-]{1,68}$")]
    pub user_id: Option<String>,
    #[schema(value_type = String, required = true, min_length = 1, max_length = 1024)]
    pub password: Option<String>,
    #[schema(max_length = 128)]
    pub username: Option<String>,
    #[schema(max_length = 2048)]
    pub profile_image_url: Option<String>,
    /// Kept as JSON so that a bad `data` is `1011`, as TalkPlus answers, not `1001`.
    #[schema(schema_with = crate::openapi::data_schema)]
    pub data: Option<Value>,
}

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct UpdateUserRequest {
    #[schema(max_length = 128)]
    pub username: Option<String>,
    #[schema(max_length = 2048)]
    pub profile_image_url: Option<String>,
    #[schema(schema_with = crate::openapi::data_schema)]
    pub data: Option<Value>,
}

/// `POST /users/login`. Deliberately without `Debug`: it holds a password.
#[derive(Default, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct LoginRequest {
    #[schema(value_type = String, required = true, pattern = "^[A-Za-z0-9._~-]{1,68}$")]
    pub user_id: Option<String>,
    #[schema(value_type = String, required = true, max_length = 1024)]
    pub password: Option<String>,
}

/// `POST /v1.4/users/login/token` and `/login/anonymous` (client API). Fields the SDKs add
/// that a login does not use (`sdkVersion`, `sessionRefreshTargets`, ...) are ignored.
/// Deliberately without `Debug`: it holds a login token.
#[derive(Default, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ClientLoginRequest {
    #[schema(value_type = String, required = true, pattern = "^[A-Za-z0-9._~-]{1,68}$")]
    pub user_id: Option<String>,
    /// `login/token` only: the token of admin `users/create` or `users/login`.
    #[schema(max_length = 1024)]
    pub login_token: Option<String>,
    #[schema(max_length = 128)]
    pub username: Option<String>,
    #[schema(max_length = 2048)]
    pub profile_image_url: Option<String>,
    #[schema(schema_with = crate::openapi::data_schema)]
    pub data: Option<Value>,
    #[schema(max_length = 256)]
    pub device_id: Option<String>,
    /// `web`, `aos`, `ios`, `unity`, ...
    #[schema(max_length = 16)]
    pub device_type: Option<String>,
}

/// `{"user": {...}, "sessionId": "...", "sessionToken": "..."}`, the answer to a client login.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SessionEnvelope {
    pub user: UserView,
    pub session_id: String,
    /// A JWT (HS256) with `exp` in Unix seconds.
    pub session_token: String,
}

/// `PUT /users/{userId}/password`. Deliberately without `Debug`: it holds a password.
#[derive(Default, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PasswordRequest {
    #[schema(value_type = String, required = true, min_length = 1, max_length = 1024)]
    pub password: Option<String>,
}

/// `POST /users/{userId}/block` and `/unblock`: the other user.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct BlockRequest {
    #[schema(value_type = String, required = true, pattern = "^[A-Za-z0-9._~-]{1,68}$")]
    pub user_id: Option<String>,
}

/// `POST /users/{userId}/register/fcm`. Deliberately without `Debug`: it holds a push token.
#[derive(Default, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct RegisterFcmRequest {
    #[schema(value_type = String, required = true, min_length = 1, max_length = 256)]
    pub device_id: Option<String>,
    #[schema(value_type = String, required = true, min_length = 1, max_length = 4096)]
    pub fcm_token: Option<String>,
}

/// `POST /v1.4/users/register/pushkit` (client API; the device is the session's). Without
/// `Debug`: it holds a push token.
#[derive(Default, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct RegisterPushKitRequest {
    #[schema(value_type = String, required = true, min_length = 1, max_length = 4096)]
    pub push_kit_token: Option<String>,
}

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CreateChannelRequest {
    #[schema(max_length = 128)]
    pub name: Option<String>,
    #[schema(pattern = "^[A-Za-z0-9._~-]{1,68}$")]
    pub owner_id: Option<String>,
    #[serde(rename = "type")]
    #[schema(schema_with = crate::openapi::channel_type_schema, required = true)]
    pub channel_type: Option<String>,
    #[schema(pattern = "^[A-Za-z0-9._~-]{0,128}$")]
    pub channel_id: Option<String>,
    pub reuse_channel: Option<bool>,
    #[schema(max_length = 128)]
    pub invitation_code: Option<String>,
    #[schema(schema_with = crate::openapi::member_ids_schema, required = true)]
    pub members: Option<Vec<String>>,
    #[schema(max_length = 2048)]
    pub image_url: Option<String>,
    #[schema(schema_with = crate::openapi::data_schema)]
    pub data: Option<Value>,
    #[schema(minimum = -1)]
    pub max_member_count: Option<i64>,
    pub hide_messages_before_join: Option<bool>,
    #[schema(max_length = 32)]
    pub category: Option<String>,
    #[schema(max_length = 32)]
    pub subcategory: Option<String>,
}

/// A channel member: the user's profile and the membership's own fields.
#[derive(Debug, Clone, Serialize, PartialEq, Eq, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct MemberView {
    pub id: String,
    pub username: String,
    pub profile_image_url: String,
    pub data: BTreeMap<String, String>,
    pub member_info: BTreeMap<String, String>,
    pub last_read_at: i64,
    pub last_sent_at: i64,
    pub updated_at: i64,
    pub created_at: i64,
    /// The end of a mute in force (ms); 0 when not muted or muted without end.
    pub mute_expires_at: i64,
}

impl From<Member> for MemberView {
    fn from(m: Member) -> Self {
        let mute_expires_at = m.membership.mute_expires_at_shown(now_ms());
        let (username, profile_image_url, data) = match m.profile {
            Some(u) => (u.username, u.profile_image_url, u.data),
            None => Default::default(),
        };
        MemberView {
            id: m.membership.user_id,
            username,
            profile_image_url,
            data,
            member_info: m.membership.member_info,
            last_read_at: m.membership.last_read_at,
            last_sent_at: m.membership.last_sent_at,
            updated_at: m.membership.updated_at,
            created_at: m.membership.created_at,
            mute_expires_at,
        }
    }
}

impl From<BannedUser> for MemberView {
    fn from(b: BannedUser) -> Self {
        let mut view = MemberView::from(Member {
            membership: Membership::new(b.ban.user_id, b.ban.created_at),
            profile: b.profile,
        });
        view.mute_expires_at = 0;
        view
    }
}

impl From<BannedUser> for UserView {
    fn from(b: BannedUser) -> Self {
        match b.profile {
            Some(u) => u.into(),
            None => UserView {
                id: b.ban.user_id,
                username: String::new(),
                profile_image_url: String::new(),
                disable_push_notification: false,
                data: BTreeMap::new(),
                updated_at: 0,
                created_at: 0,
            },
        }
    }
}

/// A bot in a channel's `bots` array.
#[derive(Debug, Clone, Serialize, PartialEq, Eq, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ChannelBotView {
    pub id: String,
    pub name: String,
    pub profile_image_url: String,
    #[serde(rename = "type")]
    pub bot_type: String,
}

impl From<Bot> for ChannelBotView {
    fn from(b: Bot) -> Self {
        ChannelBotView {
            id: b.id,
            name: b.name,
            profile_image_url: b.profile_image_url,
            bot_type: b.bot_type,
        }
    }
}

/// The channel object of the seed page, plus `bots`.
#[derive(Debug, Clone, Serialize, PartialEq, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ChannelView {
    pub id: String,
    pub name: String,
    pub owner_id: String,
    #[serde(rename = "type")]
    #[schema(value_type = String)]
    pub channel_type: &'static str,
    pub image_url: String,
    pub invitation_code: String,
    pub is_frozen: bool,
    pub hide_messages_before_join: bool,
    pub category: String,
    pub subcategory: String,
    /// Per-user fields; an admin view has none.
    pub private_tag: String,
    pub private_data: BTreeMap<String, String>,
    pub member_count: i64,
    pub max_member_count: i64,
    pub data: BTreeMap<String, String>,
    pub members: Vec<MemberView>,
    pub muted_users: Vec<MemberView>,
    pub banned_users: Vec<MemberView>,
    pub bots: Vec<ChannelBotView>,
    pub updated_at: i64,
    pub created_at: i64,
    pub unread_count: i64,
    pub last_read_at: i64,
    /// The newest message, or `null` when the channel has none.
    pub last_message: Option<MessageView>,
    /// Client API only: the caller's push setting and sounds for the channel.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub push_notification_disabled: Option<bool>,
    #[serde(
        rename = "pushNotificationSoundAOS",
        skip_serializing_if = "Option::is_none"
    )]
    pub push_notification_sound_aos: Option<String>,
    #[serde(
        rename = "pushNotificationSoundIOS",
        skip_serializing_if = "Option::is_none"
    )]
    pub push_notification_sound_ios: Option<String>,
}

impl From<ChannelDetail> for ChannelView {
    fn from(d: ChannelDetail) -> Self {
        let c = d.channel;
        let is_super = c.channel_type.is_super();
        ChannelView {
            id: c.id,
            name: c.name,
            owner_id: c.owner_id,
            channel_type: c.channel_type.as_str(),
            image_url: c.image_url,
            // Super channels do not support invitation codes (seed page).
            invitation_code: if is_super {
                String::new()
            } else {
                c.invitation_code
            },
            is_frozen: c.is_frozen,
            hide_messages_before_join: c.hide_messages_before_join,
            category: c.category,
            subcategory: c.subcategory,
            private_tag: String::new(),
            private_data: BTreeMap::new(),
            member_count: c.member_count,
            max_member_count: c.max_member_count,
            data: c.data,
            muted_users: if is_super {
                Vec::new()
            } else {
                let now = now_ms();
                d.members
                    .iter()
                    .filter(|m| m.membership.is_muted(now))
                    .cloned()
                    .map(Into::into)
                    .collect()
            },
            members: if is_super {
                Vec::new()
            } else {
                d.members.into_iter().map(Into::into).collect()
            },
            banned_users: if is_super {
                Vec::new()
            } else {
                d.banned.into_iter().map(Into::into).collect()
            },
            bots: d.bots.into_iter().map(Into::into).collect(),
            updated_at: c.updated_at,
            created_at: c.created_at,
            unread_count: 0,
            last_read_at: 0,
            last_message: d.last_message.map(Into::into),
            push_notification_disabled: None,
            push_notification_sound_aos: None,
            push_notification_sound_ios: None,
        }
    }
}

impl ChannelView {
    /// The channel as `viewer` sees it on the client API: their own `unreadCount` and
    /// `lastReadAt` (not for super channels, as TalkPlus), private tag and data, push
    /// setting and sounds, from their membership.
    pub fn of(d: ChannelDetail, viewer: Option<&str>) -> ChannelView {
        let Some(viewer) = viewer else {
            return ChannelView::from(d);
        };
        let own = d.viewer.clone().or_else(|| {
            d.members
                .iter()
                .find(|m| m.membership.user_id == viewer)
                .map(|m| m.membership.clone())
        });
        let counted = !d.channel.channel_type.is_super();
        let count = d.channel.message_count;
        let mut view = ChannelView::from(d);
        let m = own.unwrap_or_else(|| crate::model::Membership::new(viewer, 0));
        if counted {
            view.unread_count = m.unread(count);
            view.last_read_at = m.last_read_at;
        }
        view.private_tag = m.private_tag;
        view.private_data = m.private_data;
        view.push_notification_disabled = Some(m.push_disabled);
        view.push_notification_sound_aos = Some(m.push_sound_aos);
        view.push_notification_sound_ios = Some(m.push_sound_ios);
        view
    }
}

/// `{"channel": {...}}`
#[derive(Debug, Serialize, ToSchema)]
pub struct ChannelEnvelope {
    pub channel: ChannelView,
}

/// `{"channels": [...], "hasNext": bool}`
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ChannelList {
    pub channels: Vec<ChannelView>,
    pub has_next: bool,
}

/// A bot as `bots/create`, `GET /bots/{botId}` and the bot list show it.
#[derive(Debug, Clone, Serialize, PartialEq, Eq, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct BotView {
    pub id: String,
    pub name: String,
    pub profile_image_url: String,
    #[serde(rename = "type")]
    pub bot_type: String,
    pub callback_url: String,
}

impl From<Bot> for BotView {
    fn from(b: Bot) -> Self {
        BotView {
            id: b.id,
            name: b.name,
            profile_image_url: b.profile_image_url,
            bot_type: b.bot_type,
            callback_url: b.callback_url,
        }
    }
}

/// `{"bot": {...}}`
#[derive(Debug, Serialize, ToSchema)]
pub struct BotEnvelope {
    pub bot: BotView,
}

/// `{"bots": [...], "hasNext": bool}`
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct BotList {
    pub bots: Vec<BotView>,
    pub has_next: bool,
}

/// `{}`, the answer to a delete.
#[derive(Debug, Serialize, ToSchema)]
pub struct Empty {}

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CreateBotRequest {
    #[schema(value_type = String, required = true, pattern = "^[A-Za-z0-9._~-]{1,68}$")]
    pub id: Option<String>,
    #[schema(max_length = 128)]
    pub name: Option<String>,
    #[schema(max_length = 2048)]
    pub profile_image_url: Option<String>,
    #[serde(rename = "type")]
    #[schema(max_length = 68)]
    pub bot_type: Option<String>,
    #[schema(max_length = 2048)]
    pub callback_url: Option<String>,
}

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct UpdateBotRequest {
    #[schema(max_length = 128)]
    pub name: Option<String>,
    #[schema(max_length = 2048)]
    pub profile_image_url: Option<String>,
    #[serde(rename = "type")]
    #[schema(max_length = 68)]
    pub bot_type: Option<String>,
    #[schema(max_length = 2048)]
    pub callback_url: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct UpdateChannelRequest {
    #[schema(max_length = 128)]
    pub name: Option<String>,
    /// A member of the channel, who becomes its owner.
    #[schema(pattern = "^[A-Za-z0-9._~-]{1,68}$")]
    pub owner_id: Option<String>,
    #[schema(max_length = 128)]
    pub invitation_code: Option<String>,
    #[schema(max_length = 2048)]
    pub image_url: Option<String>,
    /// Replaces the channel's `data`.
    #[schema(schema_with = crate::openapi::data_schema)]
    pub data: Option<Value>,
    #[schema(minimum = -1)]
    pub max_member_count: Option<i64>,
    pub hide_messages_before_join: Option<bool>,
    #[schema(max_length = 32)]
    pub category: Option<String>,
    #[schema(max_length = 32)]
    pub subcategory: Option<String>,
}

/// The body of `members/add`, `remove`, `ban`, `unban` and `unmute`.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct MembersRequest {
    #[schema(schema_with = crate::openapi::member_change_ids_schema, required = true)]
    pub members: Option<Vec<String>>,
}

/// The body of `members/mute`.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct MuteRequest {
    #[schema(schema_with = crate::openapi::member_change_ids_schema, required = true)]
    pub members: Option<Vec<String>>,
    /// Minutes until the mute lifts by itself; 0 or absent: until unmuted.
    #[schema(minimum = 0, maximum = 525600)]
    pub expire_in_minutes: Option<i64>,
}

/// `{"member": {...}}`
#[derive(Debug, Serialize, ToSchema)]
pub struct MemberEnvelope {
    pub member: MemberView,
}

/// `{"channel": {...}, "members": [...]}`: a peer mute's answer.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ChannelMembersEnvelope {
    pub channel: ChannelView,
    pub members: Vec<MemberView>,
}

/// `{"members": [...], "hasNext": bool}`
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct MemberList {
    pub members: Vec<MemberView>,
    pub has_next: bool,
}

/// A message, key for key as TalkPlus shows it.
#[derive(Debug, Clone, Serialize, PartialEq, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct MessageView {
    /// A ULID: 26 characters, time-sortable; also the list cursor.
    pub id: String,
    pub channel_id: String,
    /// The author: a user id, a bot id (types `bot`, `bot_hidden`), or "" (an admin message
    /// without a sender).
    pub user_id: String,
    pub username: String,
    pub profile_image_url: String,
    #[serde(rename = "type")]
    #[schema(schema_with = crate::openapi::message_type_schema)]
    pub message_type: &'static str,
    pub text: String,
    pub data: BTreeMap<String, String>,
    pub file_url: String,
    pub mentions: Vec<String>,
    /// "" when not a reply.
    pub parent_message_id: String,
    /// The parent as it is now (its own `parentMessage` is `{}`); `{}` when not a reply or
    /// once the parent is deleted.
    #[schema(value_type = Object)]
    pub parent_message: Value,
    /// `{"emoji": ["userId", ...]}`.
    #[schema(value_type = Object)]
    pub reactions: BTreeMap<String, Vec<String>>,
    #[schema(value_type = Object)]
    pub translations: BTreeMap<String, String>,
    pub created_at: i64,
    /// Client API with `includeOwnReactions=true` only: the reactions the caller gave.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub own_reactions: Option<Vec<String>>,
}

impl MessageView {
    /// With `ownReactions`: the reactions `viewer` gave.
    pub fn with_own_reactions(mut self, viewer: &str) -> MessageView {
        self.own_reactions = Some(
            self.reactions
                .iter()
                .filter(|(_, users)| users.iter().any(|u| u == viewer))
                .map(|(r, _)| r.clone())
                .collect(),
        );
        self
    }
}

impl From<MessageDetail> for MessageView {
    fn from(d: MessageDetail) -> Self {
        let m = d.message;
        let parent_message = match d.parent {
            Some(p) => serde_json::to_value(MessageView::from(*p))
                .unwrap_or_else(|_| Value::Object(Default::default())),
            None => Value::Object(Default::default()),
        };
        MessageView {
            id: m.id,
            channel_id: m.channel_id,
            user_id: m.user_id,
            username: d.author.username,
            profile_image_url: d.author.profile_image_url,
            message_type: m.message_type.as_str(),
            text: m.text,
            data: m.data,
            file_url: m.file_url,
            mentions: m.mentions,
            parent_message_id: m.parent.map(|p| p.id).unwrap_or_default(),
            parent_message,
            reactions: m.reactions,
            translations: BTreeMap::new(),
            created_at: m.created_at,
            own_reactions: None,
        }
    }
}

/// `PUT /v1.4/channels/{channelId}/messages/{messageId}` (client API): what to change.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct EditMessageRequest {
    #[schema(max_length = 8192)]
    pub text: Option<String>,
    /// Replaces the message's `data`; at most 10 string pairs.
    #[schema(schema_with = crate::openapi::message_data_schema)]
    pub data: Option<Value>,
    /// Members of the channel (at most 100); replaces the message's.
    #[schema(max_items = 100)]
    pub mentions: Option<Vec<String>>,
    /// Removes every reaction.
    pub clear_reactions: Option<bool>,
    /// Accepted and ignored: no translations are kept.
    pub clear_translations: Option<bool>,
}

/// The admin API's per-user channel settings (`hide`, `show`, `push/...`): whose.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ChannelUserRequest {
    #[schema(value_type = String, required = true, pattern = "^[A-Za-z0-9._~-]{1,68}$")]
    pub user_id: Option<String>,
}

/// `push/settings`: the sounds of the channel's push notifications (and, on the admin API,
/// whose).
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PushSettingsRequest {
    /// Admin API only.
    #[schema(pattern = "^[A-Za-z0-9._~-]{1,68}$")]
    pub user_id: Option<String>,
    #[schema(max_length = 256)]
    pub push_notification_sound_aos: Option<String>,
    #[schema(max_length = 256)]
    pub push_notification_sound_ios: Option<String>,
}

/// `privateTag`: a tag only the caller sees on the channel.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PrivateTagRequest {
    #[schema(value_type = String, required = true, max_length = 128)]
    pub private_tag: Option<String>,
}

/// `privateData`: string pairs only the caller sees on the channel.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PrivateDataRequest {
    #[schema(schema_with = crate::openapi::data_schema, required = true)]
    pub private_data: Option<Value>,
}

/// `memberInfo`: string pairs about the caller as a member, which every member sees.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct MemberInfoRequest {
    #[schema(schema_with = crate::openapi::data_schema, required = true)]
    pub member_info: Option<Value>,
}

/// A reaction to add or (in the body form of the delete) remove.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ReactionRequest {
    #[schema(value_type = String, required = true, min_length = 1, max_length = 64)]
    pub reaction: Option<String>,
}

/// `{"notification": {"type", "data"}}`: a push notification's event, as its WebSocket
/// frame had it (client-protocol.md §4, "Push").
#[derive(Debug, Serialize, ToSchema)]
pub struct NotificationEnvelope {
    pub notification: Notification,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Notification {
    /// The event: `message`.
    #[serde(rename = "type")]
    pub event: String,
    /// The event's payload (`type`, `channel`, `message`), as on the WebSocket.
    #[schema(value_type = Object)]
    pub data: serde_json::Value,
}

/// `{"count": n}`
#[derive(Debug, Serialize, ToSchema)]
pub struct CountEnvelope {
    pub count: i64,
}

/// `{"reactions": {"emoji": ["userId", ...]}}`
#[derive(Debug, Serialize, ToSchema)]
pub struct ReactionsEnvelope {
    #[schema(value_type = Object)]
    pub reactions: BTreeMap<String, Vec<String>>,
}

/// `{"message": {...}}`
#[derive(Debug, Serialize, ToSchema)]
pub struct MessageEnvelope {
    pub message: MessageView,
}

/// `{"messages": [...], "hasNext": bool}`
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct MessageList {
    pub messages: Vec<MessageView>,
    pub has_next: bool,
}

/// `POST /channels/{channelId}/messages/send`.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SendMessageRequest {
    /// Required for `text`, `hidden` and `custom`; optional for the admin types.
    #[schema(pattern = "^[A-Za-z0-9._~-]{1,68}$")]
    pub sender_id: Option<String>,
    /// `text` (default), `hidden`, `custom`, `admin` or `admin_hidden`.
    #[serde(rename = "type")]
    pub message_type: Option<String>,
    #[schema(max_length = 8192)]
    pub text: Option<String>,
    /// At most 10 string pairs.
    #[schema(schema_with = crate::openapi::message_data_schema)]
    pub data: Option<Value>,
    /// A message of this channel this one replies to.
    pub parent_message_id: Option<String>,
    /// Members of the channel (at most 100).
    #[schema(max_items = 100)]
    pub mentions: Option<Vec<String>>,
    /// An absolute http(s) URL.
    #[schema(max_length = 2048)]
    pub file_url: Option<String>,
    /// Accepted and ignored: no translation provider.
    pub translation_target_languages: Option<Vec<String>>,
}

/// `POST /bots/{botId}/channels/{channelId}/send`.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct BotSendRequest {
    /// `bot` (default) or `bot_hidden`.
    #[serde(rename = "type")]
    pub message_type: Option<String>,
    #[schema(max_length = 8192)]
    pub text: Option<String>,
    #[schema(schema_with = crate::openapi::message_data_schema)]
    pub data: Option<Value>,
    #[schema(max_length = 2048)]
    pub file_url: Option<String>,
}
