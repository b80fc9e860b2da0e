//! Bots, and their memberships in channels (items in the channel's partition).

use aws_sdk_dynamodb::types::{ConditionCheck, Delete, ReturnValue, TransactWriteItem, Update};

use super::channels::{TransactError, action_error, item_key, put};
use super::items::{BotItem, BotMembershipItem};
use super::retry::{condition_failed, retrying, storage_error};
use super::{SetFields, Store, decode, encode, keys, n, s};
use crate::Error;
use crate::model::{Bot, BotChanges, Page};

/// Bots one channel may hold.
pub const MAX_BOTS_PER_CHANNEL: i64 = 20;

/// What a join or leave transaction found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BotMove {
    /// The membership was written (join) or deleted (leave).
    Changed,
    /// Nothing to do: already in the channel (join) or not in it (leave).
    Unchanged,
    BotMissing,
    /// The channel does not exist for writers (absent or still being created).
    ChannelMissing,
    /// Join only: the channel exists but holds `MAX_BOTS_PER_CHANNEL` bots.
    ChannelRefused,
}

impl Store {
    /// Stores a new bot; `7002` if the id is taken.
    pub async fn create_bot(&self, app_id: &str, bot: &Bot) -> Result<(), Error> {
        let item = encode(&BotItem {
            pk: keys::bot_pk(app_id, &bot.id),
            sk: keys::BOT_SK.into(),
            gsi1pk: keys::bots_index(app_id),
            gsi1sk: bot.id.clone(),
            entity: "bot".into(),
            bot_id: bot.id.clone(),
            name: bot.name.clone(),
            profile_image_url: bot.profile_image_url.clone(),
            bot_type: bot.bot_type.clone(),
            callback_url: bot.callback_url.clone(),
            created_at: bot.created_at,
            updated_at: bot.updated_at,
        })?;
        self.put_new("create bot", item, || Error::BotIdTaken(bot.id.clone()))
            .await
    }

    pub async fn bot(&self, app_id: &str, bot_id: &str) -> Result<Option<Bot>, Error> {
        let out = retrying(|| {
            self.client
                .get_item()
                .table_name(self.table())
                .key("pk", s(keys::bot_pk(app_id, bot_id)))
                .key("sk", s(keys::BOT_SK))
                .consistent_read(true)
                .send()
        })
        .await
        .map_err(|e| storage_error("get bot", e))?;
        out.item
            .map(|i| decode::<BotItem>(i).map(Bot::from))
            .transpose()
    }

    /// Bots in id order, strictly after `after` (eventually consistent index).
    pub async fn bots_after(
        &self,
        app_id: &str,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Page<Bot>, Error> {
        self.index_page(keys::bots_index(app_id), after, limit, |i| {
            decode::<BotItem>(i).map(Bot::from)
        })
        .await
    }

    /// Applies `changes`; returns the bot as stored afterwards, `7001` if there is none.
    pub async fn update_bot(
        &self,
        app_id: &str,
        bot_id: &str,
        changes: &BotChanges,
        now: i64,
    ) -> Result<Bot, Error> {
        self.may_write().await?;
        let fields = [
            ("name", &changes.name),
            ("profile_image_url", &changes.profile_image_url),
            ("bot_type", &changes.bot_type),
            ("callback_url", &changes.callback_url),
        ]
        .into_iter()
        .filter_map(|(attribute, value)| value.as_ref().map(|v| (attribute, s(v))))
        .collect();
        let SetFields {
            expression: expr,
            names,
            values,
        } = SetFields::new(now, fields);
        let res = retrying(|| {
            self.client
                .update_item()
                .table_name(self.table())
                .key("pk", s(keys::bot_pk(app_id, bot_id)))
                .key("sk", s(keys::BOT_SK))
                .update_expression(&expr)
                .condition_expression("attribute_exists(pk)")
                .set_expression_attribute_names(Some(names.clone()))
                .set_expression_attribute_values(Some(values.clone()))
                .return_values(ReturnValue::AllNew)
                .send()
        })
        .await;
        match res {
            Ok(out) => {
                let item = out
                    .attributes
                    .ok_or_else(|| Error::Internal("update returned no attributes".into()))?;
                Ok(Bot::from(decode::<BotItem>(item)?))
            }
            Err(e) if condition_failed(&e) => Err(Error::BotNotFound(bot_id.to_owned())),
            Err(e) => Err(storage_error("update bot", e)),
        }
    }

    /// Deletes the bot item; true if there was one. Its memberships are removed separately
    /// (`bot_channel_ids` + `remove_bot_membership`).
    pub async fn delete_bot(&self, app_id: &str, bot_id: &str) -> Result<bool, Error> {
        self.may_write().await?;
        let out = retrying(|| {
            self.client
                .delete_item()
                .table_name(self.table())
                .key("pk", s(keys::bot_pk(app_id, bot_id)))
                .key("sk", s(keys::BOT_SK))
                .return_values(ReturnValue::AllOld)
                .send()
        })
        .await
        .map_err(|e| storage_error("delete bot", e))?;
        Ok(out.attributes.is_some_and(|a| !a.is_empty()))
    }

    /// Ids of the channels a bot has joined, in id order, strictly after `after` (eventually
    /// consistent index).
    pub async fn bot_channel_ids(
        &self,
        app_id: &str,
        bot_id: &str,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Page<String>, Error> {
        self.index_page(
            keys::bot_channels_index(app_id, bot_id),
            after,
            limit,
            |i| item_key(&i, "gsi1sk"),
        )
        .await
    }

    /// Adds a bot to a channel in one transaction: the bot must exist, the channel must exist
    /// (and not be mid-creation) with fewer than 20 bots, and the membership must be new; the
    /// channel's bot count moves with the membership.
    pub async fn join_bot(
        &self,
        app_id: &str,
        bot_id: &str,
        channel_id: &str,
        now: i64,
    ) -> Result<BotMove, Error> {
        let table = self.table();
        let channel_pk = keys::channel_pk(app_id, channel_id);
        let bot_exists = self.bot_exists_check(app_id, bot_id)?;
        let count = Update::builder()
            .table_name(table)
            .key("pk", s(&channel_pk))
            .key("sk", s(keys::CHANNEL_SK))
            .update_expression("SET bot_count = if_not_exists(bot_count, :zero) + :one")
            .condition_expression(
                "attribute_exists(pk) AND attribute_not_exists(pending_token) \
                 AND attribute_not_exists(deleted_at) \
                 AND (attribute_not_exists(bot_count) OR bot_count < :max)",
            )
            .expression_attribute_values(":zero", n(0))
            .expression_attribute_values(":one", n(1))
            .expression_attribute_values(":max", n(MAX_BOTS_PER_CHANNEL))
            .build()
            .map_err(|e| action_error("update", e))?;
        let membership = encode(&BotMembershipItem {
            pk: channel_pk.clone(),
            sk: keys::bot_member_sk(bot_id),
            gsi1pk: keys::bot_channels_index(app_id, bot_id),
            gsi1sk: channel_id.to_owned(),
            entity: "bot_membership".into(),
            channel_id: channel_id.to_owned(),
            bot_id: bot_id.to_owned(),
            created_at: now,
        })?;
        let actions = vec![
            bot_exists,
            TransactWriteItem::builder().update(count).build(),
            put(table, membership, Some("attribute_not_exists(pk)"))?,
        ];
        match self.transact("join bot", actions).await {
            Ok(()) => Ok(BotMove::Changed),
            Err(TransactError::Refused(refused)) => Ok(if refused.contains(&0) {
                BotMove::BotMissing
            } else if refused.contains(&2) {
                BotMove::Unchanged
            } else {
                BotMove::ChannelRefused
            }),
            Err(TransactError::Failed(e)) => Err(e),
        }
    }

    /// Removes a bot from a channel in one transaction, conditioned on the bot existing and
    /// the membership existing; the channel's bot count moves with it.
    pub async fn leave_bot(
        &self,
        app_id: &str,
        bot_id: &str,
        channel_id: &str,
    ) -> Result<BotMove, Error> {
        let mut actions = vec![self.bot_exists_check(app_id, bot_id)?];
        actions.extend(self.bot_removal(app_id, bot_id, channel_id)?);
        match self.transact("leave bot", actions).await {
            Ok(()) => Ok(BotMove::Changed),
            Err(TransactError::Refused(refused)) => Ok(if refused.contains(&0) {
                BotMove::BotMissing
            } else if refused.contains(&1) {
                BotMove::Unchanged
            } else {
                BotMove::ChannelMissing
            }),
            Err(TransactError::Failed(e)) => Err(e),
        }
    }

    /// Removes a (deleted) bot's membership of one channel; `Unchanged` if it is gone already.
    pub async fn remove_bot_membership(
        &self,
        app_id: &str,
        bot_id: &str,
        channel_id: &str,
    ) -> Result<BotMove, Error> {
        let actions = self.bot_removal(app_id, bot_id, channel_id)?;
        match self
            .transact("remove bot membership", actions.to_vec())
            .await
        {
            Ok(()) => Ok(BotMove::Changed),
            Err(TransactError::Refused(_)) => Ok(BotMove::Unchanged),
            Err(TransactError::Failed(e)) => Err(e),
        }
    }

    fn bot_exists_check(&self, app_id: &str, bot_id: &str) -> Result<TransactWriteItem, Error> {
        let check = ConditionCheck::builder()
            .table_name(self.table())
            .key("pk", s(keys::bot_pk(app_id, bot_id)))
            .key("sk", s(keys::BOT_SK))
            .condition_expression("attribute_exists(pk)")
            .build()
            .map_err(|e| action_error("condition check", e))?;
        Ok(TransactWriteItem::builder().condition_check(check).build())
    }

    /// Delete the membership (it must exist) and decrement the channel's bot count.
    fn bot_removal(
        &self,
        app_id: &str,
        bot_id: &str,
        channel_id: &str,
    ) -> Result<[TransactWriteItem; 2], Error> {
        let table = self.table();
        let channel_pk = keys::channel_pk(app_id, channel_id);
        let membership = Delete::builder()
            .table_name(table)
            .key("pk", s(&channel_pk))
            .key("sk", s(keys::bot_member_sk(bot_id)))
            .condition_expression("attribute_exists(pk)")
            .build()
            .map_err(|e| action_error("delete", e))?;
        let count = Update::builder()
            .table_name(table)
            .key("pk", s(&channel_pk))
            .key("sk", s(keys::CHANNEL_SK))
            .update_expression("SET bot_count = bot_count - :one")
            .condition_expression("attribute_exists(pk) AND bot_count > :zero")
            .expression_attribute_values(":zero", n(0))
            .expression_attribute_values(":one", n(1))
            .build()
            .map_err(|e| action_error("update", e))?;
        Ok([
            TransactWriteItem::builder().delete(membership).build(),
            TransactWriteItem::builder().update(count).build(),
        ])
    }
}

impl From<BotItem> for Bot {
    fn from(i: BotItem) -> Self {
        Bot {
            id: i.bot_id,
            name: i.name,
            profile_image_url: i.profile_image_url,
            bot_type: i.bot_type,
            callback_url: i.callback_url,
            created_at: i.created_at,
            updated_at: i.updated_at,
        }
    }
}
