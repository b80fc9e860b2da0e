//! Membership changes (add, remove, ban, unban, mute, unmute) as one transaction each, and
//! the reads they decide on.
//!
//! A change that moves members also updates the channel item in the same transaction (the
//! count, the ban counter) under conditions that make it exact under races: the channel
//! exists and is not being deleted, the cap still holds, no ban landed since the request read
//! the bans. A change larger than one transaction (the channel update plus more than 99
//! writes) commits its first part together with a *pending* mark on the channel item that
//! lists the writes still to make; the rest follows in further transactions, the last one
//! clearing the mark. Readers show the change as done from the first commit (`Store::channel`
//! applies the list), and every other change of the channel is refused while the mark is
//! there, so the rest can be written by whoever comes next (`finish_pending`) if the request
//! that started it dies.

use std::collections::{HashMap, HashSet};

use aws_sdk_dynamodb::types::{AttributeValue, ConditionCheck, Delete, TransactWriteItem, Update};

use super::channels::{TransactError, action_error, item_key, membership_item, put};
use super::items::{BanItem, MembershipItem};
use super::retry::{condition_failed, retrying, storage_error};
use super::users::live_user;
use super::{MAX_TRANSACT_ACTIONS, SetFields, Store, decode, encode, keys, n, s};
use crate::Error;
use crate::model::{Ban, Channel, ChannelType, MemberWrite, Membership, Page, User};
use crate::secrets::random_hex;

impl MemberWrite {
    /// The form kept in a pending mark (ids never contain `:`).
    fn encode(&self) -> String {
        match self {
            MemberWrite::Join(u) => format!("join:{u}"),
            MemberWrite::Leave(u) => format!("leave:{u}"),
            MemberWrite::Ban(u) => format!("ban:{u}"),
            MemberWrite::Unban(u) => format!("unban:{u}"),
            MemberWrite::Mute(u, t) => format!("mute:{t}:{u}"),
            MemberWrite::Unmute(u) => format!("unmute:{u}"),
            MemberWrite::UserLive(u) => format!("live:{u}"),
            MemberWrite::IsMember(u) => format!("member:{u}"),
        }
    }

    fn decode(s: &str) -> Option<MemberWrite> {
        let (kind, rest) = s.split_once(':')?;
        let u = rest.to_owned();
        Some(match kind {
            "join" => MemberWrite::Join(u),
            "leave" => MemberWrite::Leave(u),
            "ban" => MemberWrite::Ban(u),
            "unban" => MemberWrite::Unban(u),
            "unmute" => MemberWrite::Unmute(u),
            "live" => MemberWrite::UserLive(u),
            "member" => MemberWrite::IsMember(u),
            "mute" => {
                let (t, u) = rest.split_once(':')?;
                MemberWrite::Mute(u.to_owned(), t.parse().ok()?)
            }
            _ => return None,
        })
    }
}

/// The writes still to make of a change that did not fit one transaction.
pub fn decode_pending(rest: &[String]) -> Result<Vec<MemberWrite>, Error> {
    rest.iter()
        .map(|w| {
            MemberWrite::decode(w)
                .ok_or_else(|| Error::Internal(format!("stored pending write {w:?}")))
        })
        .collect()
}

/// What a change does to the channel item, and what the item must still be for it to apply.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ChannelGuard {
    /// Added to `member_count`.
    pub count_delta: i64,
    /// Adds: the `maxMemberCount` read; the new count must stay within it, and a changed
    /// maximum refuses the change (it is decided again).
    pub cap: Option<i64>,
    /// Adds: the ban counter read; a ban since then refuses the change.
    pub ban_seq: Option<i64>,
    /// Bans: move the ban counter.
    pub bump_ban_seq: bool,
    /// A deleted owner leaves: the channel goes on without one (`owner_id` ""), if this
    /// user still owns it.
    pub clear_owner: Option<String>,
    /// The client API's owner-only changes: this user must still own the channel.
    pub owner: Option<String>,
    /// Entries: the `message_count` read, which new members' read marks take; a send since
    /// refuses the change (it is decided again).
    pub message_count: Option<i64>,
}

impl ChannelGuard {
    /// Only conditions: written as a check of the channel item, not an update.
    fn checks_only(&self) -> bool {
        self.count_delta == 0
            && self.cap.is_none()
            && self.ban_seq.is_none()
            && !self.bump_ban_seq
            && self.clear_owner.is_none()
            && self.message_count.is_none()
    }
}

/// A change of a member's own view of a channel.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MemberStateChange {
    Hidden(bool),
    /// Push notifications of the channel on (`true`) or off.
    Push(bool),
    /// The sounds given; `None` leaves one as it is.
    PushSounds {
        aos: Option<String>,
        ios: Option<String>,
    },
    PrivateTag(String),
    PrivateData(std::collections::BTreeMap<String, String>),
    MemberInfo(std::collections::BTreeMap<String, String>),
}

/// Why a change was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// The channel item's conditions: gone, being deleted, pending, full, or banned since.
    Channel,
    /// The write at this index of the change's writes (e.g. a membership that exists).
    Write(usize),
}

/// The named users' state in one channel, read in one round.
#[derive(Debug, Default)]
pub struct MemberStates {
    pub users: HashMap<String, User>,
    pub memberships: HashMap<String, Membership>,
    pub banned: HashSet<String>,
    /// Adds: the block relations between the channel's owner and the named users, read
    /// only when some named user has blocks (see `domain::users::blocks`).
    pub owner_blocks: super::OwnerBlocks,
}

impl Store {
    /// Applies a membership change: one transaction up to 100 actions; beyond, a first
    /// transaction that commits it with a pending mark, then the rest (see the module docs).
    /// `Ok(Err(refusal))` when a condition failed and nothing was written.
    pub async fn change_members(
        &self,
        app_id: &str,
        channel: &Channel,
        guard: Option<&ChannelGuard>,
        writes: &[MemberWrite],
        now: i64,
    ) -> Result<Result<(), Refusal>, Error> {
        let offset = usize::from(guard.is_some());
        let fits = offset + writes.len() <= MAX_TRANSACT_ACTIONS;
        let (first, rest) = if fits {
            (writes, &[][..])
        } else {
            writes.split_at(MAX_TRANSACT_ACTIONS - 1)
        };
        // A user check guards the commit point; once that has committed it is decided.
        let rest: Vec<MemberWrite> = rest
            .iter()
            .filter(|w| !matches!(w, MemberWrite::UserLive(_) | MemberWrite::IsMember(_)))
            .cloned()
            .collect();
        let token = random_hex(16);
        let mut actions = Vec::with_capacity(offset + first.len());
        if let Some(g) = guard {
            let pending = (!rest.is_empty()).then_some((token.as_str(), now, &rest[..]));
            actions.push(self.channel_update(app_id, &channel.id, g, pending)?);
        } else if !rest.is_empty() {
            return Err(Error::Internal(format!(
                "{} writes without a channel update do not fit one transaction",
                writes.len()
            )));
        }
        for w in first {
            actions.push(self.write_action(app_id, channel, w, now, true)?);
        }
        match self.transact("change members", actions).await {
            Ok(()) => {}
            Err(TransactError::Refused(refused)) => {
                let first = refused.first().copied().unwrap_or(0);
                return Ok(Err(if first < offset {
                    Refusal::Channel
                } else {
                    Refusal::Write(first - offset)
                }));
            }
            Err(TransactError::Failed(e)) => return Err(e),
        }
        if !rest.is_empty() {
            self.finish_rest(app_id, channel, &token, rest, now).await?;
        }
        Ok(Ok(()))
    }

    /// Writes the rest of a change that committed with a pending mark, in transactions of
    /// 99 writes plus the mark (moved on, then cleared by the last). Unconditional writes:
    /// the change was decided by its first transaction, and the mark holds every other
    /// change of the channel off until the rest is written. A refused mark means someone
    /// else finished it (or the channel was deleted): nothing more to do.
    async fn finish_rest(
        &self,
        app_id: &str,
        channel: &Channel,
        token: &str,
        mut rest: Vec<MemberWrite>,
        since: i64,
    ) -> Result<(), Error> {
        let table = self.table();
        let pk = keys::channel_pk(app_id, &channel.id);
        while !rest.is_empty() {
            let take = rest.len().min(MAX_TRANSACT_ACTIONS - 1);
            let remaining = rest.split_off(take);
            let mark = Update::builder()
                .table_name(table)
                .key("pk", s(&pk))
                .key("sk", s(keys::CHANNEL_SK))
                .condition_expression("pending_token = :t")
                .expression_attribute_values(":t", s(token));
            let mark = if remaining.is_empty() {
                mark.update_expression("REMOVE pending_token, pending_since, pending_rest")
            } else {
                mark.update_expression("SET pending_rest = :rest")
                    .expression_attribute_values(":rest", encoded(&remaining))
            }
            .build()
            .map_err(|e| action_error("update", e))?;
            let mut actions = vec![TransactWriteItem::builder().update(mark).build()];
            for w in &rest {
                actions.push(self.write_action(app_id, channel, w, since, false)?);
            }
            match self.transact("finish a membership change", actions).await {
                Ok(()) => rest = remaining,
                Err(TransactError::Refused(_)) => return Ok(()),
                Err(TransactError::Failed(e)) => return Err(e),
            }
        }
        Ok(())
    }

    /// Completes the pending change of a channel, if it has one (its request died or is
    /// still writing; finishing twice is harmless).
    pub async fn finish_pending(&self, app_id: &str, channel_id: &str) -> Result<(), Error> {
        let Some(item) = self.channel_item(app_id, channel_id).await? else {
            return Ok(());
        };
        let (Some(token), Some(since), Some(rest)) = (
            item.pending_token.clone(),
            item.pending_since,
            item.pending_rest.clone(),
        ) else {
            return Ok(());
        };
        let channel = Channel::try_from(item)?;
        let rest = decode_pending(&rest)?;
        tracing::warn!(
            channel = channel_id,
            "finishing a pending membership change"
        );
        self.finish_rest(app_id, &channel, &token, rest, since)
            .await
    }

    fn channel_update(
        &self,
        app_id: &str,
        channel_id: &str,
        g: &ChannelGuard,
        pending: Option<(&str, i64, &[MemberWrite])>,
    ) -> Result<TransactWriteItem, Error> {
        let mut sets = vec!["member_count = member_count + :d".to_owned()];
        let mut cond = vec![
            "attribute_exists(pk)".to_owned(),
            "attribute_not_exists(pending_token)".to_owned(),
            "attribute_not_exists(deleted_at)".to_owned(),
        ];
        let mut values = HashMap::from([(":d".to_owned(), n(g.count_delta))]);
        if let Some(owner) = &g.owner {
            cond.push("owner_id = :actor".into());
            values.insert(":actor".into(), s(owner));
        }
        if g.checks_only() && pending.is_none() {
            values.remove(":d");
            let check = ConditionCheck::builder()
                .table_name(self.table())
                .key("pk", s(keys::channel_pk(app_id, channel_id)))
                .key("sk", s(keys::CHANNEL_SK))
                .condition_expression(cond.join(" AND "))
                .set_expression_attribute_values(Some(values).filter(|v| !v.is_empty()))
                .build()
                .map_err(|e| action_error("condition check", e))?;
            return Ok(TransactWriteItem::builder().condition_check(check).build());
        }
        if let Some(max) = g.cap {
            values.insert(":max".into(), n(max));
            if max == crate::domain::channels::UNLIMITED {
                cond.push("max_member_count = :max".into());
            } else {
                cond.push("max_member_count = :max AND member_count <= :lim".into());
                values.insert(":lim".into(), n(max - g.count_delta));
            }
        }
        if let Some(seen) = g.ban_seq {
            cond.push("(attribute_not_exists(ban_seq) OR ban_seq = :bs)".into());
            values.insert(":bs".into(), n(seen));
        }
        if g.count_delta < 0 {
            cond.push("member_count >= :neg".into());
            values.insert(":neg".into(), n(-g.count_delta));
        }
        if let Some(owner) = &g.clear_owner {
            sets.push("owner_id = :no_owner".into());
            cond.push("owner_id = :old_owner".into());
            values.insert(":no_owner".into(), s(""));
            values.insert(":old_owner".into(), s(owner));
        }
        if let Some(seen) = g.message_count {
            cond.push(
                "(message_count = :mc OR (attribute_not_exists(message_count) AND :mc = :mc0))"
                    .into(),
            );
            values.insert(":mc".into(), n(seen));
            values.insert(":mc0".into(), n(0));
        }
        if g.bump_ban_seq {
            sets.push("ban_seq = if_not_exists(ban_seq, :zero) + :one".into());
            values.insert(":zero".into(), n(0));
            values.insert(":one".into(), n(1));
        }
        if let Some((token, since, rest)) = pending {
            sets.push("pending_token = :tok, pending_since = :since, pending_rest = :rest".into());
            values.insert(":tok".into(), s(token));
            values.insert(":since".into(), n(since));
            values.insert(":rest".into(), encoded(rest));
        }
        let update = Update::builder()
            .table_name(self.table())
            .key("pk", s(keys::channel_pk(app_id, channel_id)))
            .key("sk", s(keys::CHANNEL_SK))
            .update_expression(format!("SET {}", sets.join(", ")))
            .condition_expression(cond.join(" AND "))
            .set_expression_attribute_values(Some(values))
            .build()
            .map_err(|e| action_error("update", e))?;
        Ok(TransactWriteItem::builder().update(update).build())
    }

    fn write_action(
        &self,
        app_id: &str,
        channel: &Channel,
        w: &MemberWrite,
        now: i64,
        conditioned: bool,
    ) -> Result<TransactWriteItem, Error> {
        let table = self.table();
        let pk = keys::channel_pk(app_id, &channel.id);
        let member_sk = keys::member_sk(channel.channel_type, w.user_id());
        let when = |c: &'static str| conditioned.then_some(c);
        Ok(match w {
            // A new member's read mark is the channel's count as read: what was sent before
            // they joined is not unread (the guard holds the count still).
            MemberWrite::Join(u) => put(
                table,
                encode(&membership_item(
                    app_id,
                    channel,
                    &Membership {
                        read_count: channel.message_count,
                        ..Membership::new(u.clone(), now)
                    },
                ))?,
                when("attribute_not_exists(pk)"),
            )?,
            MemberWrite::Ban(u) => put(
                table,
                encode(&BanItem {
                    pk: pk.clone(),
                    sk: keys::ban_sk(u),
                    entity: "ban".into(),
                    channel_id: channel.id.clone(),
                    user_id: u.clone(),
                    created_at: now,
                })?,
                None,
            )?,
            MemberWrite::Leave(_) | MemberWrite::Unban(_) => {
                let sk = match w {
                    MemberWrite::Leave(_) => member_sk,
                    _ => keys::ban_sk(w.user_id()),
                };
                let d = Delete::builder()
                    .table_name(table)
                    .key("pk", s(&pk))
                    .key("sk", s(sk))
                    .set_condition_expression(
                        when("attribute_exists(pk)")
                            .filter(|_| matches!(w, MemberWrite::Leave(_)))
                            .map(str::to_owned),
                    )
                    .build()
                    .map_err(|e| action_error("delete", e))?;
                TransactWriteItem::builder().delete(d).build()
            }
            MemberWrite::Mute(..) | MemberWrite::Unmute(_) => {
                let u = Update::builder()
                    .table_name(table)
                    .key("pk", s(&pk))
                    .key("sk", s(member_sk))
                    // Even unconditioned, an update must not create a membership.
                    .condition_expression("attribute_exists(pk)");
                let u = match w {
                    MemberWrite::Mute(_, until) => u
                        .update_expression("SET mute_expires_at = :t")
                        .expression_attribute_values(":t", n(*until)),
                    _ => u.update_expression("REMOVE mute_expires_at"),
                }
                .build()
                .map_err(|e| action_error("update", e))?;
                TransactWriteItem::builder().update(u).build()
            }
            MemberWrite::UserLive(u) => self.user_live_check(app_id, u)?,
            MemberWrite::IsMember(_) => {
                let check = ConditionCheck::builder()
                    .table_name(table)
                    .key("pk", s(&pk))
                    .key("sk", s(member_sk))
                    .condition_expression("attribute_exists(pk)")
                    .build()
                    .map_err(|e| action_error("condition check", e))?;
                TransactWriteItem::builder().condition_check(check).build()
            }
        })
    }

    /// Applies `change` to `user`'s own view of the channel; the membership as stored after,
    /// or `None` if there is no membership (any more).
    pub async fn set_member_state(
        &self,
        app_id: &str,
        channel: &Channel,
        user: &str,
        change: &MemberStateChange,
    ) -> Result<Option<Membership>, Error> {
        let sk = keys::member_sk(channel.channel_type, user);
        self.set_member_state_at(app_id, &channel.id, &sk, change)
            .await
    }

    /// `set_member_state` of the membership under `member_sk` (known from the user's index,
    /// without the channel item).
    pub async fn set_member_state_at(
        &self,
        app_id: &str,
        channel_id: &str,
        member_sk: &str,
        change: &MemberStateChange,
    ) -> Result<Option<Membership>, Error> {
        self.may_write().await?;
        let b = AttributeValue::Bool;
        let sets: Vec<(&str, AttributeValue)> = match change {
            MemberStateChange::Hidden(v) => vec![("hidden", b(*v))],
            MemberStateChange::Push(enabled) => vec![("push_disabled", b(!*enabled))],
            MemberStateChange::PushSounds { aos, ios } => {
                let mut sets = Vec::new();
                if let Some(v) = aos {
                    sets.push(("push_sound_aos", s(v)));
                }
                if let Some(v) = ios {
                    sets.push(("push_sound_ios", s(v)));
                }
                sets
            }
            MemberStateChange::PrivateTag(v) => vec![("private_tag", s(v))],
            MemberStateChange::PrivateData(v) => vec![("private_data", super::string_map(v))],
            MemberStateChange::MemberInfo(v) => vec![("member_info", super::string_map(v))],
        };
        let SetFields {
            expression,
            names,
            values,
        } = SetFields::new(crate::model::now_ms(), sets);
        let res = retrying(|| {
            self.client
                .update_item()
                .table_name(self.table())
                .key("pk", s(keys::channel_pk(app_id, channel_id)))
                .key("sk", s(member_sk))
                .update_expression(&expression)
                .condition_expression("attribute_exists(pk)")
                .set_expression_attribute_names(Some(names.clone()))
                .set_expression_attribute_values(Some(values.clone()))
                .return_values(aws_sdk_dynamodb::types::ReturnValue::AllNew)
                .send()
        })
        .await;
        match res {
            Ok(out) => out
                .attributes
                .map(|i| decode::<MembershipItem>(i).map(Membership::from))
                .transpose(),
            Err(e) if condition_failed(&e) => Ok(None),
            Err(e) => Err(storage_error("set member state", e)),
        }
    }

    /// The named users' memberships (under either sort key: the type is not known before
    /// the channel is read), bans and, when `with_users`, profiles: one round of batch reads,
    /// however many members the channel has.
    pub async fn member_states(
        &self,
        app_id: &str,
        channel_id: &str,
        ids: &[String],
        with_users: bool,
    ) -> Result<MemberStates, Error> {
        let pk = keys::channel_pk(app_id, channel_id);
        let mut wanted = Vec::with_capacity(ids.len() * 4);
        for id in ids {
            for sk in keys::member_sks_either(id) {
                wanted.push((pk.clone(), sk));
            }
            wanted.push((pk.clone(), keys::ban_sk(id)));
            if with_users {
                wanted.push((keys::user_pk(app_id, id), keys::USER_SK.to_owned()));
            }
        }
        let mut states = MemberStates::default();
        for item in self.get_many(wanted).await? {
            let sk = item_key(&item, "sk")?;
            if sk == keys::USER_SK {
                if let Some(u) = live_user(item)? {
                    states.users.insert(u.id.clone(), u);
                }
            } else if sk.starts_with(keys::BAN_PREFIX) {
                states.banned.insert(decode::<BanItem>(item)?.user_id);
            } else {
                let m = Membership::from(decode::<MembershipItem>(item)?);
                states.memberships.insert(m.user_id.clone(), m);
            }
        }
        Ok(states)
    }

    /// `user_id`'s memberships of the super channels `channel_ids`, by channel id (one
    /// BatchGetItem per 100; a channel they are not in is absent).
    pub async fn super_memberships_of(
        &self,
        app_id: &str,
        user_id: &str,
        channel_ids: &[String],
    ) -> Result<HashMap<String, Membership>, Error> {
        let wanted = channel_ids
            .iter()
            .map(|id| {
                (
                    keys::channel_pk(app_id, id),
                    keys::member_sk(crate::model::ChannelType::SuperPublic, user_id),
                )
            })
            .collect();
        let mut found = HashMap::new();
        for item in self.get_many(wanted).await? {
            let m = decode::<MembershipItem>(item)?;
            let channel_id = m.channel_id.clone();
            found.insert(channel_id, Membership::from(m));
        }
        Ok(found)
    }

    /// A page of a channel's memberships in user id order, strictly after `after`; when
    /// `muted_at` is given, only members muted at that time (the rest are read and skipped).
    pub async fn memberships_page(
        &self,
        app_id: &str,
        channel: &Channel,
        after: Option<&str>,
        limit: usize,
        muted_at: Option<i64>,
    ) -> Result<Page<Membership>, Error> {
        self.members_page_of(
            app_id,
            &channel.id,
            channel.channel_type,
            after,
            limit,
            muted_at,
        )
        .await
    }

    /// `memberships_page` of a channel known by id and type only (the realtime fan-out's
    /// chunks of a super channel).
    pub async fn members_page_of(
        &self,
        app_id: &str,
        channel_id: &str,
        channel_type: ChannelType,
        after: Option<&str>,
        limit: usize,
        muted_at: Option<i64>,
    ) -> Result<Page<Membership>, Error> {
        let prefix = keys::member_prefix(channel_type);
        let page = self
            .range_page(
                keys::channel_pk(app_id, channel_id),
                prefix,
                after,
                limit,
                |item| {
                    let m = Membership::from(decode::<MembershipItem>(item)?);
                    Ok(muted_at.is_none_or(|now| m.is_muted(now)).then_some(m))
                },
            )
            .await?;
        Ok(page)
    }

    /// A page of a channel's bans in user id order, strictly after `after`.
    pub async fn bans_page(
        &self,
        app_id: &str,
        channel_id: &str,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Page<Ban>, Error> {
        self.range_page(
            keys::channel_pk(app_id, channel_id),
            keys::BAN_PREFIX,
            after,
            limit,
            |item| {
                let b: BanItem = decode(item)?;
                Ok(Some(Ban {
                    user_id: b.user_id,
                    created_at: b.created_at,
                }))
            },
        )
        .await
    }
}

fn encoded(writes: &[MemberWrite]) -> AttributeValue {
    AttributeValue::L(writes.iter().map(|w| s(w.encode())).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pending_writes_survive_their_stored_form() {
        let writes = [
            MemberWrite::Join("a.b".into()),
            MemberWrite::Leave("c".into()),
            MemberWrite::Ban("d~".into()),
            MemberWrite::Unban("e".into()),
            MemberWrite::Mute("f".into(), 1_700_000_000_000),
            MemberWrite::Mute("g".into(), 0),
            MemberWrite::Unmute("h".into()),
        ];
        for w in writes {
            assert_eq!(MemberWrite::decode(&w.encode()), Some(w.clone()));
        }
        assert_eq!(MemberWrite::decode("jump:x"), None);
        assert_eq!(MemberWrite::decode("mute:x:y"), None);
    }
}

/// Which of a member's peer-mute maps a write replaces (see `model::PeerMutes`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PeerMuteSide {
    /// Who muted the member (what their sends are checked against).
    MutedBy,
    /// Whom the member muted (their `peer/muted` list).
    Muting,
}

/// One member's peer-mute map as it is to be, decided on the version read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PeerMuteWrite {
    pub user_id: String,
    pub side: PeerMuteSide,
    pub map: std::collections::BTreeMap<String, i64>,
    pub seen_version: i64,
}

impl Store {
    /// Writes peer-mute maps in one transaction, each while its version is still the one
    /// read (and the membership exists); false, and nothing written, if any changed.
    pub async fn write_peer_mutes(
        &self,
        app_id: &str,
        channel: &Channel,
        writes: &[PeerMuteWrite],
    ) -> Result<bool, Error> {
        let pk = keys::channel_pk(app_id, &channel.id);
        let actions = writes
            .iter()
            .map(|w| {
                let (map, version) = match w.side {
                    PeerMuteSide::MutedBy => ("peer_muted_by", "peer_muted_by_version"),
                    PeerMuteSide::Muting => ("peer_muting", "peer_muting_version"),
                };
                let update = if w.map.is_empty() {
                    format!("REMOVE {map} SET {version} = :next")
                } else {
                    format!("SET {map} = :map, {version} = :next")
                };
                // A version of 0 is stored as no attribute (a membership never peer-muted).
                let condition = if w.seen_version == 0 {
                    format!("attribute_exists(pk) AND attribute_not_exists({version})")
                } else {
                    format!("attribute_exists(pk) AND {version} = :seen")
                };
                let mut u = Update::builder()
                    .table_name(self.table())
                    .key("pk", s(&pk))
                    .key("sk", s(keys::member_sk(channel.channel_type, &w.user_id)))
                    .update_expression(update)
                    .condition_expression(condition)
                    .expression_attribute_values(":next", n(w.seen_version + 1));
                if !w.map.is_empty() {
                    u = u.expression_attribute_values(
                        ":map",
                        AttributeValue::M(w.map.iter().map(|(k, v)| (k.clone(), n(*v))).collect()),
                    );
                }
                if w.seen_version != 0 {
                    u = u.expression_attribute_values(":seen", n(w.seen_version));
                }
                let u = u.build().map_err(|e| action_error("update", e))?;
                Ok(TransactWriteItem::builder().update(u).build())
            })
            .collect::<Result<Vec<_>, Error>>()?;
        self.transact_applied("peer mute", actions).await
    }
}
