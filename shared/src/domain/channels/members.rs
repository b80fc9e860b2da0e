//! Membership changes (add, remove, ban, unban, mute, unmute) and the member lists.
//!
//! Each change reads the channel and the named users' state in one round, decides (the pure
//! `plan_change`), then writes in one transaction while the response's profiles are read
//! beside it: two sequential round trips. A write refused by a race (the cap reached, a ban
//! since the read, a membership that appeared) is decided again on a fresh read, so the
//! answer is the code the rule gives on the state that won.

use std::collections::{BTreeSet, HashMap};

use super::client::{check_reader, reads_as_member};
use super::{add_profiles, one, validate_channel_id};
use crate::Error;
use crate::auth::AppId;
use crate::domain::Actor;
use crate::domain::users::blocks::{Entry, candidates, check_entry};
use crate::model::{
    Ban, BannedUser, Channel, ChannelDetail, ChannelMembers, ChannelType, Member, Membership, Page,
    User, now_ms,
};
use crate::store::{
    ChannelGuard, ChannelLookup, MAX_TRANSACT_ACTIONS, MemberStates, MemberWrite, Store,
};
use crate::validate::{self, MAX_USER_ID_CHARS};

/// Ids one membership change may name.
pub const MAX_MEMBER_IDS: usize = 100;
/// The longest mute with an end: a year.
pub const MAX_MUTE_MINUTES: i64 = 525_600;
/// Member lists: `limit` defaults to 50 and may be 1..=100.
pub const DEFAULT_MEMBER_LIST_LIMIT: usize = 50;
pub const MAX_MEMBER_LIST_LIMIT: usize = 100;
/// Reads and decisions one change makes before giving up on a channel that others keep
/// changing under it.
const CHANGE_ATTEMPTS: usize = 6;

/// The membership changes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MemberOp {
    Add,
    /// The client API's join of the caller, with the invitation code of `join/invitation`.
    Join {
        invitation_code: Option<String>,
    },
    /// The client API's leave of the caller (the owner too: the channel goes on without one).
    Leave,
    Remove,
    Ban,
    Unban,
    /// Until the time given (ms), or without end (0).
    Mute {
        until: i64,
    },
    Unmute,
}

/// The ids of a change request: required, each a valid user id, at most 100 once folded;
/// in id order.
pub fn member_ids(members: Option<Vec<String>>) -> Result<Vec<String>, Error> {
    let members = validate::required("members", members)?;
    let mut ids = BTreeSet::new();
    for id in members {
        validate::id("members", &id, MAX_USER_ID_CHARS)?;
        ids.insert(id);
    }
    if ids.is_empty() {
        return Err(Error::InvalidParam(
            "members must name at least one user".into(),
        ));
    }
    if ids.len() > MAX_MEMBER_IDS {
        return Err(Error::InvalidParam(format!(
            "members may name at most {MAX_MEMBER_IDS} users"
        )));
    }
    Ok(ids.into_iter().collect())
}

/// `expireInMinutes` of a mute: 0 or absent is without end.
pub fn mute_until(expire_in_minutes: Option<i64>, now: i64) -> Result<i64, Error> {
    match expire_in_minutes.unwrap_or(0) {
        0 => Ok(0),
        m if (1..=MAX_MUTE_MINUTES).contains(&m) => Ok(now + m * 60_000),
        _ => Err(Error::InvalidParam(format!(
            "expireInMinutes must be from 0 to {MAX_MUTE_MINUTES}"
        ))),
    }
}

/// What a change will write, and the channel as it will be.
#[derive(Debug)]
pub struct ChangePlan {
    pub guard: Option<ChannelGuard>,
    pub writes: Vec<MemberWrite>,
    pub after: ChannelMembers,
}

/// Decides a change on the state read; pure, so each rule is a unit test. Rules are checked
/// in a fixed order over all ids, and the first id that breaks one is named.
pub fn plan_change(
    cm: ChannelMembers,
    states: &MemberStates,
    ids: &[String],
    op: &MemberOp,
    actor: Actor,
    now: i64,
) -> Result<ChangePlan, Error> {
    let owner = cm.channel.owner_id.clone();
    let channel_id = cm.channel.id.clone();
    let is_member = |id: &String| states.memberships.contains_key(id);
    let first = |pred: &dyn Fn(&String) -> bool| ids.iter().find(|id| pred(id)).cloned();
    // The client rules: any member may add; joining and leaving are the caller's own; the
    // rest is the owner's. The write checks the same again (`IsMember`, `ChannelGuard::owner`).
    let (check_member, check_owner) = match (actor, op) {
        (Actor::Admin, _) => (None, None),
        (Actor::User(_), MemberOp::Join { .. } | MemberOp::Leave) => (None, None),
        (Actor::User(caller), MemberOp::Add) => {
            if !states.memberships.contains_key(caller) {
                return Err(Error::NotChannelMember(caller.to_owned()));
            }
            (Some(caller.to_owned()), None)
        }
        (Actor::User(caller), _) => {
            if owner != caller {
                return Err(Error::NotChannelOwner);
            }
            (None, Some(caller.to_owned()))
        }
    };
    let mut after = cm;
    let shown = !after.channel.channel_type.is_super();
    let n = i64::try_from(ids.len()).unwrap_or(i64::MAX);
    let (guard, writes) = match op {
        MemberOp::Add | MemberOp::Join { .. } => {
            let entry = if let MemberOp::Join { invitation_code } = op {
                check_join(&after.channel, invitation_code.as_deref())?;
                Entry::Join
            } else {
                Entry::Add
            };
            if let Some(id) = first(&|id| !states.users.contains_key(id)) {
                return Err(Error::UserNotFound(id));
            }
            if let Some(id) = first(&|id| states.users.get(id).is_some_and(|u| u.deactivated)) {
                return Err(Error::DeactivatedUser(id));
            }
            if let Some(id) = first(&|id| states.banned.contains(id)) {
                return Err(match entry {
                    Entry::Join => Error::BannedFromChannel(id),
                    _ => Error::CannotAddBanned(id),
                });
            }
            if let Some(id) = first(&is_member) {
                return Err(Error::AlreadyMember(id));
            }
            check_entry(&owner, ids, &states.owner_blocks, entry)?;
            let max = after.channel.max_member_count;
            if max != super::UNLIMITED && after.channel.member_count + n > max {
                return Err(Error::ChannelFull(format!(
                    "adding {n} members to channel {channel_id} exceeds maxMemberCount {max}"
                )));
            }
            if shown {
                for id in ids {
                    after.members.push(Membership {
                        read_count: after.channel.message_count,
                        ..Membership::new(id.clone(), now)
                    });
                }
                after.members.sort_by(|a, b| a.user_id.cmp(&b.user_id));
            }
            after.channel.member_count += n;
            let guard = ChannelGuard {
                count_delta: n,
                cap: Some(max),
                ban_seq: Some(after.ban_seq),
                message_count: Some(after.channel.message_count),
                ..ChannelGuard::default()
            };
            // The user checks first, so they fall in the first transaction (the commit point),
            // as many as leave the rest one transaction: all up to 99 users, 98 of 100 (the
            // last two rely on a deleted user's settle time; see `users::delete`).
            let room = (2 * (MAX_TRANSACT_ACTIONS - 1)).saturating_sub(ids.len());
            let adder = check_member.clone().map(MemberWrite::IsMember);
            let checks = ids.iter().take(room).cloned().map(MemberWrite::UserLive);
            let joins = ids.iter().cloned().map(MemberWrite::Join);
            (
                Some(guard),
                adder.into_iter().chain(checks).chain(joins).collect(),
            )
        }
        MemberOp::Leave => {
            if let Some(id) = first(&|id| !is_member(id)) {
                return Err(Error::NotChannelMember(id));
            }
            after.members.retain(|m| !ids.contains(&m.user_id));
            after.channel.member_count -= n;
            let leaving_owner = ids.iter().find(|id| **id == owner).cloned();
            if leaving_owner.is_some() {
                after.channel.owner_id = String::new();
            }
            let guard = ChannelGuard {
                count_delta: -n,
                clear_owner: leaving_owner,
                ..ChannelGuard::default()
            };
            (
                Some(guard),
                ids.iter().cloned().map(MemberWrite::Leave).collect(),
            )
        }
        MemberOp::Remove | MemberOp::Ban => {
            let ban = *op == MemberOp::Ban;
            if ids.contains(&owner) {
                return Err(if ban {
                    Error::CannotBanOwner(owner)
                } else {
                    Error::CannotRemoveOwner(owner)
                });
            }
            if let Some(id) = first(&|id| !is_member(id)) {
                return Err(if ban {
                    Error::BanUserNotMember(id)
                } else {
                    Error::RemoveUserNotMember(id)
                });
            }
            after.members.retain(|m| !ids.contains(&m.user_id));
            after.channel.member_count -= n;
            let mut writes: Vec<MemberWrite> =
                ids.iter().cloned().map(MemberWrite::Leave).collect();
            if ban {
                writes.extend(ids.iter().cloned().map(MemberWrite::Ban));
                for id in ids {
                    if let Err(at) = after.bans.binary_search_by(|b| b.user_id.cmp(id)) {
                        after.bans.insert(
                            at,
                            Ban {
                                user_id: id.clone(),
                                created_at: now,
                            },
                        );
                    }
                }
                after.bans.truncate(crate::model::MAX_BANS_SHOWN);
            }
            let guard = ChannelGuard {
                count_delta: -n,
                bump_ban_seq: ban,
                ..ChannelGuard::default()
            };
            (Some(guard), writes)
        }
        MemberOp::Unban => {
            after.bans.retain(|b| !ids.contains(&b.user_id));
            let writes = ids
                .iter()
                .filter(|id| states.banned.contains(*id))
                .cloned()
                .map(MemberWrite::Unban)
                .collect();
            (None, writes)
        }
        MemberOp::Mute { .. } | MemberOp::Unmute => {
            let until = match op {
                MemberOp::Mute { until } => Some(*until),
                _ => None,
            };
            if until.is_some() && ids.contains(&owner) {
                return Err(Error::CannotMuteOwner(owner));
            }
            if let Some(id) = first(&|id| !is_member(id)) {
                return Err(Error::MemberNotFound(id));
            }
            let mut writes = Vec::new();
            for id in ids {
                let muted = states
                    .memberships
                    .get(id)
                    .is_some_and(|m| m.mute_expires_at.is_some());
                match until {
                    Some(t) => writes.push(MemberWrite::Mute(id.clone(), t)),
                    // Unmuting a member who is not muted changes nothing.
                    None if muted => writes.push(MemberWrite::Unmute(id.clone())),
                    None => {}
                }
            }
            for m in after
                .members
                .iter_mut()
                .filter(|m| ids.contains(&m.user_id))
            {
                m.mute_expires_at = until;
            }
            (None, writes)
        }
    };
    // An owner-only change without a channel update of its own checks the owner with one.
    let guard = match (guard, check_owner) {
        (Some(g), owner) => Some(ChannelGuard { owner, ..g }),
        (None, Some(owner)) => Some(ChannelGuard {
            owner: Some(owner),
            ..ChannelGuard::default()
        }),
        (None, None) => None,
    };
    Ok(ChangePlan {
        guard,
        writes,
        after,
    })
}

/// Whether a channel may be joined (with `invitation_code` for `join/invitation`): private
/// ones never (`2011`), `invitationOnly` ones with their code only (`2014`), and a code is
/// for `invitationOnly` channels only (`2015`).
fn check_join(channel: &Channel, invitation_code: Option<&str>) -> Result<(), Error> {
    match (channel.channel_type, invitation_code) {
        (ChannelType::Private | ChannelType::SuperPrivate, _) => {
            Err(Error::CannotJoinPrivate(channel.id.clone()))
        }
        (ChannelType::InvitationOnly, Some(code)) if code == channel.invitation_code => Ok(()),
        (ChannelType::InvitationOnly, _) => Err(Error::WrongInvitationCode),
        (_, Some(_)) => Err(Error::NotInvitationOnly(channel.id.clone())),
        (_, None) => Ok(()),
    }
}

/// `POST /channels/{channelId}/members/{add,remove,ban,unban,mute,unmute}`.
pub async fn change(
    store: &Store,
    app: &AppId,
    channel_id: &str,
    op: MemberOp,
    actor: Actor<'_>,
    ids: Vec<String>,
) -> Result<ChannelDetail, Error> {
    validate_channel_id(channel_id)?;
    let app_id = app.as_str();
    let entering = matches!(op, MemberOp::Add | MemberOp::Join { .. });
    // A member who adds must be one: their membership is read with the others'.
    let mut read_ids = ids.clone();
    if let (Actor::User(caller), MemberOp::Add) = (actor, &op)
        && !ids.iter().any(|id| id == caller)
    {
        read_ids.push(caller.to_owned());
    }
    for _ in 0..CHANGE_ATTEMPTS {
        let now = now_ms();
        let Some((cm, mut states)) =
            super::read_for_change(store, app_id, channel_id, &read_ids, entering).await?
        else {
            continue;
        };
        if entering {
            // The owner's counts are not read: any named user with blocks is a candidate,
            // except the owner, whom no block rule concerns.
            let owner = &cm.channel.owner_id;
            let candidates = candidates(
                None,
                ids.iter()
                    .filter(|id| *id != owner)
                    .filter_map(|id| states.users.get(id)),
            );
            if !cm.channel.owner_id.is_empty() && !candidates.is_empty() {
                states.owner_blocks = store
                    .owner_blocks(app_id, &cm.channel.owner_id, &candidates)
                    .await?;
            }
        }
        let channel = cm.channel.clone();
        let plan = plan_change(*cm, &states, &ids, &op, actor, now)?;
        // The profiles just read serve the answer; they are not read again.
        let known: HashMap<String, User> = std::mem::take(&mut states.users);
        if plan.writes.is_empty() {
            return one(add_profiles(store, app, vec![plan.after], known).await?);
        }
        let (written, detail) = futures::future::try_join(
            store.change_members(app_id, &channel, plan.guard.as_ref(), &plan.writes, now),
            add_profiles(store, app, vec![plan.after], known),
        )
        .await?;
        match written {
            Ok(()) => return one(detail),
            // Someone changed the channel since the read: decide again on what won.
            Err(refusal) => {
                tracing::debug!(
                    channel = channel_id,
                    ?refusal,
                    "membership change refused; deciding again"
                );
            }
        }
    }
    Err(Error::Unavailable(format!(
        "channel {channel_id} kept changing; retry"
    )))
}

/// Removes a deleted user's membership of one channel (the user delete's sweep): the count
/// moves with it, and a channel the user owned goes on without an owner (`ownerId` "").
/// False if the channel is still being created (for a moment), so the membership is left
/// for the next pass.
pub async fn drop_deleted_member(
    store: &Store,
    app_id: &str,
    channel_id: &str,
    user_id: &str,
) -> Result<bool, Error> {
    let ids = [user_id.to_owned()];
    for _ in 0..CHANGE_ATTEMPTS {
        // The channel item is enough (owner, type, state): a user in thousands of channels
        // must not read each one's member list.
        let (lookup, states) = futures::future::try_join(
            store.channel_head(app_id, channel_id),
            store.member_states(app_id, channel_id, &ids, false),
        )
        .await?;
        let cm = match lookup {
            ChannelLookup::Found(cm) => cm,
            // Deleted (its sweep would remove it too) or never there: the membership alone.
            ChannelLookup::Missing => {
                store
                    .remove_stray_membership(app_id, channel_id, user_id)
                    .await?;
                return Ok(true);
            }
            // A creation that died between its transactions never existed for readers; it
            // is cleared as the next creation of its id would, then the loop reads again.
            ChannelLookup::Abandoned => {
                store.clear_abandoned(app_id, channel_id).await?;
                continue;
            }
            ChannelLookup::InProgress => return Ok(false),
        };
        if cm.unfinished {
            store.finish_pending(app_id, channel_id).await?;
            continue;
        }
        if !states.memberships.contains_key(user_id) {
            return Ok(true);
        }
        let guard = ChannelGuard {
            count_delta: -1,
            clear_owner: (cm.channel.owner_id == user_id).then(|| user_id.to_owned()),
            ..ChannelGuard::default()
        };
        let leave = [MemberWrite::Leave(user_id.to_owned())];
        if store
            .change_members(app_id, &cm.channel, Some(&guard), &leave, now_ms())
            .await?
            .is_ok()
        {
            return Ok(true);
        }
    }
    Ok(false)
}

/// Reads the channel for a member read; `2003` if there is none.
/// On the client API the caller must be allowed to read it (`client::check_reader`).
async fn found(
    store: &Store,
    app: &AppId,
    actor: Actor<'_>,
    channel_id: &str,
) -> Result<ChannelMembers, Error> {
    validate_channel_id(channel_id)?;
    let (lookup, member) = futures::future::try_join(
        store.channel_for_members(app.as_str(), channel_id),
        reads_as_member(store, app, channel_id, actor),
    )
    .await?;
    match lookup {
        ChannelLookup::Found(cm) => {
            check_reader(&cm.channel, actor, member)?;
            Ok(*cm)
        }
        _ => Err(Error::ChannelNotFound(channel_id.to_owned())),
    }
}

pub(crate) fn validate_cursor(last_user_id: Option<&str>) -> Result<Option<&str>, Error> {
    let last = last_user_id.filter(|s| !s.is_empty());
    if let Some(last) = last {
        validate::id("lastUserId", last, MAX_USER_ID_CHARS)?;
    }
    Ok(last)
}

/// One page of memberships: from the channel read for ordinary channels (all their members
/// come with it); from the member range for super channels.
async fn member_page(
    store: &Store,
    app: &AppId,
    cm: ChannelMembers,
    after: Option<&str>,
    limit: usize,
    muted_at: Option<i64>,
) -> Result<Page<Member>, Error> {
    let page = if cm.channel.channel_type.is_super() {
        store
            .memberships_page(app.as_str(), &cm.channel, after, limit, muted_at)
            .await?
    } else {
        let mut items: Vec<Membership> = cm
            .members
            .into_iter()
            .filter(|m| after.is_none_or(|a| m.user_id.as_str() > a))
            .filter(|m| muted_at.is_none_or(|now| m.is_muted(now)))
            .take(limit + 1)
            .collect();
        let has_next = items.len() > limit;
        items.truncate(limit);
        Page { items, has_next }
    };
    with_users(
        store,
        app,
        page,
        |m| &m.user_id,
        |membership, profile| Member {
            membership,
            profile,
        },
    )
    .await
}

/// A page of per-user items with each user's current profile: one batch read.
async fn with_users<T, V>(
    store: &Store,
    app: &AppId,
    page: Page<T>,
    id: impl Fn(&T) -> &String,
    make: impl Fn(T, Option<User>) -> V,
) -> Result<Page<V>, Error> {
    let ids: Vec<String> = page.items.iter().map(|t| id(t).clone()).collect();
    let mut users = store.users_by_id(app.as_str(), &ids).await?;
    Ok(Page {
        items: page
            .items
            .into_iter()
            .map(|t| {
                let profile = users.remove(id(&t));
                make(t, profile)
            })
            .collect(),
        has_next: page.has_next,
    })
}

/// Which members a member list shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MemberFilter {
    /// `GET /channels/{channelId}/members`.
    All,
    /// `GET /channels/{channelId}/members/muted`: members muted now (an expired mute is over).
    Muted,
}

/// A page of a channel's members, in user id order.
pub async fn members(
    store: &Store,
    app: &AppId,
    actor: Actor<'_>,
    channel_id: &str,
    filter: MemberFilter,
    last_user_id: Option<&str>,
    limit: usize,
) -> Result<Page<Member>, Error> {
    let after = validate_cursor(last_user_id)?;
    let cm = found(store, app, actor, channel_id).await?;
    let muted_at = (filter == MemberFilter::Muted).then(now_ms);
    member_page(store, app, cm, after, limit, muted_at).await
}

/// `GET /channels/{channelId}/members/{memberId}`: the channel and the membership read in
/// one round; `2001` when the user is not a member.
pub async fn member(
    store: &Store,
    app: &AppId,
    actor: Actor<'_>,
    channel_id: &str,
    member_id: &str,
) -> Result<Member, Error> {
    validate_channel_id(channel_id)?;
    validate::id("memberId", member_id, MAX_USER_ID_CHARS)?;
    let ids = [member_id.to_owned()];
    let (lookup, mut states, reader) = futures::future::try_join3(
        store.channel_for_members(app.as_str(), channel_id),
        store.member_states(app.as_str(), channel_id, &ids, true),
        reads_as_member(store, app, channel_id, actor),
    )
    .await?;
    let ChannelLookup::Found(cm) = lookup else {
        return Err(Error::ChannelNotFound(channel_id.to_owned()));
    };
    check_reader(&cm.channel, actor, reader)?;
    // A change between its transactions is shown as done.
    let mut found: Vec<Membership> = states.memberships.remove(member_id).into_iter().collect();
    if let Some((since, writes)) = &cm.pending {
        let mine: Vec<_> = writes
            .iter()
            .filter(|w| w.user_id() == member_id)
            .cloned()
            .collect();
        crate::model::apply_pending(&mut found, &mut Vec::new(), &mine, *since);
    }
    let membership = found.pop();
    let membership = membership.ok_or_else(|| Error::MemberNotFound(member_id.to_owned()))?;
    Ok(Member {
        profile: states.users.remove(member_id),
        membership,
    })
}

/// `GET /channels/{channelId}/members/banned`.
pub async fn banned(
    store: &Store,
    app: &AppId,
    actor: Actor<'_>,
    channel_id: &str,
    last_user_id: Option<&str>,
    limit: usize,
) -> Result<Page<BannedUser>, Error> {
    let after = validate_cursor(last_user_id)?;
    validate_channel_id(channel_id)?;
    let (cm, page) = futures::future::try_join(
        found(store, app, actor, channel_id),
        store.bans_page(app.as_str(), channel_id, after, limit),
    )
    .await?;
    drop(cm);
    with_users(
        store,
        app,
        page,
        |b| &b.user_id,
        |ban, profile| BannedUser { ban, profile },
    )
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn member_ids_fold_sort_and_bound() {
        let ids = member_ids(Some(vec!["b".into(), "a".into(), "b".into()])).unwrap();
        assert_eq!(ids, ["a", "b"]);
        assert!(matches!(
            member_ids(None),
            Err(Error::MissingParam("members"))
        ));
        assert!(matches!(
            member_ids(Some(vec![])),
            Err(Error::InvalidParam(_))
        ));
        assert!(matches!(
            member_ids(Some(vec!["a/b".into()])),
            Err(Error::InvalidParam(_))
        ));
        let hundred: Vec<String> = (0..100).map(|i| format!("u{i}")).collect();
        assert_eq!(member_ids(Some(hundred.clone())).unwrap().len(), 100);
        let mut many = hundred;
        many.push("one-more".into());
        assert!(matches!(
            member_ids(Some(many)),
            Err(Error::InvalidParam(_))
        ));
    }

    #[test]
    fn mute_ends_are_minutes_from_now_or_never() {
        assert_eq!(mute_until(None, 1_000).unwrap(), 0);
        assert_eq!(mute_until(Some(0), 1_000).unwrap(), 0);
        assert_eq!(mute_until(Some(1), 1_000).unwrap(), 61_000);
        assert_eq!(
            mute_until(Some(MAX_MUTE_MINUTES), 0).unwrap(),
            MAX_MUTE_MINUTES * 60_000
        );
        for bad in [-1, MAX_MUTE_MINUTES + 1] {
            assert!(matches!(
                mute_until(Some(bad), 0),
                Err(Error::InvalidParam(_))
            ));
        }
    }

    #[test]
    fn a_mute_lifts_at_its_end() {
        let mut m = Membership::new("u", 0);
        assert!(!m.is_muted(5));
        m.mute_expires_at = Some(0);
        assert!(m.is_muted(i64::MAX));
        assert_eq!(m.mute_expires_at_shown(5), 0);
        m.mute_expires_at = Some(10);
        assert!(m.is_muted(9) && !m.is_muted(10));
        assert_eq!(
            (m.mute_expires_at_shown(9), m.mute_expires_at_shown(10)),
            (10, 0)
        );
    }
}
