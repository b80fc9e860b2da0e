//! Webhook test kit: an SQS endpoint (moto), a local receiver, and the pipeline the functions
//! run on AWS driven step by step (`shared::webhooks::local`).

use std::collections::{BTreeMap, VecDeque};
use std::io::{BufRead, BufReader};
use std::net::{Ipv4Addr, SocketAddr};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use aws_sdk_dynamodb::config::{BehaviorVersion, Credentials, Region, SharedCredentialsProvider};
use serde_json::Value;
use shared::seal::Sealer;
use shared::store::Store;
use shared::webhooks::deliver::Deliverer;
use shared::webhooks::local::{Start, StreamPoller, pump};
use shared::webhooks::queue::Queue;
use shared::webhooks::{RetrySchedule, dispatch};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

pub const SQS_ENDPOINT_VAR: &str = "TALKPLUS_TEST_SQS_ENDPOINT";
/// The development sealing key of the tests.
pub const SEAL_KEY: &str = "talkplus-tests-seal-key";

/// An SQS endpoint: `TALKPLUS_TEST_SQS_ENDPOINT`, or moto's server from the project's
/// virtualenv (`make test` installs it), started once per test binary. It stops when the
/// test binary exits: the wrapper shell waits on its stdin, a pipe that closes with us.
pub fn sqs_endpoint() -> &'static str {
    static ENDPOINT: OnceLock<String> = OnceLock::new();
    static MOTO: OnceLock<Mutex<Child>> = OnceLock::new();
    ENDPOINT.get_or_init(|| {
        if let Ok(url) = std::env::var(SQS_ENDPOINT_VAR)
            && !url.is_empty()
        {
            return url;
        }
        let moto = concat!(env!("CARGO_MANIFEST_DIR"), "/../.venv/bin/moto_server");
        assert!(
            std::path::Path::new(moto).exists(),
            "no SQS endpoint: set {SQS_ENDPOINT_VAR}, or install moto (make test does: \
             .venv/bin/pip install 'moto[server]')"
        );
        let port = std::net::TcpListener::bind(SocketAddr::from((Ipv4Addr::LOCALHOST, 0)))
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        let mut child = Command::new("sh")
            .arg("-c")
            .arg(format!(
                "{moto} -H 127.0.0.1 -p {port} >/dev/null 2>&1 & m=$!; read _; kill $m"
            ))
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .spawn()
            .expect("start moto_server");
        let deadline = Instant::now() + Duration::from_secs(60);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "moto_server did not start");
            assert!(
                child.try_wait().ok().flatten().is_none(),
                "moto_server exited"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        let _ = MOTO.set(Mutex::new(child));
        format!("http://127.0.0.1:{port}")
    })
}

pub fn sdk_config(endpoint: &str) -> aws_config::SdkConfig {
    aws_config::SdkConfig::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .credentials_provider(SharedCredentialsProvider::new(Credentials::new(
            "test",
            "test",
            None,
            None,
            "talkplus-tests",
        )))
        .endpoint_url(endpoint)
        .http_client(shared::config::http_client())
        .build()
}

/// A file store on moto's S3 (the same server as the queues), in a bucket of its own.
pub async fn file_store() -> shared::files::FileStore {
    let endpoint = sqs_endpoint();
    let bucket = format!("files-{}", shared::secrets::random_hex(6));
    let files = shared::files::FileStore::for_config(
        &sdk_config(endpoint),
        &bucket,
        &format!("{endpoint}/{bucket}"),
        true,
    );
    files.ensure_bucket().await.expect("create the bucket");
    files
}

/// A fresh pair of queues (unique names, so tests don't share them).
pub async fn queue() -> Queue {
    let client = aws_sdk_sqs::Client::new(&sdk_config(sqs_endpoint()));
    let name = format!("t-{}", shared::secrets::random_hex(8));
    Queue::ensure(client, &name).await.expect("create queues")
}

/// One request a receiver got.
#[derive(Debug, Clone)]
pub struct Received {
    pub path: String,
    pub headers: BTreeMap<String, String>,
    pub body: String,
    /// What the receiver answered.
    pub status: u16,
}

impl Received {
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.body).expect("a JSON body")
    }

    pub fn header(&self, name: &str) -> &str {
        self.headers.get(name).map(String::as_str).unwrap_or("")
    }
}

/// A local HTTP receiver. Answers each request with the next planned status, 200 once the
/// plan is used up (or `always` for every request).
#[derive(Clone)]
pub struct Receiver {
    pub url: String,
    got: Arc<Mutex<Vec<Received>>>,
    plan: Arc<Mutex<VecDeque<u16>>>,
    always: Arc<Mutex<Option<u16>>>,
    down: Arc<std::sync::atomic::AtomicBool>,
}

impl Receiver {
    pub async fn start() -> Receiver {
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0))
            .await
            .expect("bind receiver");
        let url = format!("http://{}", listener.local_addr().expect("address"));
        let r = Receiver {
            url,
            got: Arc::default(),
            plan: Arc::default(),
            always: Arc::default(),
            down: Arc::default(),
        };
        let me = r.clone();
        tokio::spawn(async move {
            while let Ok((socket, _)) = listener.accept().await {
                let me = me.clone();
                tokio::spawn(async move { me.serve(socket).await });
            }
        });
        r
    }

    /// Answer the next requests with these statuses.
    pub fn plan(&self, statuses: &[u16]) {
        self.plan.lock().unwrap().extend(statuses);
    }

    pub fn always(&self, status: u16) {
        *self.always.lock().unwrap() = Some(status);
    }

    /// Down: connections are dropped unanswered, as by a receiver that crashed.
    pub fn set_down(&self, down: bool) {
        self.down.store(down, std::sync::atomic::Ordering::SeqCst);
    }

    pub fn received(&self) -> Vec<Received> {
        self.got.lock().unwrap().clone()
    }

    /// Requests answered 2xx.
    pub fn delivered(&self) -> Vec<Received> {
        self.received()
            .into_iter()
            .filter(|r| (200..300).contains(&r.status))
            .collect()
    }

    async fn serve(&self, mut socket: tokio::net::TcpStream) {
        if self.down.load(std::sync::atomic::Ordering::SeqCst) {
            return;
        }
        let mut buf = Vec::new();
        let mut chunk = [0u8; 8192];
        let head_end = loop {
            let Ok(n) = socket.read(&mut chunk).await else {
                return;
            };
            if n == 0 {
                return;
            }
            buf.extend_from_slice(&chunk[..n]);
            if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                break i + 4;
            }
        };
        let head = String::from_utf8_lossy(&buf[..head_end]).to_string();
        let mut lines = BufReader::new(head.as_bytes()).lines();
        let request_line = lines.next().and_then(Result::ok).unwrap_or_default();
        let path = request_line.split(' ').nth(1).unwrap_or("").to_owned();
        let headers: BTreeMap<String, String> = lines
            .map_while(Result::ok)
            .filter_map(|l| {
                let (k, v) = l.split_once(':')?;
                Some((k.trim().to_ascii_lowercase(), v.trim().to_owned()))
            })
            .collect();
        let length: usize = headers
            .get("content-length")
            .and_then(|l| l.parse().ok())
            .unwrap_or(0);
        while buf.len() < head_end + length {
            let Ok(n) = socket.read(&mut chunk).await else {
                return;
            };
            if n == 0 {
                return;
            }
            buf.extend_from_slice(&chunk[..n]);
        }
        let body = String::from_utf8_lossy(&buf[head_end..head_end + length]).to_string();
        let status = match *self.always.lock().unwrap() {
            Some(s) => s,
            None => self.plan.lock().unwrap().pop_front().unwrap_or(200),
        };
        self.got.lock().unwrap().push(Received {
            path,
            headers,
            body,
            status,
        });
        let reply =
            format!("HTTP/1.1 {status} X\r\ncontent-length: 0\r\nconnection: close\r\n\r\n");
        let _ = socket.write_all(reply.as_bytes()).await;
        let _ = socket.shutdown().await;
    }
}

/// The test table has no stream until a test reads it; turned on once per test binary.
pub async fn stream_on(store: &Store) {
    static STREAM: tokio::sync::OnceCell<()> = tokio::sync::OnceCell::const_new();
    STREAM
        .get_or_init(|| async {
            shared::store::schema::ensure_stream(store.client(), crate::TABLE)
                .await
                .expect("turn the test table's stream on");
        })
        .await;
}

/// A reader of the test table's stream from now on.
pub async fn stream_poller() -> StreamPoller {
    StreamPoller::new(
        crate::endpoint(),
        "test",
        "us-east-1",
        crate::TABLE,
        Start::Latest,
    )
    .await
    .expect("stream poller")
}

/// The dispatcher and the deliverer as Lambda would run them, for one app of the shared test
/// table: other tests' changes in the same stream are left to their own pipelines.
pub struct Pipeline {
    pub app_id: String,
    pub store: Store,
    pub queue: Queue,
    pub deliverer: Deliverer,
    poller: StreamPoller,
}

impl Pipeline {
    /// Reads the stream from now on. Seals the app's key with the tests' development key.
    pub async fn start(store: &Store, app_id: &str, api_key: &str) -> Pipeline {
        stream_on(store).await;
        let sealer = Sealer::dev(SEAL_KEY);
        let sealed = sealer.seal(app_id, api_key).await.expect("seal");
        store
            .set_signing_key(app_id, &sealed, shared::model::now_ms())
            .await
            .expect("store the sealed key");
        let queue = queue().await;
        let deliverer = Deliverer::new(
            store.clone(),
            queue.clone(),
            Some(sealer),
            true,
            Duration::from_secs(3),
        )
        .expect("deliverer");
        let poller = stream_poller().await;
        Pipeline {
            app_id: app_id.to_owned(),
            store: store.clone(),
            queue,
            deliverer,
            poller,
        }
    }

    pub async fn set_webhook(&self, url: &str, events: Option<&[String]>, retry: RetrySchedule) {
        self.store
            .set_webhook(
                &self.app_id,
                Some(url),
                events,
                Some(retry),
                shared::model::now_ms(),
            )
            .await
            .expect("set webhook");
    }

    /// Dispatches what the stream has for this app now.
    pub async fn dispatch(&mut self) -> dispatch::Dispatched {
        let mut total = dispatch::Dispatched::default();
        loop {
            let mut records = self.poller.fetch().await.expect("read the stream");
            if records.is_empty() {
                self.poller.commit().await.expect("commit");
                return total;
            }
            let prefix = format!("{}#", self.app_id);
            records.retain(|r| {
                matches!(r.keys.get("pk"), Some(serde_dynamo::AttributeValue::S(pk)) if pk.starts_with(&prefix))
            });
            let done = dispatch::dispatch(&self.store, &self.queue, &records)
                .await
                .expect("dispatch");
            self.poller.commit().await.expect("commit");
            total.events += done.events;
            total.queued += done.queued;
        }
    }

    /// Dispatches, then delivers until `done` holds or `within` passes; returns whether it held.
    pub async fn run_until(&mut self, within: Duration, done: impl Fn() -> bool) -> bool {
        let deadline = Instant::now() + within;
        loop {
            self.dispatch().await;
            pump(&self.queue, &self.deliverer, 0)
                .await
                .expect("deliver");
            if done() {
                return true;
            }
            if Instant::now() > deadline {
                return false;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Everything in the dead-letter queue now.
    pub async fn dead_letters(&self) -> Vec<Value> {
        let mut out = Vec::new();
        for _ in 0..5 {
            let got = self
                .queue
                .receive(self.queue.dead_letter_url(), 0)
                .await
                .expect("receive dead letters");
            if got.is_empty() {
                break;
            }
            out.extend(
                got.into_iter()
                    .map(|m| serde_json::from_str(&m.body).expect("json")),
            );
        }
        out
    }
}
