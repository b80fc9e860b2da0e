//! The sweeper: not an HTTP route but the consumer of the table's change stream. A deleted
//! channel's or user's tombstone changes (`deleted_at` set, or `sweep_round` moved on by a
//! run that ran out of time), or a job over a user's channels is handed on (a new `token`);
//! each such record names what to sweep. Locally the same sweep
//! runs from `talkplus-admin sweep --watch` (see scripts/dev.sh).

use serde_json::Value;

use crate::Error;
use crate::domain::cleanup::{WORKER_SWEEP, sweep};
use crate::store::{Store, Swept};

/// What each stream record about a tombstone names.
pub fn tombstones(event: &Value) -> Vec<Swept> {
    let records = event["Records"].as_array().cloned().unwrap_or_default();
    let mut found: Vec<Swept> = records
        .iter()
        .filter_map(|r| {
            let keys = &r["dynamodb"]["Keys"];
            let found = Swept::from_keys(keys["pk"]["S"].as_str()?, keys["sk"]["S"].as_str()?)?;
            let image = &r["dynamodb"]["NewImage"];
            // A tombstone is swept on each change; a job on each hand-off (not its removal).
            let due = match found {
                Swept::Job { .. } => image["token"].is_object(),
                _ => image["deleted_at"].is_object(),
            };
            due.then_some(found)
        })
        .collect();
    // A batch may hold several changes of one tombstone; one sweep serves them all.
    found.dedup();
    found
}

/// Sweeps each tombstone of the batch. An error fails the batch, and the stream delivers it
/// again: sweeping is idempotent.
pub async fn handle(store: &Store, event: Value) -> Result<usize, Error> {
    let found = tombstones(&event);
    for target in &found {
        sweep(store, target, WORKER_SWEEP).await?;
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
                "Keys": {"pk": {"S": "app-1#CHANNEL#c-4"}, "sk": {"S": "CHANNEL"}}}},
            {"eventName": "MODIFY", "dynamodb": {
                "Keys": {"pk": {"S": "app-1#USER#u-1"}, "sk": {"S": "USER"}},
                "NewImage": {"deleted_at": {"N": "1"}}}},
            {"eventName": "MODIFY", "dynamodb": {
                "Keys": {"pk": {"S": "app-1#USER#u-1"}, "sk": {"S": "BLOCK#u-2"}},
                "NewImage": {"deleted_at": {"N": "1"}}}},
            {"eventName": "MODIFY", "dynamodb": {
                "Keys": {"pk": {"S": "app-1#USER#u-2"}, "sk": {"S": "JOB#HIDE_ALL"}},
                "NewImage": {"token": {"S": "ab"}, "after": {"S": "c-9"}}}},
            {"eventName": "REMOVE", "dynamodb": {
                "Keys": {"pk": {"S": "app-1#USER#u-3"}, "sk": {"S": "JOB#HIDE_ALL"}}}}
        ]});
        assert_eq!(
            tombstones(&event),
            [
                Swept::Channel {
                    app_id: "app-1".into(),
                    channel_id: "c-1".into()
                },
                Swept::User {
                    app_id: "app-1".into(),
                    user_id: "u-1".into()
                },
                Swept::Job {
                    app_id: "app-1".into(),
                    user_id: "u-2".into(),
                    kind: crate::store::JobKind::HideAll
                }
            ]
        );
        assert!(tombstones(&json!({})).is_empty());
    }
}
