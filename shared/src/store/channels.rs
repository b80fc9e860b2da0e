//! Channels and memberships: one partition per channel (see `keys`).

use std::collections::HashMap;
use std::time::Duration;

use aws_sdk_dynamodb::error::SdkError;
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::types::{
    AttributeValue, Delete, KeysAndAttributes, Put, TransactWriteItem, Update,
};

use super::items::{ChannelItem, MembershipItem};
use super::members::decode_pending;
use super::retry::{MAX_ATTEMPTS, pause, retrying, storage_error};
use super::users::live_user;
use super::{Item, Store, decode, encode, keys, s};
use crate::Error;
use crate::model::{
    Channel, ChannelMembers, ChannelType, MAX_BANS_SHOWN, Membership, Page, User, apply_pending,
    now_ms,
};
use crate::secrets::random_hex;

/// DynamoDB's limit on the actions of one TransactWriteItems call.
pub const MAX_TRANSACT_ACTIONS: usize = 100;
/// DynamoDB's limit on the keys of one BatchGetItem call.
pub const MAX_BATCH_GET_KEYS: usize = 100;
/// A creation stuck between its two transactions for this long is taken to have died (the
/// functions time out after 10 s; see template.yaml).
pub const DEFAULT_ABANDON_AFTER: Duration = Duration::from_secs(30);

/// What a channel id refers to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChannelLookup {
    Missing,
    /// A two-transaction creation is between its transactions.
    InProgress,
    /// A two-transaction creation died between its transactions; the next creation of the
    /// id clears it.
    Abandoned,
    Found(Box<ChannelMembers>),
}

/// Why a transaction did not apply.
pub(super) enum TransactError {
    /// Conditions failed: the indices of the actions whose condition failed.
    Refused(Vec<usize>),
    Failed(Error),
}

pub(super) fn action_error(what: &str, e: impl std::fmt::Display) -> Error {
    Error::Internal(format!("build {what}: {e}"))
}

pub(super) fn put(
    table: &str,
    item: Item,
    condition: Option<&str>,
) -> Result<TransactWriteItem, Error> {
    let put = Put::builder()
        .table_name(table)
        .set_item(Some(item))
        .set_condition_expression(condition.map(str::to_owned))
        .build()
        .map_err(|e| action_error("put", e))?;
    Ok(TransactWriteItem::builder().put(put).build())
}

fn delete(table: &str, pk: &str, sk: &str) -> Result<Delete, Error> {
    Delete::builder()
        .table_name(table)
        .key("pk", s(pk))
        .key("sk", s(sk))
        .build()
        .map_err(|e| action_error("delete", e))
}

pub(super) fn item_key(item: &Item, name: &str) -> Result<String, Error> {
    match item.get(name) {
        Some(AttributeValue::S(v)) => Ok(v.clone()),
        _ => Err(Error::Internal(format!("item without string {name}"))),
    }
}

impl Store {
    /// Writes a new channel and its memberships, all or nothing; `2002` if the id exists.
    ///
    /// Up to 99 members this is one transaction. A channel and 100 members is 101 writes,
    /// one more than a transaction takes, so then the channel is first written *pending*
    /// together with 99 memberships, and a second transaction writes the last membership and
    /// clears the pending mark. Readers treat a pending channel as absent. If the second
    /// transaction fails, the first is undone; if the function dies in between, the pending
    /// channel and its memberships stay together in their partition, invisible, until a
    /// later creation of the same id finds them older than `abandon_after` and deletes them.
    pub async fn create_channel(
        &self,
        app_id: &str,
        channel: &Channel,
        members: &[Membership],
    ) -> Result<(), Error> {
        match self.write_new_channel(app_id, channel, members).await {
            Err(Error::ChannelIdTaken(_)) if self.clear_abandoned(app_id, &channel.id).await? => {
                self.write_new_channel(app_id, channel, members).await
            }
            other => other,
        }
    }

    async fn write_new_channel(
        &self,
        app_id: &str,
        channel: &Channel,
        members: &[Membership],
    ) -> Result<(), Error> {
        let table = self.table();
        let pk = keys::channel_pk(app_id, &channel.id);
        let mut channel_item = channel_item(app_id, channel);
        let member_items = members
            .iter()
            .map(|m| encode(&membership_item(app_id, channel, m)))
            .collect::<Result<Vec<_>, _>>()?;
        let taken = || Error::ChannelIdTaken(channel.id.clone());
        let new_channel = Some("attribute_not_exists(pk)");

        // The channel item plus one put per member.
        if member_items.len() < MAX_TRANSACT_ACTIONS {
            let mut actions = vec![put(table, encode(&channel_item)?, new_channel)?];
            for item in member_items {
                actions.push(put(table, item, None)?);
            }
            // Where they fit, the users are checked in the same transaction, so a user
            // deleted since the read is never written into the channel. (A larger create
            // relies on the deleted user's settle time; see `domain::users::delete`.)
            if 2 * members.len() < MAX_TRANSACT_ACTIONS {
                for m in members {
                    actions.push(self.user_live_check(app_id, &m.user_id)?);
                }
            }
            return match self.transact("create channel", actions).await {
                Ok(()) => Ok(()),
                Err(TransactError::Refused(refused)) if !refused.contains(&0) => {
                    let gone = refused
                        .iter()
                        .find_map(|i| i.checked_sub(1 + members.len()))
                        .and_then(|i| members.get(i))
                        .map(|m| m.user_id.clone())
                        .ok_or_else(taken)?;
                    Err(if gone == channel.owner_id {
                        Error::ChannelOwnerNotFound(gone)
                    } else {
                        Error::UserNotFound(gone)
                    })
                }
                Err(TransactError::Refused(_)) => Err(taken()),
                Err(TransactError::Failed(e)) => Err(e),
            };
        }

        let (first, rest) = member_items.split_at(MAX_TRANSACT_ACTIONS - 1);
        if 1 + rest.len() > MAX_TRANSACT_ACTIONS {
            return Err(Error::Internal(format!(
                "{} memberships do not fit two transactions",
                members.len()
            )));
        }
        let token = random_hex(16);
        channel_item.pending_token = Some(token.clone());
        channel_item.pending_since = Some(now_ms());
        let mut actions = vec![put(table, encode(&channel_item)?, new_channel)?];
        for item in first {
            actions.push(put(table, item.clone(), None)?);
        }
        match self.transact("create channel (1 of 2)", actions).await {
            Ok(()) => {}
            Err(TransactError::Refused(_)) => return Err(taken()),
            Err(TransactError::Failed(e)) => return Err(e),
        }

        let activate = Update::builder()
            .table_name(table)
            .key("pk", s(&pk))
            .key("sk", s(keys::CHANNEL_SK))
            .update_expression("REMOVE pending_token, pending_since")
            .condition_expression("pending_token = :t")
            .expression_attribute_values(":t", s(&token))
            .build()
            .map_err(|e| action_error("update", e))?;
        let mut actions = vec![TransactWriteItem::builder().update(activate).build()];
        for item in rest {
            actions.push(put(table, item.clone(), None)?);
        }
        let err = match self.transact("create channel (2 of 2)", actions).await {
            Ok(()) => return Ok(()),
            Err(TransactError::Refused(_)) => {
                Error::Internal("pending channel was cleared during its creation".into())
            }
            Err(TransactError::Failed(e)) => e,
        };
        // Undo the first transaction, so a failed request leaves nothing behind.
        let mut undo = vec![
            TransactWriteItem::builder()
                .delete(
                    Delete::builder()
                        .table_name(table)
                        .key("pk", s(&pk))
                        .key("sk", s(keys::CHANNEL_SK))
                        .condition_expression("pending_token = :t")
                        .expression_attribute_values(":t", s(&token))
                        .build()
                        .map_err(|e| action_error("delete", e))?,
                )
                .build(),
        ];
        for item in first {
            let sk = item_key(item, "sk")?;
            undo.push(
                TransactWriteItem::builder()
                    .delete(delete(table, &pk, &sk)?)
                    .build(),
            );
        }
        match self.transact("undo channel creation", undo).await {
            Ok(()) => {}
            Err(TransactError::Refused(_)) => {
                tracing::error!(channel = %channel.id, "pending channel vanished before its undo");
            }
            Err(TransactError::Failed(e)) => {
                tracing::error!(channel = %channel.id, error = %e, "undo failed; the pending channel is left for a later creation to clear");
            }
        }
        Err(err)
    }

    /// Deletes an abandoned pending channel (see `create_channel`) and its memberships.
    /// True if it did; false if there is nothing abandoned under the id.
    pub async fn clear_abandoned(&self, app_id: &str, channel_id: &str) -> Result<bool, Error> {
        let pk = keys::channel_pk(app_id, channel_id);
        // The channel item alone first: a taken id is usually a live channel, whose
        // members (a super channel may have many) need not be read to say so.
        let Some(channel) = self.channel_item(app_id, channel_id).await? else {
            return Ok(false);
        };
        let (Some(token), Some(since)) = (channel.pending_token, channel.pending_since) else {
            return Ok(false);
        };
        if !self.is_abandoned(since) {
            return Ok(false);
        }
        let items = self.partition(&pk, None).await?;
        if items.len() > MAX_TRANSACT_ACTIONS {
            return Err(Error::Internal(format!(
                "abandoned channel {channel_id} has {} items",
                items.len()
            )));
        }
        let mut actions = Vec::with_capacity(items.len());
        for item in &items {
            let sk = item_key(item, "sk")?;
            let mut d = Delete::builder()
                .table_name(self.table())
                .key("pk", s(&pk))
                .key("sk", s(&sk));
            if sk == keys::CHANNEL_SK {
                d = d
                    .condition_expression("pending_token = :t")
                    .expression_attribute_values(":t", s(&token));
            }
            let d = d.build().map_err(|e| action_error("delete", e))?;
            actions.push(TransactWriteItem::builder().delete(d).build());
        }
        match self.transact("clear abandoned channel", actions).await {
            Ok(()) => {
                tracing::warn!(
                    channel = channel_id,
                    "cleared an abandoned channel creation"
                );
                Ok(true)
            }
            // Someone else cleared it first; the id is free either way.
            Err(TransactError::Refused(_)) => Ok(true),
            Err(TransactError::Failed(e)) => Err(e),
        }
    }

    /// The channel item alone (tombstone or pending included), strongly consistent.
    pub(super) async fn channel_item(
        &self,
        app_id: &str,
        channel_id: &str,
    ) -> Result<Option<ChannelItem>, Error> {
        let out = retrying(|| {
            self.client
                .get_item()
                .table_name(self.table())
                .key("pk", s(keys::channel_pk(app_id, channel_id)))
                .key("sk", s(keys::CHANNEL_SK))
                .consistent_read(true)
                .send()
        })
        .await
        .map_err(|e| storage_error("read channel", e))?;
        out.item.map(decode).transpose()
    }

    fn is_abandoned(&self, pending_since: i64) -> bool {
        let age = now_ms().saturating_sub(pending_since);
        u128::try_from(age).unwrap_or(0) >= self.abandon_after.as_millis()
    }

    /// A channel whose creation is between its transactions (marked since `since`).
    fn creation_state(&self, since: i64) -> ChannelLookup {
        if self.is_abandoned(since) {
            ChannelLookup::Abandoned
        } else {
            ChannelLookup::InProgress
        }
    }

    /// The channel item alone, for a writer that needs the channel's owner, type and state
    /// but none of its members (one GetItem instead of the channel read's two queries).
    /// `Found` carries the channel with no members, bots or bans read, and `unfinished` set
    /// when a membership change is between its transactions.
    pub async fn channel_head(
        &self,
        app_id: &str,
        channel_id: &str,
    ) -> Result<ChannelLookup, Error> {
        let item = self.channel_item(app_id, channel_id).await?;
        self.lookup(item)
    }

    /// How many bots a live channel has (`None`: no such channel). The webhook dispatcher's
    /// test of whether a message can reach any bot's callback, before it reads the channel.
    pub async fn channel_bot_count(
        &self,
        app_id: &str,
        channel_id: &str,
    ) -> Result<Option<i64>, Error> {
        Ok(self
            .channel_item(app_id, channel_id)
            .await?
            .filter(|c| c.deleted_at.is_none())
            .map(|c| c.bot_count))
    }

    /// What a channel item read alone says (see `channel_head`).
    pub(super) fn lookup(&self, item: Option<ChannelItem>) -> Result<ChannelLookup, Error> {
        let Some(item) = item.filter(|c| c.deleted_at.is_none()) else {
            return Ok(ChannelLookup::Missing);
        };
        if let (Some(since), None) = (item.pending_since, &item.pending_rest) {
            return Ok(self.creation_state(since));
        }
        let (ban_seq, unfinished) = (item.ban_seq, item.pending_rest.is_some());
        Ok(ChannelLookup::Found(Box::new(ChannelMembers {
            channel: Channel::try_from(item)?,
            members: Vec::new(),
            bot_ids: Vec::new(),
            bans: Vec::new(),
            ban_seq,
            pending: None,
            unfinished,
            last_message: None,
        })))
    }

    /// The channel with its ordinary memberships and bot memberships (one strongly
    /// consistent query), its first bans and its newest message (two more queries beside
    /// it). A deleted channel is `Missing`; a channel with a membership change between its
    /// transactions is shown with the change done (see `store::members`).
    pub async fn channel(&self, app_id: &str, channel_id: &str) -> Result<ChannelLookup, Error> {
        self.read_channel(app_id, channel_id, true).await
    }

    /// A deleted channel as it was (its tombstone), `None` if it is not a deleted channel: the
    /// realtime fan-out's `channelRemoved`, sent as the channel's memberships are swept.
    pub async fn removed_channel(
        &self,
        app_id: &str,
        channel_id: &str,
    ) -> Result<Option<Channel>, Error> {
        match self.channel_item(app_id, channel_id).await? {
            Some(item) if item.deleted_at.is_some() => Channel::try_from(item).map(Some),
            _ => Ok(None),
        }
    }

    /// `channel` without the newest message, for reads that show members rather than the
    /// channel object (`last_message` is `None`): two queries.
    pub async fn channel_for_members(
        &self,
        app_id: &str,
        channel_id: &str,
    ) -> Result<ChannelLookup, Error> {
        self.read_channel(app_id, channel_id, false).await
    }

    async fn read_channel(
        &self,
        app_id: &str,
        channel_id: &str,
        with_last_message: bool,
    ) -> Result<ChannelLookup, Error> {
        let pk = keys::channel_pk(app_id, channel_id);
        let last_message = async {
            if with_last_message {
                self.latest_message(app_id, channel_id).await
            } else {
                Ok(None)
            }
        };
        let (items, bans, last_message) = futures::future::try_join3(
            self.partition(&pk, Some(keys::CHANNEL_READ_RANGE)),
            self.bans_page(app_id, channel_id, None, MAX_BANS_SHOWN),
            last_message,
        )
        .await?;
        let mut channel = None;
        let mut members = Vec::new();
        let mut bot_ids = Vec::new();
        for item in items {
            let sk = item_key(&item, "sk")?;
            if sk == keys::CHANNEL_SK {
                channel = Some(decode::<ChannelItem>(item)?);
            } else if sk.starts_with(keys::MEMBER_PREFIX) {
                members.push(Membership::from(decode::<MembershipItem>(item)?));
            } else if let Some(bot_id) = sk.strip_prefix(keys::BOT_MEMBER_PREFIX) {
                bot_ids.push(bot_id.to_owned());
            }
        }
        let Some(channel) = channel.filter(|c| c.deleted_at.is_none()) else {
            return Ok(ChannelLookup::Missing);
        };
        let mut bans = bans.items;
        let mut pending = None;
        if let Some(since) = channel.pending_since {
            match &channel.pending_rest {
                Some(rest) => {
                    let rest = decode_pending(rest)?;
                    apply_pending(&mut members, &mut bans, &rest, since);
                    pending = Some((since, rest));
                }
                None => return Ok(self.creation_state(since)),
            }
        }
        let ban_seq = channel.ban_seq;
        Ok(ChannelLookup::Found(Box::new(ChannelMembers {
            channel: Channel::try_from(channel)?,
            members,
            bot_ids,
            bans,
            ban_seq,
            unfinished: pending.is_some(),
            pending,
            last_message,
        })))
    }

    /// Every item of partition `pk` (or of the sort key range `range`), strongly consistent.
    async fn partition(&self, pk: &str, range: Option<(&str, &str)>) -> Result<Vec<Item>, Error> {
        let mut values = HashMap::from([(":pk".to_owned(), s(pk))]);
        let condition = match range {
            Some((lo, hi)) => {
                values.insert(":lo".to_owned(), s(lo));
                values.insert(":hi".to_owned(), s(hi));
                "pk = :pk AND sk BETWEEN :lo AND :hi"
            }
            None => "pk = :pk",
        };
        let mut items = Vec::new();
        let mut start: Option<Item> = None;
        loop {
            let out = retrying(|| {
                self.client
                    .query()
                    .table_name(self.table())
                    .key_condition_expression(condition)
                    .set_expression_attribute_values(Some(values.clone()))
                    .consistent_read(true)
                    .set_exclusive_start_key(start.clone())
                    .send()
            })
            .await
            .map_err(|e| storage_error("read channel", e))?;
            items.extend(out.items.unwrap_or_default());
            start = out.last_evaluated_key;
            if start.is_none() {
                return Ok(items);
            }
        }
    }

    /// Ids of the channels `user_id` is a member of, in id order, strictly after `after`.
    /// Read from the reverse index, which is eventually consistent.
    pub async fn user_channel_ids(
        &self,
        app_id: &str,
        user_id: &str,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Page<String>, Error> {
        self.user_channel_ids_hidden(app_id, user_id, after, limit, None)
            .await
    }

    /// `user_channel_ids` of the channels the user has hidden (`Some(true)`), has not
    /// (`Some(false)`), or all (`None`): the memberships in the index carry the flag.
    pub async fn user_channel_ids_hidden(
        &self,
        app_id: &str,
        user_id: &str,
        after: Option<&str>,
        limit: usize,
        hidden: Option<bool>,
    ) -> Result<Page<String>, Error> {
        let filter = hidden.map(|h| {
            let values = HashMap::from([(":h".to_owned(), AttributeValue::Bool(true))]);
            // `hidden` is a reserved word: named `#hidden` (see `index_page_where`).
            let expression = if h {
                "#hidden = :h"
            } else {
                "attribute_not_exists(#hidden) OR #hidden <> :h"
            };
            (expression.to_owned(), values)
        });
        self.index_page_where(
            keys::user_channels_index(app_id, user_id),
            after,
            limit,
            filter,
            |i| item_key(&i, "gsi1sk"),
        )
        .await
    }

    /// The user's unread messages over all their non-super channels: their memberships from
    /// the index (each page of it; the index is eventually consistent, so a membership of
    /// the last moment may be missing), then the channels' counters in batches of 100, read
    /// side by side.
    pub async fn unread_total(&self, app_id: &str, user_id: &str) -> Result<i64, Error> {
        let mut marks: Vec<(String, i64)> = Vec::new();
        let mut after: Option<String> = None;
        loop {
            let page = self
                .user_memberships_page(app_id, user_id, after.as_deref(), 1000)
                .await?;
            after = page.items.last().map(|m| m.channel_id.clone());
            marks.extend(
                page.items
                    .into_iter()
                    .filter(|m| !m.is_super())
                    .map(|m| (m.channel_id, m.read_count + m.sent_since_read)),
            );
            if !page.has_next {
                break;
            }
        }
        let counts = self
            .message_counts(app_id, marks.iter().map(|(id, _)| id.as_str()))
            .await?;
        Ok(marks
            .into_iter()
            .filter_map(|(id, mark)| counts.get(&id).map(|count| (count - mark).max(0)))
            .sum())
    }

    /// The users among `ids` that exist, by id (see `get_many`).
    pub async fn users_by_id(
        &self,
        app_id: &str,
        ids: &[String],
    ) -> Result<HashMap<String, User>, Error> {
        let keys = ids
            .iter()
            .map(|id| (keys::user_pk(app_id, id), keys::USER_SK.to_owned()))
            .collect();
        let mut users = HashMap::new();
        for item in self.get_many(keys).await? {
            if let Some(u) = live_user(item)? {
                users.insert(u.id.clone(), u);
            }
        }
        Ok(users)
    }

    /// The items under these (pk, sk) keys that exist: strongly consistent BatchGetItem
    /// calls of at most 100 keys each, run in parallel, each retried until no key is left
    /// unprocessed. A key named twice is read once: BatchGetItem refuses a request that
    /// repeats a key, and callers that gather keys from user input can repeat one.
    pub(super) async fn get_many(
        &self,
        mut keys: Vec<(String, String)>,
    ) -> Result<Vec<Item>, Error> {
        keys.sort_unstable();
        keys.dedup();
        let batches = futures::future::try_join_all(
            keys.chunks(MAX_BATCH_GET_KEYS)
                .map(|chunk| self.get_batch(chunk)),
        )
        .await?;
        Ok(batches.into_iter().flatten().collect())
    }

    async fn get_batch(&self, keys: &[(String, String)]) -> Result<Vec<Item>, Error> {
        let keys = keys
            .iter()
            .map(|(pk, sk)| HashMap::from([("pk".to_owned(), s(pk)), ("sk".to_owned(), s(sk))]))
            .collect();
        let request = KeysAndAttributes::builder()
            .set_keys(Some(keys))
            .consistent_read(true)
            .build()
            .map_err(|e| action_error("batch get", e))?;
        let mut pending = HashMap::from([(self.table().to_owned(), request)]);
        let mut items = Vec::new();
        let mut attempt = 0;
        loop {
            let mut out = retrying(|| {
                self.client
                    .batch_get_item()
                    .set_request_items(Some(pending.clone()))
                    .send()
            })
            .await
            .map_err(|e| storage_error("batch read", e))?;
            items.extend(
                out.responses
                    .as_mut()
                    .and_then(|r| r.remove(self.table()))
                    .unwrap_or_default(),
            );
            match out.unprocessed_keys.filter(|u| !u.is_empty()) {
                None => return Ok(items),
                Some(left) => {
                    attempt += 1;
                    if attempt >= MAX_ATTEMPTS {
                        return Err(Error::Unavailable(
                            "batch read: keys left unprocessed after retries".into(),
                        ));
                    }
                    pause(attempt).await;
                    pending = left;
                }
            }
        }
    }

    /// Runs one transaction (retrying conflicts and throttling). A retried call carries the
    /// same client request token, so DynamoDB answers a retry of a transaction that already
    /// applied with success instead of failing it on its own conditions.
    /// `transact` for a write whose refusal is an answer: true when it committed, false when
    /// a condition refused it (nothing written).
    pub(super) async fn transact_applied(
        &self,
        what: &str,
        actions: Vec<TransactWriteItem>,
    ) -> Result<bool, Error> {
        match self.transact(what, actions).await {
            Ok(()) => Ok(true),
            Err(TransactError::Refused(_)) => Ok(false),
            Err(TransactError::Failed(e)) => Err(e),
        }
    }

    pub(super) async fn transact(
        &self,
        what: &str,
        actions: Vec<TransactWriteItem>,
    ) -> Result<(), TransactError> {
        self.may_write().await.map_err(TransactError::Failed)?;
        let token = random_hex(16);
        let res = retrying(|| {
            self.client
                .transact_write_items()
                .set_transact_items(Some(actions.clone()))
                .client_request_token(&token)
                .send()
        })
        .await;
        match res {
            Ok(_) => Ok(()),
            Err(err) => match refused_actions(&err) {
                Some(refused) => Err(TransactError::Refused(refused)),
                None => Err(TransactError::Failed(storage_error(what, err))),
            },
        }
    }
}

/// For a transaction cancelled because conditions failed, the indices of those actions.
fn refused_actions<R>(err: &SdkError<TransactWriteItemsError, R>) -> Option<Vec<usize>> {
    let Some(TransactWriteItemsError::TransactionCanceledException(e)) = err.as_service_error()
    else {
        return None;
    };
    let refused: Vec<usize> = e
        .cancellation_reasons()
        .iter()
        .enumerate()
        .filter(|(_, r)| r.code() == Some("ConditionalCheckFailed"))
        .map(|(i, _)| i)
        .collect();
    (!refused.is_empty()).then_some(refused)
}

fn channel_item(app_id: &str, c: &Channel) -> ChannelItem {
    ChannelItem {
        pk: keys::channel_pk(app_id, &c.id),
        sk: keys::CHANNEL_SK.into(),
        gsi1pk: Some(keys::channels_index(app_id)),
        gsi1sk: Some(c.id.clone()),
        entity: "channel".into(),
        channel_id: c.id.clone(),
        channel_type: c.channel_type.as_str().into(),
        name: c.name.clone(),
        owner_id: c.owner_id.clone(),
        image_url: c.image_url.clone(),
        invitation_code: c.invitation_code.clone(),
        is_frozen: c.is_frozen,
        hide_messages_before_join: c.hide_messages_before_join,
        category: c.category.clone(),
        subcategory: c.subcategory.clone(),
        data: c.data.clone(),
        member_count: c.member_count,
        max_member_count: c.max_member_count,
        message_count: c.message_count,
        bot_count: 0,
        created_at: c.created_at,
        updated_at: c.updated_at,
        pending_token: None,
        pending_since: None,
        pending_rest: None,
        ban_seq: 0,
        deleted_at: None,
        sweep_round: None,
    }
}

pub(super) fn membership_item(app_id: &str, c: &Channel, m: &Membership) -> MembershipItem {
    MembershipItem {
        pk: keys::channel_pk(app_id, &c.id),
        sk: keys::member_sk(c.channel_type, &m.user_id),
        gsi1pk: keys::user_channels_index(app_id, &m.user_id),
        gsi1sk: c.id.clone(),
        entity: "membership".into(),
        channel_id: c.id.clone(),
        user_id: m.user_id.clone(),
        member_info: m.member_info.clone(),
        last_read_at: m.last_read_at,
        last_sent_at: m.last_sent_at,
        read_count: m.read_count,
        sent_since_read: m.sent_since_read,
        hidden: m.hidden,
        push_disabled: m.push_disabled,
        push_sound_aos: m.push_sound_aos.clone(),
        push_sound_ios: m.push_sound_ios.clone(),
        private_tag: m.private_tag.clone(),
        private_data: m.private_data.clone(),
        created_at: m.created_at,
        updated_at: m.updated_at,
        mute_expires_at: m.mute_expires_at,
        peer_muted_by: m.peers.muted_by.clone(),
        peer_muted_by_version: m.peers.muted_by_version,
        peer_muting: m.peers.muting.clone(),
        peer_muting_version: m.peers.muting_version,
    }
}

impl TryFrom<ChannelItem> for Channel {
    type Error = Error;

    fn try_from(i: ChannelItem) -> Result<Self, Error> {
        let channel_type = ChannelType::parse(&i.channel_type)
            .ok_or_else(|| Error::Internal(format!("stored channel type {:?}", i.channel_type)))?;
        Ok(Channel {
            id: i.channel_id,
            channel_type,
            name: i.name,
            owner_id: i.owner_id,
            image_url: i.image_url,
            invitation_code: i.invitation_code,
            is_frozen: i.is_frozen,
            hide_messages_before_join: i.hide_messages_before_join,
            category: i.category,
            subcategory: i.subcategory,
            data: i.data,
            member_count: i.member_count,
            max_member_count: i.max_member_count,
            message_count: i.message_count,
            created_at: i.created_at,
            updated_at: i.updated_at,
        })
    }
}

impl From<MembershipItem> for Membership {
    fn from(i: MembershipItem) -> Self {
        Membership {
            user_id: i.user_id,
            member_info: i.member_info,
            last_read_at: i.last_read_at,
            last_sent_at: i.last_sent_at,
            read_count: i.read_count,
            sent_since_read: i.sent_since_read,
            hidden: i.hidden,
            push_disabled: i.push_disabled,
            push_sound_aos: i.push_sound_aos,
            push_sound_ios: i.push_sound_ios,
            private_tag: i.private_tag,
            private_data: i.private_data,
            created_at: i.created_at,
            updated_at: i.updated_at,
            mute_expires_at: i.mute_expires_at,
            peers: crate::model::PeerMutes {
                muted_by: i.peer_muted_by,
                muted_by_version: i.peer_muted_by_version,
                muting: i.peer_muting,
                muting_version: i.peer_muting_version,
            },
        }
    }
}
