//! The client API's own channel operations (join, leave, ownership transfer) and its read
//! rule. Everything else a client does to a channel is the admin operation with
//! `Actor::User`, whose rules live beside the admin ones.

use super::{MemberOp, change, validate_channel_id};
use crate::Error;
use crate::auth::AppId;
use crate::domain::Actor;
use crate::model::{Channel, ChannelDetail, ChannelType};
use crate::store::{ChannelLookup, Store};
use crate::wire::UpdateChannelRequest;

/// The client API's list of the caller's channels: hidden or not, and the filters of
/// `GET channels` that the channels read decide (each `None` / empty: any).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ClientFilter {
    pub viewer: String,
    pub hidden: bool,
    /// `filter=name&query=`: the name contains it, ignoring case.
    pub name: Option<String>,
    pub is_frozen: Option<bool>,
    pub has_unread: Option<bool>,
    pub private_tag: Option<String>,
    /// Channels with every one of these members (their member lists are read: not super
    /// channels, whose answers show no members).
    pub members: Vec<String>,
}

impl ClientFilter {
    /// No filter but the hidden flag (which the index read applies).
    pub fn is_empty(&self) -> bool {
        self.name.is_none()
            && self.is_frozen.is_none()
            && self.has_unread.is_none()
            && self.private_tag.is_none()
            && self.members.is_empty()
    }

    pub fn matches(&self, d: &ChannelDetail) -> bool {
        let own = d
            .members
            .iter()
            .find(|m| m.membership.user_id == self.viewer)
            .map(|m| &m.membership)
            .or(d.viewer.as_ref());
        let c = &d.channel;
        self.name
            .as_ref()
            .is_none_or(|q| c.name.to_lowercase().contains(&q.to_lowercase()))
            && self.is_frozen.is_none_or(|f| c.is_frozen == f)
            && self.has_unread.is_none_or(|want| {
                let unread = !c.channel_type.is_super()
                    && own.is_some_and(|m| m.unread(c.message_count) > 0);
                unread == want
            })
            && self
                .private_tag
                .as_ref()
                .is_none_or(|t| own.is_some_and(|m| &m.private_tag == t))
            && self
                .members
                .iter()
                .all(|id| d.members.iter().any(|m| &m.membership.user_id == id))
    }
}

/// Channels any user of the app may read without being a member.
pub fn open_to_readers(channel_type: ChannelType) -> bool {
    matches!(channel_type, ChannelType::Public | ChannelType::SuperPublic)
}

/// The read rule of the client API: a member, or anyone for a public channel (`2005`).
/// `member` is whether the caller's membership was found.
pub fn check_reader(channel: &Channel, actor: Actor, member: bool) -> Result<(), Error> {
    match actor {
        Actor::User(caller) if !member && !open_to_readers(channel.channel_type) => {
            Err(Error::NotChannelMember(caller.to_owned()))
        }
        _ => Ok(()),
    }
}

/// How long a non-member's read of a public channel watches it: its realtime events reach
/// the reader marked `isPublicChannelEvent` (docs/design.md, "Public channel watchers").
pub const WATCH_S: i64 = 15 * 60;

/// A read renews the watch only when the last renewal is this old, so paging through the
/// history does not write on every page.
const WATCH_RENEW_AFTER_S: i64 = 5 * 60;

/// A client reader who is not a member of a public channel watches it. A best effort: the
/// read is answered whether or not the watch is written, so readers run it beside their
/// remaining reads. It takes the channel's id and type, not the channel, so a reader can
/// go on changing its copy of the channel meanwhile.
pub async fn watch(
    store: &Store,
    app: &AppId,
    channel_id: &str,
    channel_type: ChannelType,
    actor: Actor<'_>,
    member: bool,
) {
    let Actor::User(reader) = actor else {
        return;
    };
    if member || !open_to_readers(channel_type) {
        return;
    }
    let now = crate::model::now_ms() / 1000;
    let until = now + WATCH_S;
    if let Err(e) = store
        .watch_channel(
            app.as_str(),
            channel_id,
            reader,
            until,
            until - WATCH_RENEW_AFTER_S,
        )
        .await
    {
        tracing::warn!(%channel_id, error = %e, "the watch of a public channel was not written");
    }
}

/// Whether `actor` is a member of the channel (true for the admin API, which reads all):
/// one batch read, to run beside the channel read.
pub async fn reads_as_member(
    store: &Store,
    app: &AppId,
    channel_id: &str,
    actor: Actor<'_>,
) -> Result<bool, Error> {
    match actor {
        Actor::Admin => Ok(true),
        Actor::User(_) => Ok(reader_membership(store, app, channel_id, actor)
            .await?
            .is_some()),
    }
}

/// The client caller's membership of the channel (`None` for the admin API or a
/// non-member): one batch read, to run beside the channel read.
pub async fn reader_membership(
    store: &Store,
    app: &AppId,
    channel_id: &str,
    actor: Actor<'_>,
) -> Result<Option<crate::model::Membership>, Error> {
    match actor {
        Actor::Admin => Ok(None),
        Actor::User(caller) => Ok(store
            .member_states(app.as_str(), channel_id, &[caller.to_owned()], false)
            .await?
            .memberships
            .remove(caller)),
    }
}

/// Which messages a client reader sees: none from before they joined in a channel that hides
/// them (`hideMessagesBeforeJoin`), and in a broadcast channel a member's message only if
/// it is their own or the reader owns the channel (the owner's, the app's and bots' messages
/// are everyone's). The admin API sees every message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Visibility {
    viewer: String,
    owner: String,
    broadcast: bool,
    /// Messages before this time (ms) are hidden.
    joined: Option<i64>,
}

impl Visibility {
    pub fn of(
        channel: &Channel,
        actor: Actor<'_>,
        member: Option<&crate::model::Membership>,
    ) -> Option<Visibility> {
        let Actor::User(viewer) = actor else {
            return None;
        };
        let broadcast = matches!(
            channel.channel_type,
            ChannelType::Broadcast | ChannelType::SuperBroadcast
        );
        let joined = member
            .filter(|_| channel.hide_messages_before_join)
            .map(|m| m.created_at);
        (broadcast || joined.is_some()).then(|| Visibility {
            viewer: viewer.to_owned(),
            owner: channel.owner_id.clone(),
            broadcast,
            joined,
        })
    }

    /// When messages start for this reader (ms), if some are hidden by time.
    pub fn joined(&self) -> Option<i64> {
        self.joined
    }

    pub fn shows(&self, m: &crate::model::Message) -> bool {
        if self.joined.is_some_and(|t| m.created_at < t) {
            return false;
        }
        let a_members = !m.message_type.is_admin() && !m.message_type.is_bot();
        !(self.broadcast
            && a_members
            && self.viewer != self.owner
            && m.user_id != self.viewer
            && m.user_id != self.owner)
    }
}

/// The viewer's own membership of each super channel among `details` (a channel read leaves
/// a super channel's members out, so their own fields would be missing): one `BatchGetItem`
/// for the page.
pub(crate) async fn add_own_super_memberships(
    store: &Store,
    app_id: &str,
    viewer: &str,
    details: &mut [ChannelDetail],
) -> Result<(), Error> {
    let ids: Vec<String> = details
        .iter()
        .filter(|d| d.channel.channel_type.is_super() && d.viewer.is_none())
        .map(|d| d.channel.id.clone())
        .collect();
    if ids.is_empty() {
        return Ok(());
    }
    let mut found = store.super_memberships_of(app_id, viewer, &ids).await?;
    for d in details.iter_mut() {
        if let Some(m) = found.remove(&d.channel.id) {
            d.viewer = Some(m);
        }
    }
    Ok(())
}

/// The viewer's own membership in `d`, where the answer has it.
fn own_membership<'a>(d: &'a ChannelDetail, viewer: &str) -> Option<&'a crate::model::Membership> {
    d.members
        .iter()
        .map(|m| &m.membership)
        .find(|m| m.user_id == viewer)
        .or(d.viewer.as_ref())
}

/// Whether `viewer` may see `d`'s `lastMessage` (the history rules above); true when there
/// is none.
pub fn sees_last_message(d: &ChannelDetail, viewer: &str) -> bool {
    let Some(last) = &d.last_message else {
        return true;
    };
    Visibility::of(&d.channel, Actor::User(viewer), own_membership(d, viewer))
        .is_none_or(|v| v.shows(&last.message))
}

/// Each channel's `lastMessage` as `viewer` may see it: a newest message hidden from them
/// (`hideMessagesBeforeJoin`, a broadcast channel's other members) gives way to the newest
/// they may see, found by reading back through the history (only for the channels where
/// that happens, side by side; up to 200 messages back, then none). Under
/// `hideMessagesBeforeJoin` nothing earlier is visible either, so there it is simply none.
pub async fn seen_last_messages(
    store: &Store,
    app: &AppId,
    viewer: &str,
    details: &mut [ChannelDetail],
) -> Result<(), Error> {
    let mut searches = Vec::new();
    for (i, d) in details.iter_mut().enumerate() {
        if sees_last_message(d, viewer) {
            continue;
        }
        let own = own_membership(d, viewer);
        let before_join = d.last_message.as_ref().is_some_and(|last| {
            own.is_some_and(|m| {
                d.channel.hide_messages_before_join && last.message.created_at < m.created_at
            })
        });
        if let (false, Some(v)) = (
            before_join,
            Visibility::of(&d.channel, Actor::User(viewer), own),
        ) {
            searches.push((i, d.channel.id.clone(), v));
        }
        d.last_message = None;
    }
    let found = futures::future::try_join_all(
        searches
            .iter()
            .map(|(_, id, v)| newest_seen(store, app.as_str(), id, v)),
    )
    .await?;
    for ((i, _, _), last) in searches.into_iter().zip(found) {
        details[i].last_message = last;
    }
    Ok(())
}

/// History pages a `lastMessage` search reads before it gives up (see `seen_last_messages`).
const LAST_SEEN_PAGES: usize = 4;

async fn newest_seen(
    store: &Store,
    app_id: &str,
    channel_id: &str,
    v: &Visibility,
) -> Result<Option<crate::model::MessageDetail>, Error> {
    use crate::domain::messages::{MAX_MESSAGE_LIST_LIMIT, details};
    let mut cursor = None;
    for _ in 0..LAST_SEEN_PAGES {
        let page = store
            .messages_page_of(
                app_id,
                channel_id,
                crate::store::HistoryOrder::Latest,
                cursor,
                MAX_MESSAGE_LIST_LIMIT,
                false,
            )
            .await?;
        if let Some(m) = page.items.iter().find(|m| v.shows(m)) {
            return Ok(details(store, app_id, vec![m.clone()]).await?.pop());
        }
        match page.items.last().map(|m| m.id.parse::<ulid::Ulid>()) {
            Some(Ok(last)) if page.has_next => cursor = Some(last),
            _ => return Ok(None),
        }
    }
    Ok(None)
}

/// `GET /channels/{channelId}` for `actor`: the channel and, on the client API, the caller's
/// membership read beside it.
pub async fn view(
    store: &Store,
    app: &AppId,
    actor: Actor<'_>,
    channel_id: &str,
) -> Result<ChannelDetail, Error> {
    validate_channel_id(channel_id)?;
    let (detail, member) = futures::future::try_join(
        super::get(store, app, channel_id),
        reads_as_member(store, app, channel_id, actor),
    )
    .await?;
    check_reader(&detail.channel, actor, member)?;
    let watching = watch(
        store,
        app,
        channel_id,
        detail.channel.channel_type,
        actor,
        member,
    );
    let mut details = [detail];
    let own_view = async {
        if let Actor::User(viewer) = actor {
            add_own_super_memberships(store, app.as_str(), viewer, &mut details).await?;
            seen_last_messages(store, app, viewer, &mut details).await?;
        }
        Ok::<_, Error>(())
    };
    let ((), viewed) = futures::join!(watching, own_view);
    viewed?;
    let [detail] = details;
    Ok(detail)
}

/// `POST /v1.4/channels/{channelId}/join` and `/join/invitation`.
pub async fn join(
    store: &Store,
    app: &AppId,
    caller: &str,
    channel_id: &str,
    invitation_code: Option<String>,
) -> Result<ChannelDetail, Error> {
    change(
        store,
        app,
        channel_id,
        MemberOp::Join { invitation_code },
        Actor::User(caller),
        vec![caller.to_owned()],
    )
    .await
}

/// `POST /v1.4/channels/{channelId}/leave`: the caller leaves (an owner too: the channel goes
/// on without one); with `delete_if_empty`, a channel left empty is deleted, unless someone
/// joined it meanwhile.
pub async fn leave(
    store: &Store,
    app: &AppId,
    caller: &str,
    channel_id: &str,
    delete_if_empty: bool,
) -> Result<(), Error> {
    let after = change(
        store,
        app,
        channel_id,
        MemberOp::Leave,
        Actor::User(caller),
        vec![caller.to_owned()],
    )
    .await?;
    if delete_if_empty && after.channel.member_count == 0 {
        let deleted = store
            .delete_empty_channel(app.as_str(), channel_id, crate::model::now_ms())
            .await?;
        if deleted {
            super::sweep(store, app.as_str(), channel_id, super::INLINE_SWEEP).await?;
        }
    }
    Ok(())
}

/// `POST /v1.4/channels/{channelId}/transfer/ownership`: the owner's (`2031`) to a member.
pub async fn transfer_ownership(
    store: &Store,
    app: &AppId,
    caller: &str,
    channel_id: &str,
    new_owner: Option<String>,
) -> Result<ChannelDetail, Error> {
    let owner_id = crate::validate::required("userId", new_owner)?;
    super::update(
        store,
        app,
        Actor::User(caller),
        channel_id,
        UpdateChannelRequest {
            owner_id: Some(owner_id),
            ..UpdateChannelRequest::default()
        },
    )
    .await
}

/// Snapshots and marks one mark-read makes before giving up on a caller who keeps sending
/// in between.
const MARK_ATTEMPTS: usize = 6;

/// `POST /v1.4/channels/{channelId}/markread`: the caller's read mark moves to the channel's
/// message count, taken in one snapshot with their own sends since the last mark; the write
/// holds only while those are unchanged (so only the caller's own send in between makes it
/// read again; others' sends in between simply stay unread). Two round trips: the snapshot
/// beside the channel read, then the mark beside the answer's profile reads. `2005` for a
/// non-member.
pub async fn mark_read(
    store: &Store,
    app: &AppId,
    caller: &str,
    channel_id: &str,
) -> Result<ChannelDetail, Error> {
    validate_channel_id(channel_id)?;
    let app_id = app.as_str();
    for _ in 0..MARK_ATTEMPTS {
        let (lookup, snapshot) = futures::future::try_join(
            store.channel(app_id, channel_id),
            store.read_mark_snapshot(app_id, channel_id, caller),
        )
        .await?;
        let ChannelLookup::Found(mut cm) = lookup else {
            return Err(Error::ChannelNotFound(channel_id.to_owned()));
        };
        if cm.unfinished {
            store.finish_pending(app_id, channel_id).await?;
            continue;
        }
        let Some((seen, sort_key, sent)) = snapshot else {
            return Err(Error::NotChannelMember(caller.to_owned()));
        };
        let now = crate::model::now_ms();
        for m in cm.members.iter_mut().filter(|m| m.user_id == caller) {
            m.read_count = seen;
            m.sent_since_read = 0;
            m.last_read_at = now;
        }
        // The answer counts what arrived after the snapshot too.
        cm.channel.message_count = cm.channel.message_count.max(seen);
        let (marked, detail) = futures::future::try_join(
            store.mark_read(app_id, channel_id, &sort_key, seen, sent, now),
            super::add_profiles(store, app, vec![*cm], std::collections::HashMap::new()),
        )
        .await?;
        if marked {
            return super::one(detail);
        }
        tracing::debug!(
            channel = channel_id,
            "the caller sent during their mark-read; again"
        );
    }
    Err(Error::Unavailable(format!(
        "channel {channel_id}: the caller kept sending during the mark-read; retry"
    )))
}

/// Marks one channel read for `user` from a fresh snapshot, as `mark_read` does without the
/// answer; false if they are not a member (or the channel is gone).
pub(super) async fn mark_exact(
    store: &Store,
    app_id: &str,
    channel_id: &str,
    user: &str,
) -> Result<bool, Error> {
    for _ in 0..MARK_ATTEMPTS {
        let Some((seen, sort_key, sent)) =
            store.read_mark_snapshot(app_id, channel_id, user).await?
        else {
            return Ok(false);
        };
        let now = crate::model::now_ms();
        if store
            .mark_read(app_id, channel_id, &sort_key, seen, sent, now)
            .await?
        {
            return Ok(true);
        }
    }
    Err(Error::Unavailable(format!(
        "channel {channel_id}: the caller kept sending during the mark-read; retry"
    )))
}

/// `GET /v1.4/channels/unread/count`: the caller's unread messages over all their channels
/// (super channels have none).
pub async fn unread_total(store: &Store, app: &AppId, caller: &str) -> Result<i64, Error> {
    store.unread_total(app.as_str(), caller).await
}
