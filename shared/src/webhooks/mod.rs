//! Webhooks and bot callbacks, from the table's change stream (docs/design.md, "Webhooks").
//!
//! - `records`: what each committed change means (a pure reading of stream records);
//! - `dispatch`: the stream consumer: each event's payload (the channel, message, members as
//!   they are now), one delivery job per receiver, onto the delivery queue;
//! - `deliver`: the queue consumer: signs and POSTs each job, retries on the app's schedule,
//!   dead-letters what is exhausted, turns the webhook off on 410;
//! - `queue`: the SQS calls; `local`: the stream and queue loops `make dev` runs in place of
//!   Lambda's event source mappings.

pub mod deliver;
pub mod dispatch;
pub mod local;
pub mod queue;
pub mod records;
pub mod sign;

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};

/// What the change stream's dispatcher does with a batch (on AWS and in `make dev` alike):
/// the realtime fan-out first (a WebSocket event is wanted in a blink, a webhook can wait the
/// few milliseconds), then the webhook and bot deliveries. One consumer for both: a DynamoDB
/// stream serves at most two readers per shard well, and the sweeper is the other.
pub async fn on_changes(
    store: &crate::store::Store,
    queue: &queue::Queue,
    connections: Option<&crate::realtime::connections::Connections>,
    chunks: Option<&crate::realtime::chunks::ChunkQueue>,
    push: Option<&crate::realtime::push::Push>,
    records: &[records::StreamRecord],
) -> Result<
    (
        Option<crate::realtime::fanout::Fanned>,
        dispatch::Dispatched,
    ),
    crate::Error,
> {
    let fanned = match connections {
        Some(c) => Some(crate::realtime::fanout::fan_out(store, c, chunks, push, records).await?),
        None => None,
    };
    let dispatched = dispatch::dispatch(store, queue, records).await?;
    Ok((fanned, dispatched))
}

/// TalkPlus's webhook events (`reaction_added` / `reaction_deleted` join once reactions exist).
pub const EVENTS: [&str; 13] = [
    "message",
    "message_deleted",
    "channel_added",
    "channel_changed",
    "channel_removed",
    "member_added",
    "member_left",
    "member_muted",
    "member_unmuted",
    "member_banned",
    "member_unbanned",
    "user_blocked",
    "user_unblocked",
];

/// When a failed delivery is tried again, as offsets from the first attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RetrySchedule {
    /// Standard Webhooks' schedule: after failures, 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h.
    #[default]
    Standard,
    /// TalkPlus's own: one retry after 5 s.
    Talkplus,
}

const STANDARD_DELAYS_S: [u64; 7] = [5, 5 * 60, 30 * 60, 2 * 3600, 5 * 3600, 10 * 3600, 10 * 3600];
const TALKPLUS_DELAYS_S: [u64; 1] = [5];

impl RetrySchedule {
    pub fn parse(s: &str) -> Option<RetrySchedule> {
        match s {
            "standard" => Some(RetrySchedule::Standard),
            "talkplus" => Some(RetrySchedule::Talkplus),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            RetrySchedule::Standard => "standard",
            RetrySchedule::Talkplus => "talkplus",
        }
    }

    /// The waits after each failed attempt.
    pub fn delays_s(self) -> &'static [u64] {
        match self {
            RetrySchedule::Standard => &STANDARD_DELAYS_S,
            RetrySchedule::Talkplus => &TALKPLUS_DELAYS_S,
        }
    }

    /// After a failed attempt `elapsed_s` after the delivery was queued: how long until the
    /// next attempt, or `None` when the schedule is exhausted. The schedule is a window from
    /// the event, not a count: a delivery that waited behind an earlier one of its channel
    /// (deliveries of a channel go in order) has used that time of its window.
    pub fn next_delay_s(self, elapsed_s: u64) -> Option<u64> {
        let mut due = 0;
        for d in self.delays_s() {
            due += d;
            if due > elapsed_s {
                return Some(due - elapsed_s);
            }
        }
        None
    }
}

/// An app's webhook: where to, which events (`None`: all), and the retry schedule (kept while
/// the webhook is off, so `set-webhook` without `--retry` keeps it).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct WebhookSettings {
    pub url: Option<String>,
    pub events: Option<BTreeSet<String>>,
    pub retry: RetrySchedule,
}

impl WebhookSettings {
    /// The URL to send `event` to, if the webhook is on and wants it.
    pub fn url_for(&self, event: &str) -> Option<&str> {
        let url = self.url.as_deref()?;
        match &self.events {
            Some(events) if !events.contains(event) => None,
            _ => Some(url),
        }
    }
}

/// Where a delivery goes: the app's webhook, or a bot's `callbackUrl` (a message in a channel
/// the bot has joined). Resolved again at delivery, so a changed URL or a webhook turned off
/// since takes effect for what is still queued.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "camelCase")]
pub enum Target {
    Webhook,
    Bot {
        #[serde(rename = "botId")]
        bot_id: String,
    },
}

/// One delivery, as queued: the body is final (signed as is at each attempt).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Job {
    /// `webhook-id`: the same at every attempt and for a duplicate from a replayed stream
    /// batch, so a receiver can deduplicate.
    pub id: String,
    pub app_id: String,
    pub event: String,
    pub target: Target,
    pub retry: RetrySchedule,
    /// When the job was queued (ms): the retry window counts from here.
    pub queued_at: i64,
    /// The raw JSON body; empty when it is kept in the table instead (`body_parts`).
    pub body: String,
    /// A body over `INLINE_BODY_BYTES` is kept in the table in this many parts, under the
    /// job's app and id (`Store::put_webhook_body`).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub body_parts: u32,
}

fn is_zero(n: &u32) -> bool {
    *n == 0
}

/// The largest body a queued job carries itself: SQS messages are at most 256 KiB, and the
/// job's other fields and JSON escaping need room.
pub const INLINE_BODY_BYTES: usize = 160 * 1024;

/// How long a body kept in the table lives: past the queue's retention (14 days).
pub const STORED_BODY_TTL_S: i64 = 15 * 24 * 3600;

/// Whether a webhook URL may be set: the rule of bot callbacks (`validate::is_callback_url`:
/// `https`, plain `http` only to loopback for local development). Where it resolves to is
/// checked again at each delivery.
pub fn check_url(url: &str) -> Result<(), String> {
    if crate::validate::is_callback_url(url) {
        Ok(())
    } else {
        Err(format!(
            "{url:?}: a webhook URL must be an absolute https URL without credentials \
             (plain http only to loopback, for local development)"
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schedules_are_windows_from_the_first_attempt() {
        let t = RetrySchedule::Talkplus;
        assert_eq!(t.next_delay_s(0), Some(5));
        assert_eq!(t.next_delay_s(3), Some(2));
        assert_eq!(t.next_delay_s(5), None);
        let s = RetrySchedule::Standard;
        assert_eq!(s.next_delay_s(0), Some(5));
        assert_eq!(s.next_delay_s(5), Some(300));
        assert_eq!(s.next_delay_s(6), Some(299));
        let total: u64 = s.delays_s().iter().sum();
        assert_eq!(total, 99_305, "about 27.6 hours");
        assert_eq!(s.next_delay_s(total - 1), Some(1));
        assert_eq!(s.next_delay_s(total), None);
        assert_eq!(RetrySchedule::parse("talkplus"), Some(t));
        assert_eq!(RetrySchedule::parse("daily"), None);
    }

    #[test]
    fn events_filter_the_webhook() {
        let all = WebhookSettings {
            url: Some("https://example.com/h".into()),
            events: None,
            retry: RetrySchedule::Standard,
        };
        assert_eq!(all.url_for("message"), Some("https://example.com/h"));
        let some = WebhookSettings {
            events: Some(BTreeSet::from(["member_added".to_owned()])),
            ..all.clone()
        };
        assert_eq!(some.url_for("message"), None);
        assert!(some.url_for("member_added").is_some());
        let off = WebhookSettings { url: None, ..all };
        assert_eq!(off.url_for("message"), None);
    }

    #[test]
    fn webhook_urls_are_https_or_loopback_http() {
        assert!(check_url("https://hooks.example.com/talkplus").is_ok());
        assert!(check_url("http://127.0.0.1:8080/h").is_ok());
        assert!(check_url("http://localhost:8080/h").is_ok());
        assert!(check_url("http://[::1]:8080/h").is_ok());
        assert!(check_url("http://hooks.example.com/h").is_err());
        assert!(check_url("http://10.0.0.1/h").is_err());
        assert!(check_url("ftp://example.com/h").is_err());
        assert!(check_url("example.com/h").is_err());
        assert!(check_url("https://user:pw@example.com/h").is_err());
    }
}
