//! Channel administration: update (and ownership transfer), freeze, delete, the app's
//! channel list.

use std::collections::HashMap;
use std::time::Duration;

use super::{
    MAX_CATEGORY_CHARS, MAX_CHANNEL_ID_CHARS, MAX_CHANNEL_NAME_CHARS, MAX_INVITATION_CODE_CHARS,
    MAX_MEMBERS, UNLIMITED, add_profiles, one, read_channels, validate_channel_id,
};
use crate::Error;
use crate::auth::AppId;
use crate::domain::Actor;
use crate::model::{ChannelChanges, ChannelDetail, ChannelMembers, ChannelType, Page, now_ms};
use crate::store::{ChannelFilter, ChannelLookup, Store, SweepOutcome, Swept};
use crate::validate::{self, MAX_URL_CHARS, MAX_USER_ID_CHARS};
use crate::wire::UpdateChannelRequest;

pub use crate::domain::cleanup::{INLINE_SWEEP, WORKER_SWEEP};
const UPDATE_ATTEMPTS: usize = 6;

/// Checks an update against the channel as read; pure, so each rule is a unit test.
pub fn plan_update(
    cm: &ChannelMembers,
    owner_is_member: bool,
    req: UpdateChannelRequest,
) -> Result<ChannelChanges, Error> {
    let c = &cm.channel;
    if let Some(v) = &req.name {
        validate::max_chars("name", v, MAX_CHANNEL_NAME_CHARS)?;
    }
    if let Some(v) = &req.image_url {
        validate::max_chars("imageUrl", v, MAX_URL_CHARS)?;
    }
    if let Some(v) = &req.category {
        validate::max_chars("category", v, MAX_CATEGORY_CHARS)?;
    }
    if let Some(v) = &req.subcategory {
        validate::max_chars("subcategory", v, MAX_CATEGORY_CHARS)?;
        let category = req.category.as_deref().unwrap_or(&c.category);
        if !v.is_empty() && category.is_empty() {
            return Err(Error::InvalidParam(
                "subcategory needs a category (given or already set)".into(),
            ));
        }
    }
    let data = req
        .data
        .map(|d| validate::data_map("data", &d))
        .transpose()?;
    if let Some(code) = &req.invitation_code {
        validate::max_chars("invitationCode", code, MAX_INVITATION_CODE_CHARS)?;
        if code.is_empty() && c.channel_type == ChannelType::InvitationOnly {
            return Err(Error::InvitationCodeEmpty);
        }
    }
    if let Some(owner) = &req.owner_id {
        validate::id("ownerId", owner, MAX_USER_ID_CHARS)?;
        if *owner == c.owner_id {
            return Err(Error::AlreadyOwner(owner.clone()));
        }
        if !owner_is_member {
            return Err(Error::MemberNotFound(owner.clone()));
        }
    }
    if let Some(max) = req.max_member_count {
        let in_bounds = if c.channel_type.is_super() {
            max == UNLIMITED || max >= 1
        } else {
            (1..=MAX_MEMBERS).contains(&max)
        };
        if !in_bounds {
            return Err(Error::InvalidParam(if c.channel_type.is_super() {
                "maxMemberCount must be -1 (unlimited) or at least 1".into()
            } else {
                format!("maxMemberCount must be from 1 to {MAX_MEMBERS}")
            }));
        }
        if max != UNLIMITED && max < c.member_count {
            return Err(Error::ChannelFull(format!(
                "maxMemberCount {max} is below the channel's {} members",
                c.member_count
            )));
        }
    }
    Ok(ChannelChanges {
        name: req.name,
        owner_id: req.owner_id,
        invitation_code: req.invitation_code,
        image_url: req.image_url,
        data,
        max_member_count: req.max_member_count,
        hide_messages_before_join: req.hide_messages_before_join,
        category: req.category,
        subcategory: req.subcategory,
        is_frozen: None,
    })
}

fn apply(cm: &mut ChannelMembers, ch: &ChannelChanges, now: i64) {
    let c = &mut cm.channel;
    let set = |field: &mut String, v: &Option<String>| {
        if let Some(v) = v {
            field.clone_from(v);
        }
    };
    set(&mut c.name, &ch.name);
    set(&mut c.owner_id, &ch.owner_id);
    set(&mut c.invitation_code, &ch.invitation_code);
    set(&mut c.image_url, &ch.image_url);
    set(&mut c.category, &ch.category);
    set(&mut c.subcategory, &ch.subcategory);
    if let Some(d) = &ch.data {
        c.data.clone_from(d);
    }
    if let Some(v) = ch.max_member_count {
        c.max_member_count = v;
    }
    if let Some(v) = ch.hide_messages_before_join {
        c.hide_messages_before_join = v;
    }
    if let Some(v) = ch.is_frozen {
        c.is_frozen = v;
    }
    c.updated_at = now;
}

/// A client's change that only the owner may make: the caller, and the refusal otherwise.
type OwnerOnly<'a> = (&'a str, fn() -> Error);

/// Reads the channel (and, for a new owner, their membership), decides the change with
/// `decide`, writes it beside the response's profile reads: two sequential round trips.
async fn update_with(
    store: &Store,
    app: &AppId,
    channel_id: &str,
    new_owner: Option<&str>,
    owner_only: Option<OwnerOnly<'_>>,
    decide: impl Fn(&ChannelMembers, bool) -> Result<ChannelChanges, Error>,
) -> Result<ChannelDetail, Error> {
    validate_channel_id(channel_id)?;
    let app_id = app.as_str();
    let owner_ids: Vec<String> = new_owner.map(str::to_owned).into_iter().collect();
    for _ in 0..UPDATE_ATTEMPTS {
        let (lookup, states) = futures::future::try_join(
            store.channel(app_id, channel_id),
            store.member_states(app_id, channel_id, &owner_ids, new_owner.is_some()),
        )
        .await?;
        let ChannelLookup::Found(mut cm) = lookup else {
            return Err(Error::ChannelNotFound(channel_id.to_owned()));
        };
        if cm.unfinished {
            store.finish_pending(app_id, channel_id).await?;
            continue;
        }
        // A deleted user's membership may still be being swept: it does not count.
        let new_owner_user = new_owner.and_then(|o| states.users.get(o));
        let owner_is_member = new_owner
            .is_some_and(|o| states.memberships.contains_key(o) && new_owner_user.is_some());
        // The client API: the owner's alone, checked again by the write.
        if let Some((caller, refused)) = owner_only
            && cm.channel.owner_id != caller
        {
            return Err(refused());
        }
        let changes = decide(&cm, owner_is_member)?;
        if let Some(u) = new_owner_user.filter(|u| u.deactivated) {
            return Err(Error::DeactivatedUser(u.id.clone()));
        }
        let now = now_ms();
        let channel = cm.channel.clone();
        apply(&mut cm, &changes, now);
        let (written, detail) = futures::future::try_join(
            store.update_channel(app_id, &channel, &changes, owner_only.map(|(c, _)| c), now),
            add_profiles(store, app, vec![*cm], HashMap::new()),
        )
        .await?;
        if written.is_ok() {
            return one(detail);
        }
    }
    Err(Error::Unavailable(format!(
        "channel {channel_id} kept changing; retry"
    )))
}

/// `PUT /channels/{channelId}`.
pub async fn update(
    store: &Store,
    app: &AppId,
    actor: Actor<'_>,
    channel_id: &str,
    req: UpdateChannelRequest,
) -> Result<ChannelDetail, Error> {
    let new_owner = req.owner_id.clone();
    if let Some(o) = &new_owner {
        validate::id("ownerId", o, MAX_USER_ID_CHARS)?;
    }
    // A client's update is the owner's (`2006`); a client's transfer too (`2031`).
    let refused: fn() -> Error = if new_owner.is_some() {
        || Error::NotChannelOwner
    } else {
        || Error::UpdateNotAuthorized
    };
    let owner_only = match actor {
        Actor::Admin => None,
        Actor::User(caller) => Some((caller, refused)),
    };
    update_with(
        store,
        app,
        channel_id,
        new_owner.as_deref(),
        owner_only,
        |cm, member| plan_update(cm, member, req.clone()),
    )
    .await
}

/// `POST /channels/{channelId}/freeze` and `/unfreeze`.
pub async fn set_frozen(
    store: &Store,
    app: &AppId,
    actor: Actor<'_>,
    channel_id: &str,
    frozen: bool,
) -> Result<(), Error> {
    let owner_only = match actor {
        Actor::Admin => None,
        Actor::User(caller) => Some((caller, (|| Error::NotChannelOwner) as fn() -> Error)),
    };
    update_with(store, app, channel_id, None, owner_only, |_, _| {
        Ok(ChannelChanges {
            is_frozen: Some(frozen),
            ..Default::default()
        })
    })
    .await
    .map(drop)
}

/// `DELETE /channels/{channelId}`: the channel is gone for every reader with the first write;
/// its items follow, swept here for up to `INLINE_SWEEP` and by the sweeper after that.
/// Repeating a delete is harmless: `2003` only when nothing is left under the id.
/// On the client API the owner's alone (`2031`), and a deleted channel is not found.
pub async fn delete(
    store: &Store,
    app: &AppId,
    actor: Actor<'_>,
    channel_id: &str,
) -> Result<(), Error> {
    validate_channel_id(channel_id)?;
    let owner = match actor {
        Actor::Admin => None,
        Actor::User(caller) => Some(caller),
    };
    if !store
        .delete_channel(app.as_str(), channel_id, owner, now_ms())
        .await?
    {
        if let Some(caller) = owner
            && let ChannelLookup::Found(cm) = store.channel_head(app.as_str(), channel_id).await?
            && cm.channel.owner_id != caller
        {
            return Err(Error::NotChannelOwner);
        }
        return Err(Error::ChannelNotFound(channel_id.to_owned()));
    }
    sweep(store, app.as_str(), channel_id, INLINE_SWEEP).await
}

/// Sweeps a deleted channel for up to `budget`, and hands on what is left.
pub async fn sweep(
    store: &Store,
    app_id: &str,
    channel_id: &str,
    budget: Duration,
) -> Result<(), Error> {
    if store.sweep_channel(app_id, channel_id, budget).await? == SweepOutcome::More {
        store
            .rearm_sweep(&Swept::Channel {
                app_id: app_id.to_owned(),
                channel_id: channel_id.to_owned(),
            })
            .await?;
    }
    Ok(())
}

/// Validates the list filters.
pub fn channel_filter(
    channel_type: Option<&str>,
    category: Option<&str>,
    subcategory: Option<&str>,
) -> Result<ChannelFilter, Error> {
    let nonempty = |v: Option<&str>| v.filter(|s| !s.is_empty()).map(str::to_owned);
    let filter = ChannelFilter {
        channel_type: nonempty(channel_type),
        category: nonempty(category),
        subcategory: nonempty(subcategory),
    };
    if let Some(t) = &filter.channel_type
        && ChannelType::parse(t).is_none()
    {
        return Err(Error::InvalidParam(format!(
            "type must be one of {}",
            ChannelType::ALL.map(ChannelType::as_str).join(", ")
        )));
    }
    for (name, v) in [
        ("category", &filter.category),
        ("subcategory", &filter.subcategory),
    ] {
        if let Some(v) = v {
            validate::max_chars(name, v, MAX_CATEGORY_CHARS)?;
        }
    }
    Ok(filter)
}

pub(crate) fn validate_last_channel_id(last: Option<&str>) -> Result<Option<&str>, Error> {
    let last = last.filter(|s| !s.is_empty());
    if let Some(last) = last {
        validate::id("lastChannelId", last, MAX_CHANNEL_ID_CHARS)?;
    }
    Ok(last)
}

/// `GET /channels`: a page of the app's channel index (filtered there), then the channels.
pub async fn list(
    store: &Store,
    app: &AppId,
    last_channel_id: Option<&str>,
    limit: usize,
    filter: &ChannelFilter,
) -> Result<Page<ChannelDetail>, Error> {
    let after = validate_last_channel_id(last_channel_id)?;
    let ids = store
        .channel_ids(app.as_str(), after, limit, filter)
        .await?;
    read_channels(store, app, ids).await
}

/// The channels of a reverse index (a user's or a bot's) that pass `filter`, `limit` of
/// them after `after`. The index holds memberships, which carry no category, so a filter is
/// applied to the channels read, paging on through the index until the page is full.
pub(crate) async fn filtered_channels<F, Fut>(
    store: &Store,
    app: &AppId,
    first: Page<String>,
    limit: usize,
    filter: &ChannelFilter,
    mine: Option<&super::client::ClientFilter>,
    mut next: F,
) -> Result<Page<ChannelDetail>, Error>
where
    F: FnMut(String) -> Fut,
    Fut: std::future::Future<Output = Result<Page<String>, Error>>,
{
    // A member's own list: their memberships of super channels are read too (the channel
    // reads leave those members out), before the filters that look at them.
    let viewer = mine.map(|m| m.viewer.as_str());
    let read_page = |page| async move {
        let mut read = read_channels(store, app, page).await?;
        if let Some(v) = viewer {
            super::client::add_own_super_memberships(store, app.as_str(), v, &mut read.items)
                .await?;
        }
        Ok::<_, Error>(read)
    };
    let mine = mine.filter(|m| !m.is_empty());
    if filter.is_empty() && mine.is_none() {
        return read_page(first).await;
    }
    let mut found = Vec::new();
    let mut page = first;
    loop {
        let last = page.items.last().cloned();
        let more = page.has_next;
        let read = read_page(page).await?;
        found.extend(
            read.items
                .into_iter()
                .filter(|d| filter.matches(&d.channel))
                .filter(|d| mine.is_none_or(|m| m.matches(d))),
        );
        if found.len() > limit {
            found.truncate(limit);
            return Ok(Page {
                items: found,
                has_next: true,
            });
        }
        match (more, last) {
            (true, Some(last)) => page = next(last).await?,
            _ => {
                return Ok(Page {
                    items: found,
                    has_next: false,
                });
            }
        }
    }
}
