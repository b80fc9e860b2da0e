//! Channels: create (`create`), administration (`admin`), membership changes (`members`),
//! and the reads they share: view, a user's channels, profiles.

mod admin;
pub mod bulk;
pub mod client;
mod create;
pub mod member_state;
mod members;
pub mod peer_mute;

pub use admin::*;
pub use create::*;
pub use members::*;

use std::collections::{BTreeSet, HashMap};
use std::time::Duration;

use sha2::{Digest, Sha256};

use crate::Error;
use crate::auth::AppId;
use crate::domain::messages;
use crate::model::{
    BannedUser, Channel, ChannelDetail, ChannelMembers, ChannelType, Member, Membership, Page,
    User, now_ms,
};
use crate::secrets::{hex, random_hex};
use crate::store::{ChannelLookup, MAX_BATCH_GET_KEYS, Shown, Store};
use crate::validate::{self, MAX_URL_CHARS, MAX_USER_ID_CHARS};
use crate::wire::CreateChannelRequest;

pub const MAX_CHANNEL_ID_CHARS: usize = 128;
pub const MAX_CHANNEL_NAME_CHARS: usize = 128;
pub const MAX_CATEGORY_CHARS: usize = 32;
pub const MAX_INVITATION_CODE_CHARS: usize = 128;
/// Members of a non-super channel, and `maxMemberCount`'s default and bound for them.
pub const MAX_MEMBERS: i64 = 100;
/// Members one create request may name (owner included), for every type: one BatchGetItem
/// reads them all.
pub const MAX_INITIAL_MEMBERS: usize = MAX_BATCH_GET_KEYS;
/// `maxMemberCount` of super channels: unlimited.
pub const UNLIMITED: i64 = -1;
/// A user's channels: `limit` defaults to 20 and may be 1..=50 (each channel comes with up
/// to 100 members).
pub const DEFAULT_CHANNEL_LIST_LIMIT: usize = 20;
pub const MAX_CHANNEL_LIST_LIMIT: usize = 50;
/// How long a `reuseChannel` create waits for a concurrent creation of the same channel
/// that is between its two transactions.
const REUSE_WAIT: Duration = Duration::from_secs(3);

/// The channel and the states of `ids` (memberships, bans, and with `with_users` their
/// users), read together for a change about to be planned on them: `None` when an earlier
/// change of the channel was still being written (it is finished now: read again).
pub(crate) async fn read_for_change(
    store: &Store,
    app_id: &str,
    channel_id: &str,
    ids: &[String],
    with_users: bool,
) -> Result<Option<(Box<ChannelMembers>, crate::store::MemberStates)>, Error> {
    let (lookup, states) = futures::future::try_join(
        store.channel(app_id, channel_id),
        store.member_states(app_id, channel_id, ids, with_users),
    )
    .await?;
    let ChannelLookup::Found(cm) = lookup else {
        return Err(Error::ChannelNotFound(channel_id.to_owned()));
    };
    if cm.unfinished {
        store.finish_pending(app_id, channel_id).await?;
        return Ok(None);
    }
    Ok(Some((cm, states)))
}

/// The single channel of a one-channel `add_profiles`.
pub(crate) fn one(mut details: Vec<ChannelDetail>) -> Result<ChannelDetail, Error> {
    details
        .pop()
        .ok_or_else(|| Error::Internal("no channel after adding profiles".into()))
}

fn with_profiles(cm: ChannelMembers, shown: &Shown) -> ChannelDetail {
    let (users, bots) = (&shown.users, &shown.bots);
    ChannelDetail {
        viewer: None,
        last_message: cm.last_message.map(|m| messages::detail(m, shown)),
        members: cm
            .members
            .into_iter()
            .map(|m| Member {
                profile: users.get(&m.user_id).cloned(),
                membership: m,
            })
            .collect(),
        bots: cm
            .bot_ids
            .iter()
            .filter_map(|id| bots.get(id).cloned())
            .collect(),
        banned: cm
            .bans
            .into_iter()
            .map(|b| BannedUser {
                profile: users.get(&b.user_id).cloned(),
                ban: b,
            })
            .collect(),
        channel: cm.channel,
    }
}

/// Adds the current profiles of members and bots to channels read from the store, and their
/// last messages' authors and parents, with one round of batch reads for all of them; users
/// already in `known` are not read again.
pub(crate) async fn add_profiles(
    store: &Store,
    app: &AppId,
    channels: Vec<ChannelMembers>,
    known: HashMap<String, User>,
) -> Result<Vec<ChannelDetail>, Error> {
    let user_ids: BTreeSet<&String> = channels
        .iter()
        .flat_map(|c| {
            // Super channels show neither members nor bans: no profile to read for them.
            let shown = !c.channel.channel_type.is_super();
            c.members
                .iter()
                .map(|m| &m.user_id)
                .chain(c.bans.iter().map(|b| &b.user_id))
                .filter(move |_| shown)
        })
        .filter(|id| !known.contains_key(*id))
        .collect();
    let mut wanted = messages::Wanted {
        users: user_ids.into_iter().cloned().collect(),
        bots: channels
            .iter()
            .flat_map(|c| c.bot_ids.iter().cloned())
            .collect(),
        ..Default::default()
    };
    for m in channels.iter().filter_map(|c| c.last_message.as_ref()) {
        wanted.message(m);
    }
    wanted.users.retain(|id| !known.contains_key(id));
    let mut shown = wanted.read(store, app.as_str()).await?;
    shown.users.extend(known);
    Ok(channels
        .into_iter()
        .map(|c| with_profiles(c, &shown))
        .collect())
}

pub fn validate_channel_id(channel_id: &str) -> Result<(), Error> {
    validate::id("channelId", channel_id, MAX_CHANNEL_ID_CHARS)
}

/// `GET /channels/{channelId}`: one query (channel and members), then one batch read of the
/// members' profiles; a super channel is the query alone.
pub async fn get(store: &Store, app: &AppId, channel_id: &str) -> Result<ChannelDetail, Error> {
    validate_channel_id(channel_id)?;
    match store.channel(app.as_str(), channel_id).await? {
        ChannelLookup::Found(cm) => one(add_profiles(store, app, vec![*cm], HashMap::new()).await?),
        _ => Err(Error::ChannelNotFound(channel_id.to_owned())),
    }
}

/// `GET /users/{userId}/channels`: a page of the user's reverse index (read beside the user,
/// for `3003`), then `read_channels` (see `filtered_channels` for the filters).
/// `mine`: the client API's list of the caller's own channels (hidden or not, and its
/// filters); `None` (the admin API): every channel of the user.
pub async fn user_channels(
    store: &Store,
    app: &AppId,
    user_id: &str,
    last_channel_id: Option<&str>,
    limit: usize,
    filter: &crate::store::ChannelFilter,
    mine: Option<&client::ClientFilter>,
) -> Result<Page<ChannelDetail>, Error> {
    let hidden = mine.map(|m| m.hidden);
    validate::id("userId", user_id, MAX_USER_ID_CHARS)?;
    let last = validate_last_channel_id(last_channel_id)?;
    let (user, page) = futures::future::try_join(
        store.user(app.as_str(), user_id),
        store.user_channel_ids_hidden(app.as_str(), user_id, last, limit, hidden),
    )
    .await?;
    if user.is_none() {
        return Err(Error::UserNotFound(user_id.to_owned()));
    }
    filtered_channels(store, app, page, limit, filter, mine, |after| async move {
        store
            .user_channel_ids_hidden(app.as_str(), user_id, Some(&after), limit, hidden)
            .await
    })
    .await
}

/// The channels of a page of ids from a reverse index: read in parallel, then every member's
/// and bot's profile in one round. A channel still being created, or gone since the index was
/// read, is left out, so a page may hold fewer than `limit`.
pub(crate) async fn read_channels(
    store: &Store,
    app: &AppId,
    page: Page<String>,
) -> Result<Page<ChannelDetail>, Error> {
    let lookups =
        futures::future::try_join_all(page.items.iter().map(|id| store.channel(app.as_str(), id)))
            .await?;
    let channels = lookups
        .into_iter()
        .filter_map(|l| match l {
            ChannelLookup::Found(cm) => Some(*cm),
            _ => None,
        })
        .collect();
    Ok(Page {
        items: add_profiles(store, app, channels, HashMap::new()).await?,
        has_next: page.has_next,
    })
}
