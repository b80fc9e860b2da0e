//! Domain types: what the API is about, independent of storage and of the wire format.

use std::collections::BTreeMap;

/// An app: the tenant every request is authenticated as.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct App {
    pub id: String,
    pub name: String,
    pub active: bool,
    pub rate_limits: RateLimits,
    /// Client API: whether `users/login/anonymous` may log in (and create) users without a
    /// login token. Off unless the app turns it on.
    pub anonymous_login: bool,
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
            rate_limits: RateLimits::default(),
            anonymous_login: false,
            created_at: now,
            updated_at: now,
        }
    }
}

/// Requests per second an app may make: on the admin API for the whole app, on the client
/// API per user session. `None` is the server's default (`crate::ratelimit`), so a change of
/// default reaches every app that never set its own; `Some(0)` turns the limit off.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RateLimits {
    pub admin: Option<u32>,
    pub client: Option<u32>,
}

impl RateLimits {
    pub fn admin_per_second(&self) -> u32 {
        self.admin
            .unwrap_or(crate::ratelimit::DEFAULT_ADMIN_RATE_LIMIT)
    }

    pub fn client_per_second(&self) -> u32 {
        self.client
            .unwrap_or(crate::ratelimit::DEFAULT_CLIENT_RATE_LIMIT)
    }
}

/// An app with the digest its API key is checked against.
#[derive(Debug, Clone)]
pub struct AppCredentials {
    pub app: App,
    pub api_key_digest: String,
    /// The API key sealed for signing webhooks (`crate::seal`).
    pub signing_key: Option<String>,
    /// The FCM service account, sealed (`realtime::push`): the app's push notifications.
    pub fcm_service_account: Option<String>,
    pub webhook: crate::webhooks::WebhookSettings,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    pub id: String,
    pub username: String,
    pub profile_image_url: String,
    pub data: BTreeMap<String, String>,
    pub disable_push_notification: bool,
    /// A deactivated user cannot log in, own a channel or become a member; still listed.
    pub deactivated: bool,
    /// How many users this user blocks, and how many block this user: kept exact by every
    /// block and unblock, so the block rules read block items only when both sides have some.
    pub blocking: i64,
    pub blocked_by: i64,
    pub created_at: i64,
    pub updated_at: i64,
}

impl User {
    /// The user after `changes`, as the store writes them.
    pub fn apply(&mut self, changes: &UserChanges, now: i64) {
        if let Some(v) = &changes.username {
            self.username = v.clone();
        }
        if let Some(v) = &changes.profile_image_url {
            self.profile_image_url = v.clone();
        }
        if let Some(v) = &changes.data {
            self.data = v.clone();
        }
        if let Some(v) = changes.disable_push_notification {
            self.disable_push_notification = v;
        }
        self.updated_at = now;
    }

    /// A new, active user without blocks.
    pub fn new(id: String, now: i64) -> User {
        User {
            id,
            username: String::new(),
            profile_image_url: String::new(),
            data: BTreeMap::new(),
            disable_push_notification: false,
            deactivated: false,
            blocking: 0,
            blocked_by: 0,
            created_at: now,
            updated_at: now,
        }
    }
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
    pub disable_push_notification: Option<bool>,
}

impl UserChanges {
    pub fn is_empty(&self) -> bool {
        *self == UserChanges::default()
    }

    /// The stored attributes the changes set.
    pub(crate) fn fields(&self) -> Vec<(&'static str, aws_sdk_dynamodb::types::AttributeValue)> {
        use aws_sdk_dynamodb::types::AttributeValue as A;
        let mut fields = Vec::new();
        if let Some(v) = &self.username {
            fields.push(("username", A::S(v.clone())));
        }
        if let Some(v) = &self.profile_image_url {
            fields.push(("profile_image_url", A::S(v.clone())));
        }
        if let Some(v) = &self.data {
            fields.push(("data", crate::store::string_map(v)));
        }
        if let Some(v) = self.disable_push_notification {
            fields.push(("disable_push_notification", A::Bool(v)));
        }
        fields
    }
}

/// The seven TalkPlus channel types. A channel's type never changes after creation, which
/// lets the store file super channels' members apart from the range a channel read covers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ChannelType {
    Private,
    Public,
    InvitationOnly,
    Broadcast,
    SuperBroadcast,
    SuperPrivate,
    SuperPublic,
}

impl ChannelType {
    pub const ALL: [ChannelType; 7] = [
        ChannelType::Private,
        ChannelType::Public,
        ChannelType::InvitationOnly,
        ChannelType::Broadcast,
        ChannelType::SuperBroadcast,
        ChannelType::SuperPrivate,
        ChannelType::SuperPublic,
    ];

    /// The wire name (`"invitationOnly"`, `"super_public"`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            ChannelType::Private => "private",
            ChannelType::Public => "public",
            ChannelType::InvitationOnly => "invitationOnly",
            ChannelType::Broadcast => "broadcast",
            ChannelType::SuperBroadcast => "super_broadcast",
            ChannelType::SuperPrivate => "super_private",
            ChannelType::SuperPublic => "super_public",
        }
    }

    pub fn parse(s: &str) -> Option<ChannelType> {
        Self::ALL.into_iter().find(|t| t.as_str() == s)
    }

    /// Super channels: unbounded membership, no member lists in responses.
    pub fn is_super(self) -> bool {
        matches!(
            self,
            ChannelType::SuperBroadcast | ChannelType::SuperPrivate | ChannelType::SuperPublic
        )
    }
}

/// A channel's own attributes; its members are `Membership`s.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Channel {
    pub id: String,
    pub channel_type: ChannelType,
    pub name: String,
    /// Empty when the channel has no owner (then only the REST API may change it).
    pub owner_id: String,
    pub image_url: String,
    pub invitation_code: String,
    pub is_frozen: bool,
    pub hide_messages_before_join: bool,
    pub category: String,
    pub subcategory: String,
    pub data: BTreeMap<String, String>,
    /// Exactly the number of memberships; bots are not members.
    pub member_count: i64,
    /// `-1` means unlimited (super types only).
    pub max_member_count: i64,
    /// Messages ever counted in the channel (non-super channels; not `hidden` types): the
    /// members' unread counts are taken from it (`Membership::unread`).
    pub message_count: i64,
    pub created_at: i64,
    pub updated_at: i64,
}

/// A user's membership in a channel: what is per (channel, user) rather than per user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Membership {
    pub user_id: String,
    pub member_info: BTreeMap<String, String>,
    pub last_read_at: i64,
    pub last_sent_at: i64,
    /// The channel's `message_count` at the member's read mark (their join, or last
    /// mark-read), and the messages the member sent since: what `unread` subtracts.
    pub read_count: i64,
    pub sent_since_read: i64,
    /// The member's own view of the channel (client API): hidden from their list, push
    /// notifications off, push sounds, a private tag and private data only they see.
    pub hidden: bool,
    pub push_disabled: bool,
    pub push_sound_aos: String,
    pub push_sound_ios: String,
    pub private_tag: String,
    pub private_data: BTreeMap<String, String>,
    pub created_at: i64,
    pub updated_at: i64,
    /// `Some(0)`: muted until unmuted; `Some(t)`: muted until `t` (ms); `None`: not muted.
    pub mute_expires_at: Option<i64>,
    /// Peer mutes (client API `peer/mute`) on and by this member.
    pub peers: PeerMutes,
}

/// Peer mutes of one member: who muted them (each with the end of their mute, 0 for none)
/// and whom they muted, each map with the version its writes are conditioned on.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PeerMutes {
    pub muted_by: BTreeMap<String, i64>,
    pub muted_by_version: i64,
    pub muting: BTreeMap<String, i64>,
    pub muting_version: i64,
}

/// Whether a peer mute ending at `end` (0: no end) is in force at `now`.
pub fn peer_mute_holds(end: i64, now: i64) -> bool {
    end == 0 || end > now
}

impl PeerMutes {
    /// Whether some member's peer mute of this member is in force at `now`.
    pub fn is_muted(&self, now: i64) -> bool {
        self.muted_by.values().any(|&end| peer_mute_holds(end, now))
    }
}

impl Membership {
    /// A membership that starts at `now`.
    pub fn new(user_id: impl Into<String>, now: i64) -> Membership {
        Membership {
            user_id: user_id.into(),
            member_info: BTreeMap::new(),
            last_read_at: 0,
            last_sent_at: 0,
            read_count: 0,
            sent_since_read: 0,
            hidden: false,
            push_disabled: false,
            push_sound_aos: String::new(),
            push_sound_ios: String::new(),
            private_tag: String::new(),
            private_data: BTreeMap::new(),
            created_at: now,
            updated_at: now,
            mute_expires_at: None,
            peers: PeerMutes::default(),
        }
    }

    /// Messages after the member's read mark that others sent, in a channel that has counted
    /// `message_count`: exact, since every counted send moves the channel's count and the
    /// sender's `sent_since_read` in one transaction, and a mark-read sets both marks only
    /// while the count is the one it read.
    pub fn unread(&self, message_count: i64) -> i64 {
        (message_count - self.read_count - self.sent_since_read).max(0)
    }

    /// Whether the member is muted at `now`: a mute with an end lifts by itself, with no job
    /// to lift it.
    pub fn is_muted(&self, now: i64) -> bool {
        match self.mute_expires_at {
            Some(0) => true,
            Some(t) => t > now,
            None => false,
        }
    }

    /// `muteExpiresAt` as shown: the end of a mute in force, else 0.
    pub fn mute_expires_at_shown(&self, now: i64) -> i64 {
        match self.mute_expires_at {
            Some(t) if self.is_muted(now) => t,
            _ => 0,
        }
    }
}

/// One write of a membership change, for one user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MemberWrite {
    /// A new membership (refused if one exists).
    Join(String),
    /// Remove a membership (refused if there is none).
    Leave(String),
    /// Record a ban.
    Ban(String),
    /// Remove a ban, if any.
    Unban(String),
    /// Mute a member until the time given (ms; 0 without end). Refused for a non-member.
    Mute(String, i64),
    /// Lift a member's mute. Refused for a non-member.
    Unmute(String),
    /// Writes nothing: refused if the user is deleted (or gone) by the time the change
    /// commits, so no membership is ever written for a deleted user. Only in a change's
    /// first transaction (its commit point).
    UserLive(String),
    /// Writes nothing: refused unless the user is a member when the change commits (the
    /// client API's rule that only members add members). First transaction only.
    IsMember(String),
}

impl MemberWrite {
    pub fn user_id(&self) -> &str {
        match self {
            MemberWrite::Join(u)
            | MemberWrite::Leave(u)
            | MemberWrite::Ban(u)
            | MemberWrite::Unban(u)
            | MemberWrite::Mute(u, _)
            | MemberWrite::Unmute(u)
            | MemberWrite::UserLive(u)
            | MemberWrite::IsMember(u) => u,
        }
    }
}

/// Applies the writes of a pending change to a channel as read, so readers see the change
/// as done from its first commit.
pub fn apply_pending(
    members: &mut Vec<Membership>,
    bans: &mut Vec<Ban>,
    rest: &[MemberWrite],
    since: i64,
) {
    for w in rest {
        match w {
            MemberWrite::Join(u) => {
                if let Err(at) = members.binary_search_by(|m| m.user_id.cmp(u)) {
                    members.insert(at, Membership::new(u.clone(), since));
                }
            }
            MemberWrite::Leave(u) => members.retain(|m| &m.user_id != u),
            MemberWrite::Ban(u) => {
                if let Err(at) = bans.binary_search_by(|b| b.user_id.cmp(u)) {
                    bans.insert(
                        at,
                        Ban {
                            user_id: u.clone(),
                            created_at: since,
                        },
                    );
                }
            }
            MemberWrite::Unban(u) => bans.retain(|b| &b.user_id != u),
            MemberWrite::Mute(u, t) => {
                if let Some(m) = members.iter_mut().find(|m| &m.user_id == u) {
                    m.mute_expires_at = Some(*t);
                }
            }
            MemberWrite::Unmute(u) => {
                if let Some(m) = members.iter_mut().find(|m| &m.user_id == u) {
                    m.mute_expires_at = None;
                }
            }
            MemberWrite::UserLive(_) | MemberWrite::IsMember(_) => {}
        }
    }
}

/// A user banned from a channel.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ban {
    pub user_id: String,
    pub created_at: i64,
}

/// A partial update of a channel; `None` leaves a field as it is.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ChannelChanges {
    pub name: Option<String>,
    pub owner_id: Option<String>,
    pub invitation_code: Option<String>,
    pub image_url: Option<String>,
    pub data: Option<BTreeMap<String, String>>,
    pub max_member_count: Option<i64>,
    pub hide_messages_before_join: Option<bool>,
    pub category: Option<String>,
    pub subcategory: Option<String>,
    pub is_frozen: Option<bool>,
}

/// A channel with its memberships, as stored (members in user id order; none for super
/// channels, whose members are never read to answer a request), and the ids of its bots.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChannelMembers {
    pub channel: Channel,
    pub members: Vec<Membership>,
    pub bot_ids: Vec<String>,
    /// The first bans in user id order (at most `MAX_BANS_SHOWN`).
    pub bans: Vec<Ban>,
    /// The channel's ban counter as read (see `store::members`).
    pub ban_seq: i64,
    /// The writes still to make of a change between its transactions (applied to `members` and
    /// `bans` already), and when it was made.
    pub pending: Option<(i64, Vec<MemberWrite>)>,
    /// A membership change too large for one transaction is still being written; it is
    /// shown as done, and other changes wait until it is (`Store::finish_pending`).
    pub unfinished: bool,
    /// The newest message (read beside the channel; `None` when there is none, and for reads
    /// that only decide a write).
    pub last_message: Option<Message>,
}

/// Bans a channel object lists; the banned list pages through the rest.
pub const MAX_BANS_SHOWN: usize = 100;

/// The message types of TalkPlus. `bot` and `bot_hidden` come only from the bot send;
/// `admin` and `admin_hidden` only from the admin API (the app's server).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MessageType {
    Text,
    Hidden,
    Custom,
    Admin,
    AdminHidden,
    Bot,
    BotHidden,
}

impl MessageType {
    pub const ALL: [MessageType; 7] = [
        MessageType::Text,
        MessageType::Hidden,
        MessageType::Custom,
        MessageType::Admin,
        MessageType::AdminHidden,
        MessageType::Bot,
        MessageType::BotHidden,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            MessageType::Text => "text",
            MessageType::Hidden => "hidden",
            MessageType::Custom => "custom",
            MessageType::Admin => "admin",
            MessageType::AdminHidden => "admin_hidden",
            MessageType::Bot => "bot",
            MessageType::BotHidden => "bot_hidden",
        }
    }

    pub fn parse(s: &str) -> Option<MessageType> {
        Self::ALL.into_iter().find(|t| t.as_str() == s)
    }

    /// Not shown as a chat message (`hidden`, `admin_hidden`, `bot_hidden`): not unread.
    pub fn is_hidden(self) -> bool {
        matches!(
            self,
            MessageType::Hidden | MessageType::AdminHidden | MessageType::BotHidden
        )
    }

    /// Sent by the app itself: no sender needed, not held back by a freeze or a mute.
    pub fn is_admin(self) -> bool {
        matches!(self, MessageType::Admin | MessageType::AdminHidden)
    }

    /// Sent by a bot: the author is a bot, not a user.
    pub fn is_bot(self) -> bool {
        matches!(self, MessageType::Bot | MessageType::BotHidden)
    }
}

/// A message as stored. Its id is a ULID: the time it was sent, then 80 random bits; ids
/// order a channel's messages and serve as the list cursor.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    pub id: String,
    pub channel_id: String,
    /// The author: a user id, a bot id (bot types), or "" (admin types without a sender).
    pub user_id: String,
    pub message_type: MessageType,
    pub text: String,
    pub data: BTreeMap<String, String>,
    pub file_url: String,
    pub mentions: Vec<String>,
    /// The message this one replies to, and its author (which never changes, so the
    /// parent's author profile is read in the same round as the parent).
    pub parent: Option<MessageRef>,
    /// Reaction → the users who reacted with it, in id order (the client API's reactions).
    pub reactions: BTreeMap<String, Vec<String>>,
    pub created_at: i64,
}

/// A client's edit of their message: the fields given replace the stored ones.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MessageEdit {
    pub text: Option<String>,
    pub data: Option<BTreeMap<String, String>>,
    pub mentions: Option<Vec<String>>,
    pub clear_reactions: bool,
}

/// A reply's parent: its id and author.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MessageRef {
    pub id: String,
    pub user_id: String,
    pub message_type: MessageType,
}

/// An author as shown: name and picture now ("" for a deleted user or no author).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Author {
    pub username: String,
    pub profile_image_url: String,
}

/// A message as the API shows it: its author's current profile and its parent as it is now
/// (`None` when not a reply or when the parent is gone).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MessageDetail {
    pub message: Message,
    pub author: Author,
    pub parent: Option<Box<MessageDetail>>,
}

/// A bot: an app-defined participant that joins channels through the admin API.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bot {
    pub id: String,
    pub name: String,
    pub profile_image_url: String,
    pub bot_type: String,
    pub callback_url: String,
    pub created_at: i64,
    pub updated_at: i64,
}

/// A partial update of a bot; `None` leaves a field as it is.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BotChanges {
    pub name: Option<String>,
    pub profile_image_url: Option<String>,
    pub bot_type: Option<String>,
    pub callback_url: Option<String>,
}

/// A member as shown: the membership and the user's current profile (`None` if the user no
/// longer exists).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Member {
    pub membership: Membership,
    pub profile: Option<User>,
}

/// A channel as the API shows it: members and bots with their current profiles (a bot
/// deleted a moment ago is left out).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChannelDetail {
    pub channel: Channel,
    /// The caller's membership when the answer is for a client and the channel's members are
    /// not all read (super channels): what their own fields are shown from.
    pub viewer: Option<Membership>,
    pub members: Vec<Member>,
    pub bots: Vec<Bot>,
    pub banned: Vec<BannedUser>,
    pub last_message: Option<MessageDetail>,
}

impl ChannelDetail {
    /// The channel alone, without members, bots, bans or last message: a deleted channel as
    /// it was (`channel_removed`, `channelRemoved`).
    pub fn alone(channel: Channel) -> ChannelDetail {
        ChannelDetail {
            channel,
            viewer: None,
            members: Vec::new(),
            bots: Vec::new(),
            banned: Vec::new(),
            last_message: None,
        }
    }
}

/// A ban as shown: the user's current profile (`None` if the user no longer exists).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BannedUser {
    pub ban: Ban,
    pub profile: Option<User>,
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
