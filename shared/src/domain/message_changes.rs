//! What users change on messages through the client API: reactions, and edits of their own
//! messages. Each reads the channel, the message and the caller's membership in one round,
//! decides, then writes in one transaction that checks the membership (and, for an edit, the
//! authorship) again, the answer's profiles read beside it: two round trips.

use std::collections::BTreeMap;

use serde_json::Value;

use super::channels::client::{check_reader, reads_as_member};
use super::channels::validate_channel_id;
use super::messages::{
    MAX_MESSAGE_DATA_PAIRS, MAX_TEXT_CHARS, details, mention_ids, parse_message_id,
};
use crate::Error;
use crate::auth::AppId;
use crate::domain::Actor;
use crate::model::{Channel, Message, MessageDetail, MessageEdit};
use crate::store::{ChannelLookup, Store};
use crate::validate;
use crate::wire::EditMessageRequest;

/// Different reactions one message may carry, and users one reaction may have: together they
/// keep a message item far below DynamoDB's 400 KB.
pub const MAX_REACTION_KINDS: usize = 50;
pub const MAX_USERS_PER_REACTION: usize = 1_000;
/// A reaction is a name or an emoji of 1 to 64 characters.
pub const MAX_REACTION_CHARS: usize = 64;
const ATTEMPTS: usize = 6;

/// A reaction's name: 1–64 characters, no control characters.
pub fn validate_reaction(reaction: &str) -> Result<(), Error> {
    if reaction.is_empty()
        || reaction.chars().count() > MAX_REACTION_CHARS
        || reaction.chars().any(char::is_control)
    {
        return Err(Error::InvalidParam(format!(
            "reaction must be 1 to {MAX_REACTION_CHARS} characters without control characters"
        )));
    }
    Ok(())
}

/// The channel (`2003`), the message (`4003`) and whether the caller is a member, in one round.
async fn read(
    store: &Store,
    app: &AppId,
    caller: &str,
    channel_id: &str,
    message_id: &str,
    also: &[String],
) -> Result<(Channel, Message, crate::store::MemberStates), Error> {
    validate_channel_id(channel_id)?;
    parse_message_id("messageId", message_id)?;
    let mut ids = vec![caller.to_owned()];
    ids.extend(also.iter().filter(|m| *m != caller).cloned());
    let ((channel, message), states) = futures::future::try_join(
        store.channel_and_message(app.as_str(), channel_id, message_id),
        store.member_states(app.as_str(), channel_id, &ids, false),
    )
    .await?;
    let ChannelLookup::Found(cm) = channel else {
        return Err(Error::ChannelNotFound(channel_id.to_owned()));
    };
    let message = message.ok_or_else(|| Error::MessageNotFound(message_id.to_owned()))?;
    Ok((cm.channel, message, states))
}

/// `POST .../messages/{messageId}/reactions` (`add`) and `DELETE .../reactions[/{reaction}]`:
/// a member's own reaction; adding one twice or removing one not there changes nothing.
pub async fn react(
    store: &Store,
    app: &AppId,
    caller: &str,
    channel_id: &str,
    message_id: &str,
    reaction: &str,
    add: bool,
) -> Result<MessageDetail, Error> {
    validate_reaction(reaction)?;
    for _ in 0..ATTEMPTS {
        let (channel, mut message, states) =
            read(store, app, caller, channel_id, message_id, &[]).await?;
        if !states.memberships.contains_key(caller) {
            return Err(Error::NotChannelMember(caller.to_owned()));
        }
        let had_reactions = !message.reactions.is_empty();
        let users = message.reactions.entry(reaction.to_owned()).or_default();
        let present = users.iter().any(|u| u == caller);
        if add && !present {
            if users.is_empty() && message.reactions.len() > MAX_REACTION_KINDS {
                return Err(Error::InvalidParam(format!(
                    "a message may have at most {MAX_REACTION_KINDS} different reactions"
                )));
            }
            let users = message.reactions.entry(reaction.to_owned()).or_default();
            if users.len() >= MAX_USERS_PER_REACTION {
                return Err(Error::InvalidParam(format!(
                    "a reaction may have at most {MAX_USERS_PER_REACTION} users"
                )));
            }
            users.push(caller.to_owned());
            users.sort_unstable();
        } else if !add && present {
            users.retain(|u| u != caller);
        }
        message.reactions.retain(|_, users| !users.is_empty());
        if add == present {
            // Nothing to change: the answer is the message as read.
            return one(details(store, app.as_str(), vec![message]).await?);
        }
        let (written, shown) = futures::future::try_join(
            store.react(
                app.as_str(),
                &channel,
                message_id,
                caller,
                reaction,
                add,
                had_reactions,
                (MAX_REACTION_KINDS, MAX_USERS_PER_REACTION),
            ),
            details(store, app.as_str(), vec![message]),
        )
        .await?;
        if written {
            return one(shown);
        }
        tracing::debug!(
            message = message_id,
            "the message changed during a reaction; again"
        );
    }
    Err(Error::Unavailable(format!(
        "message {message_id} kept changing; retry"
    )))
}

/// `GET .../messages/{messageId}/reactions`: the message's reactions, for a reader of the
/// channel (a member, or anyone for a public one).
pub async fn reactions(
    store: &Store,
    app: &AppId,
    actor: Actor<'_>,
    channel_id: &str,
    message_id: &str,
) -> Result<BTreeMap<String, Vec<String>>, Error> {
    validate_channel_id(channel_id)?;
    parse_message_id("messageId", message_id)?;
    let ((channel, message), member) = futures::future::try_join(
        store.channel_and_message(app.as_str(), channel_id, message_id),
        reads_as_member(store, app, channel_id, actor),
    )
    .await?;
    let ChannelLookup::Found(cm) = channel else {
        return Err(Error::ChannelNotFound(channel_id.to_owned()));
    };
    check_reader(&cm.channel, actor, member)?;
    let message = message.ok_or_else(|| Error::MessageNotFound(message_id.to_owned()))?;
    Ok(message.reactions)
}

/// Checks an edit; pure. `text` and `data` replace the message's when given, as at a send:
/// text up to 8192 characters, `data` up to 10 pairs.
pub fn plan_edit(req: EditMessageRequest) -> Result<MessageEdit, Error> {
    if let Some(t) = &req.text
        && t.len() > MAX_TEXT_CHARS
        && t.chars().count() > MAX_TEXT_CHARS
    {
        return Err(Error::MessageTooLong(MAX_TEXT_CHARS));
    }
    let data = match req.data {
        None | Some(Value::Null) => None,
        Some(d) => Some(validate::data_map_of("data", &d, MAX_MESSAGE_DATA_PAIRS)?),
    };
    let mentions = req.mentions.map(|m| mention_ids(Some(m))).transpose()?;
    Ok(MessageEdit {
        text: req.text,
        data,
        mentions,
        clear_reactions: req.clear_reactions.unwrap_or(false),
    })
}

/// `PUT .../messages/{messageId}`: the sender's own message only (`1006`), while a member
/// (`2005`); mentions must be members (`2026`); text and data may not end up both empty
/// (`4002`).
pub async fn edit(
    store: &Store,
    app: &AppId,
    caller: &str,
    channel_id: &str,
    message_id: &str,
    req: EditMessageRequest,
) -> Result<MessageDetail, Error> {
    let change = plan_edit(req)?;
    let mentions = change.mentions.clone().unwrap_or_default();
    for _ in 0..ATTEMPTS {
        let (channel, mut message, states) =
            read(store, app, caller, channel_id, message_id, &mentions).await?;
        if !states.memberships.contains_key(caller) {
            return Err(Error::NotChannelMember(caller.to_owned()));
        }
        if message.user_id != caller {
            return Err(Error::NotMessageSender(message_id.to_owned()));
        }
        if let Some(m) = mentions
            .iter()
            .find(|m| !states.memberships.contains_key(*m))
        {
            return Err(Error::MentionNotMember(m.clone()));
        }
        if let Some(t) = &change.text {
            message.text = t.clone();
        }
        if let Some(d) = &change.data {
            message.data = d.clone();
        }
        if let Some(m) = &change.mentions {
            message.mentions = m.clone();
        }
        if change.clear_reactions {
            message.reactions.clear();
        }
        if message.text.is_empty() && message.data.is_empty() && message.file_url.is_empty() {
            return Err(Error::MessageEmpty);
        }
        let (written, shown) = futures::future::try_join(
            store.edit_message(app.as_str(), &channel, message_id, caller, &change),
            details(store, app.as_str(), vec![message]),
        )
        .await?;
        if written {
            return one(shown);
        }
        tracing::debug!(
            message = message_id,
            "the message changed during an edit; again"
        );
    }
    Err(Error::Unavailable(format!(
        "message {message_id} kept changing; retry"
    )))
}

fn one(mut shown: Vec<MessageDetail>) -> Result<MessageDetail, Error> {
    shown
        .pop()
        .ok_or_else(|| Error::Internal("no message after adding profiles".into()))
}
