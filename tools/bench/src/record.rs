//! Recording what an operation asks of DynamoDB, and asking it again directly.
//!
//! `Recorder` is an SDK interceptor on the bench app's client: it keeps each call's
//! operation, request body and time on the wire, and (when asked) adds
//! `ReturnConsumedCapacity: TOTAL` and keeps the units the engine reports. `replay` sends
//! recorded bodies again through the same SDK client configuration, with no handler around
//! them: the direct cost of the same DynamoDB calls, our overhead's denominator.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::config::interceptors::{
    AfterDeserializationInterceptorContextRef, BeforeDeserializationInterceptorContextRef,
    BeforeTransmitInterceptorContextMut,
};
use aws_sdk_dynamodb::config::{ConfigBag, Intercept, RuntimeComponents};
use aws_sdk_dynamodb::types::AttributeValue;
use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::http::{
    HttpClient, HttpConnector, HttpConnectorFuture, HttpConnectorSettings, SharedHttpClient,
    SharedHttpConnector,
};
use aws_smithy_runtime_api::client::orchestrator::HttpRequest;
use aws_smithy_types::body::SdkBody;
use aws_smithy_types::config_bag::{Storable, StoreReplace};

/// One DynamoDB call as sent (the last attempt, if the SDK retried).
#[derive(Debug, Clone)]
pub struct Call {
    pub op: String,
    /// The request body without the capacity field the recorder may have added.
    pub body: Vec<u8>,
    /// When the operation asked the SDK for it: calls asked for together are issued in the
    /// same poll, before any of them can have an answer, whatever the SDK's own work takes.
    pub start: Instant,
    /// When its answer was in.
    pub end: Instant,
    pub read_units: f64,
    pub write_units: f64,
}

#[derive(Debug, Default)]
struct State {
    calls: Vec<Option<Call>>,
}

#[derive(Debug, Clone, Default)]
pub struct Recorder {
    state: Arc<Mutex<State>>,
    capacity: Arc<AtomicBool>,
}

/// While counting, every call takes this much longer (`Slow`): a round trip as long as a
/// network's, so calls the code sends together overlap and calls that wait for another's
/// answer do not, however fast the in-process engine answers and however long the SDK's own
/// work before sending takes (in a debug build, longer than the engine's answer).
pub const COUNTING_LATENCY: Duration = Duration::from_millis(100);

/// The HTTP client of the bench app: the functions' own, plus `COUNTING_LATENCY` on every
/// call while the recorder counts.
#[derive(Debug)]
pub struct Slow {
    inner: SharedHttpClient,
    on: Arc<AtomicBool>,
}

#[derive(Debug)]
struct SlowConnector {
    inner: SharedHttpConnector,
    on: Arc<AtomicBool>,
}

impl Slow {
    pub fn client(recorder: &Recorder) -> SharedHttpClient {
        SharedHttpClient::new(Slow {
            inner: shared::config::http_client(),
            on: recorder.capacity.clone(),
        })
    }
}

impl HttpClient for Slow {
    fn http_connector(
        &self,
        settings: &HttpConnectorSettings,
        components: &RuntimeComponents,
    ) -> SharedHttpConnector {
        SharedHttpConnector::new(SlowConnector {
            inner: self.inner.http_connector(settings, components),
            on: self.on.clone(),
        })
    }
}

impl HttpConnector for SlowConnector {
    fn call(&self, request: HttpRequest) -> HttpConnectorFuture {
        let answer = self.inner.call(request);
        if !self.on.load(Ordering::SeqCst) {
            return answer;
        }
        HttpConnectorFuture::new(async move {
            let (answer, ()) = futures::join!(answer, tokio::time::sleep(COUNTING_LATENCY));
            answer
        })
    }
}

#[derive(Debug, Clone, Copy)]
struct Slot(usize);

impl Storable for Slot {
    type Storer = StoreReplace<Self>;
}

/// When the operation asked the SDK for the call.
#[derive(Debug, Clone, Copy)]
struct Issued(Instant);

impl Storable for Issued {
    type Storer = StoreReplace<Self>;
}

const READS: &[&str] = &[
    "GetItem",
    "BatchGetItem",
    "Query",
    "Scan",
    "TransactGetItems",
];

impl Recorder {
    /// Whether calls from now on ask for (and record) consumed capacity and take
    /// `COUNTING_LATENCY` longer. Off while timing.
    pub fn count_capacity(&self, on: bool) {
        self.capacity.store(on, Ordering::SeqCst);
    }

    /// The calls finished since the last `take`, in the order they were sent.
    pub fn take(&self) -> Vec<Call> {
        let mut state = self.state.lock().expect("recorder lock");
        std::mem::take(&mut state.calls)
            .into_iter()
            .flatten()
            .collect()
    }
}

impl Intercept for Recorder {
    fn name(&self) -> &'static str {
        "BenchRecorder"
    }

    fn read_before_execution(
        &self,
        _context: &aws_sdk_dynamodb::config::interceptors::BeforeSerializationInterceptorContextRef<
            '_,
        >,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        cfg.interceptor_state().store_put(Issued(Instant::now()));
        Ok(())
    }

    fn modify_before_signing(
        &self,
        context: &mut BeforeTransmitInterceptorContextMut<'_>,
        _runtime_components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let op = talkplus_tests::operation(cfg);
        let request = context.request_mut();
        let body = request.body().bytes().unwrap_or_default().to_vec();
        if self.capacity.load(Ordering::SeqCst) {
            let mut json: serde_json::Value = serde_json::from_slice(&body)?;
            json["ReturnConsumedCapacity"] = "TOTAL".into();
            let with = serde_json::to_vec(&json)?;
            request
                .headers_mut()
                .insert("content-length", with.len().to_string());
            *request.body_mut() = SdkBody::from(with);
        }
        let now = Instant::now();
        let issued = cfg.load::<Issued>().expect("issued recorded").0;
        let mut state = self.state.lock().expect("recorder lock");
        let slot = match cfg.load::<Slot>() {
            // A retry of a call already recorded: the same slot.
            Some(slot) => slot.0,
            None => {
                state.calls.push(None);
                state.calls.len() - 1
            }
        };
        state.calls[slot] = Some(Call {
            op,
            body,
            start: issued,
            end: now,
            read_units: 0.0,
            write_units: 0.0,
        });
        cfg.interceptor_state().store_put(Slot(slot));
        Ok(())
    }

    fn read_before_deserialization(
        &self,
        _context: &BeforeDeserializationInterceptorContextRef<'_>,
        _runtime_components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let end = Instant::now();
        if let Some(Slot(slot)) = cfg.load::<Slot>().copied() {
            let mut state = self.state.lock().expect("recorder lock");
            if let Some(Some(call)) = state.calls.get_mut(slot) {
                call.end = end;
            }
        }
        Ok(())
    }

    /// The body is read into memory after `read_before_deserialization`: the units are
    /// read here.
    fn read_after_deserialization(
        &self,
        context: &AfterDeserializationInterceptorContextRef<'_>,
        _runtime_components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let Some(Slot(slot)) = cfg.load::<Slot>().copied() else {
            return Ok(());
        };
        let units = context
            .response()
            .body()
            .bytes()
            .and_then(|b| serde_json::from_slice::<serde_json::Value>(b).ok())
            .map(|v| capacity_units(&v["ConsumedCapacity"]))
            .unwrap_or(0.0);
        let mut state = self.state.lock().expect("recorder lock");
        if let Some(Some(call)) = state.calls.get_mut(slot) {
            if READS.contains(&call.op.as_str()) {
                call.read_units = units;
            } else {
                call.write_units = units;
            }
        }
        Ok(())
    }
}

/// `ConsumedCapacity` of a response: one object, or a list (batch and transaction calls).
fn capacity_units(v: &serde_json::Value) -> f64 {
    match v {
        serde_json::Value::Array(items) => items.iter().map(capacity_units).sum(),
        serde_json::Value::Object(o) => o
            .get("CapacityUnits")
            .and_then(serde_json::Value::as_f64)
            .unwrap_or(0.0),
        _ => 0.0,
    }
}

impl Call {
    /// The rate limiter's count (`ratelimit::WriteGate`): sent beside the handler's first
    /// calls; the handler's writes wait for its answer.
    pub fn is_rate_count(&self) -> bool {
        self.op == "UpdateItem" && self.body.windows(6).any(|w| w == b"#RATE#")
    }
}

/// The calls in rounds: a call is in the round after the latest round of any call that
/// had finished before it was sent, so the number of rounds is the longest chain of calls
/// each waiting for the one before: the round trips the operation cannot overlap.
pub fn rounds(calls: &[Call]) -> Vec<Vec<Call>> {
    let mut sorted = calls.to_vec();
    sorted.sort_by_key(|c| c.start);
    let mut levels: Vec<usize> = Vec::with_capacity(sorted.len());
    for (i, call) in sorted.iter().enumerate() {
        let level = sorted[..i]
            .iter()
            .zip(&levels)
            .filter(|(before, _)| before.end <= call.start)
            .map(|(_, level)| level + 1)
            .max()
            .unwrap_or(0);
        levels.push(level);
    }
    let mut rounds: Vec<Vec<Call>> = vec![Vec::new(); levels.iter().max().map_or(0, |m| m + 1)];
    for (call, level) in sorted.into_iter().zip(levels) {
        rounds[level].push(call);
    }
    rounds
}

/// The rounds as text: "BatchGetItem + UpdateItem → 2 × Query".
pub fn shape(calls: &[Call]) -> String {
    rounds(calls)
        .iter()
        .map(|round| {
            let mut counts = std::collections::BTreeMap::<&str, usize>::new();
            for call in round {
                let op = if call.is_rate_count() {
                    "rate-limit count"
                } else {
                    call.op.as_str()
                };
                *counts.entry(op).or_default() += 1;
            }
            counts
                .into_iter()
                .map(|(op, n)| {
                    if n == 1 {
                        op.to_owned()
                    } else {
                        format!("{n} × {op}")
                    }
                })
                .collect::<Vec<_>>()
                .join(" + ")
        })
        .collect::<Vec<_>>()
        .join(" → ")
}

/// Sends `body` as operation `op` through `client`: the SDK builds a placeholder request of
/// that operation, whose body is replaced by the recorded one before signing, then signs,
/// sends and parses the answer as it would any call.
pub async fn replay(client: &Client, op: &str, body: Vec<u8>) -> Result<(), String> {
    let swap = move |req: &mut aws_smithy_runtime_api::http::Request| {
        req.headers_mut()
            .insert("content-length", body.len().to_string());
        *req.body_mut() = SdkBody::from(body.clone());
    };
    let key = |k: &str| (k.to_owned(), AttributeValue::S("placeholder".into()));
    let (pk, sk) = (key("pk"), key("sk"));
    // Each arm: a placeholder of the operation with its required members, then the swap.
    macro_rules! send {
        ($builder:expr) => {
            $builder
                .customize()
                .mutate_request(swap)
                .send()
                .await
                .map(drop)
                .map_err(|e| format!("{e:?}"))
        };
    }
    let outcome = match op {
        "GetItem" => send!(client.get_item().table_name("t").key(pk.0, pk.1)),
        "BatchGetItem" => send!(
            client
                .batch_get_item()
                .set_request_items(Some(Default::default()))
        ),
        "Query" => send!(client.query().table_name("t")),
        "PutItem" => send!(client.put_item().table_name("t").item(pk.0, pk.1)),
        "UpdateItem" => send!(
            client
                .update_item()
                .table_name("t")
                .key(pk.0, pk.1)
                .key(sk.0, sk.1)
        ),
        "DeleteItem" => send!(client.delete_item().table_name("t").key(pk.0, pk.1)),
        "TransactWriteItems" => {
            send!(
                client
                    .transact_write_items()
                    .set_transact_items(Some(Vec::new()))
            )
        }
        "BatchWriteItem" => send!(
            client
                .batch_write_item()
                .set_request_items(Some(Default::default()))
        ),
        "TransactGetItems" => send!(
            client
                .transact_get_items()
                .set_transact_items(Some(Vec::new()))
        ),
        other => Err(format!("the bench cannot replay {other}")),
    };
    outcome.map_err(|e| format!("{op}: {e}"))
}

/// A transaction's `ClientRequestToken` makes a second transaction with that token and
/// other contents fail; the SDK would have made a new one for a new call, so does this.
fn fresh_token(body: Vec<u8>) -> Vec<u8> {
    let Ok(mut json) = serde_json::from_slice::<serde_json::Value>(&body) else {
        return body;
    };
    match json.get_mut("ClientRequestToken") {
        Some(token) => {
            *token = shared::secrets::random_hex(16).into();
            serde_json::to_vec(&json).expect("JSON serialises")
        }
        None => body,
    }
}

/// Replays `calls` round by round (a round's calls side by side, as the operation sent
/// them), with `substitute` applied to each body; the time it took.
pub async fn replay_rounds(
    client: &Client,
    calls: &[Call],
    substitute: &[(String, String)],
) -> std::time::Duration {
    let rounds = rounds(calls);
    let bodies: Vec<Vec<(String, Vec<u8>)>> = rounds
        .iter()
        .map(|round| {
            round
                .iter()
                .map(|c| {
                    let mut body = String::from_utf8(c.body.clone()).expect("JSON body");
                    for (from, to) in substitute {
                        body = body.replace(from.as_str(), to);
                    }
                    (c.op.clone(), fresh_token(body.into_bytes()))
                })
                .collect()
        })
        .collect();
    let started = Instant::now();
    for round in bodies {
        let outcomes = futures::future::join_all(
            round
                .into_iter()
                .map(|(op, body)| async move { replay(client, &op, body).await }),
        )
        .await;
        for outcome in outcomes {
            outcome.expect("a replayed call succeeds as the original did");
        }
    }
    started.elapsed()
}
