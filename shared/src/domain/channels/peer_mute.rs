//! Peer mutes (client API `peer/mute`, `peer/unmute`, `peer/muted`): any member may mute
//! other members of the channel, for a time or without end, as the owner mutes them with
//! `members/mute` (the SDKs' use: a 1:1 channel, whose members are peers). A member under a
//! peer mute in force cannot send (`2027`), whoever muted them; each muter lifts only their
//! own. TalkPlus documents the paths, not the rule: this is ours (docs/design.md).
//!
//! Each membership keeps two maps: who muted it (`muted_by`, what its sends are checked
//! against) and whom it muted (`muting`, its `peer/muted` list). A change writes the caller's
//! `muting` and each target's `muted_by` in one transaction, each conditioned on the version
//! it read; a send is conditioned on the sender's `muted_by` version being the one its check
//! read, so a mute that lands between a send's read and its write refuses the send.

use std::collections::{BTreeMap, HashMap};

use super::{add_profiles, member_ids, one, validate_channel_id};
use crate::Error;
use crate::auth::AppId;
use crate::model::{ChannelDetail, Member, Membership, Page, User, now_ms, peer_mute_holds};
use crate::store::{ChannelLookup, PeerMuteSide, PeerMuteWrite, Store};

/// Members one member may keep peer-muted in a channel (the size of their `peer/muted`).
pub const MAX_PEER_MUTES: usize = 100;
/// Members one request may name: with the caller's own membership, one transaction.
pub const MAX_PEER_MUTE_IDS: usize = crate::store::MAX_TRANSACT_ACTIONS - 1;
/// Reads and writes one change makes before giving up on memberships others keep changing.
const ATTEMPTS: usize = 6;

/// The answer of `peer/mute` and `peer/unmute`: the channel and the members named, each
/// showing the caller's peer mute of them as `muteExpiresAt` (0 when none, or none with an
/// end).
pub struct PeerMuteAnswer {
    pub channel: ChannelDetail,
    pub members: Vec<Member>,
}

/// What a mute (`Some(end)`, 0 for no end) or an unmute (`None`) of `targets` by `me`
/// writes: the caller's `muting` and each target's `muted_by`, only where they change. Ends
/// already passed are dropped as the maps are rewritten. Pure.
pub fn plan(
    me: &Membership,
    targets: &[&Membership],
    until: Option<i64>,
    now: i64,
) -> Result<Vec<PeerMuteWrite>, Error> {
    let live = |map: &BTreeMap<String, i64>| -> BTreeMap<String, i64> {
        map.iter()
            .filter(|(_, end)| peer_mute_holds(**end, now))
            .map(|(k, v)| (k.clone(), *v))
            .collect()
    };
    let mut muting = live(&me.peers.muting);
    let mut writes = Vec::new();
    for t in targets {
        let mut muted_by = live(&t.peers.muted_by);
        match until {
            Some(end) => {
                muting.insert(t.user_id.clone(), end);
                muted_by.insert(me.user_id.clone(), end);
            }
            None => {
                muting.remove(&t.user_id);
                muted_by.remove(&me.user_id);
            }
        }
        if muted_by != t.peers.muted_by {
            writes.push(PeerMuteWrite {
                user_id: t.user_id.clone(),
                side: PeerMuteSide::MutedBy,
                map: muted_by,
                seen_version: t.peers.muted_by_version,
            });
        }
    }
    if muting.len() > MAX_PEER_MUTES {
        return Err(Error::InvalidParam(format!(
            "a member may keep at most {MAX_PEER_MUTES} members peer-muted in a channel"
        )));
    }
    if muting != me.peers.muting {
        writes.push(PeerMuteWrite {
            user_id: me.user_id.clone(),
            side: PeerMuteSide::Muting,
            map: muting,
            seen_version: me.peers.muting_version,
        });
    }
    Ok(writes)
}

/// `POST peer/mute` (`until`: the end, 0 for none) and `POST peer/unmute` (`None`). The
/// caller must be a member (`2005`), and so must everyone named (`2001`); naming oneself is
/// `1001`. Two round trips when nothing changed meanwhile: the channel and the memberships
/// read together, then the transaction beside the answer's profile reads.
pub async fn set(
    store: &Store,
    app: &AppId,
    caller: &str,
    channel_id: &str,
    members: Option<Vec<String>>,
    until: Option<i64>,
) -> Result<PeerMuteAnswer, Error> {
    validate_channel_id(channel_id)?;
    let ids = member_ids(members)?;
    if ids.iter().any(|id| id == caller) {
        return Err(Error::InvalidParam(
            "members: a member cannot peer-mute themselves".into(),
        ));
    }
    if ids.len() > MAX_PEER_MUTE_IDS {
        return Err(Error::InvalidParam(format!(
            "members may name at most {MAX_PEER_MUTE_IDS} users"
        )));
    }
    let app_id = app.as_str();
    let mut wanted = ids.clone();
    wanted.push(caller.to_owned());
    for _ in 0..ATTEMPTS {
        let Some((cm, states)) =
            super::read_for_change(store, app_id, channel_id, &wanted, true).await?
        else {
            continue;
        };
        let Some(me) = states.memberships.get(caller) else {
            return Err(Error::NotChannelMember(caller.to_owned()));
        };
        let targets = ids
            .iter()
            .map(|id| {
                states
                    .memberships
                    .get(id)
                    .ok_or_else(|| Error::MemberNotFound(id.clone()))
            })
            .collect::<Result<Vec<_>, _>>()?;
        let now = now_ms();
        let writes = plan(me, &targets, until, now)?;
        let channel = cm.channel.clone();
        let written = async {
            if writes.is_empty() {
                return Ok(true);
            }
            store.write_peer_mutes(app_id, &channel, &writes).await
        };
        let (written, detail) =
            futures::future::try_join(written, add_profiles(store, app, vec![*cm], HashMap::new()))
                .await?;
        if !written {
            tracing::debug!(channel = channel_id, "peer mutes changed meanwhile; again");
            continue;
        }
        let members = targets
            .into_iter()
            .map(|m| shown(m, until, &states.users))
            .collect();
        return Ok(PeerMuteAnswer {
            channel: one(detail)?,
            members,
        });
    }
    Err(Error::Unavailable(format!(
        "channel {channel_id}: peer mutes kept changing; retry"
    )))
}

/// A member as a peer-mute answer shows them: `muteExpiresAt` is the caller's peer mute.
fn shown(m: &Membership, end: Option<i64>, users: &HashMap<String, User>) -> Member {
    Member {
        membership: Membership {
            mute_expires_at: end,
            ..m.clone()
        },
        profile: users.get(&m.user_id).cloned(),
    }
}

/// `GET peer/muted?lastUserId=&limit=`: the members the caller has peer-muted now, in user
/// id order (one who left the channel is not listed). Two round trips: the channel and the
/// caller's membership, then the muted members' memberships and profiles.
pub async fn muted(
    store: &Store,
    app: &AppId,
    caller: &str,
    channel_id: &str,
    last_user_id: Option<&str>,
    limit: usize,
) -> Result<Page<Member>, Error> {
    validate_channel_id(channel_id)?;
    let after = super::members::validate_cursor(last_user_id)?;
    let app_id = app.as_str();
    let (lookup, states) = futures::future::try_join(
        store.channel(app_id, channel_id),
        store.member_states(app_id, channel_id, &[caller.to_owned()], false),
    )
    .await?;
    if !matches!(lookup, ChannelLookup::Found(_)) {
        return Err(Error::ChannelNotFound(channel_id.to_owned()));
    }
    let Some(me) = states.memberships.get(caller) else {
        return Err(Error::NotChannelMember(caller.to_owned()));
    };
    let now = now_ms();
    let ends: BTreeMap<String, i64> = me
        .peers
        .muting
        .iter()
        .filter(|(id, end)| peer_mute_holds(**end, now) && after.is_none_or(|a| id.as_str() > a))
        .map(|(k, v)| (k.clone(), *v))
        .collect();
    let ids: Vec<String> = ends.keys().cloned().collect();
    let found = store.member_states(app_id, channel_id, &ids, true).await?;
    let mut items: Vec<Member> = ends
        .iter()
        .filter_map(|(id, end)| {
            found
                .memberships
                .get(id)
                .map(|m| shown(m, Some(*end), &found.users))
        })
        .take(limit + 1)
        .collect();
    let has_next = items.len() > limit;
    items.truncate(limit);
    Ok(Page { items, has_next })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn member(id: &str) -> Membership {
        Membership::new(id, 1)
    }

    #[test]
    fn a_mute_writes_both_sides_and_an_unmute_of_nobody_muted_writes_nothing() {
        let me = member("me");
        let (a, b) = (member("a"), member("b"));
        let writes = plan(&me, &[&a, &b], Some(0), 10).unwrap();
        assert_eq!(writes.len(), 3);
        assert_eq!(writes[0].user_id, "a");
        assert_eq!(writes[0].side, PeerMuteSide::MutedBy);
        assert_eq!(writes[0].map, BTreeMap::from([("me".to_owned(), 0)]));
        assert_eq!(writes[2].side, PeerMuteSide::Muting);
        assert_eq!(
            writes[2].map,
            BTreeMap::from([("a".to_owned(), 0), ("b".to_owned(), 0)])
        );
        assert!(plan(&me, &[&a], None, 10).unwrap().is_empty());
    }

    #[test]
    fn an_unmute_lifts_only_the_callers_mute_and_drops_ended_ones() {
        let mut me = member("me");
        me.peers.muting = BTreeMap::from([("a".into(), 0), ("gone".into(), 5)]);
        me.peers.muting_version = 3;
        let mut a = member("a");
        a.peers.muted_by = BTreeMap::from([("me".into(), 0), ("other".into(), 0)]);
        a.peers.muted_by_version = 7;
        let writes = plan(&me, &[&a], None, 10).unwrap();
        assert_eq!(writes[0].map, BTreeMap::from([("other".to_owned(), 0)]));
        assert_eq!(writes[0].seen_version, 7);
        assert!(writes[1].map.is_empty(), "{writes:?}");
        assert_eq!(writes[1].seen_version, 3);
        assert!(a.peers.is_muted(10));
    }

    #[test]
    fn a_member_keeps_at_most_the_cap_muted() {
        let mut me = member("me");
        me.peers.muting = (0..MAX_PEER_MUTES)
            .map(|i| (format!("u{i:03}"), 0))
            .collect();
        let extra = member("zz");
        assert!(matches!(
            plan(&me, &[&extra], Some(0), 10),
            Err(Error::InvalidParam(_))
        ));
        // An ended mute frees its place.
        me.peers.muting.insert("u000".into(), 5);
        assert!(plan(&me, &[&extra], Some(0), 10).is_ok());
    }
}
