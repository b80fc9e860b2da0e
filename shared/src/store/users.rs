//! Users: the user item, its login credentials, its blocks and push devices.
//!
//! A deleted user's item stays as a tombstone (`deleted_at`, index entry moved to
//! `#CLEANUP`) until the user's memberships, blocks and devices are swept; every read treats
//! it as absent (`live_user`), and every write about a user is conditioned on `LIVE_USER`, so
//! nothing new can be written for a user once the delete has begun.

use std::collections::{HashMap, HashSet};

use aws_sdk_dynamodb::types::{
    AttributeValue, ConditionCheck, Delete, ReturnValue, TransactWriteItem, Update,
};

use super::channels::{TransactError, action_error, item_key, put};
use super::items::{BlockItem, DeviceItem, UserItem};
use super::retry::{applied, condition_failed, retrying, storage_error};
use super::{Item, SetFields, Store, decode, encode, keys, n, s};
use crate::Error;
use crate::model::{Page, User, UserChanges, UserSecrets};

/// The condition every write about a user carries: the user exists and is not deleted.
pub(crate) const LIVE_USER: &str = "attribute_exists(pk) AND attribute_not_exists(deleted_at)";

/// More devices than a user may have (the cap is the domain's), so one read sees them all.
const DEVICE_READ_LIMIT: usize = 1_000;

/// A stored user item as a user, or `None` for a deleted user's tombstone.
pub(crate) fn live_user(item: Item) -> Result<Option<User>, Error> {
    let i: UserItem = decode(item)?;
    Ok(i.deleted_at.is_none().then(|| User::from(i)))
}

/// What a login is checked against.
#[derive(Debug, Clone)]
pub struct LoginRecord {
    pub user: User,
    pub password_hash: String,
}

/// A push device of a user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Device {
    pub device_id: String,
    /// Empty until the device registers one (an iOS device may have only a PushKit token).
    pub fcm_token: String,
    /// The iOS VoIP (PushKit) token, empty until registered.
    pub pushkit_token: String,
    pub updated_at: i64,
}

/// A user's devices.
#[derive(Debug, Clone, Default)]
pub struct Devices {
    pub devices: Vec<Device>,
}

/// What a device registration writes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DeviceWrite {
    /// A new token for a registered device, as it was when read (its `updated_at`): the
    /// other kind of token is kept, so a concurrent change of it refuses the write.
    Replace(Device, i64),
    /// A new device, below the cap.
    Add(Device),
    /// A new device at the cap, in place of the one with this id.
    Evict(Device, String),
}

/// The outcome of a block or unblock write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BlockOutcome {
    Done,
    /// Block: the block existed already. Unblock: there was none.
    Unchanged,
    UserMissing,
    TargetMissing,
}

/// Which of a channel owner's block relations hold with some users.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OwnerBlocks {
    /// Users the owner blocks.
    pub blocked_by_owner: HashSet<String>,
    /// Users who block the owner.
    pub blocking_owner: HashSet<String>,
}

impl Store {
    /// Stores a new user; `3004` if the id is taken (or a deleted user of that id is still
    /// being swept). One conditional write, so two racing creates give one user and one `3004`.
    pub async fn create_user(
        &self,
        app_id: &str,
        user: &User,
        secrets: &UserSecrets,
    ) -> Result<(), Error> {
        let item = encode(&UserItem::new(app_id, user, secrets))?;
        self.put_new("create user", item, || Error::UserIdTaken(user.id.clone()))
            .await
    }

    pub(super) async fn user_item(
        &self,
        app_id: &str,
        user_id: &str,
    ) -> Result<Option<UserItem>, Error> {
        let out = retrying(|| {
            self.client
                .get_item()
                .table_name(self.table())
                .key("pk", s(keys::user_pk(app_id, user_id)))
                .key("sk", s(keys::USER_SK))
                .consistent_read(true)
                .send()
        })
        .await
        .map_err(|e| storage_error("get user", e))?;
        out.item.map(decode::<UserItem>).transpose()
    }

    pub async fn user(&self, app_id: &str, user_id: &str) -> Result<Option<User>, Error> {
        Ok(self
            .user_item(app_id, user_id)
            .await?
            .filter(|i| i.deleted_at.is_none())
            .map(User::from))
    }

    /// The user and the password hash a login is checked against.
    pub async fn login_record(
        &self,
        app_id: &str,
        user_id: &str,
    ) -> Result<Option<LoginRecord>, Error> {
        Ok(self
            .user_item(app_id, user_id)
            .await?
            .filter(|i| i.deleted_at.is_none())
            .map(|i| LoginRecord {
                password_hash: i.password_hash.clone(),
                user: User::from(i),
            }))
    }

    /// When the user item is a deleted user's tombstone: its `deleted_at`.
    pub async fn user_deleted_at(&self, app_id: &str, user_id: &str) -> Result<Option<i64>, Error> {
        Ok(self
            .user_item(app_id, user_id)
            .await?
            .and_then(|i| i.deleted_at))
    }

    /// Users in id order, strictly after `after`, at most `limit` of them. The index is
    /// eventually consistent, so a user created a moment ago may be missing from a list.
    pub async fn users_after(
        &self,
        app_id: &str,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Page<User>, Error> {
        self.index_page(keys::users_index(app_id), after, limit, |i| {
            decode::<UserItem>(i).map(User::from)
        })
        .await
    }

    /// One conditional update of a live user item; the user as stored afterwards, or `None`
    /// when the condition (`LIVE_USER` and `extra`) failed.
    async fn update_user_item(
        &self,
        app_id: &str,
        user_id: &str,
        fields: SetFields,
        extra: Option<(&str, HashMap<String, AttributeValue>)>,
    ) -> Result<Option<User>, Error> {
        self.may_write().await?;
        let SetFields {
            expression,
            names,
            mut values,
        } = fields;
        let mut condition = LIVE_USER.to_owned();
        if let Some((cond, v)) = extra {
            condition = format!("{condition} AND {cond}");
            values.extend(v);
        }
        let res = retrying(|| {
            self.client
                .update_item()
                .table_name(self.table())
                .key("pk", s(keys::user_pk(app_id, user_id)))
                .key("sk", s(keys::USER_SK))
                .update_expression(&expression)
                .condition_expression(&condition)
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
                Ok(Some(User::from(decode::<UserItem>(item)?)))
            }
            Err(e) if condition_failed(&e) => Ok(None),
            Err(e) => Err(storage_error("update user", e)),
        }
    }

    /// Applies `changes` and returns the user as stored afterwards; `3003` if there is none.
    pub async fn update_user(
        &self,
        app_id: &str,
        user_id: &str,
        changes: &UserChanges,
        now: i64,
    ) -> Result<User, Error> {
        self.update_user_item(app_id, user_id, SetFields::new(now, changes.fields()), None)
            .await?
            .ok_or_else(|| Error::UserNotFound(user_id.to_owned()))
    }

    /// Makes `token_digest` the user's one login token, if the password is still the one
    /// the login was checked against; `None` if it changed meanwhile or the user is gone.
    pub async fn issue_login_token(
        &self,
        app_id: &str,
        user_id: &str,
        token_digest: &str,
        checked_hash: &str,
        now: i64,
    ) -> Result<Option<User>, Error> {
        let fields = SetFields::new(now, vec![("login_token_digest", s(token_digest))]);
        let same = HashMap::from([(":checked".to_owned(), s(checked_hash))]);
        self.update_user_item(
            app_id,
            user_id,
            fields,
            Some(("password_hash = :checked", same)),
        )
        .await
    }

    /// A new password hash and login token digest; sessions opened before end (the epoch).
    pub async fn set_password(
        &self,
        app_id: &str,
        user_id: &str,
        secrets: &UserSecrets,
        now: i64,
    ) -> Result<User, Error> {
        let mut fields = SetFields::new(
            now,
            vec![
                ("password_hash", s(&secrets.password_hash)),
                ("login_token_digest", s(&secrets.login_token_digest)),
            ],
        );
        fields
            .expression
            .push_str(", #password_epoch = if_not_exists(#password_epoch, :zero) + :one");
        fields
            .names
            .insert("#password_epoch".into(), "password_epoch".into());
        fields.values.insert(":zero".into(), n(0));
        fields.values.insert(":one".into(), n(1));
        self.update_user_item(app_id, user_id, fields, None)
            .await?
            .ok_or_else(|| Error::UserNotFound(user_id.to_owned()))
    }

    pub async fn set_deactivated(
        &self,
        app_id: &str,
        user_id: &str,
        deactivated: bool,
        now: i64,
    ) -> Result<User, Error> {
        let fields = SetFields::new(
            now,
            vec![("deactivated", AttributeValue::Bool(deactivated))],
        );
        self.update_user_item(app_id, user_id, fields, None)
            .await?
            .ok_or_else(|| Error::UserNotFound(user_id.to_owned()))
    }

    // ---- blocks ----

    fn count_update(
        &self,
        app_id: &str,
        user_id: &str,
        attribute: &str,
        delta: i64,
        conditioned: bool,
    ) -> Result<TransactWriteItem, Error> {
        let update = Update::builder()
            .table_name(self.table())
            .key("pk", s(keys::user_pk(app_id, user_id)))
            .key("sk", s(keys::USER_SK))
            .update_expression(format!(
                "SET {attribute} = if_not_exists({attribute}, :zero) + :d"
            ))
            .condition_expression(if conditioned {
                LIVE_USER
            } else {
                "attribute_exists(pk)"
            })
            .expression_attribute_values(":zero", n(0))
            .expression_attribute_values(":d", n(delta))
            .build()
            .map_err(|e| action_error("update", e))?;
        Ok(TransactWriteItem::builder().update(update).build())
    }

    fn block_delete(
        &self,
        app_id: &str,
        user_id: &str,
        target_id: &str,
    ) -> Result<TransactWriteItem, Error> {
        let d = Delete::builder()
            .table_name(self.table())
            .key("pk", s(keys::user_pk(app_id, user_id)))
            .key("sk", s(keys::block_sk(target_id)))
            .condition_expression("attribute_exists(pk)")
            .build()
            .map_err(|e| action_error("delete", e))?;
        Ok(TransactWriteItem::builder().delete(d).build())
    }

    /// `user_id` blocks `target_id`: the block item and both users' counts, in one
    /// transaction conditioned on both users being live.
    pub async fn block(
        &self,
        app_id: &str,
        user_id: &str,
        target_id: &str,
        now: i64,
    ) -> Result<BlockOutcome, Error> {
        let item = encode(&BlockItem {
            pk: keys::user_pk(app_id, user_id),
            sk: keys::block_sk(target_id),
            gsi1pk: keys::user_blockers_index(app_id, target_id),
            gsi1sk: user_id.to_owned(),
            entity: "block".into(),
            user_id: user_id.to_owned(),
            target_id: target_id.to_owned(),
            created_at: now,
        })?;
        let actions = vec![
            self.count_update(app_id, user_id, "blocking", 1, true)?,
            self.count_update(app_id, target_id, "blocked_by", 1, true)?,
            put(self.table(), item, Some("attribute_not_exists(pk)"))?,
        ];
        self.block_outcome("block", actions).await
    }

    /// Removes the block of `target_id` by `user_id`, and both counts with it.
    pub async fn unblock(
        &self,
        app_id: &str,
        user_id: &str,
        target_id: &str,
    ) -> Result<BlockOutcome, Error> {
        let actions = vec![
            self.count_update(app_id, user_id, "blocking", -1, true)?,
            self.count_update(app_id, target_id, "blocked_by", -1, true)?,
            self.block_delete(app_id, user_id, target_id)?,
        ];
        self.block_outcome("unblock", actions).await
    }

    /// Runs a block or unblock transaction (user count, target count, block item).
    async fn block_outcome(
        &self,
        what: &str,
        actions: Vec<TransactWriteItem>,
    ) -> Result<BlockOutcome, Error> {
        match self.transact(what, actions).await {
            Ok(()) => Ok(BlockOutcome::Done),
            Err(TransactError::Refused(refused)) => Ok(if refused.contains(&0) {
                BlockOutcome::UserMissing
            } else if refused.contains(&1) {
                BlockOutcome::TargetMissing
            } else {
                BlockOutcome::Unchanged
            }),
            Err(TransactError::Failed(e)) => Err(e),
        }
    }

    /// Removes one block item while sweeping a deleted user, and the other side's count with
    /// it. When that user is gone too the item goes alone: a count left too high only costs
    /// a block rule one more read, never a wrong answer.
    pub async fn drop_block(
        &self,
        app_id: &str,
        user_id: &str,
        target_id: &str,
        counted: (&str, &str),
    ) -> Result<(), Error> {
        let (counted_user, attribute) = counted;
        let actions = vec![
            self.block_delete(app_id, user_id, target_id)?,
            self.count_update(app_id, counted_user, attribute, -1, false)?,
        ];
        match self.transact("drop block", actions).await {
            Ok(()) => Ok(()),
            Err(TransactError::Refused(r)) if r.contains(&0) => Ok(()),
            Err(TransactError::Refused(_)) => {
                let alone = vec![self.block_delete(app_id, user_id, target_id)?];
                match self.transact("drop block", alone).await {
                    Ok(()) | Err(TransactError::Refused(_)) => Ok(()),
                    Err(TransactError::Failed(e)) => Err(e),
                }
            }
            Err(TransactError::Failed(e)) => Err(e),
        }
    }

    /// A page of the users `user_id` blocks, in id order after `after` (strongly consistent:
    /// the blocks live in the user's partition).
    pub async fn blocked_ids(
        &self,
        app_id: &str,
        user_id: &str,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Page<String>, Error> {
        self.range_page(
            keys::user_pk(app_id, user_id),
            keys::BLOCK_PREFIX,
            after,
            limit,
            |item| item_key(&item, "target_id").map(Some),
        )
        .await
    }

    /// A page of the users who block `user_id` (eventually consistent index).
    pub async fn blocker_ids(
        &self,
        app_id: &str,
        user_id: &str,
        limit: usize,
    ) -> Result<Page<String>, Error> {
        self.index_page(
            keys::user_blockers_index(app_id, user_id),
            None,
            limit,
            |i| item_key(&i, "gsi1sk"),
        )
        .await
    }

    /// The block relations between `owner` and each of `users`, in one round of reads.
    pub async fn owner_blocks(
        &self,
        app_id: &str,
        owner: &str,
        users: &[String],
    ) -> Result<OwnerBlocks, Error> {
        let mut wanted = Vec::with_capacity(users.len() * 2);
        for u in users {
            wanted.push((keys::user_pk(app_id, owner), keys::block_sk(u)));
            wanted.push((keys::user_pk(app_id, u), keys::block_sk(owner)));
        }
        let mut found = OwnerBlocks::default();
        for item in self.get_many(wanted).await? {
            let b: BlockItem = decode(item)?;
            if b.user_id == owner {
                found.blocked_by_owner.insert(b.target_id);
            } else {
                found.blocking_owner.insert(b.user_id);
            }
        }
        Ok(found)
    }

    // ---- devices ----

    /// The user's devices (`None` if the user is not live): the user item and the device
    /// range, read in parallel.
    pub async fn devices(&self, app_id: &str, user_id: &str) -> Result<Option<Devices>, Error> {
        let (user, devices) = futures::future::try_join(
            self.user_item(app_id, user_id),
            self.device_range(app_id, user_id),
        )
        .await?;
        if user.is_none_or(|u| u.deleted_at.is_some()) {
            return Ok(None);
        }
        Ok(Some(Devices { devices }))
    }

    /// The device range alone, for a caller that already knows the user is live (push reads
    /// the receivers' profiles with the channel).
    pub async fn device_range(&self, app_id: &str, user_id: &str) -> Result<Vec<Device>, Error> {
        let page = self
            .range_page(
                keys::user_pk(app_id, user_id),
                keys::DEVICE_PREFIX,
                None,
                DEVICE_READ_LIMIT,
                |item| {
                    let d: DeviceItem = decode(item)?;
                    Ok(Some(Device {
                        device_id: d.device_id,
                        fcm_token: d.fcm_token,
                        pushkit_token: d.pushkit_token,
                        updated_at: d.updated_at,
                    }))
                },
            )
            .await?;
        Ok(page.items)
    }

    /// Writes a registration as planned on the devices read; false if they changed meanwhile
    /// (a device appeared or went, the cap was reached) or the user is gone: nothing written.
    /// The count on the user item makes the cap exact under concurrent registrations.
    pub async fn write_device(
        &self,
        app_id: &str,
        user_id: &str,
        write: &DeviceWrite,
        cap: usize,
    ) -> Result<bool, Error> {
        let table = self.table();
        let pk = keys::user_pk(app_id, user_id);
        let cap = n(i64::try_from(cap).unwrap_or(i64::MAX));
        let user = Update::builder()
            .table_name(table)
            .key("pk", s(&pk))
            .key("sk", s(keys::USER_SK));
        let (user, device, put_condition, seen, evict) = match write {
            DeviceWrite::Replace(d, seen) => (
                user.update_expression("SET device_count = if_not_exists(device_count, :zero)")
                    .condition_expression(LIVE_USER)
                    .expression_attribute_values(":zero", n(0)),
                d,
                "attribute_exists(pk) AND updated_at = :seen",
                Some(*seen),
                None,
            ),
            DeviceWrite::Add(d) => (
                user.update_expression(
                    "SET device_count = if_not_exists(device_count, :zero) + :one",
                )
                .condition_expression(format!(
                    "{LIVE_USER} AND (attribute_not_exists(device_count) OR device_count < :cap)"
                ))
                .expression_attribute_values(":zero", n(0))
                .expression_attribute_values(":one", n(1))
                .expression_attribute_values(":cap", cap),
                d,
                "attribute_not_exists(pk)",
                None,
                None,
            ),
            DeviceWrite::Evict(d, old) => (
                user.update_expression("SET device_count = if_not_exists(device_count, :zero)")
                    .condition_expression(format!("{LIVE_USER} AND device_count >= :cap"))
                    .expression_attribute_values(":zero", n(0))
                    .expression_attribute_values(":cap", cap),
                d,
                "attribute_not_exists(pk)",
                None,
                Some(old),
            ),
        };
        let user = user.build().map_err(|e| action_error("update", e))?;
        let item = encode(&DeviceItem {
            pk: pk.clone(),
            sk: keys::device_sk(&device.device_id),
            entity: "device".into(),
            device_id: device.device_id.clone(),
            fcm_token: device.fcm_token.clone(),
            pushkit_token: device.pushkit_token.clone(),
            updated_at: device.updated_at,
        })?;
        let device_put = match seen {
            Some(seen) => {
                let p = aws_sdk_dynamodb::types::Put::builder()
                    .table_name(table)
                    .set_item(Some(item))
                    .condition_expression(put_condition)
                    .expression_attribute_values(":seen", n(seen))
                    .build()
                    .map_err(|e| action_error("put", e))?;
                TransactWriteItem::builder().put(p).build()
            }
            None => put(table, item, Some(put_condition))?,
        };
        let mut actions = vec![
            TransactWriteItem::builder().update(user).build(),
            device_put,
        ];
        if let Some(old) = evict {
            let d = Delete::builder()
                .table_name(table)
                .key("pk", s(&pk))
                .key("sk", s(keys::device_sk(old)))
                .condition_expression("attribute_exists(pk)")
                .build()
                .map_err(|e| action_error("delete", e))?;
            actions.push(TransactWriteItem::builder().delete(d).build());
        }
        self.transact_applied("register device", actions).await
    }

    /// FCM said this token is no longer registered: the device loses it, unless it has a
    /// new one since (a condition on the token). A device left with no token at all goes,
    /// and counts no more toward the cap. `true` if this removed it.
    pub async fn forget_fcm_token(
        &self,
        app_id: &str,
        user_id: &str,
        device: &Device,
    ) -> Result<bool, Error> {
        let table = self.table();
        let pk = keys::user_pk(app_id, user_id);
        let sk = keys::device_sk(&device.device_id);
        if device.pushkit_token.is_empty() {
            let d = Delete::builder()
                .table_name(table)
                .key("pk", s(&pk))
                .key("sk", s(&sk))
                .condition_expression(
                    "fcm_token = :t AND (attribute_not_exists(pushkit_token) OR pushkit_token = :none)",
                )
                .expression_attribute_values(":t", s(&device.fcm_token))
                .expression_attribute_values(":none", s(""))
                .build()
                .map_err(|e| action_error("delete", e))?;
            let u = Update::builder()
                .table_name(table)
                .key("pk", s(&pk))
                .key("sk", s(keys::USER_SK))
                .update_expression("SET device_count = device_count - :one")
                .condition_expression("device_count > :zero")
                .expression_attribute_values(":one", n(1))
                .expression_attribute_values(":zero", n(0))
                .build()
                .map_err(|e| action_error("update", e))?;
            let actions = vec![
                TransactWriteItem::builder().delete(d).build(),
                TransactWriteItem::builder().update(u).build(),
            ];
            if self.transact_applied("forget device", actions).await? {
                return Ok(true);
            }
        }
        // The device keeps its PushKit token (or got one meanwhile): only the FCM token goes.
        self.may_write().await?;
        let res = retrying(|| {
            self.client
                .update_item()
                .table_name(table)
                .key("pk", s(&pk))
                .key("sk", s(&sk))
                .update_expression("SET fcm_token = :none")
                .condition_expression("fcm_token = :t")
                .expression_attribute_values(":t", s(&device.fcm_token))
                .expression_attribute_values(":none", s(""))
                .send()
        })
        .await;
        applied(res, "forget fcm token")
    }

    /// A condition check that the user is live, for transactions that write about a user
    /// elsewhere (a membership): a user deleted since the read refuses the write.
    pub(crate) fn user_live_check(
        &self,
        app_id: &str,
        user_id: &str,
    ) -> Result<TransactWriteItem, Error> {
        let check = ConditionCheck::builder()
            .table_name(self.table())
            .key("pk", s(keys::user_pk(app_id, user_id)))
            .key("sk", s(keys::USER_SK))
            .condition_expression(LIVE_USER)
            .build()
            .map_err(|e| action_error("condition check", e))?;
        Ok(TransactWriteItem::builder().condition_check(check).build())
    }
}

impl From<UserItem> for User {
    fn from(i: UserItem) -> Self {
        User {
            id: i.user_id,
            username: i.username,
            profile_image_url: i.profile_image_url,
            data: i.data,
            disable_push_notification: i.disable_push_notification,
            deactivated: i.deactivated,
            blocking: i.blocking,
            blocked_by: i.blocked_by,
            created_at: i.created_at,
            updated_at: i.updated_at,
        }
    }
}
