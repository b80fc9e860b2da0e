//! What Lambda's event source mappings do on AWS, for `make dev` and the tests: read the
//! table's change stream (dynoxide and DynamoDB Local both serve the Streams API) into
//! `dispatch`, and receive the delivery queue into `Deliverer::handle`. The code each calls is
//! the code the functions run.

use std::collections::BTreeMap;

use serde_json::{Value, json};

use super::deliver::Deliverer;
use super::queue::Queue;
use super::records::{StreamRecord, lambda_records};

/// Where reading starts in each shard.
#[derive(Debug, Clone)]
pub enum Start {
    /// Changes from now on.
    Latest,
    /// After the sequence numbers of a checkpoint (by shard); other shards from their start.
    After(BTreeMap<String, String>),
}

/// A shard being read: the iterator to read on with, and the last sequence number handled.
#[derive(Debug, Clone, Default)]
struct Shard {
    iterator: Option<String>,
    last: Option<String>,
}

/// Reads a local engine's stream shard by shard; a batch is taken (`fetch`), handled, then
/// acknowledged (`commit`), so a batch whose handling failed is read again, as Lambda retries.
///
/// It speaks the Streams JSON API itself rather than through the SDK: the records then go
/// through `lambda_records`, the very parser of the Lambda event, and DynamoDB Local's habit
/// of writing an empty map in a stream image as `{}` (which the SDK refuses) is repaired on
/// the way (`repair_empty_maps`). Local engines check no signatures, so requests carry only
/// the access key id, which DynamoDB Local uses to pick the database.
pub struct StreamPoller {
    http: reqwest::Client,
    endpoint: String,
    authorization: String,
    region: String,
    stream_arn: String,
    shards: BTreeMap<String, Shard>,
    pending: BTreeMap<String, Shard>,
    /// When a fetch last found records (`idle_wait`).
    last_found: Option<std::time::Instant>,
}

/// How long the local loops wait after an empty fetch: briefly while changes are coming (a
/// conversation under way), longer once the stream has been quiet for a while, since every poll
/// of the in-process engine scans its stream.
const BUSY_WAIT: std::time::Duration = std::time::Duration::from_millis(5);
const IDLE_WAIT: std::time::Duration = std::time::Duration::from_millis(25);
const BUSY_FOR: std::time::Duration = std::time::Duration::from_secs(2);

impl StreamPoller {
    pub async fn new(
        endpoint: &str,
        access_key_id: &str,
        region: &str,
        table: &str,
        start: Start,
    ) -> Result<StreamPoller, String> {
        let mut poller = StreamPoller {
            http: crate::config::reqwest_builder()?
                .build()
                .map_err(|e| e.to_string())?,
            endpoint: endpoint.to_owned(),
            authorization: format!(
                "AWS4-HMAC-SHA256 Credential={access_key_id}/20200101/{region}/dynamodb/aws4_request, SignedHeaders=host, Signature=0"
            ),
            region: region.to_owned(),
            stream_arn: String::new(),
            shards: BTreeMap::new(),
            pending: BTreeMap::new(),
            last_found: None,
        };
        let table = poller
            .call(
                "DynamoDB_20120810.DescribeTable",
                json!({"TableName": table}),
            )
            .await?;
        poller.stream_arn = table["Table"]["LatestStreamArn"]
            .as_str()
            .ok_or("the table has no stream")?
            .to_owned();
        poller.discover(&start).await?;
        Ok(poller)
    }

    /// The poller of `make dev`: the engine at `AWS_ENDPOINT_URL_DYNAMODB`, the access key id
    /// and region of the environment.
    pub async fn from_env(table: &str, start: Start) -> Result<StreamPoller, String> {
        let var = |name: &str| std::env::var(name).map_err(|_| format!("{name} is not set"));
        let endpoint = var("AWS_ENDPOINT_URL_DYNAMODB")?;
        let key = var("AWS_ACCESS_KEY_ID")?;
        let region = var("AWS_REGION")?;
        StreamPoller::new(&endpoint, &key, &region, table, start).await
    }

    async fn call(&self, target: &str, body: Value) -> Result<Value, String> {
        let response = self
            .http
            .post(&self.endpoint)
            .header("content-type", "application/x-amz-json-1.0")
            .header("x-amz-target", target)
            .header("authorization", &self.authorization)
            .header("x-amz-date", "20200101T000000Z")
            .body(body.to_string())
            .send()
            .await
            .map_err(|e| format!("{target}: {e}"))?;
        let status = response.status();
        let text = response
            .text()
            .await
            .map_err(|e| format!("{target}: {e}"))?;
        if !status.is_success() {
            return Err(format!("{target} ({}): {text}", self.region));
        }
        serde_json::from_str(&text).map_err(|e| format!("{target}: {e}"))
    }

    /// Opens an iterator on every shard not read yet.
    async fn discover(&mut self, start: &Start) -> Result<(), String> {
        let stream = self
            .call(
                "DynamoDBStreams_20120810.DescribeStream",
                json!({"StreamArn": self.stream_arn}),
            )
            .await?;
        let shards = stream["StreamDescription"]["Shards"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        for shard in shards {
            let Some(id) = shard["ShardId"].as_str().map(str::to_owned) else {
                continue;
            };
            if self.shards.contains_key(&id) {
                continue;
            }
            let mut request = json!({"StreamArn": self.stream_arn, "ShardId": id});
            let mut last = None;
            match start {
                Start::Latest => request["ShardIteratorType"] = "LATEST".into(),
                Start::After(seen) => match seen.get(&id) {
                    Some(seq) => {
                        request["ShardIteratorType"] = "AFTER_SEQUENCE_NUMBER".into();
                        request["SequenceNumber"] = seq.clone().into();
                        last = Some(seq.clone());
                    }
                    None => request["ShardIteratorType"] = "TRIM_HORIZON".into(),
                },
            }
            let iterator = self
                .call("DynamoDBStreams_20120810.GetShardIterator", request)
                .await?["ShardIterator"]
                .as_str()
                .map(str::to_owned);
            self.shards.insert(id, Shard { iterator, last });
        }
        Ok(())
    }

    /// The next records of every shard, in order within each shard; not acknowledged yet.
    pub async fn fetch(&mut self) -> Result<Vec<StreamRecord>, String> {
        let mut out = Vec::new();
        let mut pending = self.shards.clone();
        for shard in pending.values_mut() {
            let Some(it) = shard.iterator.clone() else {
                continue;
            };
            let mut page = self
                .call(
                    "DynamoDBStreams_20120810.GetRecords",
                    json!({"ShardIterator": it, "Limit": 100}),
                )
                .await?;
            if let Some(records) = page["Records"].as_array_mut() {
                for r in records.iter_mut() {
                    for image in ["Keys", "NewImage", "OldImage"] {
                        if let Some(item) = r["dynamodb"].get_mut(image) {
                            repair_empty_maps(item);
                        }
                    }
                }
                if let Some(seq) = records
                    .last()
                    .and_then(|r| r["dynamodb"]["SequenceNumber"].as_str())
                {
                    shard.last = Some(seq.to_owned());
                }
            }
            out.extend(lambda_records(&page)?);
            shard.iterator = page["NextShardIterator"].as_str().map(str::to_owned);
        }
        self.pending = pending;
        if !out.is_empty() {
            self.last_found = Some(std::time::Instant::now());
        }
        Ok(out)
    }

    /// How long to wait after a fetch that found nothing (Lambda polls a shard four times a
    /// second; the local loops poll faster, so `make dev`'s WebSocket events come quickly).
    pub fn idle_wait(&self) -> std::time::Duration {
        match self.last_found {
            Some(at) if at.elapsed() < BUSY_FOR => BUSY_WAIT,
            _ => IDLE_WAIT,
        }
    }

    /// The records of the last `fetch` were handled: read on from after them. A shard that
    /// closed has children, read from their start.
    pub async fn commit(&mut self) -> Result<(), String> {
        self.shards = std::mem::take(&mut self.pending);
        if self.shards.values().any(|s| s.iterator.is_none()) {
            let checkpoint = Start::After(self.checkpoint());
            self.discover(&checkpoint).await?;
        }
        Ok(())
    }

    /// The last acknowledged sequence number of each shard (`make dev` keeps it in a file, so
    /// it picks up where it stopped).
    pub fn checkpoint(&self) -> BTreeMap<String, String> {
        self.shards
            .iter()
            .filter_map(|(id, s)| Some((id.clone(), s.last.clone()?)))
            .collect()
    }
}

/// In an item's attributes (and inside maps and lists), an attribute value written as `{}`
/// is an empty map: `{"M": {}}`.
fn repair_empty_maps(item: &mut Value) {
    let Some(attrs) = item.as_object_mut() else {
        return;
    };
    for value in attrs.values_mut() {
        repair_value(value);
    }
}

fn repair_value(value: &mut Value) {
    let Some(obj) = value.as_object_mut() else {
        return;
    };
    if obj.is_empty() {
        *value = json!({"M": {}});
        return;
    }
    if let Some(m) = obj.get_mut("M") {
        repair_empty_maps(m);
    }
    if let Some(Value::Array(list)) = obj.get_mut("L") {
        list.iter_mut().for_each(repair_value);
    }
}

/// One round of the queue's event source mapping: receive a batch, hand it to the deliverer,
/// delete what it is done with. Returns how many messages the batch had.
pub async fn pump(queue: &Queue, deliverer: &Deliverer, wait_s: i32) -> Result<usize, String> {
    let batch = queue.receive(queue.url(), wait_s).await?;
    let failed = deliverer.handle(&batch).await;
    for m in &batch {
        if !failed.contains(&m.message_id) {
            queue.delete(&m.receipt_handle).await?;
        }
    }
    Ok(batch.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_maps_written_as_empty_objects_are_repaired() {
        let mut item = json!({
            "data": {},
            "info": {"M": {"inner": {}}},
            "list": {"L": [{}, {"S": "x"}]},
            "name": {"S": "n"}
        });
        repair_empty_maps(&mut item);
        assert_eq!(
            item,
            json!({
                "data": {"M": {}},
                "info": {"M": {"inner": {"M": {}}}},
                "list": {"L": [{"M": {}}, {"S": "x"}]},
                "name": {"S": "n"}
            })
        );
    }
}
