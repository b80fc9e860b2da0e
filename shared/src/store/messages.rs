//! Messages: a partition per channel (see `keys`), each send one transaction.
//!
//! A send writes the message and, in the same transaction, the one item that proves the
//! sender may send: the sender's own membership (`lastSentAt` moved, on the condition that it
//! still exists and, unless exempt, is not muted), the bot's membership, or for a message
//! without a sender the channel item (still there, not deleted). No item is written by every
//! send of a channel: concurrent senders share nothing but the message partition, so they
//! never conflict, and the channel's `lastMessage` is read (the partition's newest item)
//! rather than kept. A deleted channel's messages are swept after its memberships (see
//! `store::cleanup`), so a send that commits while its sender is still a member is always
//! seen by the sweep.

use std::collections::{BTreeMap, HashMap, HashSet};

use aws_sdk_dynamodb::types::{AttributeValue, ConditionCheck, TransactWriteItem, Update};

use super::channels::{ChannelLookup, TransactError, action_error, item_key, put};
use super::items::{BotItem, ChannelItem, IdempotencyItem, MembershipItem, MessageItem};
use super::retry::{applied, retrying, storage_error};
use super::users::live_user;
use super::{Store, decode, encode, keys, n, s};
use crate::Error;
use crate::model::{
    Bot, Channel, Membership, Message, MessageEdit, MessageRef, MessageType, Page, User,
};

/// Current profiles of users and bots, and messages (by id), read to show messages and
/// channels.
#[derive(Debug, Default)]
pub struct Shown {
    pub users: HashMap<String, User>,
    pub bots: HashMap<String, Bot>,
    pub messages: HashMap<String, Message>,
}

/// What must still hold when a message commits, besides the message being new.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SenderGuard {
    /// A user's membership, under the sort key it was read with: it must still exist, and
    /// when `mute_applies`, not be muted at the send's time, nor peer-muted since the read
    /// (its peer mutes still at `peer_mutes_seen`, the version read). Its `last_sent_at`
    /// moves.
    Member {
        sort_key: String,
        mute_applies: bool,
        peer_mutes_seen: i64,
    },
    /// A bot's membership must still exist.
    Bot(String),
    /// No sender: the channel must still exist and not be deleted.
    Channel,
}

/// An `Idempotency-Key` claimed by a send, in the same transaction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdempotencyClaim {
    pub key_digest: String,
    pub request_digest: String,
    /// Seconds since the epoch.
    pub expires_at: i64,
}

/// What an `Idempotency-Key` was used for, while it lasts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdempotencyRecord {
    pub request_digest: String,
    pub channel_id: String,
    pub message_id: String,
}

/// Why a send's transaction was refused; nothing was written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SendRefusal {
    /// The sender's guard no longer holds (left, muted, channel deleted) since the read.
    Sender,
    /// Another request claimed the idempotency key first.
    Idempotency,
}

/// Everything a send decides on, read in one round.
#[derive(Debug)]
pub struct SendReads {
    pub channel: ChannelLookup,
    /// The sender's membership and the sort key it is filed under.
    pub membership: Option<(String, Membership)>,
    pub user: Option<User>,
    pub bot: Option<Bot>,
    pub bot_is_member: bool,
    /// The mentioned users who are members.
    pub mentioned_members: HashSet<String>,
    pub parent: Option<Message>,
    pub idempotency: Option<IdempotencyRecord>,
}

/// What a send reads: the ids named by the request.
#[derive(Debug, Clone, Copy)]
pub struct SendQuery<'a> {
    pub sender: Option<&'a str>,
    pub bot: Option<&'a str>,
    pub mentions: &'a [String],
    pub parent: Option<&'a str>,
    pub idempotency_key: Option<&'a str>,
    /// Seconds since the epoch: an idempotency record older than its expiry is not read.
    pub now_s: i64,
}

/// Which end of the history a page starts from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HistoryOrder {
    /// Newest first; with a cursor, the messages before it.
    Latest,
    /// Oldest first; with a cursor, the messages after it.
    Oldest,
}

/// The sort key range of the messages strictly before or after `cursor` (`None`: no
/// message can be).
fn history_range(order: HistoryOrder, cursor: Option<ulid::Ulid>) -> Option<(String, String)> {
    let lo = keys::MESSAGE_PREFIX.to_owned();
    let hi = format!("{}~", keys::MESSAGE_PREFIX);
    let Some(c) = cursor else {
        return Some((lo, hi));
    };
    // Ids are fixed-width ULIDs, so the ids next to the cursor bound the range exactly.
    Some(match order {
        HistoryOrder::Latest => (
            lo,
            keys::message_sk(&c.0.checked_sub(1).map(ulid::Ulid)?.to_string()),
        ),
        // The next id as a number: `Ulid::increment` stops at the random part's end.
        HistoryOrder::Oldest => (
            keys::message_sk(&c.0.checked_add(1).map(ulid::Ulid)?.to_string()),
            hi,
        ),
    })
}

fn message_item(app_id: &str, m: &Message) -> MessageItem {
    MessageItem {
        pk: keys::messages_pk(app_id, &m.channel_id),
        sk: keys::message_sk(&m.id),
        entity: "message".into(),
        message_id: m.id.clone(),
        channel_id: m.channel_id.clone(),
        user_id: m.user_id.clone(),
        message_type: m.message_type.as_str().into(),
        text: m.text.clone(),
        data: m.data.clone(),
        file_url: m.file_url.clone(),
        mentions: m.mentions.clone(),
        parent_message_id: m.parent.as_ref().map(|p| p.id.clone()),
        parent_user_id: m.parent.as_ref().map(|p| p.user_id.clone()),
        parent_type: m.parent.as_ref().map(|p| p.message_type.as_str().into()),
        // Written by reaction updates only (as string sets), never by a send.
        reactions: BTreeMap::new(),
        created_at: m.created_at,
    }
}

fn message_type(stored: &str) -> Result<MessageType, Error> {
    MessageType::parse(stored)
        .ok_or_else(|| Error::Internal(format!("stored message type {stored:?}")))
}

impl TryFrom<MessageItem> for Message {
    type Error = Error;

    fn try_from(i: MessageItem) -> Result<Self, Error> {
        let parent = match (i.parent_message_id, i.parent_user_id, i.parent_type) {
            (Some(id), Some(user_id), Some(t)) => Some(MessageRef {
                id,
                user_id,
                message_type: message_type(&t)?,
            }),
            _ => None,
        };
        Ok(Message {
            id: i.message_id,
            channel_id: i.channel_id,
            user_id: i.user_id,
            message_type: message_type(&i.message_type)?,
            text: i.text,
            data: i.data,
            file_url: i.file_url,
            mentions: i.mentions,
            parent,
            reactions: i
                .reactions
                .into_iter()
                .filter(|(_, users)| !users.is_empty())
                .map(|(r, mut users)| {
                    users.sort_unstable();
                    (r, users)
                })
                .collect(),
            created_at: i.created_at,
        })
    }
}

impl Store {
    /// Reads what a send decides on (see `SendReads`): one round of batch reads.
    pub async fn send_reads(
        &self,
        app_id: &str,
        channel_id: &str,
        q: SendQuery<'_>,
    ) -> Result<SendReads, Error> {
        let channel_pk = keys::channel_pk(app_id, channel_id);
        let messages_pk = keys::messages_pk(app_id, channel_id);
        let member_keys = |id: &str| keys::member_sks_either(id).map(|sk| (channel_pk.clone(), sk));
        let mut wanted = vec![(channel_pk.clone(), keys::CHANNEL_SK.to_owned())];
        if let Some(u) = q.sender {
            wanted.extend(member_keys(u));
            wanted.push((keys::user_pk(app_id, u), keys::USER_SK.to_owned()));
        }
        if let Some(b) = q.bot {
            wanted.push((keys::bot_pk(app_id, b), keys::BOT_SK.to_owned()));
            wanted.push((channel_pk.clone(), keys::bot_member_sk(b)));
        }
        for m in q.mentions.iter().filter(|m| Some(m.as_str()) != q.sender) {
            wanted.extend(member_keys(m));
        }
        if let Some(p) = q.parent {
            wanted.push((messages_pk.clone(), keys::message_sk(p)));
        }
        if let Some(k) = q.idempotency_key {
            wanted.push((
                keys::idempotency_pk(app_id, k),
                keys::IDEMPOTENCY_SK.to_owned(),
            ));
        }
        let mut channel = None;
        let mut reads = SendReads {
            channel: ChannelLookup::Missing,
            membership: None,
            user: None,
            bot: None,
            bot_is_member: false,
            mentioned_members: HashSet::new(),
            parent: None,
            idempotency: None,
        };
        for item in self.get_many(wanted).await? {
            let (pk, sk) = (item_key(&item, "pk")?, item_key(&item, "sk")?);
            if pk == channel_pk {
                if sk == keys::CHANNEL_SK {
                    channel = Some(decode::<ChannelItem>(item)?);
                } else if sk.starts_with(keys::BOT_MEMBER_PREFIX) {
                    reads.bot_is_member = true;
                } else {
                    let m = Membership::from(decode::<MembershipItem>(item)?);
                    if Some(m.user_id.as_str()) == q.sender {
                        reads.mentioned_members.insert(m.user_id.clone());
                        reads.membership = Some((sk, m));
                    } else {
                        reads.mentioned_members.insert(m.user_id);
                    }
                }
            } else if pk == messages_pk {
                reads.parent = Some(decode::<MessageItem>(item)?.try_into()?);
            } else if sk == keys::USER_SK {
                reads.user = live_user(item)?;
            } else if sk == keys::BOT_SK {
                reads.bot = Some(decode::<BotItem>(item)?.into());
            } else if sk == keys::IDEMPOTENCY_SK {
                let r: IdempotencyItem = decode(item)?;
                if r.ttl > q.now_s {
                    reads.idempotency = Some(IdempotencyRecord {
                        request_digest: r.request_digest,
                        channel_id: r.channel_id,
                        message_id: r.message_id,
                    });
                }
            }
        }
        reads.channel = self.lookup(channel)?;
        Ok(reads)
    }

    /// Writes a message with its sender's guard (and the idempotency key's claim) in one
    /// transaction; `Ok(Err(_))` when a condition failed and nothing was written.
    /// `counted`: the message moves the channel's `message_count` (and a member sender's
    /// `sent_since_read`) in the same transaction, for unread counts (non-super channels,
    /// not `hidden` types; see `model::Membership::unread`).
    pub async fn send_message(
        &self,
        app_id: &str,
        message: &Message,
        guard: &SenderGuard,
        claim: Option<&IdempotencyClaim>,
        counted: bool,
        now: i64,
    ) -> Result<Result<(), SendRefusal>, Error> {
        let table = self.table();
        let channel_pk = keys::channel_pk(app_id, &message.channel_id);
        let mut actions = vec![put(
            table,
            encode(&message_item(app_id, message))?,
            Some("attribute_not_exists(pk)"),
        )?];
        actions.push(match guard {
            SenderGuard::Member {
                sort_key,
                mute_applies,
                peer_mutes_seen,
            } => {
                let mut u = Update::builder()
                    .table_name(table)
                    .key("pk", s(&channel_pk))
                    .key("sk", s(sort_key))
                    .update_expression(if counted {
                        "SET last_sent_at = :now ADD sent_since_read :one"
                    } else {
                        "SET last_sent_at = :now"
                    })
                    .expression_attribute_values(":now", n(now));
                if counted {
                    u = u.expression_attribute_values(":one", n(1));
                }
                u = if *mute_applies {
                    // Not muted at `now`: no mute, or one with an end that has passed; and no
                    // peer mute since the read (which found none in force).
                    u.condition_expression(
                        "attribute_exists(pk) AND (attribute_not_exists(mute_expires_at) \
                         OR (mute_expires_at <> :zero AND mute_expires_at <= :now)) \
                         AND (attribute_not_exists(peer_muted_by_version) \
                         OR peer_muted_by_version = :peers)",
                    )
                    .expression_attribute_values(":zero", n(0))
                    .expression_attribute_values(":peers", n(*peer_mutes_seen))
                } else {
                    u.condition_expression("attribute_exists(pk)")
                };
                let u = u.build().map_err(|e| action_error("update", e))?;
                TransactWriteItem::builder().update(u).build()
            }
            SenderGuard::Bot(bot_id) => {
                let c = ConditionCheck::builder()
                    .table_name(table)
                    .key("pk", s(&channel_pk))
                    .key("sk", s(keys::bot_member_sk(bot_id)))
                    .condition_expression("attribute_exists(pk)")
                    .build()
                    .map_err(|e| action_error("condition check", e))?;
                TransactWriteItem::builder().condition_check(c).build()
            }
            SenderGuard::Channel if counted => self.count_message(&channel_pk)?,
            SenderGuard::Channel => {
                let c = ConditionCheck::builder()
                    .table_name(table)
                    .key("pk", s(&channel_pk))
                    .key("sk", s(keys::CHANNEL_SK))
                    .condition_expression(
                        "attribute_exists(pk) AND attribute_not_exists(deleted_at)",
                    )
                    .build()
                    .map_err(|e| action_error("condition check", e))?;
                TransactWriteItem::builder().condition_check(c).build()
            }
        });
        if let Some(c) = claim {
            let record = encode(&IdempotencyItem {
                pk: keys::idempotency_pk(app_id, &c.key_digest),
                sk: keys::IDEMPOTENCY_SK.into(),
                entity: "idempotency".into(),
                request_digest: c.request_digest.clone(),
                channel_id: message.channel_id.clone(),
                message_id: message.id.clone(),
                ttl: c.expires_at,
            })?;
            let now_s = now / 1000;
            let p = aws_sdk_dynamodb::types::Put::builder()
                .table_name(table)
                .set_item(Some(record))
                // TTL removal lags, so an expired record is overwritten, not obeyed.
                .condition_expression("attribute_not_exists(pk) OR #ttl <= :now_s")
                .expression_attribute_names("#ttl", super::schema::TTL_ATTRIBUTE)
                .expression_attribute_values(":now_s", n(now_s))
                .build()
                .map_err(|e| action_error("put", e))?;
            actions.push(TransactWriteItem::builder().put(p).build());
        }
        // A member's or bot's send counts on the channel item too (the last action).
        let channel_count = if counted && !matches!(guard, SenderGuard::Channel) {
            actions.push(self.count_message(&channel_pk)?);
            Some(actions.len() - 1)
        } else {
            None
        };
        match self.transact("send message", actions).await {
            Ok(()) => Ok(Ok(())),
            Err(TransactError::Refused(refused)) => {
                Ok(Err(if claim.is_some() && refused.contains(&2) {
                    SendRefusal::Idempotency
                } else if refused.contains(&1)
                    || channel_count.is_some_and(|i| refused.contains(&i))
                {
                    SendRefusal::Sender
                } else {
                    return Err(Error::Internal(format!(
                        "message id {} already exists",
                        message.id
                    )));
                }))
            }
            Err(TransactError::Failed(e)) => Err(e),
        }
    }

    /// A check that `user` is still a member of `channel` (client changes of messages).
    fn member_check(
        &self,
        app_id: &str,
        channel: &Channel,
        user: &str,
    ) -> Result<TransactWriteItem, Error> {
        let c = ConditionCheck::builder()
            .table_name(self.table())
            .key("pk", s(keys::channel_pk(app_id, &channel.id)))
            .key("sk", s(keys::member_sk(channel.channel_type, user)))
            .condition_expression("attribute_exists(pk)")
            .build()
            .map_err(|e| action_error("condition check", e))?;
        Ok(TransactWriteItem::builder().condition_check(c).build())
    }

    /// Adds or removes `user`'s `reaction` on a message while `user` is a member, as decided
    /// on a read of the message (`had_reactions`: it had any, so the map exists). A set
    /// holds each user once, so concurrent reactions never lose one another. False when a
    /// condition failed (the message changed or went, the caps, the membership): decide again.
    #[allow(clippy::too_many_arguments)]
    pub async fn react(
        &self,
        app_id: &str,
        channel: &Channel,
        message_id: &str,
        user: &str,
        reaction: &str,
        add: bool,
        had_reactions: bool,
        caps: (usize, usize),
    ) -> Result<bool, Error> {
        let (max_kinds, max_users) = caps;
        let one = AttributeValue::Ss(vec![user.to_owned()]);
        let u = Update::builder()
            .table_name(self.table())
            .key("pk", s(keys::messages_pk(app_id, &channel.id)))
            .key("sk", s(keys::message_sk(message_id)));
        let u = match (add, had_reactions) {
            (true, true) => u
                .update_expression("ADD reactions.#r :u")
                .condition_expression(
                    "attribute_exists(pk) AND attribute_exists(reactions) \
                     AND (attribute_exists(reactions.#r) OR size(reactions) < :kinds) \
                     AND (attribute_not_exists(reactions.#r) OR size(reactions.#r) < :users)",
                )
                .expression_attribute_names("#r", reaction)
                .expression_attribute_values(":u", one)
                .expression_attribute_values(":kinds", n(max_kinds as i64))
                .expression_attribute_values(":users", n(max_users as i64)),
            // No reaction read: the map is absent, or empty once its last set went.
            (true, false) => u
                .update_expression("SET reactions = :m")
                .condition_expression(
                    "attribute_exists(pk) AND (attribute_not_exists(reactions) OR size(reactions) = :zero)",
                )
                .expression_attribute_values(":zero", n(0))
                .expression_attribute_values(
                    ":m",
                    AttributeValue::M(HashMap::from([(reaction.to_owned(), one)])),
                ),
            (false, _) => u
                .update_expression("DELETE reactions.#r :u")
                .condition_expression("attribute_exists(pk) AND contains(reactions.#r, :user)")
                .expression_attribute_names("#r", reaction)
                .expression_attribute_values(":u", one)
                .expression_attribute_values(":user", s(user)),
        }
        .build()
        .map_err(|e| action_error("update", e))?;
        let actions = vec![
            TransactWriteItem::builder().update(u).build(),
            self.member_check(app_id, channel, user)?,
        ];
        self.transact_applied("react", actions).await
    }

    /// A client's edit of their own message (`author`), while they are a member: the fields
    /// given, and the reactions cleared when asked. False when a condition failed.
    pub async fn edit_message(
        &self,
        app_id: &str,
        channel: &Channel,
        message_id: &str,
        author: &str,
        edit: &MessageEdit,
    ) -> Result<bool, Error> {
        let mut sets = Vec::new();
        let mut values = HashMap::from([(":author".to_owned(), s(author))]);
        if let Some(text) = &edit.text {
            sets.push("#text = :text");
            values.insert(":text".into(), s(text));
        }
        if let Some(data) = &edit.data {
            sets.push("#data = :data");
            values.insert(":data".into(), super::string_map(data));
        }
        if let Some(mentions) = &edit.mentions {
            sets.push("mentions = :mentions");
            values.insert(
                ":mentions".into(),
                AttributeValue::L(mentions.iter().map(s).collect()),
            );
        }
        let mut expression = String::new();
        if !sets.is_empty() {
            expression = format!("SET {}", sets.join(", "));
        }
        if edit.clear_reactions {
            expression.push_str(" REMOVE reactions");
        }
        let expression = expression.trim().to_owned();
        if expression.is_empty() {
            return Ok(true);
        }
        let mut names = HashMap::new();
        if edit.text.is_some() {
            names.insert("#text".to_owned(), "text".to_owned());
        }
        if edit.data.is_some() {
            names.insert("#data".to_owned(), "data".to_owned());
        }
        let u = Update::builder()
            .table_name(self.table())
            .key("pk", s(keys::messages_pk(app_id, &channel.id)))
            .key("sk", s(keys::message_sk(message_id)))
            .update_expression(expression)
            .condition_expression("attribute_exists(pk) AND user_id = :author")
            .set_expression_attribute_names(Some(names).filter(|n| !n.is_empty()))
            .set_expression_attribute_values(Some(values))
            .build()
            .map_err(|e| action_error("update", e))?;
        let actions = vec![
            TransactWriteItem::builder().update(u).build(),
            self.member_check(app_id, channel, author)?,
        ];
        self.transact_applied("edit message", actions).await
    }

    /// One more counted message on the live channel item.
    fn count_message(&self, channel_pk: &str) -> Result<TransactWriteItem, Error> {
        let u = Update::builder()
            .table_name(self.table())
            .key("pk", s(channel_pk))
            .key("sk", s(keys::CHANNEL_SK))
            .update_expression("ADD message_count :one")
            .condition_expression("attribute_exists(pk) AND attribute_not_exists(deleted_at)")
            .expression_attribute_values(":one", n(1))
            .build()
            .map_err(|e| action_error("update", e))?;
        Ok(TransactWriteItem::builder().update(u).build())
    }

    /// A snapshot of what a read mark is taken from: the channel's `message_count` and the
    /// member's membership (its sort key and `sent_since_read`), read together
    /// (`TransactGetItems`, so no send falls between the two). `None` for a channel that is
    /// gone, or a user who is not a member.
    pub async fn read_mark_snapshot(
        &self,
        app_id: &str,
        channel_id: &str,
        user: &str,
    ) -> Result<Option<(i64, String, i64)>, Error> {
        use aws_sdk_dynamodb::types::{Get, TransactGetItem};
        let pk = keys::channel_pk(app_id, channel_id);
        let mut sks = vec![keys::CHANNEL_SK.to_owned()];
        sks.extend(keys::member_sks_either(user));
        let gets = sks
            .iter()
            .map(|sk| {
                Get::builder()
                    .table_name(self.table())
                    .key("pk", s(&pk))
                    .key("sk", s(sk))
                    .projection_expression("sk, message_count, sent_since_read, deleted_at")
                    .build()
                    .map(|g| TransactGetItem::builder().get(g).build())
                    .map_err(|e| action_error("get", e))
            })
            .collect::<Result<Vec<_>, _>>()?;
        let out = retrying(|| {
            self.client
                .transact_get_items()
                .set_transact_items(Some(gets.clone()))
                .send()
        })
        .await
        .map_err(|e| storage_error("read marks", e))?;
        let items: Vec<Option<super::Item>> = out
            .responses
            .unwrap_or_default()
            .into_iter()
            .map(|r| r.item)
            .collect();
        let number = |i: &super::Item, name: &str| match i.get(name) {
            Some(AttributeValue::N(v)) => v.parse::<i64>().unwrap_or(0),
            _ => 0,
        };
        let Some(Some(channel)) = items.first() else {
            return Ok(None);
        };
        if channel.contains_key("deleted_at") {
            return Ok(None);
        }
        let count = number(channel, "message_count");
        Ok(items
            .iter()
            .zip(&sks)
            .skip(1)
            .find_map(|(item, sk)| {
                item.as_ref()
                    .map(|m| (sk.clone(), number(m, "sent_since_read")))
            })
            .map(|(sk, sent)| (count, sk, sent)))
    }

    /// Moves a member's read mark to `seen` (the channel's count in the snapshot), their own
    /// sends since the mark to none, while `sent_since_read` is still `sent` (the snapshot's):
    /// only the member's own send in between refuses it (false). Another member's send in
    /// between stays unread, as it should (it is not in `seen`). A mark further on already
    /// (a concurrent mark-read from a later snapshot) refuses it too, so a mark never moves
    /// back; the caller's next snapshot is at least that far.
    pub async fn mark_read(
        &self,
        app_id: &str,
        channel_id: &str,
        member_sk: &str,
        seen: i64,
        sent: i64,
        now: i64,
    ) -> Result<bool, Error> {
        self.may_write().await?;
        let res = retrying(|| {
            self.client
                .update_item()
                .table_name(self.table())
                .key("pk", s(keys::channel_pk(app_id, channel_id)))
                .key("sk", s(member_sk))
                .update_expression(
                    "SET read_count = :seen, sent_since_read = :zero, last_read_at = :now",
                )
                .condition_expression(
                    "attribute_exists(pk) AND (sent_since_read = :sent \
                     OR (attribute_not_exists(sent_since_read) AND :sent = :zero)) \
                     AND (attribute_not_exists(read_count) OR read_count <= :seen)",
                )
                .expression_attribute_values(":seen", n(seen))
                .expression_attribute_values(":sent", n(sent))
                .expression_attribute_values(":zero", n(0))
                .expression_attribute_values(":now", n(now))
                .send()
        })
        .await;
        match res {
            Ok(_) => Ok(true),
            Err(e) if super::retry::condition_failed(&e) => Ok(false),
            Err(e) => Err(storage_error("mark read", e)),
        }
    }

    /// The channel item and one message, in one round (a view needs both).
    pub async fn channel_and_message(
        &self,
        app_id: &str,
        channel_id: &str,
        message_id: &str,
    ) -> Result<(ChannelLookup, Option<Message>), Error> {
        let channel_pk = keys::channel_pk(app_id, channel_id);
        let items = self
            .get_many(vec![
                (channel_pk.clone(), keys::CHANNEL_SK.to_owned()),
                (
                    keys::messages_pk(app_id, channel_id),
                    keys::message_sk(message_id),
                ),
            ])
            .await?;
        let mut channel = None;
        let mut message = None;
        for item in items {
            if item_key(&item, "pk")? == channel_pk {
                channel = Some(decode::<ChannelItem>(item)?);
            } else {
                message = Some(decode::<MessageItem>(item)?.try_into()?);
            }
        }
        Ok((self.lookup(channel)?, message))
    }

    /// A page of a channel's messages in `order`, strictly before (`Latest`) or after
    /// (`Oldest`) `cursor`: one strongly consistent Query for `limit` + 1 items.
    pub async fn messages_page(
        &self,
        app_id: &str,
        channel_id: &str,
        order: HistoryOrder,
        cursor: Option<ulid::Ulid>,
        limit: usize,
    ) -> Result<Page<Message>, Error> {
        self.messages_page_of(app_id, channel_id, order, cursor, limit, false)
            .await
    }

    /// `messages_page`, or (`files_only`) of the messages with a file only.
    pub async fn messages_page_of(
        &self,
        app_id: &str,
        channel_id: &str,
        order: HistoryOrder,
        cursor: Option<ulid::Ulid>,
        limit: usize,
        files_only: bool,
    ) -> Result<Page<Message>, Error> {
        let Some((lo, hi)) = history_range(order, cursor) else {
            return Ok(Page {
                items: Vec::new(),
                has_next: false,
            });
        };
        let filter = files_only.then(|| {
            (
                "file_url <> :none",
                HashMap::from([(":none".to_owned(), s(""))]),
            )
        });
        self.sort_key_range_where(
            keys::messages_pk(app_id, channel_id),
            (lo, hi),
            order == HistoryOrder::Oldest,
            limit,
            filter,
            |item| Ok(Some(Message::try_from(decode::<MessageItem>(item)?)?)),
        )
        .await
    }

    /// The channel's newest message, if any.
    pub async fn latest_message(
        &self,
        app_id: &str,
        channel_id: &str,
    ) -> Result<Option<Message>, Error> {
        let out = retrying(|| {
            self.client
                .query()
                .table_name(self.table())
                .key_condition_expression("pk = :pk AND begins_with(sk, :m)")
                .expression_attribute_values(":pk", s(keys::messages_pk(app_id, channel_id)))
                .expression_attribute_values(":m", s(keys::MESSAGE_PREFIX))
                .scan_index_forward(false)
                .consistent_read(true)
                .limit(1)
                .send()
        })
        .await
        .map_err(|e| storage_error("read the last message", e))?;
        out.items
            .unwrap_or_default()
            .into_iter()
            .next()
            .map(|i| decode::<MessageItem>(i)?.try_into())
            .transpose()
    }

    /// Deletes a message; false if there was none under the id.
    pub async fn delete_message(
        &self,
        app_id: &str,
        channel_id: &str,
        message_id: &str,
    ) -> Result<bool, Error> {
        self.may_write().await?;
        let res = retrying(|| {
            self.client
                .delete_item()
                .table_name(self.table())
                .key("pk", s(keys::messages_pk(app_id, channel_id)))
                .key("sk", s(keys::message_sk(message_id)))
                .condition_expression("attribute_exists(pk)")
                .send()
        })
        .await;
        applied(res, "delete message")
    }

    /// A client's delete: the message while `author` wrote it, or, with `owner`, while that
    /// user owns the channel (a check of the channel item in the same transaction). False
    /// when the condition failed: nothing was deleted.
    pub async fn delete_message_as(
        &self,
        app_id: &str,
        channel_id: &str,
        message_id: &str,
        author: &str,
        owner: Option<&str>,
    ) -> Result<bool, Error> {
        use aws_sdk_dynamodb::types::{ConditionCheck, Delete, TransactWriteItem};
        let table = self.table();
        let mut delete = Delete::builder()
            .table_name(table)
            .key("pk", s(keys::messages_pk(app_id, channel_id)))
            .key("sk", s(keys::message_sk(message_id)));
        delete = match owner {
            None => delete
                .condition_expression("attribute_exists(pk) AND user_id = :author")
                .expression_attribute_values(":author", s(author)),
            Some(_) => delete.condition_expression("attribute_exists(pk)"),
        };
        let delete = delete
            .build()
            .map_err(|e| super::channels::action_error("delete", e))?;
        let mut actions = vec![TransactWriteItem::builder().delete(delete).build()];
        if let Some(owner) = owner {
            let check = ConditionCheck::builder()
                .table_name(table)
                .key("pk", s(keys::channel_pk(app_id, channel_id)))
                .key("sk", s(keys::CHANNEL_SK))
                .condition_expression("owner_id = :owner AND attribute_not_exists(deleted_at)")
                .expression_attribute_values(":owner", s(owner))
                .build()
                .map_err(|e| super::channels::action_error("condition check", e))?;
            actions.push(TransactWriteItem::builder().condition_check(check).build());
        }
        self.transact_applied("delete message", actions).await
    }

    /// Current profiles of these users and bots, and these messages of a channel as they
    /// are now: one round of parallel batch reads.
    pub async fn profiles_and_messages(
        &self,
        app_id: &str,
        user_ids: &[String],
        bot_ids: &[String],
        messages: &[(String, String)],
    ) -> Result<Shown, Error> {
        let wanted = user_ids
            .iter()
            .map(|id| (keys::user_pk(app_id, id), keys::USER_SK.to_owned()))
            .chain(
                bot_ids
                    .iter()
                    .map(|id| (keys::bot_pk(app_id, id), keys::BOT_SK.to_owned())),
            )
            .chain(messages.iter().map(|(channel_id, message_id)| {
                (
                    keys::messages_pk(app_id, channel_id),
                    keys::message_sk(message_id),
                )
            }))
            .collect();
        let mut shown = Shown::default();
        for item in self.get_many(wanted).await? {
            let sk = item_key(&item, "sk")?;
            if sk == keys::BOT_SK {
                let bot = Bot::from(decode::<BotItem>(item)?);
                shown.bots.insert(bot.id.clone(), bot);
            } else if sk.starts_with(keys::MESSAGE_PREFIX) {
                let m = Message::try_from(decode::<MessageItem>(item)?)?;
                shown.messages.insert(m.id.clone(), m);
            } else if let Some(user) = live_user(item)? {
                shown.users.insert(user.id.clone(), user);
            }
        }
        Ok(shown)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn history_ranges_exclude_the_cursor_and_nothing_else() {
        let c = ulid::Ulid::from_parts(1_700_000_000_000, 42);
        let sk = |u: ulid::Ulid| keys::message_sk(&u.to_string());
        let inside = |(lo, hi): &(String, String), k: &str| lo.as_str() <= k && k <= hi.as_str();
        let before = history_range(HistoryOrder::Latest, Some(c)).unwrap();
        let after = history_range(HistoryOrder::Oldest, Some(c)).unwrap();
        assert!(!inside(&before, &sk(c)) && !inside(&after, &sk(c)));
        let prev = ulid::Ulid(c.0 - 1);
        let next = ulid::Ulid(c.0 + 1);
        // Same millisecond, neighbouring ids: each on its side.
        assert!(inside(&before, &sk(prev)) && !inside(&after, &sk(prev)));
        assert!(inside(&after, &sk(next)) && !inside(&before, &sk(next)));
        let all = history_range(HistoryOrder::Latest, None).unwrap();
        assert!(inside(&all, &sk(ulid::Ulid(0))) && inside(&all, &sk(ulid::Ulid(u128::MAX))));
        assert!(history_range(HistoryOrder::Latest, Some(ulid::Ulid(0))).is_none());
        assert!(history_range(HistoryOrder::Oldest, Some(ulid::Ulid(u128::MAX))).is_none());
        // A cursor at the end of a millisecond's ids: the next one is the next millisecond's.
        let end = ulid::Ulid::from_parts(1_700_000_000_000, (1u128 << 80) - 1);
        let after_end = history_range(HistoryOrder::Oldest, Some(end)).unwrap();
        assert!(inside(
            &after_end,
            &sk(ulid::Ulid::from_parts(1_700_000_000_001, 0))
        ));
    }
}
