//! The channel sweeper: not an HTTP route but the consumer of the table's change stream. A
//! deleted channel's tombstone changes (`deleted_at` set, or `sweep_round` moved on by a run
//! that ran out of time); each such record names a partition to sweep. Locally the same
//! sweep runs from `talkplus-admin sweep --watch` (see scripts/dev.sh).

use serde_json::Value;

use crate::Error;
use crate::domain::channels::{WORKER_SWEEP, sweep};
use crate::store::{Store, keys};

/// The (app id, channel id) of each stream record about a channel tombstone.
pub fn tombstones(event: &Value) -> Vec<(String, String)> {
    let records = event["Records"].as_array().cloned().unwrap_or_default();
    records
        .iter()
        .filter(|r| r["dynamodb"]["NewImage"]["deleted_at"].is_object())
        .filter(|r| r["dynamodb"]["Keys"]["sk"]["S"].as_str() == Some(keys::CHANNEL_SK))
        .filter_map(|r| r["dynamodb"]["Keys"]["pk"]["S"].as_str())
        .filter_map(|pk| pk.split_once("#CHANNEL#"))
        .map(|(app, channel)| (app.to_owned(), channel.to_owned()))
        .collect()
}

/// Sweeps each tombstone of the batch. An error fails the batch, and the stream delivers it
/// again: sweeping is idempotent.
pub async fn handle(store: &Store, event: Value) -> Result<usize, Error> {
    let found = tombstones(&event);
    for (app_id, channel_id) in &found {
        sweep(store, app_id, channel_id, WORKER_SWEEP).await?;
    }
    Ok(found.len())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn only_tombstones_are_swept() {
        let event = json!({"Records": [
            {"eventName": "MODIFY", "dynamodb": {
                "Keys": {"pk": {"S": "app-1#CHANNEL#c-1"}, "sk": {"S": "CHANNEL"}},
                "NewImage": {"deleted_at": {"N": "1"}}}},
            {"eventName": "MODIFY", "dynamodb": {
                "Keys": {"pk": {"S": "app-1#CHANNEL#c-2"}, "sk": {"S": "CHANNEL"}},
                "NewImage": {"name": {"S": "live"}}}},
            {"eventName": "INSERT", "dynamodb": {
                "Keys": {"pk": {"S": "app-1#CHANNEL#c-3"}, "sk": {"S": "MEMBER#u"}},
                "NewImage": {"deleted_at": {"N": "1"}}}},
            {"eventName": "REMOVE", "dynamodb": {
                "Keys": {"pk": {"S": "app-1#CHANNEL#c-4"}, "sk": {"S": "CHANNEL"}}}}
        ]});
        assert_eq!(tombstones(&event), [("app-1".to_owned(), "c-1".to_owned())]);
        assert!(tombstones(&json!({})).is_empty());
    }
}
