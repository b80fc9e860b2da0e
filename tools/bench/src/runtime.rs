//! A minimal Lambda Runtime API (the `2018-06-01` interface a `provided.al2023` bootstrap
//! polls), enough to start a release `bootstrap`, see when its init ends (its first poll of
//! `invocation/next`) and time the invocations it answers.

use std::convert::Infallible;
use std::net::{Ipv4Addr, SocketAddr};
use std::path::Path;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use http_body_util::{BodyExt, Full};
use hyper::body::{Bytes, Incoming};
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use tokio::sync::{mpsc, oneshot};

const NEXT: &str = "/2018-06-01/runtime/invocation/next";

/// What the function said about one invocation.
#[derive(Debug)]
pub struct Answer {
    pub body: Vec<u8>,
    pub at: Instant,
    /// Reported through `/error` (or `/init/error`) rather than `/response`.
    pub error: bool,
}

struct Shared {
    events: tokio::sync::Mutex<mpsc::UnboundedReceiver<(String, Vec<u8>)>>,
    answers: mpsc::UnboundedSender<Answer>,
    first_poll: Mutex<Option<oneshot::Sender<Instant>>>,
}

/// One function process and the Runtime API it talks to.
pub struct Sandbox {
    child: tokio::process::Child,
    events: mpsc::UnboundedSender<(String, Vec<u8>)>,
    answers: mpsc::UnboundedReceiver<Answer>,
    first_poll: Option<oneshot::Receiver<Instant>>,
    server: tokio::task::JoinHandle<()>,
    pub started: Instant,
    invocations: u64,
}

/// Every wait on the function gives up after this long: a bench never hangs.
const PATIENCE: Duration = Duration::from_secs(30);

impl Sandbox {
    /// Starts the emulator on a loopback port, then `bootstrap` with Lambda's environment
    /// plus `env`. `started` is taken just before the exec.
    pub async fn start(bootstrap: &Path, name: &str, env: &[(String, String)]) -> Sandbox {
        let listener = tokio::net::TcpListener::bind(SocketAddr::from((Ipv4Addr::LOCALHOST, 0)))
            .await
            .expect("bind the runtime API");
        let addr = listener.local_addr().expect("runtime API address");
        let (events_tx, events_rx) = mpsc::unbounded_channel();
        let (answers_tx, answers_rx) = mpsc::unbounded_channel();
        let (poll_tx, poll_rx) = oneshot::channel();
        let shared = Arc::new(Shared {
            events: tokio::sync::Mutex::new(events_rx),
            answers: answers_tx,
            first_poll: Mutex::new(Some(poll_tx)),
        });
        let server = tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    return;
                };
                let shared = shared.clone();
                tokio::spawn(async move {
                    let service = hyper::service::service_fn(move |req| {
                        let shared = shared.clone();
                        async move { Ok::<_, Infallible>(serve(&shared, req).await) }
                    });
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        let mut command = tokio::process::Command::new(bootstrap);
        command
            .env_clear()
            .env("AWS_LAMBDA_RUNTIME_API", addr.to_string())
            .env("AWS_LAMBDA_FUNCTION_NAME", name)
            // Which function the deployed binary is (template.yaml sets it per function).
            .env("TALKPLUS_FUNCTION", name)
            .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128")
            .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
            .env("AWS_LAMBDA_LOG_GROUP_NAME", format!("/aws/lambda/{name}"))
            .env("AWS_LAMBDA_LOG_STREAM_NAME", "bench")
            .env("AWS_LAMBDA_LOG_FORMAT", "JSON")
            .env("AWS_EXECUTION_ENV", "AWS_Lambda_provided.al2023")
            .env("LAMBDA_TASK_ROOT", "/var/task")
            .envs(env.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .kill_on_drop(true);
        let started = Instant::now();
        let child = command.spawn().expect("start the bootstrap");
        Sandbox {
            child,
            events: events_tx,
            answers: answers_rx,
            first_poll: Some(poll_rx),
            server,
            started,
            invocations: 0,
        }
    }

    /// When the function first asked for an invocation: its init is done.
    pub async fn init_done(&mut self) -> Instant {
        let rx = self.first_poll.take().expect("init_done once");
        tokio::time::timeout(PATIENCE, rx)
            .await
            .expect("the function polls within 30 s")
            .expect("the emulator records the first poll")
    }

    /// Hands the function `event` and waits for its answer; the answer's `at` less the
    /// returned instant (taken as the event is handed over) is the invocation's time.
    pub async fn invoke(&mut self, event: &[u8]) -> (Instant, Answer) {
        self.invocations += 1;
        let sent = Instant::now();
        self.events
            .send((format!("bench-{}", self.invocations), event.to_vec()))
            .expect("emulator running");
        let answer = tokio::time::timeout(PATIENCE, self.answers.recv())
            .await
            .expect("the function answers within 30 s")
            .expect("emulator running");
        (sent, answer)
    }

    pub async fn stop(mut self) {
        let _ = self.child.kill().await;
        self.server.abort();
    }
}

fn reply(status: u16, body: Vec<u8>) -> Response<Full<Bytes>> {
    Response::builder()
        .status(status)
        .body(Full::new(Bytes::from(body)))
        .expect("valid response")
}

async fn serve(shared: &Shared, req: Request<Incoming>) -> Response<Full<Bytes>> {
    let path = req.uri().path().to_owned();
    if path == NEXT {
        if let Some(tx) = shared.first_poll.lock().expect("poll lock").take() {
            let _ = tx.send(Instant::now());
        }
        let Some((id, event)) = shared.events.lock().await.recv().await else {
            return reply(500, Vec::new());
        };
        let deadline = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_millis())
            + 10_000;
        return Response::builder()
            .status(200)
            .header("lambda-runtime-aws-request-id", id)
            .header("lambda-runtime-deadline-ms", deadline.to_string())
            .header(
                "lambda-runtime-invoked-function-arn",
                "arn:aws:lambda:us-east-1:123456789012:function:bench",
            )
            .header(
                "lambda-runtime-trace-id",
                "Root=1-00000000-000000000000000000000000",
            )
            .header("content-type", "application/json")
            .body(Full::new(Bytes::from(event)))
            .expect("valid response");
    }
    let error = path.ends_with("/error");
    let body = match req.into_body().collect().await {
        Ok(b) => b.to_bytes().to_vec(),
        Err(_) => Vec::new(),
    };
    let at = Instant::now();
    let _ = shared.answers.send(Answer { body, at, error });
    reply(202, b"{\"status\":\"OK\"}".to_vec())
}

/// An API Gateway HTTP API (payload 2.0) event, as `events/*.json` and API Gateway have it.
pub fn http_event(
    method: &str,
    route: &str,
    path: &str,
    params: &[(&str, &str)],
    headers: &[(&str, &str)],
    body: Option<&serde_json::Value>,
) -> Vec<u8> {
    let (raw_path, query) = path.split_once('?').unwrap_or((path, ""));
    let params: serde_json::Map<String, serde_json::Value> = params
        .iter()
        .map(|(k, v)| ((*k).to_owned(), serde_json::Value::from(*v)))
        .collect();
    let mut headers: serde_json::Map<String, serde_json::Value> = headers
        .iter()
        .map(|(k, v)| ((*k).to_owned(), serde_json::Value::from(*v)))
        .collect();
    headers.insert("host".into(), "localhost".into());
    if body.is_some() {
        headers.insert("content-type".into(), "application/json".into());
    }
    let mut event = serde_json::json!({
        "version": "2.0",
        "routeKey": format!("{method} {route}"),
        "rawPath": raw_path,
        "rawQueryString": query,
        "headers": headers,
        "requestContext": {
            "accountId": "123456789012",
            "apiId": "bench",
            "domainName": "localhost",
            "domainPrefix": "localhost",
            "http": {
                "method": method,
                "path": raw_path,
                "protocol": "HTTP/1.1",
                "sourceIp": "127.0.0.1",
                "userAgent": "bench"
            },
            "requestId": "bench",
            "routeKey": format!("{method} {route}"),
            "stage": "$default",
            "time": "02/Dec/2026:00:00:00 +0000",
            "timeEpoch": 1_796_169_600_000u64
        },
        "isBase64Encoded": false
    });
    if !params.is_empty() {
        event["pathParameters"] = params.into();
    }
    let query: serde_json::Map<String, serde_json::Value> = query
        .split('&')
        .filter_map(|p| p.split_once('='))
        .map(|(k, v)| (k.to_owned(), serde_json::Value::from(v)))
        .collect();
    if !query.is_empty() {
        event["queryStringParameters"] = query.into();
    }
    if let Some(body) = body {
        event["body"] = body.to_string().into();
    }
    serde_json::to_vec(&event).expect("event serialises")
}
