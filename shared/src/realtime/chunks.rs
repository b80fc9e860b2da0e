//! A super channel's fan-out in chunks over a queue (docs/design.md, "Realtime"): the
//! dispatcher queues the first chunk of an event; each chunk is one page of the channel's
//! members, whose worker queues the next page before it posts its own, so the pages of one
//! event are posted side by side by as many workers as Lambda runs. Each chunk first takes its
//! posts from the channel's budget for the current second (`take_post_budget`); a chunk that
//! does not fit goes back on the queue for a second later, so one channel cannot take more than
//! its cap of the account's `@connections` budget (10,000 requests a second, shared by every
//! post of every channel). A public channel's watchers are paged the same way (`watchers`).

use aws_sdk_sqs::Client;
use aws_sdk_sqs::error::DisplayErrorContext;
use serde::{Deserialize, Serialize};

use super::audience::watchers_page;
use super::connections::Connections;
use super::fanout::{Fanned, send_to};
use crate::Error;
use crate::model::{ChannelType, now_ms};
use crate::store::Store;
use crate::webhooks::queue::QueueMessage;

/// The chunk queue (an SQS standard queue; set by the template).
pub const QUEUE_URL_VAR: &str = "TALKPLUS_REALTIME_QUEUE_URL";

/// The most posts a second one super channel's events may take (default 1,000: a tenth of
/// API Gateway's account-wide 10,000 a second).
pub const POSTS_PER_SECOND_VAR: &str = "TALKPLUS_SUPER_CHANNEL_POSTS_PER_SECOND";
pub const DEFAULT_POSTS_PER_SECOND: u32 = 1_000;

/// Members per chunk.
pub const CHUNK_MEMBERS: usize = 1_000;

/// One page of one event's receivers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Chunk {
    pub app_id: String,
    pub channel_id: String,
    /// As stored (`super_public`, ...): which memberships to read.
    pub channel_type: String,
    pub frame: String,
    /// Members who joined after this time (ms) do not get it (`hideMessagesBeforeJoin`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub joined_by: Option<i64>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub except: Vec<String>,
    /// The page starts after this user id; `None`: the first page.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub after: Option<String>,
    /// A public channel's watchers, not its members (`channel_type` is then unused).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub watchers: bool,
}

#[derive(Clone, Debug)]
pub struct ChunkQueue {
    client: Client,
    url: String,
}

impl ChunkQueue {
    pub fn new(client: Client, url: String) -> ChunkQueue {
        ChunkQueue { client, url }
    }

    /// From `TALKPLUS_REALTIME_QUEUE_URL`; `None` where it is not set (super channels are
    /// then fanned out page by page in the dispatcher's invocation).
    pub fn from_env(config: &aws_config::SdkConfig) -> Option<ChunkQueue> {
        let url = std::env::var(QUEUE_URL_VAR)
            .ok()
            .filter(|u| !u.is_empty())?;
        Some(ChunkQueue::new(Client::new(config), url))
    }

    /// Creates the queue unless it exists (local stacks and tests; on AWS the template does).
    pub async fn ensure(client: Client, name: &str) -> Result<ChunkQueue, String> {
        let url = client
            .create_queue()
            .queue_name(name)
            .attributes(
                aws_sdk_sqs::types::QueueAttributeName::VisibilityTimeout,
                "360",
            )
            .send()
            .await
            .map_err(|e| format!("create queue: {}", DisplayErrorContext(e)))?
            .queue_url
            .ok_or("SQS returned no queue URL")?;
        Ok(ChunkQueue::new(client, url))
    }

    pub fn url(&self) -> &str {
        &self.url
    }

    pub async fn send(&self, chunk: &Chunk, delay_s: i32) -> Result<(), String> {
        let body = serde_json::to_string(chunk).map_err(|e| e.to_string())?;
        self.client
            .send_message()
            .queue_url(&self.url)
            .message_body(body)
            .delay_seconds(delay_s)
            .send()
            .await
            .map_err(|e| format!("queue a chunk: {}", DisplayErrorContext(e)))?;
        Ok(())
    }

    /// What Lambda's event source mapping does on AWS (the local loops' receive).
    pub async fn receive(&self, wait_s: i32) -> Result<Vec<QueueMessage>, String> {
        let out = self
            .client
            .receive_message()
            .queue_url(&self.url)
            .max_number_of_messages(10)
            .wait_time_seconds(wait_s)
            .send()
            .await
            .map_err(|e| format!("receive chunks: {}", DisplayErrorContext(e)))?;
        Ok(out
            .messages
            .unwrap_or_default()
            .into_iter()
            .map(|m| QueueMessage {
                message_id: m.message_id.unwrap_or_default(),
                receipt_handle: m.receipt_handle.unwrap_or_default(),
                body: m.body.unwrap_or_default(),
                group: String::new(),
            })
            .collect())
    }

    pub async fn delete(&self, receipt_handle: &str) -> Result<(), String> {
        self.client
            .delete_message()
            .queue_url(&self.url)
            .receipt_handle(receipt_handle)
            .send()
            .await
            .map_err(|e| format!("delete a chunk: {}", DisplayErrorContext(e)))?;
        Ok(())
    }
}

/// A chunk's receivers (at most `limit` members or watchers, filtered as the event asks), and
/// where the next page starts. The one page walk of a fan-out: the queue's consumer and the
/// dispatcher's own pages both read through it.
pub(super) async fn page(
    store: &Store,
    chunk: &Chunk,
    limit: usize,
) -> Result<(Vec<String>, Option<String>), Error> {
    if chunk.watchers {
        return watchers_page(
            store,
            &chunk.app_id,
            &chunk.channel_id,
            chunk.after.as_deref(),
            limit,
            &chunk.except,
        )
        .await;
    }
    let channel_type = ChannelType::parse(&chunk.channel_type)
        .ok_or_else(|| Error::Internal(format!("chunk of type {}", chunk.channel_type)))?;
    let page = store
        .members_page_of(
            &chunk.app_id,
            &chunk.channel_id,
            channel_type,
            chunk.after.as_deref(),
            limit,
            None,
        )
        .await?;
    let next = page
        .items
        .last()
        .map(|m| m.user_id.clone())
        .filter(|_| page.has_next);
    let to: Vec<String> = page
        .items
        .iter()
        .filter(|m| !chunk.except.contains(&m.user_id))
        .filter(|m| chunk.joined_by.is_none_or(|t| m.created_at <= t))
        .map(|m| m.user_id.clone())
        .collect();
    Ok((to, next))
}

/// What a chunk did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChunkOutcome {
    Posted(Fanned),
    /// Over the channel's budget for this second: queued again for the next.
    Deferred,
}

/// The chunk queue's consumer.
#[derive(Clone, Debug)]
pub struct Chunker {
    pub store: Store,
    pub connections: Connections,
    pub queue: ChunkQueue,
    pub posts_per_second: u32,
    pub chunk_members: usize,
}

impl Chunker {
    pub fn new(store: Store, connections: Connections, queue: ChunkQueue) -> Chunker {
        let posts_per_second = std::env::var(POSTS_PER_SECOND_VAR)
            .ok()
            .and_then(|v| v.parse().ok())
            .filter(|v| *v > 0)
            .unwrap_or(DEFAULT_POSTS_PER_SECOND);
        Chunker {
            store,
            connections,
            queue,
            posts_per_second,
            chunk_members: CHUNK_MEMBERS,
        }
    }

    pub async fn run(&self, chunk: &Chunk) -> Result<ChunkOutcome, Error> {
        let (to, next) = page(&self.store, chunk, self.chunk_members).await?;
        let now = now_ms();
        let live = self
            .store
            .connections_of(&chunk.app_id, &to, now / 1000)
            .await?;
        let posts: usize = live.values().map(Vec::len).sum();
        if posts > 0
            && !self
                .store
                .take_post_budget(
                    &chunk.app_id,
                    &chunk.channel_id,
                    now / 1000,
                    posts,
                    self.posts_per_second,
                )
                .await?
        {
            self.queue
                .send(chunk, 1)
                .await
                .map_err(Error::Unavailable)?;
            return Ok(ChunkOutcome::Deferred);
        }
        if let Some(after) = next {
            let next = Chunk {
                after: Some(after),
                ..chunk.clone()
            };
            self.queue
                .send(&next, 0)
                .await
                .map_err(Error::Unavailable)?;
        }
        let (posts, gone) = send_to(
            &self.store,
            &self.connections,
            &chunk.app_id,
            &live,
            &chunk.frame,
        )
        .await?;
        Ok(ChunkOutcome::Posted(Fanned {
            events: 0,
            posts,
            gone,
            pushes: 0,
        }))
    }

    /// One round of the queue's event source mapping (the local loops of `make dev` and the
    /// bench): receive a batch, handle it, delete what is done. Returns the batch's size.
    pub async fn pump(&self, wait_s: i32) -> Result<usize, String> {
        let batch = self.queue.receive(wait_s).await?;
        let failed = self.handle(&batch).await;
        for m in batch.iter().filter(|m| !failed.contains(&m.message_id)) {
            self.queue.delete(&m.receipt_handle).await?;
        }
        Ok(batch.len())
    }

    /// A batch of queue messages; returns the ids of those to be tried again.
    pub async fn handle(&self, batch: &[QueueMessage]) -> Vec<String> {
        let mut failed = Vec::new();
        for m in batch {
            let chunk: Chunk = match serde_json::from_str(&m.body) {
                Ok(c) => c,
                Err(e) => {
                    tracing::error!(error = %e, "not a chunk; dropped");
                    continue;
                }
            };
            match self.run(&chunk).await {
                Ok(outcome) => tracing::debug!(?outcome, "chunk"),
                Err(e) => {
                    tracing::error!(error = %e, "chunk failed; it will be tried again");
                    failed.push(m.message_id.clone());
                }
            }
        }
        failed
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_chunk_round_trips_through_its_queue_message() {
        let c = Chunk {
            app_id: "a".into(),
            channel_id: "c".into(),
            channel_type: "super_public".into(),
            frame: "{}".into(),
            joined_by: Some(5),
            except: vec!["u".into()],
            after: None,
            watchers: false,
        };
        let body = serde_json::to_string(&c).unwrap();
        assert!(
            !body.contains("after") && !body.contains("watchers"),
            "{body}"
        );
        assert_eq!(serde_json::from_str::<Chunk>(&body).unwrap(), c);
    }
}
