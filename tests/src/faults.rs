//! Storage faults injected below the SDK, at its HTTP connector: the SDK's own retry
//! classifiers and the store's retry loop see exactly what DynamoDB or the network would
//! give them (a throttling answer, a cancelled transaction, a 500, a reset connection, a
//! reply that never comes, or a write that committed but whose reply was lost).

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::config::retry::RetryPartition;
use aws_sdk_dynamodb::config::{BehaviorVersion, Credentials, Region};
use aws_smithy_runtime_api::client::http::{
    HttpClient, HttpConnector, HttpConnectorFuture, HttpConnectorSettings, SharedHttpClient,
    SharedHttpConnector,
};
use aws_smithy_runtime_api::client::orchestrator::HttpRequest;
use aws_smithy_runtime_api::client::result::ConnectorError;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_runtime_api::http::{Response, StatusCode};
use aws_smithy_types::body::SdkBody;

/// What goes wrong.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// `ProvisionedThroughputExceededException` (HTTP 400).
    Throttled,
    /// `TransactionCanceledException` with a `TransactionConflict` reason for a
    /// transaction, `TransactionConflictException` for anything else (HTTP 400).
    Conflict,
    /// `InternalServerError` (HTTP 500).
    ServerError,
    /// The connection is reset before the request reaches DynamoDB.
    Reset,
    /// No reply within the SDK's attempt timeout.
    Timeout,
    /// The request reaches DynamoDB and is applied, but the reply is lost.
    LostReply,
}

impl Fault {
    pub const ALL: [Fault; 6] = [
        Fault::Throttled,
        Fault::Conflict,
        Fault::ServerError,
        Fault::Reset,
        Fault::Timeout,
        Fault::LostReply,
    ];
}

#[derive(Debug, Default)]
struct Plan {
    /// (operation or "*", fault, calls left to fail)
    rules: Vec<(String, Fault, usize)>,
    injected: usize,
}

/// The faults to inject; shared with the client built by `faulty_client`.
#[derive(Debug, Clone, Default)]
pub struct Faults(Arc<Mutex<Plan>>);

impl Faults {
    /// Makes the next `times` calls of `op` ("PutItem", ... or "*" for any) fail with `fault`.
    pub fn inject(&self, op: &str, fault: Fault, times: usize) {
        self.0
            .lock()
            .unwrap()
            .rules
            .push((op.to_owned(), fault, times));
    }

    /// Removes every rule not used up yet.
    pub fn clear(&self) {
        self.0.lock().unwrap().rules.clear();
    }

    /// How many calls failed by injection so far.
    pub fn injected(&self) -> usize {
        self.0.lock().unwrap().injected
    }

    fn take(&self, op: &str) -> Option<Fault> {
        let mut plan = self.0.lock().unwrap();
        let rule = plan
            .rules
            .iter_mut()
            .find(|(o, _, left)| *left > 0 && (o == op || o == "*"))?;
        rule.2 -= 1;
        let fault = rule.1;
        plan.injected += 1;
        Some(fault)
    }
}

#[derive(Debug)]
struct FaultyClient {
    inner: SharedHttpClient,
    faults: Faults,
}

#[derive(Debug)]
struct FaultyConnector {
    inner: SharedHttpConnector,
    faults: Faults,
}

impl HttpClient for FaultyClient {
    fn http_connector(
        &self,
        settings: &HttpConnectorSettings,
        components: &RuntimeComponents,
    ) -> SharedHttpConnector {
        SharedHttpConnector::new(FaultyConnector {
            inner: self.inner.http_connector(settings, components),
            faults: self.faults.clone(),
        })
    }
}

fn error_reply(status: u16, type_name: &str, extra: &str) -> Response<SdkBody> {
    // DynamoDB lists a cancelled transaction's reasons in its message too.
    let message = if type_name == "TransactionCanceledException" {
        "Transaction cancelled, please refer cancellation reasons for specific reasons [TransactionConflict]"
    } else {
        "injected fault"
    };
    let body = format!(
        r#"{{"__type":"com.amazonaws.dynamodb.v20120810#{type_name}","message":"{message}"{extra}}}"#
    );
    let mut resp = Response::new(StatusCode::try_from(status).unwrap(), SdkBody::from(body));
    resp.headers_mut()
        .insert("content-type", "application/x-amz-json-1.0");
    resp
}

fn reset() -> ConnectorError {
    ConnectorError::io(Box::new(std::io::Error::new(
        std::io::ErrorKind::ConnectionReset,
        "injected: connection reset",
    )))
}

impl HttpConnector for FaultyConnector {
    fn call(&self, request: HttpRequest) -> HttpConnectorFuture {
        let op = request
            .headers()
            .get("x-amz-target")
            .and_then(|t| t.rsplit('.').next())
            .unwrap_or_default()
            .to_owned();
        let Some(fault) = self.faults.take(&op) else {
            return self.inner.call(request);
        };
        match fault {
            Fault::Throttled => HttpConnectorFuture::ready(Ok(error_reply(
                400,
                "ProvisionedThroughputExceededException",
                "",
            ))),
            Fault::Conflict if op == "TransactWriteItems" => {
                HttpConnectorFuture::ready(Ok(error_reply(
                    400,
                    "TransactionCanceledException",
                    r#","CancellationReasons":[{"Code":"TransactionConflict","Message":"Transaction is ongoing for the item"}]"#,
                )))
            }
            Fault::Conflict => {
                HttpConnectorFuture::ready(Ok(error_reply(400, "TransactionConflictException", "")))
            }
            Fault::ServerError => {
                HttpConnectorFuture::ready(Ok(error_reply(500, "InternalServerError", "")))
            }
            Fault::Reset => HttpConnectorFuture::ready(Err(reset())),
            Fault::Timeout => HttpConnectorFuture::new(async {
                tokio::time::sleep(Duration::from_secs(30)).await;
                Err(reset())
            }),
            Fault::LostReply => {
                let sent = self.inner.call(request);
                HttpConnectorFuture::new(async move {
                    let _ = sent.await;
                    Err(reset())
                })
            }
        }
    }
}

static CLIENTS: AtomicUsize = AtomicUsize::new(0);

/// A client for the test engine as the functions build it (their timeouts and retries),
/// with `faults` injected at its connector.
pub fn faulty_client(faults: Faults) -> Client {
    let config = aws_sdk_dynamodb::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .credentials_provider(Credentials::new("test", "test", None, None, "faults"))
        .endpoint_url(crate::endpoint())
        .http_client(SharedHttpClient::new(FaultyClient {
            inner: shared::config::http_client(),
            faults,
        }))
        .timeout_config(shared::config::timeouts())
        .retry_config(shared::config::retries())
        // The SDK's retry quota is shared by every client of one partition in a process;
        // in a function that is one client, so give each test client its own.
        .retry_partition(RetryPartition::new(format!(
            "faults-{}",
            CLIENTS.fetch_add(1, Ordering::Relaxed)
        )))
        .build();
    Client::from_conf(config)
}
