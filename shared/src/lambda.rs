//! The Lambda entry point every function crate calls, and the request pipeline
//! (authenticate, run the handler, turn any error into the TalkPlus error body).

use std::future::Future;
use std::time::Duration;

use lambda_http::{Body, Request, RequestExt, Response, service_fn};

use crate::auth::{self, AppCache, AppId, ClientAuth, Session};
use crate::http::error_response;
use crate::model::now_ms;
use crate::ratelimit::{Scope, WriteGate};
use crate::store::Store;

/// What `main` may fail with: only configuration problems at cold start.
pub type Error = lambda_http::Error;

/// Seconds a warm function trusts an app item it read (default 30; 0 disables the cache).
pub const AUTH_CACHE_SECONDS_VAR: &str = "AUTH_CACHE_SECONDS";

/// A request gives up (503) after this long: template.yaml's function timeout is 10 s, and
/// the answer must leave before the runtime kills the invocation.
pub const REQUEST_DEADLINE: Duration = Duration::from_secs(8);

/// Everything built once per cold start and shared by the requests of one function.
#[derive(Clone, Debug)]
pub struct Services {
    pub store: Store,
    pub apps: AppCache,
    pub client: ClientAuth,
    /// Where uploaded files go; `None` in functions that take none (their uploads are `6000`).
    pub files: Option<crate::files::FileStore>,
}

impl Services {
    /// Without a sealer: the client API answers `1003` until one is given (`with_sealer`).
    pub fn new(store: Store, auth_cache_ttl: Duration) -> Self {
        Services {
            store,
            apps: AppCache::new(auth_cache_ttl),
            client: ClientAuth::new(None, auth_cache_ttl),
            files: None,
        }
    }

    /// With the sealer that opens apps' session keys (`crate::seal`).
    pub fn with_sealer(mut self, sealer: crate::seal::Sealer) -> Self {
        let ttl = self.client_cache_ttl();
        self.client = ClientAuth::new(Some(sealer), ttl);
        self
    }

    fn client_cache_ttl(&self) -> Duration {
        self.apps.ttl()
    }

    /// From the environment: `TABLE_NAME`, `AUTH_CACHE_SECONDS`, and the AWS variables.
    pub async fn from_env() -> Result<Self, Error> {
        Self::from_config(&crate::config::aws_config().await)
    }

    /// As `from_env`, with the AWS configuration already loaded (a worker that builds other
    /// clients from it loads it once per cold start).
    pub fn from_config(config: &aws_config::SdkConfig) -> Result<Self, Error> {
        let table = crate::config::table_name()?;
        let ttl = match std::env::var(AUTH_CACHE_SECONDS_VAR) {
            Ok(v) => Duration::from_secs(
                v.parse()
                    .map_err(|_| format!("{AUTH_CACHE_SECONDS_VAR} must be a whole number"))?,
            ),
            Err(_) => auth::DEFAULT_CACHE_TTL,
        };
        let client = aws_sdk_dynamodb::Client::new(config);
        let mut services = Services::new(Store::new(client, table), ttl);
        services.files = crate::files::FileStore::from_env(config);
        Ok(match crate::seal::Sealer::from_env(config) {
            Some(sealer) => services.with_sealer(sealer),
            None => services,
        })
    }
}

/// What a handler gets: the store, the authenticated app, the request, and on the client
/// API what its authentication found.
pub struct Ctx {
    pub store: Store,
    pub app: AppId,
    pub req: Request,
    pub client: Option<auth::Client>,
    pub services: Services,
}

impl Ctx {
    /// The client API's caller; a handler of the client API only ever runs with one (the
    /// login paths aside).
    pub fn caller(&self) -> Result<&Session, crate::Error> {
        self.client
            .as_ref()
            .and_then(|c| c.session.as_ref())
            .ok_or(crate::Error::LoginRequired)
    }

    /// Who asks: the app (admin API) or the caller's session (client API).
    pub fn actor(&self) -> crate::domain::Actor<'_> {
        match self.client.as_ref().and_then(|c| c.session.as_ref()) {
            Some(session) => crate::domain::Actor::User(&session.user_id),
            None => crate::domain::Actor::Admin,
        }
    }

    /// The user an operation on one user is about: the caller on the client API (whose
    /// paths name no user), the path's `userId` on the admin API.
    pub fn subject(&self) -> Result<&str, crate::Error> {
        match self.client.as_ref() {
            Some(_) => self.caller().map(|s| s.user_id.as_str()),
            None => crate::http::path_param(&self.req, "userId"),
        }
    }

    /// A channel as the caller sees it (on the client API, with their unread count and read
    /// mark).
    pub fn channel_view(
        &self,
        mut detail: crate::model::ChannelDetail,
    ) -> crate::wire::ChannelView {
        let viewer = match self.actor() {
            crate::domain::Actor::User(u) => Some(u),
            crate::domain::Actor::Admin => None,
        };
        // A `lastMessage` the caller may not see is never shown (the channel reads of the
        // client API put the newest one they may see in its place beforehand).
        if let Some(v) = viewer
            && !crate::domain::channels::client::sees_last_message(&detail, v)
        {
            detail.last_message = None;
        }
        crate::wire::ChannelView::of(detail, viewer)
    }

    /// The body of an operation that may carry a file (`http::form_body`): the file stored,
    /// its URL answered beside the body. `6000` when this function has no file store.
    pub async fn form_with_file<T: serde::de::DeserializeOwned>(
        &self,
    ) -> Result<(T, Option<String>), crate::Error> {
        let (body, upload) = crate::http::form_body(&self.req).await?;
        let Some(upload) = upload else {
            return Ok((body, None));
        };
        let files = self.services.files.as_ref().ok_or_else(|| {
            crate::Error::FileUploadFailed(format!(
                "no file store in this function ({})",
                crate::files::BUCKET_VAR
            ))
        })?;
        let url = files.put(self.app.as_str(), upload).await?;
        Ok((body, Some(url)))
    }

    /// A message as the caller sees it: with `ownReactions` when a client asked for them
    /// (`includeOwnReactions=true`).
    pub fn message_view(&self, detail: crate::model::MessageDetail) -> crate::wire::MessageView {
        let view = crate::wire::MessageView::from(detail);
        let asked = crate::http::query_param(&self.req, "includeOwnReactions") == Some("true");
        match self.actor() {
            crate::domain::Actor::User(u) if asked => view.with_own_reactions(u),
            _ => view,
        }
    }

    /// What the client API's authentication found (login paths included).
    pub fn client(&self) -> Result<&auth::Client, crate::Error> {
        self.client
            .as_ref()
            .ok_or_else(|| crate::Error::Internal("a client handler on the admin API".into()))
    }
}

/// Which API a request is on, by its path: the admin API under `/v1.4/api/`, the client API
/// elsewhere, its login paths coming before any session.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Api {
    Admin,
    Client,
    ClientLogin,
}

impl Api {
    pub fn of(path: &str) -> Api {
        if path.starts_with("/v1.4/api/") {
            Api::Admin
        } else if path.starts_with("/v1.4/users/login/") {
            Api::ClientLogin
        } else {
            Api::Client
        }
    }
}

/// Runs one request through authentication and `handler`. Never fails: every outcome,
/// including a storage failure, is an HTTP response.
pub async fn handle<F, Fut>(services: &Services, req: Request, handler: F) -> Response<Body>
where
    F: FnOnce(Ctx) -> Fut,
    Fut: Future<Output = Result<Response<Body>, crate::Error>>,
{
    let request_id = req
        .lambda_context_ref()
        .map(|c| c.request_id.clone())
        .unwrap_or_default();
    let api = Api::of(req.uri().path());
    let work = async {
        let (app, limits, client) = match api {
            Api::Admin => {
                let (app, limits) =
                    auth::authenticate(&services.store, &services.apps, req.headers()).await?;
                (app, limits, None)
            }
            Api::Client | Api::ClientLogin => {
                let (app, limits, client) = auth::authenticate_client(
                    &services.store,
                    &services.apps,
                    &services.client,
                    req.headers(),
                    api == Api::ClientLogin,
                )
                .await?;
                (app, limits, Some(client))
            }
        };
        let (scope, limit) = match client.as_ref().and_then(|c| c.session.as_ref()) {
            Some(session) => (
                Scope::Session(&session.session_id),
                limits.client_per_second(),
            ),
            None if api == Api::ClientLogin => (Scope::Logins, limits.admin_per_second()),
            None => (Scope::Admin, limits.admin_per_second()),
        };
        // The count runs beside the handler; only the handler's writes wait for it.
        let gate = WriteGate::start(services.store.clone(), app.clone(), scope, limit, now_ms());
        let ctx = Ctx {
            store: services.store.with_gate(gate.clone()),
            app,
            req,
            client,
            services: services.clone(),
        };
        // On the heap: an operation's future (the SDK calls it runs side by side) can be
        // tens of kilobytes, and a debug build's is many times that.
        let outcome = Box::pin(handler(ctx)).await;
        // A refused request answers 429 even when it wrote nothing (a read, or a request
        // turned down before its write); what it read is dropped.
        gate.pass().await?;
        outcome
    };
    // Every request answers inside the function's timeout, whatever storage does. Dropping
    // the work midway is the same as a crash there, which every operation is built to
    // survive (transactions are atomic; multi-step writes are repaired by the next call).
    let outcome = match tokio::time::timeout(REQUEST_DEADLINE, work).await {
        Ok(outcome) => outcome,
        Err(_) => Err(crate::Error::Unavailable(format!(
            "request deadline of {REQUEST_DEADLINE:?} passed"
        ))),
    };
    match outcome {
        Ok(resp) => resp,
        Err(err) => {
            let spec = err.spec();
            if err.is_server_fault() {
                tracing::error!(code = spec.code, status = spec.status, error = %err, "request failed");
            } else {
                tracing::info!(code = spec.code, status = spec.status, message = %err, "request rejected");
            }
            error_response(&err, &request_id, api)
        }
    }
}

/// Crates whose most detailed levels print what a request carries, and the level each is
/// held to whatever the configured level: lambda_runtime's TRACE dumps every raw event
/// (the `api-key` header, passwords in bodies), and the SDK's and HTTP stack's TRACE print
/// the requests sent to DynamoDB; tungstenite's print WebSocket frames (the auth frame's
/// session token), the @connections client's the frames posted, reqwest's the FCM and
/// OAuth exchanges (access tokens). tests/tests/e2e.rs runs the functions at TRACE and
/// searches the logs for the secrets it sent.
pub const LOG_CAPS: &[&str] = &[
    "lambda_runtime=debug",
    "lambda_http=debug",
    "aws_smithy_runtime=debug",
    "aws_smithy_runtime_api=debug",
    "aws_smithy_http_client=debug",
    "aws_sdk_dynamodb=debug",
    "aws_sdk_apigatewaymanagement=debug",
    "aws_sdk_kms=debug",
    "aws_sdk_sqs=debug",
    "tungstenite=debug",
    "tokio_tungstenite=debug",
    "reqwest=debug",
    "hyper=info",
    "hyper_util=info",
    "h2=info",
    "rustls=info",
];

/// The logger: the level from `AWS_LAMBDA_LOG_LEVEL` (Lambda's logging controls), else
/// `RUST_LOG`, else INFO, with `LOG_CAPS` applied; JSON when Lambda's log format is JSON
/// (template.yaml sets it), plain text locally.
pub fn init_logging() {
    let level = std::env::var("AWS_LAMBDA_LOG_LEVEL")
        .or_else(|_| std::env::var("RUST_LOG"))
        .ok();
    let fmt = lambda_http::tracing::subscriber::fmt()
        .with_target(false)
        .without_time()
        .with_env_filter(log_filter(level.as_deref()));
    let json = std::env::var("AWS_LAMBDA_LOG_FORMAT").is_ok_and(|f| f.eq_ignore_ascii_case("json"));
    if json {
        fmt.json().init();
    } else {
        fmt.init();
    }
}

/// The filter of `init_logging`: `level` (INFO when absent or unreadable) for everything,
/// `RUST_LOG`'s own directives, then `LOG_CAPS`, which win over both.
pub fn log_filter(level: Option<&str>) -> lambda_http::tracing::subscriber::EnvFilter {
    use lambda_http::tracing::subscriber::filter::{EnvFilter, LevelFilter};
    let level = level
        .and_then(|v| v.parse::<LevelFilter>().ok())
        .unwrap_or(LevelFilter::INFO);
    let mut filter = EnvFilter::builder()
        .with_default_directive(level.into())
        .from_env_lossy();
    for cap in LOG_CAPS {
        if let Ok(directive) = cap.parse() {
            filter = filter.add_directive(directive);
        }
    }
    filter
}

/// `main` of the deployed API binary and of the function crates: serves the route or the
/// sweeper called `name` (`functions::FUNCTIONS`). Webhook workers are another binary's
/// (`serve_webhook_worker`): they bring the SQS and KMS clients and an HTTP client, which
/// the routes have no use for, so a route's binary stays small.
pub async fn serve_function(name: &str) -> Result<(), Error> {
    use crate::functions::{self, Function};
    // Boxed: one state machine holding both loops is too deep for the compiler to lay out,
    // and only one ever runs.
    type Serving = std::pin::Pin<Box<dyn Future<Output = Result<(), Error>>>>;
    let serving: Serving = match functions::find(name) {
        Some(Function::Route { admin, client }) => {
            Box::pin(serve(move |ctx| functions::pick(admin, client, ctx)))
        }
        Some(Function::Sweeper) => Box::pin(serve_stream()),
        Some(
            Function::WebhooksDispatch
            | Function::WebhooksDeliver
            | Function::WebSocket
            | Function::RealtimeFanout,
        ) => {
            return Err(format!("{name} is a worker: serve_webhook_worker").into());
        }
        None => return Err(format!("no function called {name:?} (shared::functions)").into()),
    };
    serving.await
}

/// `main` of the webhook workers' binary and crates: the worker called `name`.
pub async fn serve_webhook_worker(name: &str) -> Result<(), Error> {
    use crate::functions::{self, Function};
    match functions::find(name) {
        Some(Function::WebhooksDispatch) => Box::pin(serve_webhook_dispatch()).await,
        Some(Function::WebhooksDeliver) => Box::pin(serve_webhook_delivery()).await,
        Some(Function::WebSocket) => Box::pin(serve_websocket()).await,
        Some(Function::RealtimeFanout) => Box::pin(serve_realtime_chunks()).await,
        _ => Err(format!("{name} is not a worker (shared::functions)").into()),
    }
}

/// The function the deployed binary is to serve: `TALKPLUS_FUNCTION`.
pub fn configured_function() -> Result<String, Error> {
    let var = crate::functions::FUNCTION_VAR;
    std::env::var(var).map_err(|_| format!("{var} is not set").into())
}

/// A route: logging, the client (once per cold start), then the loop.
pub async fn serve<F, Fut>(handler: F) -> Result<(), Error>
where
    F: Fn(Ctx) -> Fut + Clone + Send + Sync + 'static,
    Fut: Future<Output = Result<Response<Body>, crate::Error>> + Send,
{
    init_logging();
    let services = Services::from_env().await?;
    lambda_http::run(service_fn(move |req: Request| {
        let services = services.clone();
        let handler = handler.clone();
        async move { Ok::<_, Error>(handle(&services, req, handler).await) }
    }))
    .await
}

/// `main` of the sweeper (deleted channels and users): the table's change stream in,
/// `handlers::sweeper` on each batch. A failed batch is an error, so the stream delivers it
/// again.
pub async fn serve_stream() -> Result<(), Error> {
    use lambda_http::lambda_runtime::{self, LambdaEvent};
    init_logging();
    let services = Services::from_env().await?;
    lambda_runtime::run(lambda_runtime::service_fn(
        move |event: LambdaEvent<serde_json::Value>| {
            let store = services.store.clone();
            async move {
                let swept = crate::handlers::sweeper::handle(&store, event.payload)
                    .await
                    .map_err(|e| {
                        tracing::error!(error = %e, "sweep failed; the batch will be retried");
                        Error::from(e.to_string())
                    })?;
                tracing::info!(swept, "swept deleted channels");
                Ok::<_, Error>(serde_json::json!({}))
            }
        },
    ))
    .await
}

/// `main` of the webhook dispatcher: the table's change stream in, each change's webhook
/// and bot deliveries onto the delivery queue (`webhooks::dispatch`). A failed batch is an
/// error, so the stream delivers it again (the deliveries keep their ids).
pub async fn serve_webhook_dispatch() -> Result<(), Error> {
    use lambda_http::lambda_runtime::{self, LambdaEvent};
    init_logging();
    let config = crate::config::aws_config().await;
    let services = Services::from_config(&config)?;
    let queue = crate::webhooks::queue::Queue::from_env(&config)?;
    let connections = crate::realtime::connections::Connections::from_env(&config);
    let chunks = crate::realtime::chunks::ChunkQueue::from_env(&config);
    let push = crate::realtime::push::Push::from_env(&config).map(std::sync::Arc::new);
    lambda_runtime::run(lambda_runtime::service_fn(
        move |event: LambdaEvent<serde_json::Value>| {
            let store = services.store.clone();
            let queue = queue.clone();
            let connections = connections.clone();
            let chunks = chunks.clone();
            let push = push.clone();
            async move {
                let records = crate::webhooks::records::lambda_records(&event.payload)?;
                let (fanned, done) = crate::webhooks::on_changes(
                    &store,
                    &queue,
                    connections.as_ref(),
                    chunks.as_ref(),
                    push.as_deref(),
                    &records,
                )
                .await
                .map_err(|e| {
                    tracing::error!(error = %e, "dispatch failed; the batch will be retried");
                    Error::from(e.to_string())
                })?;
                if let Some(f) = fanned {
                    tracing::info!(
                        events = f.events,
                        posts = f.posts,
                        gone = f.gone,
                        pushes = f.pushes,
                        "fanned out"
                    );
                }
                tracing::info!(events = done.events, queued = done.queued, "dispatched");
                Ok::<_, Error>(serde_json::json!({}))
            }
        },
    ))
    .await
}

/// `main` of the WebSocket API's functions (`realtime::gateway`): the route is in the event.
pub async fn serve_websocket() -> Result<(), Error> {
    use lambda_http::lambda_runtime::{self, LambdaEvent};
    init_logging();
    let config = crate::config::aws_config().await;
    let services = Services::from_config(&config)?;
    let connections =
        crate::realtime::connections::Connections::from_env(&config).ok_or_else(|| {
            format!(
                "{} is not set",
                crate::realtime::connections::CALLBACK_URL_VAR
            )
        })?;
    lambda_runtime::run(lambda_runtime::service_fn(
        move |event: LambdaEvent<serde_json::Value>| {
            let services = services.clone();
            let connections = connections.clone();
            async move {
                Ok::<_, Error>(
                    crate::realtime::gateway::handle(&services, &connections, &event.payload).await,
                )
            }
        },
    ))
    .await
}

/// `main` of the chunk queue's consumer: a super channel's fan-out, page by page
/// (`realtime::chunks`); what is to be tried again is handed back as batch item failures.
pub async fn serve_realtime_chunks() -> Result<(), Error> {
    use lambda_http::lambda_runtime::{self, LambdaEvent};
    init_logging();
    let config = crate::config::aws_config().await;
    let services = Services::from_config(&config)?;
    let var = |name: &str| -> Result<String, Error> {
        std::env::var(name).map_err(|_| format!("{name} is not set").into())
    };
    let connections = crate::realtime::connections::Connections::new(
        &config,
        &var(crate::realtime::connections::CALLBACK_URL_VAR)?,
    );
    let queue = crate::realtime::chunks::ChunkQueue::new(
        aws_sdk_sqs::Client::new(&config),
        var(crate::realtime::chunks::QUEUE_URL_VAR)?,
    );
    let chunker = std::sync::Arc::new(crate::realtime::chunks::Chunker::new(
        services.store.clone(),
        connections,
        queue,
    ));
    lambda_runtime::run(lambda_runtime::service_fn(
        move |event: LambdaEvent<serde_json::Value>| {
            let chunker = chunker.clone();
            async move {
                let batch = crate::webhooks::deliver::lambda_messages(&event.payload);
                let failures: Vec<_> = chunker
                    .handle(&batch)
                    .await
                    .into_iter()
                    .map(|id| serde_json::json!({"itemIdentifier": id}))
                    .collect();
                Ok::<_, Error>(serde_json::json!({"batchItemFailures": failures}))
            }
        },
    ))
    .await
}

/// `main` of the webhook deliverer: the delivery queue in (`webhooks::deliver`); what is to
/// be tried again is handed back as batch item failures.
pub async fn serve_webhook_delivery() -> Result<(), Error> {
    use lambda_http::lambda_runtime::{self, LambdaEvent};
    init_logging();
    let config = crate::config::aws_config().await;
    let services = Services::from_config(&config)?;
    let queue = crate::webhooks::queue::Queue::from_env(&config)?;
    let deliverer = std::sync::Arc::new(crate::webhooks::deliver::Deliverer::from_env(
        services.store.clone(),
        queue,
        &config,
    )?);
    lambda_runtime::run(lambda_runtime::service_fn(
        move |event: LambdaEvent<serde_json::Value>| {
            let deliverer = deliverer.clone();
            async move {
                let batch = crate::webhooks::deliver::lambda_messages(&event.payload);
                let failed = deliverer.handle(&batch).await;
                let failures: Vec<_> = failed
                    .into_iter()
                    .map(|id| serde_json::json!({"itemIdentifier": id}))
                    .collect();
                Ok::<_, Error>(serde_json::json!({"batchItemFailures": failures}))
            }
        },
    ))
    .await
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;
    use std::sync::{Arc, Mutex};

    #[derive(Clone, Default)]
    struct Captured(Arc<Mutex<Vec<u8>>>);

    impl Write for Captured {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    /// At TRACE, our own events are written but lambda_runtime's raw event dump is not,
    /// nor the SDK's request traces.
    #[test]
    fn caps_hold_back_raw_requests_at_trace() {
        use lambda_http::tracing::subscriber::util::SubscriberInitExt;
        let out = Captured::default();
        let writer = out.clone();
        let _guard = lambda_http::tracing::subscriber::fmt()
            .with_env_filter(log_filter(Some("trace")))
            .with_writer(move || writer.clone())
            .finish()
            .set_default();
        tracing::trace!(target: "lambda_runtime::layers::api_response", body = "api-key: SECRET-1", "raw JSON event received from Lambda");
        tracing::trace!(target: "aws_smithy_runtime::client::orchestrator", request = "SECRET-2", "sending");
        tracing::trace!(target: "hyper_util::client", "SECRET-3");
        tracing::trace!(target: "shared::store", "our own trace line");
        tracing::debug!(target: "lambda_runtime", "runtime debug line");
        let text = String::from_utf8(out.0.lock().unwrap().clone()).unwrap();
        assert!(text.contains("our own trace line"), "{text}");
        assert!(text.contains("runtime debug line"), "{text}");
        for secret in ["SECRET-1", "SECRET-2", "SECRET-3"] {
            assert!(!text.contains(secret), "{secret} was logged: {text}");
        }
    }
}
