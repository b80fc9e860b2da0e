//! Messages: send (by a user, the app, or a bot), view, history, delete; and how a message is
//! shown (its author's current profile, its parent as it is now). Storage: `store::messages`.

use std::collections::BTreeSet;

use serde_json::Value;
use sha2::{Digest, Sha256};

use super::channels::client::{Visibility, check_reader, reader_membership, watch};
use super::channels::validate_channel_id;
use crate::Error;
use crate::auth::AppId;
use crate::domain::Actor;
use crate::model::{
    Author, Bot, Channel, Message, MessageDetail, MessageRef, MessageType, Page, User, now_ms,
};
use crate::secrets::hex;
use crate::store::{
    ChannelLookup, HistoryOrder, IdempotencyClaim, SendQuery, SendReads, SendRefusal, SenderGuard,
    Shown, Store,
};
use crate::validate::{self, MAX_URL_CHARS, MAX_USER_ID_CHARS};
use crate::wire::{BotSendRequest, SendMessageRequest};

pub const MAX_TEXT_CHARS: usize = 8192;
pub const MAX_MESSAGE_DATA_PAIRS: usize = 10;
/// Users one message may mention (each is checked to be a member in the send's one read).
pub const MAX_MENTIONS: usize = 100;
pub const DEFAULT_MESSAGE_LIST_LIMIT: usize = 20;
pub const MAX_MESSAGE_LIST_LIMIT: usize = 50;
/// `Idempotency-Key`: how long a key is remembered, and how long it may be.
pub const IDEMPOTENCY_WINDOW_S: i64 = 24 * 60 * 60;
pub const MAX_IDEMPOTENCY_KEY_CHARS: usize = 255;
/// Sends decided again when what they read changed before their write (a member left, a
/// racing request took the idempotency key).
const SEND_ATTEMPTS: usize = 4;

/// A send's validated input.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Draft {
    pub message_type: MessageType,
    pub sender: Option<String>,
    pub text: String,
    pub data: std::collections::BTreeMap<String, String>,
    pub file_url: String,
    pub mentions: Vec<String>,
    pub parent_id: Option<String>,
}

/// An `Idempotency-Key` and what the request it came with says (its route, path and body).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Idempotency {
    pub key_digest: String,
    pub request_digest: String,
}

impl Idempotency {
    /// The key of the header, if any: 1 to 255 printable ASCII characters (`1001` else).
    pub fn from_request(
        key: Option<&str>,
        method: &str,
        path: &str,
        body: &[u8],
    ) -> Result<Option<Idempotency>, Error> {
        let Some(key) = key else { return Ok(None) };
        if key.is_empty()
            || key.len() > MAX_IDEMPOTENCY_KEY_CHARS
            || !key.bytes().all(|b| (0x20..0x7f).contains(&b))
        {
            return Err(Error::InvalidParam(format!(
                "Idempotency-Key must be 1 to {MAX_IDEMPOTENCY_KEY_CHARS} printable ASCII characters"
            )));
        }
        let mut h = Sha256::new();
        for part in [method.as_bytes(), path.as_bytes(), body] {
            h.update((part.len() as u64).to_be_bytes());
            h.update(part);
        }
        Ok(Some(Idempotency {
            key_digest: hex(&Sha256::digest(key.as_bytes())),
            request_digest: hex(&h.finalize()),
        }))
    }
}

/// A message id as the API takes it: a ULID in its canonical form (`1001` else).
pub fn parse_message_id(field: &str, id: &str) -> Result<ulid::Ulid, Error> {
    ulid::Ulid::from_string(id)
        .ok()
        .filter(|u| u.to_string() == id)
        .ok_or_else(|| {
            Error::InvalidParam(format!("{field} must be a message id (26-character ULID)"))
        })
}

/// A new message id: now, then 80 random bits.
pub fn new_message_id(now: i64) -> String {
    let mut b = [0u8; 16];
    getrandom::fill(&mut b).expect("the OS random number generator is available");
    let random = u128::from_le_bytes(b) & ((1u128 << 80) - 1);
    ulid::Ulid::from_parts(u64::try_from(now).unwrap_or(0), random).to_string()
}

fn content(
    text: Option<String>,
    data: Option<Value>,
    file_url: Option<String>,
) -> Result<(String, std::collections::BTreeMap<String, String>, String), Error> {
    let text = text.unwrap_or_default();
    if text.len() > MAX_TEXT_CHARS && text.chars().count() > MAX_TEXT_CHARS {
        return Err(Error::MessageTooLong(MAX_TEXT_CHARS));
    }
    let data = match data {
        None | Some(Value::Null) => Default::default(),
        Some(d) => validate::data_map_of("data", &d, MAX_MESSAGE_DATA_PAIRS)?,
    };
    let file_url = file_url.unwrap_or_default();
    validate_file_url(&file_url)?;
    // A file is a message's content too (the SDKs' file messages may have no text).
    if text.is_empty() && data.is_empty() && file_url.is_empty() {
        return Err(Error::MessageEmpty);
    }
    Ok((text, data, file_url))
}

/// `fileUrl`: empty, or an absolute http(s) URL of at most 2048 characters.
fn validate_file_url(url: &str) -> Result<(), Error> {
    if url.is_empty() {
        return Ok(());
    }
    validate::max_chars("fileUrl", url, MAX_URL_CHARS)?;
    let http = validate::url_parts(url).is_some_and(|p| {
        p.scheme.eq_ignore_ascii_case("https") || p.scheme.eq_ignore_ascii_case("http")
    });
    if !http {
        return Err(Error::InvalidParam(
            "fileUrl must be an absolute http or https URL".into(),
        ));
    }
    Ok(())
}

/// `mentions`: valid user ids, each once (in the order given), at most 100.
pub(crate) fn mention_ids(given: Option<Vec<String>>) -> Result<Vec<String>, Error> {
    let mut mentions: Vec<String> = Vec::new();
    for m in given.unwrap_or_default() {
        validate::id("mentions", &m, MAX_USER_ID_CHARS)?;
        if !mentions.contains(&m) {
            mentions.push(m);
        }
    }
    if mentions.len() > MAX_MENTIONS {
        return Err(Error::InvalidParam(format!(
            "mentions may name at most {MAX_MENTIONS} users"
        )));
    }
    Ok(mentions)
}

/// Checks a `messages/send` body; pure.
pub fn draft(req: SendMessageRequest) -> Result<Draft, Error> {
    let message_type = match req.message_type.as_deref() {
        None | Some("") => MessageType::Text,
        Some(t) => MessageType::parse(t)
            .filter(|t| !t.is_bot())
            .ok_or_else(|| {
                Error::InvalidParam(
                    "type must be one of text, hidden, custom, admin, admin_hidden".into(),
                )
            })?,
    };
    let sender = req.sender_id.filter(|s| !s.is_empty());
    match &sender {
        Some(s) => validate::id("senderId", s, MAX_USER_ID_CHARS)?,
        None if !message_type.is_admin() => return Err(Error::MissingParam("senderId")),
        None => {}
    }
    let mentions = mention_ids(req.mentions)?;
    let parent_id = req.parent_message_id.filter(|p| !p.is_empty());
    if let Some(p) = &parent_id {
        parse_message_id("parentMessageId", p)?;
    }
    let (text, data, file_url) = content(req.text, req.data, req.file_url)?;
    Ok(Draft {
        message_type,
        sender,
        text,
        data,
        file_url,
        mentions,
        parent_id,
    })
}

/// Checks a bot send body; pure.
pub fn bot_draft(req: BotSendRequest) -> Result<Draft, Error> {
    let message_type = match req.message_type.as_deref() {
        None | Some("") => MessageType::Bot,
        Some(t) => MessageType::parse(t)
            .filter(|t| t.is_bot())
            .ok_or_else(|| Error::InvalidParam("type must be bot or bot_hidden".into()))?,
    };
    let (text, data, file_url) = content(req.text, req.data, req.file_url)?;
    Ok(Draft {
        message_type,
        sender: None,
        text,
        data,
        file_url,
        mentions: Vec::new(),
        parent_id: None,
    })
}

/// Who sends: a user (or the app, with no sender) through `messages/send`, or a bot.
#[derive(Debug, Clone, Copy)]
enum Origin<'a> {
    User,
    Bot(&'a str),
}

/// Decides a send on what was read (`bot`: the sending bot, found); pure. Returns the guard
/// its write carries and the author.
pub fn check_send(
    channel: &Channel,
    draft: &Draft,
    bot: Option<&Bot>,
    reads: &SendReads,
    now: i64,
) -> Result<(SenderGuard, Author), Error> {
    let (guard, author) = if let Some(b) = bot {
        if !reads.bot_is_member {
            return Err(Error::SenderNotMember(format!("bot {}", b.id)));
        }
        if channel.is_frozen {
            return Err(Error::FrozenChannel);
        }
        (SenderGuard::Bot(b.id.clone()), bot_author(b))
    } else if let Some(sender) = &draft.sender {
        let (Some((sort_key, membership)), Some(user)) = (&reads.membership, &reads.user) else {
            return Err(Error::SenderNotMember(sender.clone()));
        };
        if user.deactivated {
            return Err(Error::DeactivatedUser(sender.clone()));
        }
        let admin = draft.message_type.is_admin();
        if channel.is_frozen && !admin && channel.owner_id != *sender {
            return Err(Error::FrozenChannel);
        }
        if !admin && (membership.is_muted(now) || membership.peers.is_muted(now)) {
            return Err(Error::Muted(sender.clone()));
        }
        (
            SenderGuard::Member {
                sort_key: sort_key.clone(),
                mute_applies: !admin,
                peer_mutes_seen: membership.peers.muted_by_version,
            },
            user_author(user),
        )
    } else {
        (SenderGuard::Channel, Author::default())
    };
    if let Some(m) = draft
        .mentions
        .iter()
        .find(|m| !reads.mentioned_members.contains(*m))
    {
        return Err(Error::MentionNotMember(m.clone()));
    }
    if let Some(p) = &draft.parent_id
        && reads.parent.is_none()
    {
        return Err(Error::InvalidParam(format!(
            "parentMessageId {p} is not a message of this channel"
        )));
    }
    Ok((guard, author))
}

fn user_author(u: &User) -> Author {
    Author {
        username: u.username.clone(),
        profile_image_url: u.profile_image_url.clone(),
    }
}

fn bot_author(b: &Bot) -> Author {
    Author {
        username: b.name.clone(),
        profile_image_url: b.profile_image_url.clone(),
    }
}

/// `POST /channels/{channelId}/messages/send`. On the client API the caller is the sender
/// (whatever `senderId` says) and the admin types are not theirs to send.
pub async fn send(
    store: &Store,
    app: &AppId,
    actor: Actor<'_>,
    channel_id: &str,
    mut req: SendMessageRequest,
    idempotency: Option<Idempotency>,
) -> Result<MessageDetail, Error> {
    validate_channel_id(channel_id)?;
    if let Actor::User(caller) = actor {
        req.sender_id = Some(caller.to_owned());
    }
    let draft = draft(req)?;
    if matches!(actor, Actor::User(_)) && draft.message_type.is_admin() {
        return Err(Error::InvalidParam(
            "type must be one of text, hidden, custom".into(),
        ));
    }
    send_draft(store, app, channel_id, &draft, Origin::User, idempotency).await
}

/// `POST /bots/{botId}/channels/{channelId}/send`.
pub async fn bot_send(
    store: &Store,
    app: &AppId,
    bot_id: &str,
    channel_id: &str,
    req: BotSendRequest,
    idempotency: Option<Idempotency>,
) -> Result<MessageDetail, Error> {
    validate::id("botId", bot_id, MAX_USER_ID_CHARS)?;
    validate_channel_id(channel_id)?;
    let draft = bot_draft(req)?;
    send_draft(
        store,
        app,
        channel_id,
        &draft,
        Origin::Bot(bot_id),
        idempotency,
    )
    .await
}

/// One read round (channel, sender, mentions, parent, idempotency record), then one
/// transaction; decided again if the transaction finds the read out of date.
async fn send_draft(
    store: &Store,
    app: &AppId,
    channel_id: &str,
    draft: &Draft,
    from: Origin<'_>,
    idempotency: Option<Idempotency>,
) -> Result<MessageDetail, Error> {
    let app_id = app.as_str();
    let bot = match from {
        Origin::Bot(b) => Some(b),
        Origin::User => None,
    };
    for _ in 0..SEND_ATTEMPTS {
        let now = now_ms();
        let reads = store
            .send_reads(
                app_id,
                channel_id,
                SendQuery {
                    sender: draft.sender.as_deref(),
                    bot,
                    mentions: &draft.mentions,
                    parent: draft.parent_id.as_deref(),
                    idempotency_key: idempotency.as_ref().map(|i| i.key_digest.as_str()),
                    now_s: now / 1000,
                },
            )
            .await?;
        if let (Some(record), Some(i)) = (&reads.idempotency, &idempotency) {
            if record.request_digest != i.request_digest {
                return Err(Error::InvalidParam(
                    "Idempotency-Key was used with another request in the last 24 hours".into(),
                ));
            }
            return get(
                store,
                app,
                Actor::Admin,
                &record.channel_id,
                &record.message_id,
            )
            .await;
        }
        let sending_bot = match (bot, &reads.bot) {
            (Some(b), None) => return Err(Error::BotNotFound(b.to_owned())),
            (Some(_), found) => found.as_ref(),
            (None, _) => None,
        };
        let ChannelLookup::Found(cm) = &reads.channel else {
            return Err(Error::ChannelNotFound(channel_id.to_owned()));
        };
        let (guard, author) = check_send(&cm.channel, draft, sending_bot, &reads, now)?;
        let user_id = match (bot, &draft.sender) {
            (Some(b), _) => b.to_owned(),
            (None, Some(s)) => s.clone(),
            (None, None) => String::new(),
        };
        let parent = reads.parent.clone();
        let message = Message {
            id: new_message_id(now),
            channel_id: channel_id.to_owned(),
            user_id,
            message_type: draft.message_type,
            text: draft.text.clone(),
            data: draft.data.clone(),
            file_url: draft.file_url.clone(),
            mentions: draft.mentions.clone(),
            parent: parent.as_ref().map(|p| MessageRef {
                id: p.id.clone(),
                user_id: p.user_id.clone(),
                message_type: p.message_type,
            }),
            reactions: Default::default(),
            created_at: now,
        };
        let claim = idempotency.as_ref().map(|i| IdempotencyClaim {
            key_digest: i.key_digest.clone(),
            request_digest: i.request_digest.clone(),
            expires_at: now / 1000 + IDEMPOTENCY_WINDOW_S,
        });
        // The parent's author is known from the parent read: their profile is read beside
        // the write, so a reply costs no extra round trip.
        let mut wanted = Wanted::default();
        if let Some(p) = &parent {
            wanted.author(&p.user_id, p.message_type);
        }
        let (written, shown) = futures::future::try_join(
            store.send_message(
                app_id,
                &message,
                &guard,
                claim.as_ref(),
                !cm.channel.channel_type.is_super() && !message.message_type.is_hidden(),
                now,
            ),
            wanted.read(store, app_id),
        )
        .await?;
        match written {
            Ok(()) => {
                let parent = parent.map(|p| {
                    Box::new(MessageDetail {
                        author: author_of(&p, &shown),
                        message: p,
                        parent: None,
                    })
                });
                return Ok(MessageDetail {
                    message,
                    author,
                    parent,
                });
            }
            Err(SendRefusal::Sender | SendRefusal::Idempotency) => continue,
        }
    }
    Err(Error::Unavailable(format!(
        "channel {channel_id}: the send kept being overtaken; retry"
    )))
}

/// Whose profiles, and which parent messages, showing some messages needs.
#[derive(Debug, Default)]
pub(crate) struct Wanted {
    pub users: BTreeSet<String>,
    pub bots: BTreeSet<String>,
    /// (channel id, message id)
    pub parents: BTreeSet<(String, String)>,
}

impl Wanted {
    pub(crate) fn author(&mut self, user_id: &str, t: MessageType) {
        if user_id.is_empty() {
            return;
        }
        if t.is_bot() {
            self.bots.insert(user_id.to_owned());
        } else {
            self.users.insert(user_id.to_owned());
        }
    }

    /// The message's author, its parent and the parent's author.
    pub(crate) fn message(&mut self, m: &Message) {
        self.author(&m.user_id, m.message_type);
        if let Some(p) = &m.parent {
            self.author(&p.user_id, p.message_type);
            self.parents.insert((m.channel_id.clone(), p.id.clone()));
        }
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.users.is_empty() && self.bots.is_empty() && self.parents.is_empty()
    }

    /// One round of batch reads (none when nothing is wanted).
    pub(crate) async fn read(&self, store: &Store, app_id: &str) -> Result<Shown, Error> {
        if self.is_empty() {
            return Ok(Default::default());
        }
        let users: Vec<String> = self.users.iter().cloned().collect();
        let bots: Vec<String> = self.bots.iter().cloned().collect();
        let parents: Vec<(String, String)> = self.parents.iter().cloned().collect();
        store
            .profiles_and_messages(app_id, &users, &bots, &parents)
            .await
    }
}

/// The author's current profile ("" for the app or an author that no longer exists).
fn author_of(m: &Message, shown: &Shown) -> Author {
    if m.message_type.is_bot() {
        shown.bots.get(&m.user_id).map(bot_author)
    } else {
        shown.users.get(&m.user_id).map(user_author)
    }
    .unwrap_or_default()
}

/// A message with what `Wanted::read` found for it.
pub(crate) fn detail(m: Message, shown: &Shown) -> MessageDetail {
    let parent = m.parent.as_ref().and_then(|p| shown.messages.get(&p.id));
    let parent = parent.map(|p| {
        Box::new(MessageDetail {
            author: author_of(p, shown),
            message: p.clone(),
            parent: None,
        })
    });
    MessageDetail {
        author: author_of(&m, shown),
        message: m,
        parent,
    }
}

/// Shows messages: one round of profile and parent reads for all of them.
pub(crate) async fn details(
    store: &Store,
    app_id: &str,
    messages: Vec<Message>,
) -> Result<Vec<MessageDetail>, Error> {
    let mut wanted = Wanted::default();
    for m in &messages {
        wanted.message(m);
    }
    let shown = wanted.read(store, app_id).await?;
    Ok(messages.into_iter().map(|m| detail(m, &shown)).collect())
}

/// `GET /channels/{channelId}/messages/{messageId}` (and `/message/{messageId}`): the
/// channel and the message in one batch read, then the profiles and parent.
pub async fn get(
    store: &Store,
    app: &AppId,
    actor: Actor<'_>,
    channel_id: &str,
    message_id: &str,
) -> Result<MessageDetail, Error> {
    validate_channel_id(channel_id)?;
    parse_message_id("messageId", message_id)?;
    let ((channel, message), member) = futures::future::try_join(
        store.channel_and_message(app.as_str(), channel_id, message_id),
        reader_membership(store, app, channel_id, actor),
    )
    .await?;
    let ChannelLookup::Found(cm) = channel else {
        return Err(Error::ChannelNotFound(channel_id.to_owned()));
    };
    check_reader(
        &cm.channel,
        actor,
        actor == Actor::Admin || member.is_some(),
    )?;
    let visibility = Visibility::of(&cm.channel, actor, member.as_ref());
    let message = message.filter(|m| visibility.as_ref().is_none_or(|v| v.shows(m)));
    let message = message.ok_or_else(|| Error::MessageNotFound(message_id.to_owned()))?;
    let mut shown = details(store, app.as_str(), vec![message]).await?;
    shown
        .pop()
        .ok_or_else(|| Error::Internal("no message after adding profiles".into()))
}

/// `order` of the history: `latest` (default) or `oldest`.
pub fn history_order(order: Option<&str>) -> Result<HistoryOrder, Error> {
    match order {
        None | Some("") | Some("latest") => Ok(HistoryOrder::Latest),
        Some("oldest") => Ok(HistoryOrder::Oldest),
        Some(_) => Err(Error::InvalidParam("order must be latest or oldest".into())),
    }
}

/// What page of a channel's history: after a cursor, in an order, how many, and whether only
/// the messages with a file (`messages/files`).
#[derive(Debug, Clone, Copy)]
pub struct HistoryPage<'a> {
    pub last_message_id: Option<&'a str>,
    pub order: HistoryOrder,
    pub limit: usize,
    pub files_only: bool,
}

/// `GET /channels/{channelId}/messages`: the channel item beside one Query of the page, then
/// the authors' profiles and the parents in one batch round (beside a reader's watch).
pub async fn list(
    store: &Store,
    app: &AppId,
    actor: Actor<'_>,
    channel_id: &str,
    wanted: HistoryPage<'_>,
) -> Result<Page<MessageDetail>, Error> {
    let HistoryPage {
        last_message_id,
        order,
        limit,
        files_only,
    } = wanted;
    validate_channel_id(channel_id)?;
    let cursor = last_message_id
        .filter(|c| !c.is_empty())
        .map(|c| parse_message_id("lastMessageId", c))
        .transpose()?;
    let app_id = app.as_str();
    let (channel, mut page, member) = futures::future::try_join3(
        store.channel_head(app_id, channel_id),
        store.messages_page_of(app_id, channel_id, order, cursor, limit, files_only),
        reader_membership(store, app, channel_id, actor),
    )
    .await?;
    let ChannelLookup::Found(cm) = channel else {
        return Err(Error::ChannelNotFound(channel_id.to_owned()));
    };
    check_reader(
        &cm.channel,
        actor,
        actor == Actor::Admin || member.is_some(),
    )?;
    let watching = watch(
        store,
        app,
        channel_id,
        cm.channel.channel_type,
        actor,
        member.is_some(),
    );
    let shown = async {
        if let Some(v) = Visibility::of(&cm.channel, actor, member.as_ref()) {
            page = visible_page(store, app_id, channel_id, &v, wanted, cursor, page).await?;
        }
        Ok(Page {
            items: details(store, app_id, page.items).await?,
            has_next: page.has_next,
        })
    };
    let ((), shown) = futures::join!(watching, shown);
    shown
}

/// What of a page of history a reader who sees from their join on may see, which may take
/// one more Query at either end.
async fn visible_page(
    store: &Store,
    app_id: &str,
    channel_id: &str,
    v: &Visibility,
    HistoryPage {
        order,
        limit,
        files_only,
        ..
    }: HistoryPage<'_>,
    cursor: Option<ulid::Ulid>,
    mut page: Page<Message>,
) -> Result<Page<Message>, Error> {
    // Oldest first from before the reader joined: start at their join instead.
    if let (HistoryOrder::Oldest, Some(joined)) = (order, v.joined())
        && cursor.is_none_or(|c| (c.timestamp_ms() as i64) < joined)
    {
        let start = ulid::Ulid::from_parts((joined.max(1) - 1) as u64, (1u128 << 80) - 1);
        page = store
            .messages_page_of(app_id, channel_id, order, Some(start), limit, files_only)
            .await?;
    }
    // Newest first, once the page reaches before the join the rest is all hidden.
    let reached_join = v
        .joined()
        .is_some_and(|t| page.items.iter().any(|m| m.created_at < t));
    page.items.retain(|m| v.shows(m));
    if order == HistoryOrder::Latest && reached_join {
        page.has_next = false;
    } else if let (HistoryOrder::Latest, Some(joined), true, Some(last)) =
        (order, v.joined(), page.has_next, page.items.last())
    {
        // Whether anything older is still the reader's: one more item, only here.
        let last = parse_message_id("lastMessageId", &last.id)?;
        let older = store
            .messages_page_of(app_id, channel_id, order, Some(last), 1, files_only)
            .await?;
        page.has_next = older.items.first().is_some_and(|m| m.created_at >= joined);
    }
    Ok(page)
}

/// `DELETE /channels/{channelId}/messages/{messageId}`: one conditional delete beside the
/// channel read. The channel's `lastMessage` is its newest message as read, so a deleted
/// message stops being it at once, whatever races.
pub async fn delete(
    store: &Store,
    app: &AppId,
    actor: Actor<'_>,
    channel_id: &str,
    message_id: &str,
) -> Result<(), Error> {
    validate_channel_id(channel_id)?;
    parse_message_id("messageId", message_id)?;
    let app_id = app.as_str();
    if let Actor::User(caller) = actor {
        return delete_as(store, app, caller, channel_id, message_id).await;
    }
    let (channel, deleted) = futures::future::try_join(
        store.channel_head(app_id, channel_id),
        store.delete_message(app_id, channel_id, message_id),
    )
    .await?;
    let ChannelLookup::Found(_) = channel else {
        return Err(Error::ChannelNotFound(channel_id.to_owned()));
    };
    if !deleted {
        return Err(Error::MessageNotFound(message_id.to_owned()));
    }
    Ok(())
}

/// A client's delete: their own message, or any message of a channel they own (`2031`);
/// the delete is conditioned on the same (the author, or the owner by a check of the
/// channel item), so an ownership moved meanwhile refuses it.
async fn delete_as(
    store: &Store,
    app: &AppId,
    caller: &str,
    channel_id: &str,
    message_id: &str,
) -> Result<(), Error> {
    for _ in 0..SEND_ATTEMPTS {
        let (channel, message) = store
            .channel_and_message(app.as_str(), channel_id, message_id)
            .await?;
        let ChannelLookup::Found(cm) = channel else {
            return Err(Error::ChannelNotFound(channel_id.to_owned()));
        };
        let message = message.ok_or_else(|| Error::MessageNotFound(message_id.to_owned()))?;
        let as_owner = if message.user_id == caller {
            None
        } else if cm.channel.owner_id == caller {
            Some(caller)
        } else {
            return Err(Error::NotChannelOwner);
        };
        if store
            .delete_message_as(app.as_str(), channel_id, message_id, caller, as_owner)
            .await?
        {
            return Ok(());
        }
        // Gone meanwhile, or the ownership moved: decided again on what is there now.
    }
    Err(Error::Unavailable(format!(
        "channel {channel_id} kept changing; retry"
    )))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn req(v: Value) -> SendMessageRequest {
        serde_json::from_value(v).unwrap()
    }

    #[test]
    fn draft_rules_and_codes() {
        let ok = draft(req(json!({"senderId": "u1", "text": "hi"}))).unwrap();
        assert_eq!(ok.message_type, MessageType::Text);
        let code = |v: Value| draft(req(v)).unwrap_err().spec().code;
        assert_eq!(code(json!({"text": "hi"})), "1002");
        assert_eq!(code(json!({"senderId": "u1"})), "4002");
        let file_only = json!({"senderId": "u1", "text": "", "fileUrl": "https://f.example/a.png"});
        assert_eq!(
            draft(req(file_only)).unwrap().file_url,
            "https://f.example/a.png"
        );
        assert_eq!(
            code(json!({"senderId": "u1", "text": "", "data": {}})),
            "4002"
        );
        assert_eq!(
            code(json!({"senderId": "u1", "text": "x".repeat(8193)})),
            "4001"
        );
        assert!(draft(req(json!({"senderId": "u1", "text": "가".repeat(8192)}))).is_ok());
        assert_eq!(
            code(json!({"senderId": "u1", "type": "bot", "text": "x"})),
            "1001"
        );
        assert_eq!(
            code(json!({"senderId": "u1", "type": "nope", "text": "x"})),
            "1001"
        );
        let eleven: serde_json::Map<String, Value> =
            (0..11).map(|i| (format!("k{i}"), json!("v"))).collect();
        assert_eq!(code(json!({"senderId": "u1", "data": eleven})), "1011");
        let ten: serde_json::Map<String, Value> =
            (0..10).map(|i| (format!("k{i}"), json!("v"))).collect();
        assert!(draft(req(json!({"senderId": "u1", "data": ten}))).is_ok());
        for bad in [
            "ftp://x/y",
            "/relative",
            "https://",
            "https:// x",
            "javascript:alert(1)",
        ] {
            assert_eq!(
                code(json!({"senderId": "u1", "text": "x", "fileUrl": bad})),
                "1001",
                "{bad}"
            );
        }
        assert!(
            draft(req(
                json!({"senderId": "u1", "text": "x", "fileUrl": "HTTPS://a.b/c?d"})
            ))
            .is_ok()
        );
        assert_eq!(
            code(json!({"senderId": "u1", "text": "x", "parentMessageId": "nope"})),
            "1001"
        );
        let admin = draft(req(json!({"type": "admin", "text": "notice"}))).unwrap();
        assert_eq!(
            (admin.message_type, admin.sender),
            (MessageType::Admin, None)
        );
        let d = draft(req(
            json!({"senderId": "u1", "text": "x", "mentions": ["a", "b", "a"]}),
        ))
        .unwrap();
        assert_eq!(d.mentions, ["a", "b"]);
        let many: Vec<String> = (0..101).map(|i| format!("u{i}")).collect();
        assert_eq!(
            code(json!({"senderId": "u1", "text": "x", "mentions": many})),
            "1001"
        );
    }

    #[test]
    fn bot_drafts_take_bot_types_only() {
        let b = |v: Value| bot_draft(serde_json::from_value(v).unwrap());
        assert_eq!(
            b(json!({"text": "x"})).unwrap().message_type,
            MessageType::Bot
        );
        assert_eq!(
            b(json!({"type": "bot_hidden", "data": {"k": "v"}}))
                .unwrap()
                .message_type,
            MessageType::BotHidden
        );
        for t in ["text", "admin", "x"] {
            assert_eq!(
                b(json!({"type": t, "text": "x"})).unwrap_err().spec().code,
                "1001"
            );
        }
        assert_eq!(b(json!({})).unwrap_err().spec().code, "4002");
    }

    #[test]
    fn message_ids_are_canonical_ulids_in_time_order() {
        let a = new_message_id(1_700_000_000_000);
        let b = new_message_id(1_700_000_000_001);
        assert!(a < b && a.len() == 26);
        assert!(parse_message_id("m", &a).is_ok());
        assert!(parse_message_id("m", &a.to_lowercase()).is_err());
        assert!(parse_message_id("m", "5f7d5e407d138500010000ce").is_err());
        assert_eq!(
            parse_message_id("m", &a).unwrap().timestamp_ms(),
            1_700_000_000_000
        );
    }

    #[test]
    fn idempotency_keys_and_digests() {
        let d = |k: &str, body: &[u8]| {
            Idempotency::from_request(Some(k), "POST", "/p", body).map(|i| i.unwrap())
        };
        let a = d("k1", b"{}").unwrap();
        assert_eq!(a, d("k1", b"{}").unwrap());
        assert_ne!(a.request_digest, d("k1", b"{ }").unwrap().request_digest);
        assert_ne!(a.key_digest, d("k2", b"{}").unwrap().key_digest);
        assert!(
            Idempotency::from_request(None, "POST", "/p", b"")
                .unwrap()
                .is_none()
        );
        for bad in ["", "a\nb", "é", &"k".repeat(256)] {
            assert_eq!(d(bad, b"{}").unwrap_err().spec().code, "1001", "{bad:?}");
        }
    }
}
