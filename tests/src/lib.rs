//! Test harness for the storage, integration and end-to-end tests.
//!
//! Storage-touching tests run against a real DynamoDB-compatible engine:
//! - by default, dynoxide started in-process on a loopback port (once per test binary);
//! - with `TALKPLUS_TEST_DYNAMODB_ENDPOINT=http://127.0.0.1:N`, any other engine, such as
//!   Amazon's DynamoDB Local (`make test` runs the suites against both).
//!
//! Tests share one table and isolate themselves by app: each test provisions its own app,
//! and every key starts with the app id.

use std::collections::HashMap;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::config::interceptors::BeforeTransmitInterceptorContextRef;
use aws_sdk_dynamodb::config::{
    BehaviorVersion, ConfigBag, Credentials, Intercept, Region, RuntimeComponents,
};
use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::orchestrator::Metadata;
use lambda_http::http::Method;
use lambda_http::{Body, Context, Request, RequestExt, Response};
use serde_json::Value;
use shared::lambda::{Ctx, Services, handle};
use shared::model::{App, ChannelType, RateLimits, User, UserSecrets, now_ms};
use shared::secrets::{new_app_id, new_secret, secret_digest};
use shared::store::{Store, schema};

pub mod client;
pub mod faults;
pub mod fcm;
pub mod invariants;
pub mod layout;
pub mod realtime;
pub mod stack;
pub mod webhooks;

pub const ENDPOINT_VAR: &str = "TALKPLUS_TEST_DYNAMODB_ENDPOINT";
pub const TABLE: &str = "talkplus-test";

/// The engine's endpoint: from the environment, or an in-process dynoxide.
pub fn endpoint() -> &'static str {
    static ENDPOINT: OnceLock<String> = OnceLock::new();
    ENDPOINT.get_or_init(|| match std::env::var(ENDPOINT_VAR) {
        Ok(url) if !url.is_empty() => url,
        _ => start_dynoxide(),
    })
}

fn start_dynoxide() -> String {
    let std_listener = std::net::TcpListener::bind(SocketAddr::from((Ipv4Addr::LOCALHOST, 0)))
        .expect("bind a loopback port for dynoxide");
    let addr = std_listener.local_addr().expect("listener address");
    std_listener
        .set_nonblocking(true)
        .expect("nonblocking listener");
    // Its own runtime on its own thread: each #[tokio::test] has a runtime that ends with
    // the test, and the engine must outlive all of them.
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("dynoxide runtime");
        rt.block_on(async move {
            let listener = tokio::net::TcpListener::from_std(std_listener).expect("tokio listener");
            let db = dynoxide::Database::memory().expect("in-memory dynoxide");
            dynoxide::server::serve_on(listener, db).await;
        });
    });
    format!("http://{addr}")
}

/// Records every request the SDK sends (one entry per attempt, i.e. per round trip), by
/// operation name, so tests can count DynamoDB round trips per API operation. It can also
/// make chosen calls fail before they are sent, to stand in for a crash or an outage.
#[derive(Debug, Clone, Default)]
pub struct CallLog(Arc<Mutex<Calls>>);

#[derive(Debug, Default)]
struct Calls {
    log: Vec<String>,
    /// (operation, calls of it still to let through before failing one)
    faults: Vec<(String, usize)>,
}

impl CallLog {
    /// The calls recorded since the last `take`, in order.
    pub fn take(&self) -> Vec<String> {
        std::mem::take(&mut self.0.lock().expect("call log lock").log)
    }

    /// Makes the `nth` call of `op` from now on (1 = the next one) fail without reaching
    /// the engine.
    pub fn fail(&self, op: &str, nth: usize) {
        assert!(nth >= 1);
        let mut calls = self.0.lock().expect("call log lock");
        calls.faults.push((op.to_owned(), nth - 1));
    }
}

impl Intercept for CallLog {
    fn name(&self) -> &'static str {
        "CallLog"
    }

    fn read_before_transmit(
        &self,
        _context: &BeforeTransmitInterceptorContextRef<'_>,
        _runtime_components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let op = operation(cfg);
        let mut calls = self.0.lock().expect("call log lock");
        let mut fail = false;
        calls.faults.retain_mut(|(fault_op, skip)| {
            if *fault_op != op {
                return true;
            }
            if *skip == 0 {
                fail = true;
                return false;
            }
            *skip -= 1;
            true
        });
        calls.log.push(op.clone());
        if fail {
            return Err(format!("injected fault: {op}").into());
        }
        Ok(())
    }
}

/// The DynamoDB operation a call is, in an interceptor ("GetItem", "Query", ...).
pub fn operation(cfg: &ConfigBag) -> String {
    cfg.load::<Metadata>()
        .map_or_else(|| "unknown".to_owned(), |m| m.name().to_owned())
}

/// A client for the test engine with the same HTTP stack and retries as the functions.
/// Timeouts are longer: a local engine serving a dozen concurrent tests on a 2-core machine
/// answers a 100-item transaction far slower than DynamoDB, and the tests are about
/// outcomes, not latency. Built per test: an SDK client must not outlive the runtime that
/// made it.
pub fn client() -> Client {
    client_with_log(CallLog::default())
}

/// `client()` that records its calls in `log`.
pub fn client_with_log(log: CallLog) -> Client {
    Client::from_conf(client_config().interceptor(log).build())
}

/// The configuration of `client()`, for a caller that adds interceptors of its own (the
/// bench records each call's request and consumed capacity).
pub fn client_config() -> aws_sdk_dynamodb::config::Builder {
    aws_sdk_dynamodb::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .credentials_provider(Credentials::new(
            "test",
            "test",
            None,
            None,
            "talkplus-tests",
        ))
        .endpoint_url(endpoint())
        .http_client(shared::config::http_client())
        .timeout_config(
            aws_sdk_dynamodb::config::timeout::TimeoutConfig::builder()
                .connect_timeout(Duration::from_secs(5))
                .operation_attempt_timeout(Duration::from_secs(30))
                .operation_timeout(Duration::from_secs(60))
                .build(),
        )
        .retry_config(shared::config::retries())
}

/// The shared test table, created on first use, without a change stream: the tests that
/// read it turn it on (`webhooks::Pipeline`).
pub async fn store() -> Store {
    let client = client();
    schema::ensure_table_with(&client, TABLE, schema::ChangeStream::Off)
        .await
        .expect("create the test table");
    Store::new(client, TABLE)
}

/// A deleted user's settle time in tests: long enough for the in-process engines' index,
/// short enough that a test sees a delete finish.
pub const TEST_SWEEP_SETTLE: Duration = Duration::from_millis(300);

/// Rate limits of an app that has none.
pub const LIMITS_OFF: RateLimits = RateLimits {
    admin: Some(0),
    client: Some(0),
};

/// The development sealing key of test apps (as `TALKPLUS_DEV_SEAL_KEY` is `make dev`'s).
pub const TEST_SEAL_KEY: &str = "talkplus-test-seal-key";

/// A freshly provisioned app with its own id and key, and the services a function would
/// build for it (auth cache off, so key changes are seen at once).
pub struct TestApp {
    pub services: Services,
    pub app_id: String,
    pub api_key: String,
    /// Every DynamoDB call the app's services made.
    pub calls: CallLog,
}

/// A response read back as status and JSON.
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub body: Value,
}

impl Reply {
    /// The TalkPlus error code, if this is an error body.
    pub fn code(&self) -> Option<&str> {
        (self.body["error"] == Value::Bool(true))
            .then(|| self.body["code"].as_str())
            .flatten()
    }

    /// Asserts the TalkPlus error shape with this status and code.
    #[track_caller]
    pub fn assert_error(&self, status: u16, code: &str) {
        assert_eq!(
            (self.status, self.code()),
            (status, Some(code)),
            "body: {}",
            self.body
        );
        let keys: Vec<_> = self
            .body
            .as_object()
            .expect("object body")
            .keys()
            .cloned()
            .collect();
        assert_eq!(
            keys,
            ["code", "error", "message", "requestId"],
            "{}",
            self.body
        );
        assert!(self.body["message"].as_str().is_some_and(|m| !m.is_empty()));
    }
}

impl TestApp {
    pub async fn new() -> TestApp {
        Self::with_auth_cache(Duration::ZERO).await
    }

    /// A test app whose services cache app items for `ttl`, as a warm function does. Its
    /// rate limits are off: tests of behaviour send bursts no app would, and the limiter has
    /// tests of its own (`TestApp::with_limits`).
    pub async fn with_auth_cache(ttl: Duration) -> TestApp {
        Self::with_limits(ttl, LIMITS_OFF).await
    }

    /// A test app with these rate limits.
    pub async fn with_limits(ttl: Duration, rate_limits: RateLimits) -> TestApp {
        let calls = CallLog::default();
        Self::provision(client_with_log(calls.clone()), calls, ttl, rate_limits).await
    }

    /// A test app whose services use `client` (its `calls` log stays empty).
    pub async fn with_client(client: Client, ttl: Duration, rate_limits: RateLimits) -> TestApp {
        Self::provision(client, CallLog::default(), ttl, rate_limits).await
    }

    /// A test app (limits off, no auth cache) whose services talk to the engine through a
    /// client that injects `faults` (see `faults`); its `calls` log stays empty.
    pub async fn with_faults(faults: faults::Faults) -> TestApp {
        let client = faults::faulty_client(faults);
        Self::provision(client, CallLog::default(), Duration::ZERO, LIMITS_OFF).await
    }

    async fn provision(
        client: Client,
        calls: CallLog,
        ttl: Duration,
        rate_limits: RateLimits,
    ) -> TestApp {
        store().await;
        let store = Store::new(client, TABLE).with_sweep_settle(TEST_SWEEP_SETTLE);
        let app_id = new_app_id();
        let api_key = new_secret();
        let now = now_ms();
        let app = App {
            rate_limits,
            ..App::new(app_id.clone(), "test", now)
        };
        store
            .create_app(&app, &secret_digest(&api_key))
            .await
            .expect("provision test app");
        // Sealed as talkplus-admin seals it: the client API's session key comes from it.
        let sealer = shared::seal::Sealer::dev(TEST_SEAL_KEY);
        let sealed = sealer.seal(&app_id, &api_key).await.expect("seal the key");
        store
            .set_signing_key(&app_id, &sealed, now)
            .await
            .expect("store the sealed key");
        calls.take();
        TestApp {
            services: Services::new(store, ttl).with_sealer(sealer),
            app_id,
            api_key,
            calls,
        }
    }

    pub fn store(&self) -> &Store {
        &self.services.store
    }

    /// A request as API Gateway would deliver it, with this app's headers.
    pub fn request(&self, method: Method, path: &str, body: Option<Value>) -> Request {
        self.request_as(
            &self.app_id.clone(),
            &self.api_key.clone(),
            method,
            path,
            body,
        )
    }

    /// A request with explicit credentials (empty strings leave a header out).
    pub fn request_as(
        &self,
        app_id: &str,
        api_key: &str,
        method: Method,
        path: &str,
        body: Option<Value>,
    ) -> Request {
        let (path_only, query) = path.split_once('?').unwrap_or((path, ""));
        let mut builder = lambda_http::http::Request::builder()
            .method(method.clone())
            .uri(path);
        if !app_id.is_empty() {
            builder = builder.header("app-id", app_id);
        }
        if !api_key.is_empty() {
            builder = builder.header("api-key", api_key);
        }
        let body = match body {
            Some(v) => {
                builder = builder.header("content-type", "application/json");
                Body::Text(v.to_string())
            }
            None => Body::Empty,
        };
        let query: HashMap<String, String> = query
            .split('&')
            .filter(|p| !p.is_empty())
            .map(|p| {
                let (k, v) = p.split_once('=').unwrap_or((p, ""));
                (k.to_owned(), v.to_owned())
            })
            .collect();
        let mut context = Context::default();
        context.request_id = format!("test-{}", shared::secrets::random_hex(4));
        builder
            .body(body)
            .expect("valid request")
            .with_path_parameters(path_params(&method, path_only))
            .with_query_string_parameters(query)
            .with_lambda_context(context)
    }

    /// Sends a request with this app's credentials to `handler`.
    pub async fn send<F, Fut>(
        &self,
        handler: F,
        method: Method,
        path: &str,
        body: Option<Value>,
    ) -> Reply
    where
        F: FnOnce(Ctx) -> Fut,
        Fut: std::future::Future<Output = Result<Response<Body>, shared::Error>>,
    {
        self.call(handler, self.request(method, path, body)).await
    }

    /// Stores users with these ids straight through the store (no password hashing), with
    /// `username` = `name-{id}` and `profileImageUrl` = `https://img.test/{id}.png`.
    pub async fn add_users<S: AsRef<str>>(&self, ids: &[S]) {
        let now = now_ms();
        let secrets = UserSecrets {
            password_hash: "not-a-hash".into(),
            login_token_digest: "not-a-digest".into(),
        };
        let store = self.store();
        futures::future::join_all(ids.iter().map(|id| {
            let id = id.as_ref();
            let user = User {
                username: format!("name-{id}"),
                profile_image_url: format!("https://img.test/{id}.png"),
                data: [("k".to_owned(), id.to_owned())].into(),
                ..User::new(id.to_owned(), now)
            };
            let secrets = secrets.clone();
            async move {
                store
                    .create_user(&self.app_id, &user, &secrets)
                    .await
                    .expect("store a test user");
            }
        }))
        .await;
        self.calls.take();
    }

    /// Files `count` memberships (`m000000`, ...) straight into a channel's partition and sets
    /// its member count to match: a channel of any size without a request per member (the
    /// users need not exist; super channels never read member profiles). BatchWriteItem in
    /// parallel waves.
    pub async fn seed_members(&self, channel_id: &str, channel_type: ChannelType, count: usize) {
        use aws_sdk_dynamodb::types::{AttributeValue as A, PutRequest, WriteRequest};
        let store = self.store();
        let pk = shared::store::keys::channel_pk(&self.app_id, channel_id);
        let now = now_ms().to_string();
        let ids: Vec<String> = (0..count).map(|i| format!("m{i:06}")).collect();
        let requests: Vec<WriteRequest> = ids
            .iter()
            .map(|id| {
                let item = HashMap::from([
                    ("pk".to_owned(), A::S(pk.clone())),
                    (
                        "sk".to_owned(),
                        A::S(shared::store::keys::member_sk(channel_type, id)),
                    ),
                    (
                        "gsi1pk".to_owned(),
                        A::S(shared::store::keys::user_channels_index(&self.app_id, id)),
                    ),
                    ("gsi1sk".to_owned(), A::S(channel_id.to_owned())),
                    ("entity".to_owned(), A::S("membership".into())),
                    ("channel_id".to_owned(), A::S(channel_id.to_owned())),
                    ("user_id".to_owned(), A::S(id.clone())),
                    ("member_info".to_owned(), A::M(HashMap::new())),
                    ("last_read_at".to_owned(), A::N("0".into())),
                    ("last_sent_at".to_owned(), A::N("0".into())),
                    ("created_at".to_owned(), A::N(now.clone())),
                    ("updated_at".to_owned(), A::N(now.clone())),
                ]);
                WriteRequest::builder()
                    .put_request(PutRequest::builder().set_item(Some(item)).build().unwrap())
                    .build()
            })
            .collect();
        let batches: Vec<Vec<WriteRequest>> = requests.chunks(25).map(<[_]>::to_vec).collect();
        for wave in batches.chunks(16) {
            futures::future::join_all(wave.iter().map(|batch| async move {
                let mut pending = batch.clone();
                while !pending.is_empty() {
                    let out = store
                        .client()
                        .batch_write_item()
                        .request_items(store.table(), pending.clone())
                        .send()
                        .await
                        .expect("seed members");
                    pending = out
                        .unprocessed_items
                        .and_then(|mut u| u.remove(store.table()))
                        .unwrap_or_default();
                }
            }))
            .await;
        }
        store
            .client()
            .update_item()
            .table_name(store.table())
            .key("pk", A::S(pk))
            .key("sk", A::S(shared::store::keys::CHANNEL_SK.into()))
            .update_expression("SET member_count = member_count + :n")
            .expression_attribute_values(":n", A::N(count.to_string()))
            .send()
            .await
            .expect("count seeded members");
        self.calls.take();
    }

    /// Checks the storage invariants of this app's channels (see `invariants`).
    pub async fn check_channels(&self) -> invariants::ChannelCensus {
        invariants::check_channels(self.store(), &self.app_id).await
    }

    /// Checks the storage invariants of this app's users (see `invariants`).
    pub async fn check_users(&self) -> invariants::UserCensus {
        invariants::check_users(self.store(), &self.app_id).await
    }

    /// Runs `req` through the handler of the function named `function`, as the deployed
    /// function would: the one table of `shared::functions`.
    pub async fn call_function(&self, function: &str, req: Request) -> Reply {
        match shared::functions::find(function) {
            Some(shared::functions::Function::Route { admin, client }) => {
                self.call(|ctx| shared::functions::pick(admin, client, ctx), req)
                    .await
            }
            _ => panic!("{function} is not a route (shared::functions::FUNCTIONS)"),
        }
    }

    /// `call_function` with a request of this app.
    pub async fn route(
        &self,
        function: &str,
        method: Method,
        path: &str,
        body: Option<Value>,
    ) -> Reply {
        self.call_function(function, self.request(method, path, body))
            .await
    }

    /// The stored item under (`pk`, `sk`), read straight from the table (strongly
    /// consistent), for tests that check what was written.
    pub async fn stored_item(
        &self,
        pk: String,
        sk: &str,
    ) -> Option<HashMap<String, aws_sdk_dynamodb::types::AttributeValue>> {
        use aws_sdk_dynamodb::types::AttributeValue as A;
        self.store()
            .client()
            .get_item()
            .table_name(self.store().table())
            .key("pk", A::S(pk))
            .key("sk", A::S(sk.to_owned()))
            .consistent_read(true)
            .send()
            .await
            .expect("read a stored item")
            .item
    }

    /// `GET /channels/{id}`.
    pub async fn view_channel(&self, channel_id: &str) -> Reply {
        self.route(
            "channels-get",
            Method::GET,
            &format!("/v1.4/api/channels/{channel_id}"),
            None,
        )
        .await
    }

    /// Creates a channel (`channels/create` with `body`); panics unless it is created.
    pub async fn create_channel(&self, body: Value) -> Value {
        let r = self
            .route(
                "channels-create",
                Method::POST,
                "/v1.4/api/channels/create",
                Some(body),
            )
            .await;
        assert_eq!(r.status, 200, "create: {}", r.body);
        r.body["channel"].clone()
    }

    /// Runs `handler` on `req` the way the Lambda function does.
    pub async fn call<F, Fut>(&self, handler: F, req: Request) -> Reply
    where
        F: FnOnce(Ctx) -> Fut,
        Fut: std::future::Future<Output = Result<Response<Body>, shared::Error>>,
    {
        // Boxed: a test awaits dozens of these, and debug builds lay each handler's whole
        // future into the test's own, enough to overflow a test thread's stack.
        reply(Box::pin(handle(&self.services, req, handler)).await)
    }
}

/// Reads a handler's response.
pub fn reply(resp: Response<Body>) -> Reply {
    let status = resp.status().as_u16();
    assert_eq!(
        resp.headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok()),
        Some("application/json")
    );
    let body = match resp.body() {
        Body::Text(t) => serde_json::from_str(t).expect("JSON body"),
        other => panic!("unexpected body {other:?}"),
    };
    Reply { status, body }
}

/// Path parameters from the project's router, as API Gateway would fill them. A path no
/// route matches gets none, like a misrouted request would.
fn path_params(method: &Method, path: &str) -> HashMap<String, String> {
    layout::route(method.as_str(), path)
        .map(|(_, params)| params)
        .unwrap_or_default()
}
