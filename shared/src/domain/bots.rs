//! Bots: create, view, list, update, delete; join and leave channels; a bot's channels.

use std::collections::HashMap;

use crate::Error;
use crate::auth::AppId;
use crate::domain::channels::{
    add_profiles, filtered_channels, one, validate_channel_id, validate_last_channel_id,
};
use crate::model::{Bot, BotChanges, ChannelDetail, Page, now_ms};
use crate::store::{BotMove, ChannelFilter, ChannelLookup, MAX_BOTS_PER_CHANNEL, Store};
use crate::validate::{self, MAX_URL_CHARS, MAX_USER_ID_CHARS, MAX_USERNAME_CHARS};
use crate::wire::{CreateBotRequest, UpdateBotRequest};

/// Bot `type` is app-defined, at most 68 characters (TalkPlus docs).
pub const MAX_BOT_TYPE_CHARS: usize = 68;
/// Bot lists: `limit` defaults to 50 and may be 1..=100.
pub const DEFAULT_BOT_LIST_LIMIT: usize = 50;
pub const MAX_BOT_LIST_LIMIT: usize = 100;
/// Deleting a bot removes its memberships in waves of 25 parallel transactions, four waves per
/// index page of 100: 50 sequential round trips per 1,000 channels, ~0.5 s at ~10 ms each, so
/// the 10 s function timeout covers well over 10,000; a delete cut short is finished by
/// repeating it.
const SWEEP_PAGE: usize = 100;
const SWEEP_CONCURRENCY: usize = 25;
/// A join refused for a channel that a read then shows is not full (it was mid-creation) is
/// tried again, at most this many times in all.
const JOIN_ATTEMPTS: usize = 3;

pub fn validate_bot_id(bot_id: &str) -> Result<(), Error> {
    validate::id("botId", bot_id, MAX_USER_ID_CHARS)
}

/// `callbackUrl`: empty (none), or an absolute `https` URL; `http` only for a loopback host,
/// for local development.
pub fn validate_callback_url(url: &str) -> Result<(), Error> {
    if url.is_empty() {
        return Ok(());
    }
    validate::max_chars("callbackUrl", url, MAX_URL_CHARS)?;
    let bad = || {
        Error::InvalidParam(
            "callbackUrl must be an absolute https URL (http only for localhost)".into(),
        )
    };
    if !validate::is_callback_url(url) {
        return Err(bad());
    }
    Ok(())
}

fn validate_changes(req: UpdateBotRequest) -> Result<BotChanges, Error> {
    if let Some(v) = &req.name {
        validate::max_chars("name", v, MAX_USERNAME_CHARS)?;
    }
    if let Some(v) = &req.profile_image_url {
        validate::max_chars("profileImageUrl", v, MAX_URL_CHARS)?;
    }
    if let Some(v) = &req.bot_type {
        validate::max_chars("type", v, MAX_BOT_TYPE_CHARS)?;
    }
    if let Some(v) = &req.callback_url {
        validate_callback_url(v)?;
    }
    Ok(BotChanges {
        name: req.name,
        profile_image_url: req.profile_image_url,
        bot_type: req.bot_type,
        callback_url: req.callback_url,
    })
}

pub async fn create(store: &Store, app: &AppId, req: CreateBotRequest) -> Result<Bot, Error> {
    let id = validate::required("id", req.id)?;
    validate_bot_id(&id)?;
    let profile = validate_changes(UpdateBotRequest {
        name: req.name,
        profile_image_url: req.profile_image_url,
        bot_type: req.bot_type,
        callback_url: req.callback_url,
    })?;
    let now = now_ms();
    let bot = Bot {
        id,
        name: profile.name.unwrap_or_default(),
        profile_image_url: profile.profile_image_url.unwrap_or_default(),
        bot_type: profile.bot_type.unwrap_or_default(),
        callback_url: profile.callback_url.unwrap_or_default(),
        created_at: now,
        updated_at: now,
    };
    store.create_bot(app.as_str(), &bot).await?;
    Ok(bot)
}

pub async fn get(store: &Store, app: &AppId, bot_id: &str) -> Result<Bot, Error> {
    validate_bot_id(bot_id)?;
    store
        .bot(app.as_str(), bot_id)
        .await?
        .ok_or_else(|| Error::BotNotFound(bot_id.to_owned()))
}

pub async fn list(
    store: &Store,
    app: &AppId,
    last_bot_id: Option<&str>,
    limit: usize,
) -> Result<Page<Bot>, Error> {
    let last = last_bot_id.filter(|s| !s.is_empty());
    if let Some(last) = last {
        validate::id("lastBotId", last, MAX_USER_ID_CHARS)?;
    }
    store.bots_after(app.as_str(), last, limit).await
}

/// Changes a bot. Channels read bot profiles when they answer, so the change shows in every
/// channel's `bots` at once.
pub async fn update(
    store: &Store,
    app: &AppId,
    bot_id: &str,
    req: UpdateBotRequest,
) -> Result<Bot, Error> {
    validate_bot_id(bot_id)?;
    let changes = validate_changes(req)?;
    store
        .update_bot(app.as_str(), bot_id, &changes, now_ms())
        .await
}

/// Deletes a bot, then removes it from every channel it joined, paging through its reverse
/// index. The bot item goes first, so no join can succeed while the memberships are being
/// removed. If the function stops part way (or the index had not yet caught up with a join
/// made a moment before), a repeated delete removes what is left; it answers `7001` only when
/// there was neither a bot nor a membership to remove.
pub async fn delete(store: &Store, app: &AppId, bot_id: &str) -> Result<(), Error> {
    validate_bot_id(bot_id)?;
    let existed = store.delete_bot(app.as_str(), bot_id).await?;
    let removed = remove_from_all_channels(store, app, bot_id).await?;
    if !existed && removed == 0 {
        return Err(Error::BotNotFound(bot_id.to_owned()));
    }
    Ok(())
}

async fn remove_from_all_channels(
    store: &Store,
    app: &AppId,
    bot_id: &str,
) -> Result<usize, Error> {
    let mut removed = 0;
    let mut after: Option<String> = None;
    loop {
        let page = store
            .bot_channel_ids(app.as_str(), bot_id, after.as_deref(), SWEEP_PAGE)
            .await?;
        for chunk in page.items.chunks(SWEEP_CONCURRENCY) {
            let moves = futures::future::try_join_all(
                chunk
                    .iter()
                    .map(|channel| store.remove_bot_membership(app.as_str(), bot_id, channel)),
            )
            .await?;
            removed += moves.iter().filter(|m| **m == BotMove::Changed).count();
        }
        if !page.has_next {
            return Ok(removed);
        }
        after = page.items.last().cloned();
    }
}

fn validate_ids(bot_id: &str, channel_id: &str) -> Result<(), Error> {
    validate_bot_id(bot_id)?;
    validate_channel_id(channel_id)
}

/// `POST /bots/{botId}/channels/{channelId}/join`: two sequential round trips. The
/// transaction goes beside the channel read and, once the read is back, beside the profile
/// reads, which are made for the channel as the join leaves it (the bot in it). A write waits
/// for the rate limiter's count (`ratelimit::WriteGate`), which shares the first round with
/// the channel read; chaining the profiles after the transaction would make that three.
pub async fn join(
    store: &Store,
    app: &AppId,
    bot_id: &str,
    channel_id: &str,
) -> Result<ChannelDetail, Error> {
    validate_ids(bot_id, channel_id)?;
    let mut attempt = 1;
    loop {
        let (moved, shown) = futures::future::try_join(
            store.join_bot(app.as_str(), bot_id, channel_id, now_ms()),
            channel_as_left(store, app, channel_id, |bots| {
                let full = bots.len() >= MAX_BOTS_PER_CHANNEL as usize;
                if let Err(at) = bots.binary_search_by(|b| b.as_str().cmp(bot_id)) {
                    bots.insert(at, bot_id.to_owned());
                }
                full
            }),
        )
        .await?;
        if moved == BotMove::BotMissing {
            return Err(Error::BotNotFound(bot_id.to_owned()));
        }
        let Some((detail, full)) = shown else {
            return Err(Error::ChannelNotFound(channel_id.to_owned()));
        };
        if moved == BotMove::ChannelRefused {
            if full || attempt >= JOIN_ATTEMPTS {
                return Err(Error::TooManyBots(channel_id.to_owned()));
            }
            attempt += 1;
            continue;
        }
        return Ok(detail);
    }
}

/// `POST /bots/{botId}/channels/{channelId}/leave`, built as `join` is.
pub async fn leave(
    store: &Store,
    app: &AppId,
    bot_id: &str,
    channel_id: &str,
) -> Result<ChannelDetail, Error> {
    validate_ids(bot_id, channel_id)?;
    let (moved, shown) = futures::future::try_join(
        store.leave_bot(app.as_str(), bot_id, channel_id),
        channel_as_left(store, app, channel_id, |bots| bots.retain(|b| b != bot_id)),
    )
    .await?;
    if moved == BotMove::BotMissing {
        return Err(Error::BotNotFound(bot_id.to_owned()));
    }
    match shown {
        Some((detail, ())) if moved != BotMove::ChannelMissing => Ok(detail),
        _ => Err(Error::ChannelNotFound(channel_id.to_owned())),
    }
}

/// The channel with its profiles as a bot move leaves it: `change` corrects the bot list
/// read (the transaction beside decides the bot's own membership) and says what it saw.
/// `None` when there is no channel.
async fn channel_as_left<T>(
    store: &Store,
    app: &AppId,
    channel_id: &str,
    change: impl FnOnce(&mut Vec<String>) -> T,
) -> Result<Option<(ChannelDetail, T)>, Error> {
    let ChannelLookup::Found(mut cm) = store.channel(app.as_str(), channel_id).await? else {
        return Ok(None);
    };
    let seen = change(&mut cm.bot_ids);
    let detail = one(add_profiles(store, app, vec![*cm], HashMap::new()).await?)?;
    Ok(Some((detail, seen)))
}

/// `GET /bots/{botId}/channels`: a page of the bot's reverse index (read beside the bot, for
/// `7001`), then the channels as for a user's channels.
pub async fn channels(
    store: &Store,
    app: &AppId,
    bot_id: &str,
    last_channel_id: Option<&str>,
    limit: usize,
    filter: &ChannelFilter,
) -> Result<Page<ChannelDetail>, Error> {
    validate_bot_id(bot_id)?;
    let last = validate_last_channel_id(last_channel_id)?;
    let (bot, page) = futures::future::try_join(
        store.bot(app.as_str(), bot_id),
        store.bot_channel_ids(app.as_str(), bot_id, last, limit),
    )
    .await?;
    if bot.is_none() {
        return Err(Error::BotNotFound(bot_id.to_owned()));
    }
    filtered_channels(store, app, page, limit, filter, None, |after| async move {
        store
            .bot_channel_ids(app.as_str(), bot_id, Some(&after), limit)
            .await
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn callback_urls_are_https_or_loopback_http() {
        for ok in [
            "",
            "https://example.com/hook",
            "https://example.com:8443/a?b=c#d",
            "https://[2001:db8::1]/x",
            "http://localhost:3000/hook",
            "http://127.0.0.1/hook",
            "http://[::1]:8080/",
        ] {
            assert!(validate_callback_url(ok).is_ok(), "{ok}");
        }
        for bad in [
            "http://example.com/hook",
            "http://localhost.evil.com/",
            "http://127.0.0.1.nip.io/",
            "ftp://example.com/",
            "example.com/hook",
            "/hook",
            "https://",
            "https:///path",
            "https://user:pw@example.com/",
            "https://exa mple.com/",
            "HTTPS//example.com",
        ] {
            assert_eq!(
                validate_callback_url(bad).map_err(|e| e.spec().code),
                Err("1001"),
                "{bad}"
            );
        }
        let long = format!("https://example.com/{}", "a".repeat(2048));
        assert!(validate_callback_url(&long).is_err());
    }

    #[test]
    fn bot_fields_are_bounded() {
        let change = |req: UpdateBotRequest| validate_changes(req).map_err(|e| e.spec().code);
        assert!(
            change(UpdateBotRequest {
                name: Some("n".repeat(128)),
                bot_type: Some("t".repeat(68)),
                ..Default::default()
            })
            .is_ok()
        );
        assert_eq!(
            change(UpdateBotRequest {
                name: Some("n".repeat(129)),
                ..Default::default()
            }),
            Err("1001")
        );
        assert_eq!(
            change(UpdateBotRequest {
                bot_type: Some("t".repeat(69)),
                ..Default::default()
            }),
            Err("1001")
        );
        assert_eq!(
            change(UpdateBotRequest {
                profile_image_url: Some("u".repeat(2049)),
                ..Default::default()
            }),
            Err("1001")
        );
    }
}
