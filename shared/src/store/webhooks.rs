//! Webhook bodies too large for a queue message (an SQS message is at most 256 KiB; a channel
//! of 100 members with full profiles and member info can be several times that): the body
//! is kept in the table in parts, the queued job names it, and the deliverer reads it back.
//! Parts expire with the queue's retention (TTL), so nothing outlives its delivery for long.

use serde::{Deserialize, Serialize};

use super::retry::{retrying, storage_error};
use super::{Store, decode, encode, keys, s};
use crate::Error;

/// One part of a stored body.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct BodyPartItem {
    pk: String,
    sk: String,
    entity: String,
    text: String,
    /// Seconds since the epoch (the table's TTL attribute).
    ttl: i64,
}

/// Bytes of body per item: well under DynamoDB's 400 KB item limit with keys and names.
pub const BODY_PART_BYTES: usize = 300_000;

/// `body` cut into parts of at most `max` bytes, on character boundaries.
pub fn body_parts(body: &str, max: usize) -> Vec<&str> {
    let mut parts = Vec::new();
    let mut rest = body;
    while !rest.is_empty() {
        let mut end = rest.len().min(max);
        while end > 0 && !rest.is_char_boundary(end) {
            end -= 1;
        }
        if end == 0 {
            // A part smaller than one character: the character alone.
            end = rest.chars().next().map_or(rest.len(), char::len_utf8);
        }
        let (part, tail) = rest.split_at(end);
        parts.push(part);
        rest = tail;
    }
    parts
}

impl Store {
    /// Keeps a delivery's body until `expires_at_s`; returns how many parts it took. Written
    /// again whole when a dispatch is retried (same id, same parts).
    pub async fn put_webhook_body(
        &self,
        app_id: &str,
        delivery_id: &str,
        body: &str,
        expires_at_s: i64,
    ) -> Result<u32, Error> {
        self.may_write().await?;
        let pk = keys::webhook_body_pk(app_id, delivery_id);
        let parts = body_parts(body, BODY_PART_BYTES);
        for (n, text) in parts.iter().enumerate() {
            let item = encode(&BodyPartItem {
                pk: pk.clone(),
                sk: keys::webhook_body_part_sk(n),
                entity: "webhook_body".into(),
                text: (*text).to_owned(),
                ttl: expires_at_s,
            })?;
            retrying(|| {
                self.client
                    .put_item()
                    .table_name(self.table())
                    .set_item(Some(item.clone()))
                    .send()
            })
            .await
            .map_err(|e| storage_error("store webhook body", e))?;
        }
        Ok(parts.len() as u32)
    }

    /// A stored body, whole; `None` if any of its `parts` is gone (expired).
    pub async fn webhook_body(
        &self,
        app_id: &str,
        delivery_id: &str,
        parts: u32,
    ) -> Result<Option<String>, Error> {
        let pk = keys::webhook_body_pk(app_id, delivery_id);
        let mut body = String::new();
        for n in 0..parts as usize {
            let out = retrying(|| {
                self.client
                    .get_item()
                    .table_name(self.table())
                    .key("pk", s(pk.clone()))
                    .key("sk", s(keys::webhook_body_part_sk(n)))
                    .consistent_read(true)
                    .send()
            })
            .await
            .map_err(|e| storage_error("read webhook body", e))?;
            let Some(item) = out.item else {
                return Ok(None);
            };
            let part: BodyPartItem = decode(item)?;
            body.push_str(&part.text);
        }
        Ok(Some(body))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bodies_are_cut_on_character_boundaries_and_put_back_whole() {
        let body = "aé€😀".repeat(1000);
        for max in [1, 4, 5, 7, 300, 10_000] {
            let parts = body_parts(&body, max);
            assert!(parts.iter().all(|p| p.len() <= max.max(4)), "max {max}");
            assert_eq!(parts.concat(), body);
        }
        assert!(body_parts("", 10).is_empty());
    }
}
