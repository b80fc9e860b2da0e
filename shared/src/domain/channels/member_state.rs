//! A member's own view of a channel: hidden or not, push notifications and their sounds, a
//! private tag and private data only they see, and the member info every member sees. The
//! client API sets the caller's; the admin API's `hide`, `show` and `push/...` name the user.
//! One read round (the channel and the membership), then one conditional update of the
//! membership beside the answer's profile reads: two round trips.

use std::collections::HashMap;

use super::{add_profiles, one, validate_channel_id};
use crate::Error;
use crate::auth::AppId;
use crate::domain::Actor;
use crate::model::{ChannelDetail, Member};
use crate::store::{MemberStateChange, Store};
use crate::validate::{self, MAX_USER_ID_CHARS};

/// A private tag's length, and a push sound's.
pub const MAX_PRIVATE_TAG_CHARS: usize = 128;
pub const MAX_PUSH_SOUND_CHARS: usize = 256;
const ATTEMPTS: usize = 6;

/// `privateTag`: up to 128 characters (`1014`).
pub fn private_tag(tag: Option<String>) -> Result<MemberStateChange, Error> {
    let tag = validate::required("privateTag", tag)?;
    if tag.chars().count() > MAX_PRIVATE_TAG_CHARS {
        return Err(Error::InvalidPrivateTag(format!(
            "privateTag must be at most {MAX_PRIVATE_TAG_CHARS} characters"
        )));
    }
    Ok(MemberStateChange::PrivateTag(tag))
}

/// `privateData`: as `data`, at most 5 string pairs (`1013`).
pub fn private_data(data: Option<serde_json::Value>) -> Result<MemberStateChange, Error> {
    let data = validate::required("privateData", data)?;
    validate::data_map("privateData", &data)
        .map(MemberStateChange::PrivateData)
        .map_err(|e| Error::InvalidPrivateData(e.to_string()))
}

/// `memberInfo`: as `data`, at most 5 string pairs (`1015`).
pub fn member_info(info: Option<serde_json::Value>) -> Result<MemberStateChange, Error> {
    let info = validate::required("memberInfo", info)?;
    validate::data_map("memberInfo", &info)
        .map(MemberStateChange::MemberInfo)
        .map_err(|e| Error::InvalidMemberInfo(e.to_string()))
}

/// `push/settings`' sounds, each up to 256 characters.
pub fn push_sounds(aos: Option<String>, ios: Option<String>) -> Result<MemberStateChange, Error> {
    for (field, v) in [
        ("pushNotificationSoundAos", &aos),
        ("pushNotificationSoundIos", &ios),
    ] {
        if let Some(v) = v {
            validate::max_chars(field, v, MAX_PUSH_SOUND_CHARS)?;
        }
    }
    Ok(MemberStateChange::PushSounds { aos, ios })
}

/// Whose view `actor` changes: the caller's on the client API; on the admin API the user
/// named (`1002` when missing).
pub fn whose(actor: Actor<'_>, named: Option<String>) -> Result<String, Error> {
    match actor {
        Actor::User(caller) => Ok(caller.to_owned()),
        Actor::Admin => {
            let user = validate::required("userId", named)?;
            validate::id("userId", &user, MAX_USER_ID_CHARS)?;
            Ok(user)
        }
    }
}

/// Applies `change` (`None`: reads only, for `GET push/settings`) to `user`'s view of the
/// channel: the channel with the user's membership as it is after, and the member.
/// `2003` no channel; a user who is not a member `2005` (client) or `2001` (admin).
pub async fn set(
    store: &Store,
    app: &AppId,
    actor: Actor<'_>,
    user: &str,
    channel_id: &str,
    change: Option<MemberStateChange>,
) -> Result<(ChannelDetail, Member), Error> {
    validate_channel_id(channel_id)?;
    let app_id = app.as_str();
    let ids = [user.to_owned()];
    for _ in 0..ATTEMPTS {
        let Some((cm, mut states)) =
            super::read_for_change(store, app_id, channel_id, &ids, true).await?
        else {
            continue;
        };
        let Some(read) = states.memberships.remove(user) else {
            return Err(match actor {
                Actor::User(_) => Error::NotChannelMember(user.to_owned()),
                Actor::Admin => Error::MemberNotFound(user.to_owned()),
            });
        };
        let channel = cm.channel.clone();
        let profile = states.users.remove(user);
        let (after, detail) = match &change {
            Some(change) => {
                let (after, detail) = futures::future::try_join(
                    store.set_member_state(app_id, &channel, user, change),
                    add_profiles(store, app, vec![*cm], HashMap::new()),
                )
                .await?;
                match after {
                    Some(after) => (after, detail),
                    // Gone since the read: decided again (a non-member's answer).
                    None => continue,
                }
            }
            None => (
                read,
                add_profiles(store, app, vec![*cm], HashMap::new()).await?,
            ),
        };
        let mut detail = one(detail)?;
        for m in detail
            .members
            .iter_mut()
            .filter(|m| m.membership.user_id == user)
        {
            m.membership = after.clone();
        }
        detail.viewer = Some(after.clone());
        return Ok((
            detail,
            Member {
                membership: after,
                profile,
            },
        ));
    }
    Err(Error::Unavailable(format!(
        "channel {channel_id} kept changing; retry"
    )))
}
