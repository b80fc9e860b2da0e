//! Every key the table holds. Each partition key starts with the app id, so a request that is
//! authenticated for one app cannot name an item of another. Ids never contain `#` (see
//! `validate::is_uri_safe`), so `#` separates the parts unambiguously.
//!
//! | item       | pk                       | sk       | gsi1pk              | gsi1sk     |
//! |------------|--------------------------|----------|---------------------|------------|
//! | app        | `{app}#APP`              | `APP`    | `#APPS`             | `{app}`    |
//! | user       | `{app}#USER#{userId}`    | `USER`   | `{app}#USERS`       | `{userId}` |
//! | deleted user (tombstone) | `{app}#USER#{userId}` | `USER` | `#CLEANUP` | `{app}#USER#{userId}` |
//! | block      | `{app}#USER#{userId}`    | `BLOCK#{targetId}` | `{app}#USER#{targetId}#BLOCKERS` | `{userId}` |
//! | device     | `{app}#USER#{userId}`    | `DEVICE#{deviceId}` | –          | –          |
//! | session    | `{app}#USER#{userId}`    | `SESSION#{sessionId}` | –        | –          |
//! | job over a user's channels | `{app}#USER#{userId}` | `JOB#{kind}` | `#CLEANUP` | `{app}#JOB#{userId}#{kind}` |
//! | channel    | `{app}#CHANNEL#{chId}`   | `CHANNEL` | `{app}#CHANNELS`   | `{chId}`   |
//! | deleted channel (tombstone) | `{app}#CHANNEL#{chId}` | `CHANNEL` | `#CLEANUP` | `{app}#{chId}` |
//! | ban        | `{app}#CHANNEL#{chId}`   | `BAN#{userId}` | –             | –          |
//! | membership | `{app}#CHANNEL#{chId}`   | `MEMBER#{userId}` (super: `SUPERMEMBER#{userId}`) | `{app}#USER#{userId}#CHANNELS` | `{chId}` |
//! | bot        | `{app}#BOT#{botId}`      | `BOT`    | `{app}#BOTS`        | `{botId}`  |
//! | bot membership | `{app}#CHANNEL#{chId}` | `BOT#{botId}` | `{app}#BOT#{botId}#CHANNELS` | `{chId}` |
//! | message    | `{app}#MSG#{chId}`       | `MSG#{messageId}` | –             | –          |
//! | idempotency record | `{app}#IDEMPOTENCY#{keyDigest}` | `IDEMPOTENCY` | – | –     |
//! | WebSocket connection | `#WS#{connectionId}` | `CONNECTION` | –               | –          |
//! | a user's live connections | `{app}#USER#{userId}` | `WS` | –                 | –          |
//! | realtime event (replay) | `{app}#EVENT#{uid}` | `EVENT` | –                | –          |
//! | a user's replay feed | `{app}#FEED#{userId}` | `{ms:013}#{uid}` | –          | –          |
//! | a super channel's posts in a second | `{app}#WSRATE#{chId}#{s}` | `RATE` | –      | –          |
//! | a public channel's watcher | `{app}#WATCH#{chId}` | `WATCH#{userId}` | –         | –          |
//!
//! A channel's messages have a partition of their own, apart from the channel and its
//! members, holding nothing but messages: message ids are ULIDs (time first), so the
//! partition in sort key order is the channel's history, and the newest message, a page
//! before or after a cursor, or the messages since a time are each one Query. No local
//! secondary index (that would cap the partition at 10 GB).
//!
//! A channel and its memberships share a partition, so creating them is one transaction and
//! reading them is one query. That query covers the sort keys from `BOT#` to `MEMBER$`
//! (`CHANNEL_READ_RANGE`): the channel item, ordinary memberships, and bot memberships. Super channels' memberships sort after that range (`SUPERMEMBER#`), so reading a
//! super channel never touches its members, however many there are.
//! The membership's index keys make the reverse index: a user's channels, in channel id order.
//!
//! The keys that do not start with an app id are the app registry's index entry (`#APPS`),
//! which only the provisioning tool reads, and a WebSocket connection's item, which the
//! gateway functions read by the connection id API Gateway gives them (its app is only known
//! once the client's first frame has authenticated it); no API path can reach either.

use crate::model::ChannelType;

pub const APP_SK: &str = "APP";
pub const APP_REGISTRY: &str = "#APPS";
pub const USER_SK: &str = "USER";
pub const CHANNEL_SK: &str = "CHANNEL";
pub const BOT_SK: &str = "BOT";
/// Sort key prefixes of a channel's user and bot memberships.
pub const MEMBER_PREFIX: &str = "MEMBER#";
pub const BOT_MEMBER_PREFIX: &str = "BOT#";
pub const SUPER_MEMBER_PREFIX: &str = "SUPERMEMBER#";
/// Bans sort before the channel read range, so a channel read never reads them; the
/// channel's `bannedUsers` come from a query of their own, bounded (see `Store::channel`).
pub const BAN_PREFIX: &str = "BAN#";
/// Sort key prefixes of a user's blocks and push devices (in the user's partition, so a
/// deleted user's partition sweep removes them).
pub const BLOCK_PREFIX: &str = "BLOCK#";
pub const DEVICE_PREFIX: &str = "DEVICE#";
/// Sort key prefix of a user's client API sessions.
pub const SESSION_PREFIX: &str = "SESSION#";
/// Sort key prefix of a job over a user's channels (`markread/all`, `hide/all`) that
/// outgrew its request.
pub const JOB_PREFIX: &str = "JOB#";
/// Index partition of deleted channels whose partitions are still being swept (read by the
/// sweeper only; no API path can reach it).
pub const CLEANUP_INDEX: &str = "#CLEANUP";
/// Inclusive bounds of the sort keys one channel read returns (see the table above).
pub const CHANNEL_READ_RANGE: (&str, &str) = ("BOT#", "MEMBER$");

/// Sort key prefix of messages, and of idempotency records' one item.
pub const MESSAGE_PREFIX: &str = "MSG#";
pub const IDEMPOTENCY_SK: &str = "IDEMPOTENCY";

/// A rate-limit counter: one item per app, scope, one-second window and shard.
pub const RATE_SK: &str = "RATE";

pub fn rate_pk(app_id: &str, scope: &str, window: i64, shard: u32) -> String {
    format!("{app_id}#RATE#{scope}#{window}#{shard}")
}

pub fn app_pk(app_id: &str) -> String {
    format!("{app_id}#APP")
}

pub fn user_pk(app_id: &str, user_id: &str) -> String {
    format!("{app_id}#USER#{user_id}")
}

/// Index partition that lists an app's users in id order.
pub fn users_index(app_id: &str) -> String {
    format!("{app_id}#USERS")
}

pub fn channel_pk(app_id: &str, channel_id: &str) -> String {
    format!("{app_id}#CHANNEL#{channel_id}")
}

pub fn member_sk(channel_type: ChannelType, user_id: &str) -> String {
    format!("{}{user_id}", member_prefix(channel_type))
}

/// Both sort keys a user's membership may have, for reads made before the channel's type is
/// known (ordinary and super channels file memberships apart).
pub fn member_sks_either(user_id: &str) -> [String; 2] {
    [
        format!("{MEMBER_PREFIX}{user_id}"),
        format!("{SUPER_MEMBER_PREFIX}{user_id}"),
    ]
}

pub fn member_prefix(channel_type: ChannelType) -> &'static str {
    if channel_type.is_super() {
        SUPER_MEMBER_PREFIX
    } else {
        MEMBER_PREFIX
    }
}

pub fn session_sk(session_id: &str) -> String {
    format!("{SESSION_PREFIX}{session_id}")
}

pub fn ban_sk(user_id: &str) -> String {
    format!("{BAN_PREFIX}{user_id}")
}

/// The partition of a channel's messages.
pub fn messages_pk(app_id: &str, channel_id: &str) -> String {
    format!("{app_id}#MSG#{channel_id}")
}

pub fn message_sk(message_id: &str) -> String {
    format!("{MESSAGE_PREFIX}{message_id}")
}

/// The record of an `Idempotency-Key` (by the key's digest: keys are the caller's text).
pub fn idempotency_pk(app_id: &str, key_digest: &str) -> String {
    format!("{app_id}#IDEMPOTENCY#{key_digest}")
}

/// Index partition that lists an app's channels in id order.
/// A webhook body too large for its queue message (see `store::webhooks`).
pub fn webhook_body_pk(app_id: &str, delivery_id: &str) -> String {
    format!("{app_id}#WEBHOOKBODY#{delivery_id}")
}

pub fn webhook_body_part_sk(n: usize) -> String {
    format!("PART#{n:04}")
}

/// A WebSocket connection (see `store::realtime`).
pub fn connection_pk(connection_id: &str) -> String {
    format!("#WS#{connection_id}")
}

pub const CONNECTION_SK: &str = "CONNECTION";

/// The sort key of a user's live connections (in the user's partition).
pub const CONNECTIONS_SK: &str = "WS";

/// A super channel's realtime posts in one second (the fan-out's send-rate cap).
pub fn post_budget_pk(app_id: &str, channel_id: &str, second: i64) -> String {
    format!("{app_id}#WSRATE#{channel_id}#{second}")
}

/// The users watching a public channel without being members (realtime events marked
/// `isPublicChannelEvent`).
pub fn watchers_pk(app_id: &str, channel_id: &str) -> String {
    format!("{app_id}#WATCH#{channel_id}")
}

pub const WATCHER_PREFIX: &str = "WATCH#";

pub fn watcher_sk(user_id: &str) -> String {
    format!("{WATCHER_PREFIX}{user_id}")
}

/// A realtime event kept for replay, once for all its receivers.
pub fn event_pk(app_id: &str, uid: &str) -> String {
    format!("{app_id}#EVENT#{uid}")
}

pub const EVENT_SK: &str = "EVENT";

/// A user's replay feed: one entry per event, in time order.
pub fn feed_pk(app_id: &str, user_id: &str) -> String {
    format!("{app_id}#FEED#{user_id}")
}

pub fn feed_sk(at_ms: i64, uid: &str) -> String {
    format!("{at_ms:013}#{uid}")
}

pub fn channels_index(app_id: &str) -> String {
    format!("{app_id}#CHANNELS")
}

/// The sweeper's index key for a deleted channel.
pub fn cleanup_entry(app_id: &str, channel_id: &str) -> String {
    format!("{app_id}#{channel_id}")
}

/// The sweeper's index key for a deleted user.
pub fn user_cleanup_entry(app_id: &str, user_id: &str) -> String {
    format!("{app_id}#USER#{user_id}")
}

/// The sweeper's index key for a job over a user's channels.
pub fn job_entry(app_id: &str, user_id: &str, kind: &str) -> String {
    format!("{app_id}#JOB#{user_id}#{kind}")
}

pub fn job_sk(kind: &str) -> String {
    format!("{JOB_PREFIX}{kind}")
}

pub fn block_sk(target_id: &str) -> String {
    format!("{BLOCK_PREFIX}{target_id}")
}

pub fn device_sk(device_id: &str) -> String {
    format!("{DEVICE_PREFIX}{device_id}")
}

/// Index partition that lists the users who block a user.
pub fn user_blockers_index(app_id: &str, user_id: &str) -> String {
    format!("{app_id}#USER#{user_id}#BLOCKERS")
}

/// Sort keys strictly after `after` within `prefix`: ids are URI-safe, so every id
/// character sorts after `!` and before DEL.
pub fn range_after(prefix: &str, after: Option<&str>) -> (String, String) {
    let lo = match after {
        Some(a) => format!("{prefix}{a}!"),
        None => prefix.to_owned(),
    };
    (lo, format!("{prefix}\u{7f}"))
}

pub fn bot_pk(app_id: &str, bot_id: &str) -> String {
    format!("{app_id}#BOT#{bot_id}")
}

/// Index partition that lists an app's bots in id order.
pub fn bots_index(app_id: &str) -> String {
    format!("{app_id}#BOTS")
}

pub fn bot_member_sk(bot_id: &str) -> String {
    format!("{BOT_MEMBER_PREFIX}{bot_id}")
}

/// Index partition that lists a bot's channels in channel id order.
pub fn bot_channels_index(app_id: &str, bot_id: &str) -> String {
    format!("{app_id}#BOT#{bot_id}#CHANNELS")
}

/// Index partition that lists a user's channels in channel id order.
pub fn user_channels_index(app_id: &str, user_id: &str) -> String {
    format!("{app_id}#USER#{user_id}#CHANNELS")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_request_addressable_key_starts_with_the_app_id() {
        for key in [
            app_pk("a1"),
            user_pk("a1", "u"),
            users_index("a1"),
            channel_pk("a1", "c"),
            user_channels_index("a1", "u"),
            bot_pk("a1", "b"),
            bots_index("a1"),
            bot_channels_index("a1", "b"),
            channels_index("a1"),
            cleanup_entry("a1", "c"),
            user_cleanup_entry("a1", "u"),
            user_blockers_index("a1", "u"),
            rate_pk("a1", "admin", 1, 0),
            messages_pk("a1", "c"),
            idempotency_pk("a1", "k"),
            webhook_body_pk("a1", "msg_1"),
        ] {
            assert!(key.starts_with("a1#"), "{key}");
        }
    }

    #[test]
    fn one_channel_read_covers_the_channel_and_ordinary_members_only() {
        let (lo, hi) = CHANNEL_READ_RANGE;
        let inside = |sk: &str| lo <= sk && sk <= hi;
        assert!(inside(CHANNEL_SK));
        assert!(inside(&bot_member_sk("b")));
        assert!(inside(&bot_member_sk("~~~~")));
        assert!(!inside(&ban_sk("a")) && !inside(&ban_sk("~~~~")));
        for t in ChannelType::ALL {
            // The highest id character ('~') still sorts inside or outside as intended.
            for id in ["a", "~~~~", "0"] {
                assert_eq!(inside(&member_sk(t, id)), !t.is_super(), "{t:?} {id}");
                assert!(member_sks_either(id).contains(&member_sk(t, id)));
            }
        }
    }
}

#[cfg(test)]
mod range_tests {
    use super::*;

    #[test]
    fn range_after_holds_exactly_the_later_ids() {
        let (lo, hi) = range_after(MEMBER_PREFIX, Some("ab"));
        let inside = |id: &str| {
            let sk = format!("{MEMBER_PREFIX}{id}");
            lo <= sk && sk <= hi
        };
        assert!(!inside("ab") && !inside("a") && !inside("aa~"));
        assert!(inside("ab-") && inside("ab0") && inside("ac") && inside("~~~"));
        let (lo, _) = range_after(MEMBER_PREFIX, None);
        assert!(lo.as_str() <= format!("{MEMBER_PREFIX}-").as_str());
    }
}
