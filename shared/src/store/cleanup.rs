//! Deleting a channel, and the app's channel list.
//!
//! A delete turns the channel item into a tombstone in one conditional write: from then on
//! the channel is absent for every reader (view, lists, a user's or a bot's channels) and no
//! membership, ban or bot can be written under it (every such write is conditioned on the
//! channel item not being a tombstone), and its id cannot be taken again. Then the partition
//! is swept: its items are deleted in BatchWriteItem calls, which also removes their entries
//! from the reverse indexes; the tombstone goes last. A sweep works within a time budget; what
//! it leaves is picked up from the tombstone's index entry (`#CLEANUP`) by the next run.

use std::collections::HashMap;
use std::time::Duration;

use aws_sdk_dynamodb::types::{AttributeValue, DeleteRequest, ReturnValue, WriteRequest};

use super::channels::item_key;
use super::retry::{MAX_ATTEMPTS, applied, condition_failed, pause, retrying, storage_error};
use super::{Item, Store, keys, s};
use crate::Error;
use crate::model::{Channel, Page};

/// DynamoDB's limit on the requests of one BatchWriteItem call.
pub(super) const MAX_BATCH_WRITE: usize = 25;
/// BatchWriteItem calls a sweep runs at once, and the items it reads per query page.
const SWEEP_CONCURRENCY: usize = 8;
const SWEEP_PAGE: i32 = 1_000;

/// Filters of the channel lists.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ChannelFilter {
    pub channel_type: Option<String>,
    pub category: Option<String>,
    pub subcategory: Option<String>,
}

impl ChannelFilter {
    pub fn is_empty(&self) -> bool {
        self.channel_type.is_none() && self.category.is_none() && self.subcategory.is_none()
    }

    pub fn matches(&self, c: &Channel) -> bool {
        self.channel_type
            .as_deref()
            .is_none_or(|t| c.channel_type.as_str() == t)
            && self.category.as_deref().is_none_or(|v| c.category == v)
            && self
                .subcategory
                .as_deref()
                .is_none_or(|v| c.subcategory == v)
    }
}

/// A deleted channel or user whose items are being swept, or a job over a user's channels
/// that outgrew its request: the work the sweeper finishes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Swept {
    Channel {
        app_id: String,
        channel_id: String,
    },
    User {
        app_id: String,
        user_id: String,
    },
    Job {
        app_id: String,
        user_id: String,
        kind: super::jobs::JobKind,
    },
}

impl Swept {
    /// What a tombstone's keys name (`None` for any other item).
    pub fn from_keys(pk: &str, sk: &str) -> Option<Swept> {
        let (app_id, kind, id) = {
            let mut parts = pk.splitn(3, '#');
            (parts.next()?, parts.next()?, parts.next()?)
        };
        let (app_id, id) = (app_id.to_owned(), id.to_owned());
        match (kind, sk) {
            ("CHANNEL", keys::CHANNEL_SK) => Some(Swept::Channel {
                app_id,
                channel_id: id,
            }),
            ("USER", keys::USER_SK) => Some(Swept::User {
                app_id,
                user_id: id,
            }),
            ("USER", sk) => Some(Swept::Job {
                app_id,
                user_id: id,
                kind: super::jobs::JobKind::parse(sk.strip_prefix(keys::JOB_PREFIX)?)?,
            }),
            _ => None,
        }
    }

    fn tombstone_key(&self) -> (String, String) {
        match self {
            Swept::Channel { app_id, channel_id } => (
                keys::channel_pk(app_id, channel_id),
                keys::CHANNEL_SK.to_owned(),
            ),
            Swept::User { app_id, user_id } => {
                (keys::user_pk(app_id, user_id), keys::USER_SK.to_owned())
            }
            Swept::Job {
                app_id,
                user_id,
                kind,
            } => (keys::user_pk(app_id, user_id), keys::job_sk(kind.as_str())),
        }
    }
}

/// How far clearing one partition got.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Cleared {
    /// The partition has no tombstone: nothing to sweep.
    NoTombstone,
    /// Everything but the tombstone is gone (for a partition without one: everything).
    TombstoneLeft,
    /// The budget ran out first.
    More,
}

/// How far a sweep got.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SweepOutcome {
    /// The partition and the tombstone are gone.
    Done,
    /// The budget ran out; the tombstone and some items remain.
    More,
}

impl Store {
    /// Makes the channel a tombstone (see the module docs). True if there was a channel or a
    /// tombstone; false if neither (or only a creation still between its transactions).
    /// With `owner` (the client API), only a live channel that user owns.
    pub async fn delete_channel(
        &self,
        app_id: &str,
        channel_id: &str,
        owner: Option<&str>,
        now: i64,
    ) -> Result<bool, Error> {
        let extra = owner.map(|o| {
            (
                "owner_id = :extra AND attribute_not_exists(deleted_at)",
                s(o),
            )
        });
        self.delete_channel_if(app_id, channel_id, extra, now).await
    }

    /// Deletes a live channel only while it has no members (a leave's `deleteChannelIfEmpty`).
    pub async fn delete_empty_channel(
        &self,
        app_id: &str,
        channel_id: &str,
        now: i64,
    ) -> Result<bool, Error> {
        let extra = (
            "member_count = :extra AND attribute_not_exists(deleted_at)",
            AttributeValue::N("0".into()),
        );
        self.delete_channel_if(app_id, channel_id, Some(extra), now)
            .await
    }

    async fn delete_channel_if(
        &self,
        app_id: &str,
        channel_id: &str,
        extra: Option<(&str, AttributeValue)>,
        now: i64,
    ) -> Result<bool, Error> {
        self.may_write().await?;
        let mut condition = "attribute_exists(pk) AND (attribute_not_exists(pending_token) \
                             OR attribute_exists(pending_rest) OR attribute_exists(deleted_at))"
            .to_owned();
        let extra_value = extra.map(|(cond, value)| {
            condition.push_str(" AND ");
            condition.push_str(cond);
            value
        });
        let res = retrying(|| {
            self.client
                .update_item()
                .table_name(self.table())
                .key("pk", s(keys::channel_pk(app_id, channel_id)))
                .key("sk", s(keys::CHANNEL_SK))
                .update_expression(
                    "SET deleted_at = if_not_exists(deleted_at, :now), gsi1pk = :cleanup, \
                     gsi1sk = :entry REMOVE pending_token, pending_since, pending_rest",
                )
                // A creation between its two transactions does not exist yet; a pending
                // membership change is dropped with everything else.
                .condition_expression(&condition)
                .set_expression_attribute_values(
                    extra_value
                        .clone()
                        .map(|v| std::collections::HashMap::from([(":extra".to_owned(), v)])),
                )
                .expression_attribute_values(":now", AttributeValue::N(now.to_string()))
                .expression_attribute_values(":cleanup", s(keys::CLEANUP_INDEX))
                .expression_attribute_values(":entry", s(keys::cleanup_entry(app_id, channel_id)))
                .return_values(ReturnValue::None)
                .send()
        })
        .await;
        applied(res, "delete channel")
    }

    /// Deletes the items of a deleted channel's partition, then its messages, the tombstone
    /// last, until done or `budget` has passed. Safe to run several times at once.
    ///
    /// Messages go after the memberships: a send commits only while its sender's membership
    /// (or for a message without a sender, the live channel item) is there, so once the
    /// memberships are gone no message can be added behind the sweep.
    pub async fn sweep_channel(
        &self,
        app_id: &str,
        channel_id: &str,
        budget: Duration,
    ) -> Result<SweepOutcome, Error> {
        let deadline = tokio::time::Instant::now() + budget;
        let pk = keys::channel_pk(app_id, channel_id);
        match self
            .clear_partition(&pk, keys::CHANNEL_SK, deadline)
            .await?
        {
            Cleared::NoTombstone => Ok(SweepOutcome::Done),
            Cleared::More => Ok(SweepOutcome::More),
            Cleared::TombstoneLeft => {
                let messages = keys::messages_pk(app_id, channel_id);
                if self.clear_partition(&messages, "", deadline).await? == Cleared::More {
                    return Ok(SweepOutcome::More);
                }
                self.delete_tombstone(&pk, keys::CHANNEL_SK).await?;
                Ok(SweepOutcome::Done)
            }
        }
    }

    /// Deletes the items left in a deleted user's partition (devices); the tombstone too when
    /// `close` (the caller has swept everything the user had elsewhere).
    pub async fn sweep_user_partition(
        &self,
        app_id: &str,
        user_id: &str,
        budget: Duration,
        close: bool,
    ) -> Result<SweepOutcome, Error> {
        let deadline = tokio::time::Instant::now() + budget;
        let pk = keys::user_pk(app_id, user_id);
        match self.clear_partition(&pk, keys::USER_SK, deadline).await? {
            Cleared::NoTombstone => Ok(SweepOutcome::Done),
            Cleared::TombstoneLeft if close => {
                self.delete_tombstone(&pk, keys::USER_SK).await?;
                Ok(SweepOutcome::Done)
            }
            Cleared::TombstoneLeft | Cleared::More => Ok(SweepOutcome::More),
        }
    }

    /// Deletes the items of partition `pk` but its tombstone (the item `tombstone_sk` with
    /// `deleted_at`), until only that is left or `deadline` passes. With `tombstone_sk` ""
    /// the partition has no tombstone of its own (a deleted channel's messages; the caller
    /// holds the channel's): everything in it goes.
    async fn clear_partition(
        &self,
        pk: &str,
        tombstone_sk: &str,
        deadline: tokio::time::Instant,
    ) -> Result<Cleared, Error> {
        let is_tombstone =
            |i: &Item| matches!(i.get("sk"), Some(AttributeValue::S(sk)) if sk == tombstone_sk);
        loop {
            let out = retrying(|| {
                self.client
                    .query()
                    .table_name(self.table())
                    .key_condition_expression("pk = :pk")
                    .expression_attribute_values(":pk", s(pk))
                    .projection_expression("pk, sk, deleted_at")
                    .consistent_read(true)
                    .limit(SWEEP_PAGE)
                    .send()
            })
            .await
            .map_err(|e| storage_error("read deleted partition", e))?;
            let items = out.items.unwrap_or_default();
            if !tombstone_sk.is_empty() {
                // No tombstone: nothing was deleted here (or it is gone already); a sweep
                // must never touch a live partition.
                match items.iter().find(|i| is_tombstone(i)) {
                    Some(t) if t.contains_key("deleted_at") => {}
                    _ => return Ok(Cleared::NoTombstone),
                }
            }
            let rest: Vec<Item> = items.into_iter().filter(|i| !is_tombstone(i)).collect();
            if rest.is_empty() {
                return Ok(Cleared::TombstoneLeft);
            }
            let batches: Vec<&[Item]> = rest.chunks(MAX_BATCH_WRITE).collect();
            for wave in batches.chunks(SWEEP_CONCURRENCY) {
                futures::future::try_join_all(wave.iter().map(|b| self.delete_batch(b))).await?;
            }
            if tokio::time::Instant::now() >= deadline {
                return Ok(Cleared::More);
            }
        }
    }

    async fn delete_tombstone(&self, pk: &str, sk: &str) -> Result<(), Error> {
        self.may_write().await?;
        let res = retrying(|| {
            self.client
                .delete_item()
                .table_name(self.table())
                .key("pk", s(pk))
                .key("sk", s(sk))
                .condition_expression("attribute_exists(deleted_at)")
                .send()
        })
        .await;
        match res {
            Ok(_) => Ok(()),
            Err(e) if condition_failed(&e) => Ok(()),
            Err(e) => Err(storage_error("delete tombstone", e)),
        }
    }

    async fn delete_batch(&self, items: &[Item]) -> Result<(), Error> {
        let requests = items
            .iter()
            .map(|i| {
                let key: Item = ["pk", "sk"]
                    .into_iter()
                    .filter_map(|k| i.get(k).map(|v| (k.to_owned(), v.clone())))
                    .collect();
                let d = DeleteRequest::builder()
                    .set_key(Some(key))
                    .build()
                    .map_err(|e| Error::Internal(format!("build delete request: {e}")))?;
                Ok(WriteRequest::builder().delete_request(d).build())
            })
            .collect::<Result<Vec<_>, Error>>()?;
        self.write_batch("sweep deleted channel", requests).await
    }

    /// One BatchWriteItem call (at most `MAX_BATCH_WRITE` requests), retried until nothing
    /// is left unprocessed.
    pub(super) async fn write_batch(
        &self,
        what: &str,
        mut requests: Vec<WriteRequest>,
    ) -> Result<(), Error> {
        self.may_write().await?;
        let mut attempt = 0;
        loop {
            let batch = HashMap::from([(self.table().to_owned(), requests.clone())]);
            let out = retrying(|| {
                self.client
                    .batch_write_item()
                    .set_request_items(Some(batch.clone()))
                    .send()
            })
            .await
            .map_err(|e| storage_error(what, e))?;
            requests = out
                .unprocessed_items
                .and_then(|mut u| u.remove(self.table()))
                .unwrap_or_default();
            if requests.is_empty() {
                return Ok(());
            }
            attempt += 1;
            if attempt >= MAX_ATTEMPTS {
                return Err(Error::Unavailable(format!(
                    "{what}: items left unprocessed after retries"
                )));
            }
            pause(attempt).await;
        }
    }

    /// Hands a sweep that ran out of budget on to the next run: a change of the tombstone,
    /// which the change stream delivers to the sweeper (see template.yaml).
    pub async fn rearm_sweep(&self, target: &Swept) -> Result<(), Error> {
        self.may_write().await?;
        let (pk, sk) = target.tombstone_key();
        let res = retrying(|| {
            self.client
                .update_item()
                .table_name(self.table())
                .key("pk", s(&pk))
                .key("sk", s(&sk))
                .update_expression("SET sweep_round = if_not_exists(sweep_round, :zero) + :one")
                .condition_expression("attribute_exists(deleted_at)")
                .expression_attribute_values(":zero", AttributeValue::N("0".into()))
                .expression_attribute_values(":one", AttributeValue::N("1".into()))
                .send()
        })
        .await;
        match res {
            Ok(_) => Ok(()),
            Err(e) if condition_failed(&e) => Ok(()),
            Err(e) => Err(storage_error("rearm sweep", e)),
        }
    }

    /// Deleted channels and users still to be swept, from the eventually consistent index;
    /// at most `limit`.
    pub async fn pending_sweeps(&self, limit: usize) -> Result<Vec<Swept>, Error> {
        let page = self
            .index_page(keys::CLEANUP_INDEX.to_owned(), None, limit, |item| {
                Swept::from_keys(&item_key(&item, "pk")?, &item_key(&item, "sk")?)
                    .ok_or_else(|| Error::Internal("unknown tombstone in the cleanup index".into()))
            })
            .await?;
        Ok(page.items)
    }

    /// Makes the user a tombstone: absent for every reader from now on, its id taken until
    /// the sweep is done. True if there was a user or a tombstone.
    pub async fn delete_user(&self, app_id: &str, user_id: &str, now: i64) -> Result<bool, Error> {
        self.may_write().await?;
        let res = retrying(|| {
            self.client
                .update_item()
                .table_name(self.table())
                .key("pk", s(keys::user_pk(app_id, user_id)))
                .key("sk", s(keys::USER_SK))
                .update_expression(
                    "SET deleted_at = if_not_exists(deleted_at, :now), gsi1pk = :cleanup, \
                     gsi1sk = :entry, login_token_digest = :none, password_hash = :none",
                )
                .condition_expression("attribute_exists(pk)")
                .expression_attribute_values(":now", AttributeValue::N(now.to_string()))
                .expression_attribute_values(":cleanup", s(keys::CLEANUP_INDEX))
                .expression_attribute_values(":entry", s(keys::user_cleanup_entry(app_id, user_id)))
                .expression_attribute_values(":none", s(""))
                .send()
        })
        .await;
        applied(res, "delete user")
    }

    /// Deletes a user's membership items (either kind) of a channel that no longer exists.
    pub async fn remove_stray_membership(
        &self,
        app_id: &str,
        channel_id: &str,
        user_id: &str,
    ) -> Result<(), Error> {
        let pk = s(keys::channel_pk(app_id, channel_id));
        let items: Vec<Item> = keys::member_sks_either(user_id)
            .into_iter()
            .map(|sk| HashMap::from([("pk".to_owned(), pk.clone()), ("sk".to_owned(), s(sk))]))
            .collect();
        self.delete_batch(&items).await
    }

    /// Whether anything is left under a channel id (a tombstone or any item).
    pub async fn channel_partition_exists(
        &self,
        app_id: &str,
        channel_id: &str,
    ) -> Result<bool, Error> {
        let out = retrying(|| {
            self.client
                .query()
                .table_name(self.table())
                .key_condition_expression("pk = :pk")
                .expression_attribute_values(":pk", s(keys::channel_pk(app_id, channel_id)))
                .consistent_read(true)
                .limit(1)
                .select(aws_sdk_dynamodb::types::Select::Count)
                .send()
        })
        .await
        .map_err(|e| storage_error("read channel", e))?;
        Ok(out.count > 0)
    }

    /// Ids of the app's channels in id order after `after`, of those that pass `filter`
    /// (eventually consistent index; channels still being created are left out).
    pub async fn channel_ids(
        &self,
        app_id: &str,
        after: Option<&str>,
        limit: usize,
        filter: &ChannelFilter,
    ) -> Result<Page<String>, Error> {
        let mut conditions = vec![
            "attribute_not_exists(pending_since) OR attribute_exists(pending_rest)".to_owned(),
        ];
        let mut values = HashMap::new();
        for (name, attribute, value) in [
            (":type", "channel_type", &filter.channel_type),
            (":category", "category", &filter.category),
            (":subcategory", "subcategory", &filter.subcategory),
        ] {
            if let Some(v) = value {
                conditions.push(format!("{attribute} = {name}"));
                values.insert(name.to_owned(), s(v));
            }
        }
        let expr = conditions
            .iter()
            .map(|c| format!("({c})"))
            .collect::<Vec<_>>()
            .join(" AND ");
        self.index_page_where(
            keys::channels_index(app_id),
            after,
            limit,
            Some((expr, values)),
            |i| item_key(&i, "gsi1sk"),
        )
        .await
    }
}
