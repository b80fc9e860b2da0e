//! What must hold in storage after any sequence of channel operations, checked on the raw
//! items (not through the store's own read path, which could share a bug with the writes).

use std::collections::{BTreeMap, HashMap};

use aws_sdk_dynamodb::types::AttributeValue;
use shared::store::{Store, keys, schema};

type Item = HashMap<String, AttributeValue>;

/// The app's channels as found in the table.
#[derive(Debug, Default)]
pub struct ChannelCensus {
    /// Channel id → number of membership items, for channels that exist for readers.
    pub channels: BTreeMap<String, usize>,
    /// Channels left between the two transactions of a 100-member creation.
    pub pending: Vec<String>,
    /// Channel id → ids of the bots with a membership item, for channels that exist.
    pub bots: BTreeMap<String, Vec<String>>,
    /// Channel id → ids of its banned users.
    pub bans: BTreeMap<String, Vec<String>>,
    /// Deleted channels whose partitions are still being swept: id → items left besides
    /// the tombstone.
    pub deleting: BTreeMap<String, usize>,
    /// Channel id → its message items (channels with at least one).
    pub messages: BTreeMap<String, usize>,
}

fn text<'a>(item: &'a Item, name: &str) -> &'a str {
    match item.get(name) {
        Some(AttributeValue::S(s)) => s,
        other => panic!("{name} is {other:?} in {item:?}"),
    }
}

fn number(item: &Item, name: &str) -> i64 {
    match item.get(name) {
        Some(AttributeValue::N(n)) => n.parse().expect("integer"),
        other => panic!("{name} is {other:?} in {item:?}"),
    }
}

/// Every item of `app_id`'s channel partitions.
async fn channel_items(store: &Store, app_id: &str) -> Vec<Item> {
    items_with_prefix(store, keys::channel_pk(app_id, "")).await
}

/// Checks, for every channel of the app: no membership without its channel item; the
/// channel's `member_count` equals its membership items and `bot_count` its bot memberships
/// (at most 20); every membership is filed under the
/// sort key its channel type calls for, carries its reverse-index keys, and the reverse index
/// returns it. Panics on the first violation; returns what it found.
pub async fn check_channels(store: &Store, app_id: &str) -> ChannelCensus {
    let mut partitions: BTreeMap<String, Vec<Item>> = BTreeMap::new();
    for item in channel_items(store, app_id).await {
        partitions
            .entry(text(&item, "pk").to_owned())
            .or_default()
            .push(item);
    }
    let mut census = ChannelCensus::default();
    for (pk, items) in partitions {
        let channel = items
            .iter()
            .find(|i| text(i, "sk") == keys::CHANNEL_SK)
            .unwrap_or_else(|| panic!("memberships without a channel in {pk}: {items:?}"));
        let channel_id = text(channel, "channel_id").to_owned();
        let channel_type = shared::model::ChannelType::parse(text(channel, "channel_type"))
            .expect("stored channel type");
        if channel.contains_key("deleted_at") {
            assert_eq!(
                text(channel, "gsi1pk"),
                keys::CLEANUP_INDEX,
                "{pk}: tombstone"
            );
            census.deleting.insert(channel_id, items.len() - 1);
            continue;
        }
        if channel.contains_key("gsi1pk") {
            assert_eq!(
                text(channel, "gsi1pk"),
                keys::channels_index(app_id),
                "{pk}"
            );
            assert_eq!(text(channel, "gsi1sk"), channel_id, "{pk}");
        }
        let (bans, items): (Vec<&Item>, Vec<&Item>) = items
            .iter()
            .partition(|i| text(i, "sk").starts_with(keys::BAN_PREFIX));
        let (bot_memberships, memberships): (Vec<&Item>, Vec<&Item>) = items
            .into_iter()
            .filter(|i| text(i, "sk") != keys::CHANNEL_SK)
            .partition(|i| text(i, "sk").starts_with(keys::BOT_MEMBER_PREFIX));
        let members: std::collections::BTreeSet<&str> =
            memberships.iter().map(|m| text(m, "user_id")).collect();
        let mut banned = Vec::new();
        for b in &bans {
            let user = text(b, "user_id");
            assert_eq!(text(b, "sk"), keys::ban_sk(user), "{b:?}");
            assert!(!b.contains_key("gsi1pk"), "a ban is in no index: {b:?}");
            assert!(
                !members.contains(user),
                "{pk}: {user} is banned and a member"
            );
            banned.push(user.to_owned());
        }
        for b in &bot_memberships {
            let bot = text(b, "bot_id");
            assert_eq!(text(b, "sk"), keys::bot_member_sk(bot), "{b:?}");
            assert_eq!(text(b, "channel_id"), channel_id);
            assert_eq!(text(b, "gsi1pk"), keys::bot_channels_index(app_id, bot));
            assert_eq!(text(b, "gsi1sk"), channel_id, "{b:?}");
        }
        for m in &memberships {
            let user = text(m, "user_id");
            assert_eq!(text(m, "sk"), keys::member_sk(channel_type, user), "{m:?}");
            assert_eq!(text(m, "channel_id"), channel_id);
            assert_eq!(
                text(m, "gsi1pk"),
                keys::user_channels_index(app_id, user),
                "{m:?}"
            );
            assert_eq!(text(m, "gsi1sk"), channel_id, "{m:?}");
        }
        if channel.contains_key("pending_token") {
            assert!(
                memberships.len() as i64 <= number(channel, "member_count"),
                "{pk}: more memberships than the pending channel's count"
            );
            census.pending.push(channel_id);
            continue;
        }
        assert_eq!(
            number(channel, "member_count"),
            memberships.len() as i64,
            "{pk}: memberCount differs from the membership items"
        );
        let bot_count = channel
            .get("bot_count")
            .map_or(0, |_| number(channel, "bot_count"));
        assert_eq!(
            bot_count,
            bot_memberships.len() as i64,
            "{pk}: bot_count differs from the bot membership items"
        );
        assert!(bot_count <= shared::store::MAX_BOTS_PER_CHANNEL);
        let all: Vec<&Item> = memberships
            .iter()
            .chain(&bot_memberships)
            .copied()
            .collect();
        // A bounded number at a time: a channel may have thousands of members, and the
        // engine shares two cores with the rest of the suite.
        use futures::StreamExt;
        let indexed: Vec<bool> = futures::stream::iter(
            all.iter()
                .map(|m| reverse_index_has(store, text(m, "gsi1pk"), &channel_id)),
        )
        .buffered(32)
        .collect()
        .await;
        for (m, found) in all.iter().zip(indexed) {
            assert!(found, "no reverse-index entry for {m:?}");
        }
        census.bots.insert(
            channel_id.clone(),
            bot_memberships
                .iter()
                .map(|b| text(b, "bot_id").to_owned())
                .collect(),
        );
        census.bans.insert(channel_id.clone(), banned);
        census.channels.insert(channel_id, memberships.len());
    }
    // Messages live only beside a channel that exists or is being swept, each filed under
    // its id, a canonical ULID whose time is its createdAt.
    for m in items_with_prefix(store, keys::messages_pk(app_id, "")).await {
        let channel_id = text(&m, "channel_id").to_owned();
        assert_eq!(
            text(&m, "pk"),
            keys::messages_pk(app_id, &channel_id),
            "{m:?}"
        );
        let id = text(&m, "message_id");
        assert_eq!(text(&m, "sk"), keys::message_sk(id), "{m:?}");
        let ulid = ulid::Ulid::from_string(id).expect("a ULID message id");
        assert_eq!(ulid.to_string(), id, "canonical id");
        assert_eq!(
            ulid.timestamp_ms() as i64,
            number(&m, "created_at"),
            "{m:?}"
        );
        assert!(
            census.channels.contains_key(&channel_id) || census.deleting.contains_key(&channel_id),
            "message {id} of channel {channel_id}, which does not exist"
        );
        *census.messages.entry(channel_id).or_default() += 1;
    }
    census
}

async fn reverse_index_has(store: &Store, gsi1pk: &str, channel_id: &str) -> bool {
    let out = store
        .client()
        .query()
        .table_name(store.table())
        .index_name(schema::GSI1)
        .key_condition_expression("gsi1pk = :p AND gsi1sk = :c")
        .expression_attribute_values(":p", AttributeValue::S(gsi1pk.to_owned()))
        .expression_attribute_values(":c", AttributeValue::S(channel_id.to_owned()))
        .send()
        .await
        .expect("query the reverse index");
    out.count == 1
}

/// What `check_users` found.
#[derive(Debug, Default)]
pub struct UserCensus {
    /// Live user ids.
    pub users: std::collections::BTreeSet<String>,
    /// Deleted users still being swept: id → items left in their partition.
    pub deleting: BTreeMap<String, usize>,
    /// (blocker, blocked) of every block item.
    pub blocks: std::collections::BTreeSet<(String, String)>,
    /// User id → device ids.
    pub devices: BTreeMap<String, Vec<String>>,
    /// (channel id, user id) of memberships whose user is not live.
    pub orphans: Vec<(String, String)>,
    /// Client API session items.
    pub sessions: usize,
}

/// Every item of `app_id` whose partition key starts with `prefix`.
async fn items_with_prefix(store: &Store, prefix: String) -> Vec<Item> {
    let mut items = Vec::new();
    let mut start = None;
    loop {
        let out = store
            .client()
            .scan()
            .table_name(store.table())
            .filter_expression("begins_with(pk, :p)")
            .expression_attribute_values(":p", AttributeValue::S(prefix.clone()))
            .consistent_read(true)
            .set_exclusive_start_key(start)
            .send()
            .await
            .expect("scan the test table");
        items.extend(out.items.unwrap_or_default());
        start = out.last_evaluated_key;
        if start.is_none() {
            return items;
        }
    }
}

/// Checks the app's users: each live user's `blocking` / `blocked_by` equal the block items
/// by and of them; every block item carries its blockers-index keys and names live users
/// (once no deleted user is being swept); at most 20 devices a user; a deleted user's
/// tombstone is in the cleanup index. Reports memberships whose user is not live (tests
/// that seed memberships directly have users without items; they do not call this).
pub async fn check_users(store: &Store, app_id: &str) -> UserCensus {
    let mut census = UserCensus::default();
    let items = items_with_prefix(store, keys::user_pk(app_id, "")).await;
    let mut counts: BTreeMap<String, (i64, i64)> = BTreeMap::new();
    for item in &items {
        let sk = text(item, "sk");
        let pk = text(item, "pk");
        let user = pk
            .strip_prefix(&keys::user_pk(app_id, ""))
            .expect("user pk");
        if sk == keys::USER_SK {
            if item.contains_key("deleted_at") {
                assert_eq!(text(item, "gsi1pk"), keys::CLEANUP_INDEX, "{pk}: tombstone");
                let left = items.iter().filter(|i| text(i, "pk") == pk).count() - 1;
                census.deleting.insert(user.to_owned(), left);
            } else {
                census.users.insert(user.to_owned());
                let get = |n: &str| item.get(n).map_or(0, |_| number(item, n));
                counts.insert(user.to_owned(), (get("blocking"), get("blocked_by")));
            }
        } else if let Some(target) = sk.strip_prefix(keys::BLOCK_PREFIX) {
            assert_eq!(
                text(item, "gsi1pk"),
                keys::user_blockers_index(app_id, target)
            );
            assert_eq!(text(item, "gsi1sk"), user, "{item:?}");
            census.blocks.insert((user.to_owned(), target.to_owned()));
        } else if let Some(device) = sk.strip_prefix(keys::DEVICE_PREFIX) {
            census
                .devices
                .entry(user.to_owned())
                .or_default()
                .push(device.to_owned());
        } else if let Some(session) = sk.strip_prefix(keys::SESSION_PREFIX) {
            // A client session: its user's, expiring (by TTL) when its token does.
            assert_eq!(text(item, "user_id"), user, "{item:?}");
            assert_eq!(text(item, "session_id"), session, "{item:?}");
            assert_eq!(
                number(item, "ttl"),
                number(item, "expires_at") / 1000,
                "{item:?}"
            );
            assert!(
                number(item, "expires_at") > number(item, "created_at"),
                "{item:?}"
            );
            census.sessions += 1;
        } else {
            panic!("unexpected item in a user partition: {item:?}");
        }
    }
    for devices in census.devices.values() {
        assert!(devices.len() <= shared::domain::users::devices::MAX_DEVICES_PER_USER);
    }
    if census.deleting.is_empty() {
        for (blocker, target) in &census.blocks {
            assert!(
                census.users.contains(blocker) && census.users.contains(target),
                "block {blocker} -> {target} of a user who is gone"
            );
        }
        for (user, (blocking, blocked_by)) in &counts {
            let by = census.blocks.iter().filter(|(b, _)| b == user).count() as i64;
            let of = census.blocks.iter().filter(|(_, t)| t == user).count() as i64;
            assert_eq!((*blocking, *blocked_by), (by, of), "block counts of {user}");
        }
    }
    for m in items_with_prefix(store, keys::channel_pk(app_id, "")).await {
        let sk = text(&m, "sk");
        if sk.starts_with(keys::MEMBER_PREFIX) || sk.starts_with(keys::SUPER_MEMBER_PREFIX) {
            let user = text(&m, "user_id");
            if !census.users.contains(user) {
                census
                    .orphans
                    .push((text(&m, "channel_id").to_owned(), user.to_owned()));
            }
        }
    }
    census
}
