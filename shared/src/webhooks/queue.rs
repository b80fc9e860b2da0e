//! The delivery queue: an SQS FIFO queue (one message group per channel, so a channel's
//! deliveries go in commit order and a failing receiver holds back only its own channels)
//! and its FIFO dead-letter queue. Retries are the same message made visible again later
//! (ChangeMessageVisibility: up to 12 hours, longer than any wait of the schedules).

use aws_sdk_sqs::Client;
use aws_sdk_sqs::error::DisplayErrorContext;
use aws_sdk_sqs::types::QueueAttributeName;
use sha2::{Digest, Sha256};

use super::Job;

pub const QUEUE_URL_VAR: &str = "TALKPLUS_WEBHOOK_QUEUE_URL";
pub const DEAD_LETTER_URL_VAR: &str = "TALKPLUS_WEBHOOK_DLQ_URL";
/// The SQS FIFO limit on message group and deduplication ids is 128 characters: ids are
/// digests, whatever the length of the channel id.
fn digest(parts: &[&str]) -> String {
    let mut h = Sha256::new();
    for p in parts {
        h.update(p.as_bytes());
        h.update([0]);
    }
    crate::secrets::hex(&h.finalize())
}

/// A message as received (the Lambda SQS event carries the same fields).
#[derive(Debug, Clone)]
pub struct QueueMessage {
    pub message_id: String,
    pub receipt_handle: String,
    pub body: String,
    pub group: String,
}

#[derive(Clone, Debug)]
pub struct Queue {
    client: Client,
    url: String,
    dead_letter_url: String,
}

fn sqs_error(what: &str, e: impl std::error::Error) -> String {
    format!("SQS {what}: {}", DisplayErrorContext(e))
}

impl Queue {
    pub fn new(client: Client, url: String, dead_letter_url: String) -> Queue {
        Queue {
            client,
            url,
            dead_letter_url,
        }
    }

    /// The queues template.yaml creates, named by the environment.
    pub fn from_env(config: &aws_config::SdkConfig) -> Result<Queue, String> {
        let var = |name: &str| std::env::var(name).map_err(|_| format!("{name} is not set"));
        let (url, dead) = (var(QUEUE_URL_VAR)?, var(DEAD_LETTER_URL_VAR)?);
        Ok(Queue::new(Client::new(config), url, dead))
    }

    /// Creates the two FIFO queues unless they exist (local stacks and tests; on AWS the
    /// template creates them) and returns them.
    pub async fn ensure(client: Client, name: &str) -> Result<Queue, String> {
        let dead = client
            .create_queue()
            .queue_name(format!("{name}-dead.fifo"))
            .attributes(QueueAttributeName::FifoQueue, "true")
            .attributes(QueueAttributeName::MessageRetentionPeriod, "1209600")
            .send()
            .await
            .map_err(|e| sqs_error("create dead-letter queue", e))?
            .queue_url
            .ok_or("SQS returned no queue URL")?;
        let dead_arn = client
            .get_queue_attributes()
            .queue_url(&dead)
            .attribute_names(QueueAttributeName::QueueArn)
            .send()
            .await
            .map_err(|e| sqs_error("read dead-letter queue", e))?
            .attributes
            .and_then(|mut a| a.remove(&QueueAttributeName::QueueArn))
            .ok_or("SQS returned no queue ARN")?;
        let url = client
            .create_queue()
            .queue_name(format!("{name}.fifo"))
            .attributes(QueueAttributeName::FifoQueue, "true")
            .attributes(
                QueueAttributeName::VisibilityTimeout,
                VISIBILITY_TIMEOUT_S.to_string(),
            )
            .attributes(QueueAttributeName::MessageRetentionPeriod, "1209600")
            .attributes(
                QueueAttributeName::RedrivePolicy,
                serde_json::json!({
                    "deadLetterTargetArn": dead_arn,
                    "maxReceiveCount": MAX_RECEIVE_COUNT.to_string(),
                })
                .to_string(),
            )
            .send()
            .await
            .map_err(|e| sqs_error("create queue", e))?
            .queue_url
            .ok_or("SQS returned no queue URL")?;
        Ok(Queue::new(client, url, dead))
    }

    pub fn url(&self) -> &str {
        &self.url
    }

    pub fn dead_letter_url(&self) -> &str {
        &self.dead_letter_url
    }

    /// Queues a job in its scope's group. Jobs of one group must be sent one after another
    /// (the group's order is the order of the sends).
    pub async fn send(&self, scope: &str, job: &Job) -> Result<(), String> {
        let body = serde_json::to_string(job).map_err(|e| e.to_string())?;
        self.client
            .send_message()
            .queue_url(&self.url)
            .message_group_id(digest(&[scope]))
            .message_deduplication_id(dedup_id(job))
            .message_body(body)
            .send()
            .await
            .map_err(|e| sqs_error("send", e))?;
        Ok(())
    }

    /// Moves an exhausted job to the dead-letter queue, with why.
    pub async fn dead_letter(&self, job: &Job, group: &str, reason: &str) -> Result<(), String> {
        let mut record = serde_json::to_value(job).map_err(|e| e.to_string())?;
        record["deadReason"] = reason.into();
        self.client
            .send_message()
            .queue_url(&self.dead_letter_url)
            .message_group_id(group)
            .message_deduplication_id(dedup_id(job))
            .message_body(record.to_string())
            .send()
            .await
            .map_err(|e| sqs_error("dead-letter", e))?;
        Ok(())
    }

    /// The message comes back after `seconds` (the retry), or at once (0).
    pub async fn visible_after(&self, receipt_handle: &str, seconds: u64) -> Result<(), String> {
        self.client
            .change_message_visibility()
            .queue_url(&self.url)
            .receipt_handle(receipt_handle)
            .visibility_timeout(seconds.min(MAX_VISIBILITY_S) as i32)
            .send()
            .await
            .map_err(|e| sqs_error("change visibility", e))?;
        Ok(())
    }

    /// What Lambda's event source mapping does on AWS: receive (long poll up to `wait_s`).
    pub async fn receive(&self, url: &str, wait_s: i32) -> Result<Vec<QueueMessage>, String> {
        let out = self
            .client
            .receive_message()
            .queue_url(url)
            .max_number_of_messages(10)
            .wait_time_seconds(wait_s)
            .message_system_attribute_names(aws_sdk_sqs::types::MessageSystemAttributeName::All)
            .send()
            .await
            .map_err(|e| sqs_error("receive", e))?;
        Ok(out
            .messages
            .unwrap_or_default()
            .into_iter()
            .map(|m| QueueMessage {
                group: m
                    .attributes
                    .as_ref()
                    .and_then(|a| {
                        a.get(&aws_sdk_sqs::types::MessageSystemAttributeName::MessageGroupId)
                    })
                    .cloned()
                    .unwrap_or_default(),
                message_id: m.message_id.unwrap_or_default(),
                receipt_handle: m.receipt_handle.unwrap_or_default(),
                body: m.body.unwrap_or_default(),
            })
            .collect())
    }

    /// What Lambda does with a message its function handled.
    pub async fn delete(&self, receipt_handle: &str) -> Result<(), String> {
        self.client
            .delete_message()
            .queue_url(&self.url)
            .receipt_handle(receipt_handle)
            .send()
            .await
            .map_err(|e| sqs_error("delete", e))?;
        Ok(())
    }
}

fn dedup_id(job: &Job) -> String {
    let target = serde_json::to_string(&job.target).unwrap_or_default();
    digest(&[&job.id, &target])
}

/// The queue's visibility timeout, as template.yaml sets it: six times the deliverer's
/// timeout (Lambda's advice for SQS event sources). Only a crashed attempt waits this long.
pub const VISIBILITY_TIMEOUT_S: u32 = 360;
/// A safety net under the schedule (which dead-letters by itself): a message that crashes its
/// consumer again and again ends in the dead-letter queue.
pub const MAX_RECEIVE_COUNT: u32 = 50;
/// SQS's limit on a visibility timeout.
const MAX_VISIBILITY_S: u64 = 12 * 3600;
