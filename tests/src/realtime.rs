//! Realtime test kit: the dev gateway (tools/devgateway) serving an app's functions in this
//! process, the fan-out driven over the engine's stream step by step, and a WebSocket client
//! that speaks client-protocol.md §4 as the SDKs do (auth frame first, pings, reconnect with
//! `?timestamp=`).

use std::time::{Duration, Instant};

use futures::{SinkExt, StreamExt};
use serde_json::{Value, json};
use shared::realtime::connections::Connections;
use shared::realtime::fanout::{Fanned, fan_out};
use shared::store::Store;
use shared::webhooks::local::StreamPoller;
use tokio_tungstenite::tungstenite::Message;

type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// The client API's URL in the tests' notification links.
pub const PUSH_LINK_BASE: &str = "https://api.talkplus.test";

/// A dev gateway for one app, and the fan-out of that app's changes.
pub struct Realtime {
    /// `ws://127.0.0.1:{port}/v1.4/users/ws/notifications`
    pub url: String,
    pub app_id: String,
    pub store: Store,
    pub connections: Connections,
    /// Super channels' chunk queue (`with_chunks`); without it they are fanned out in the
    /// dispatcher's call.
    pub chunks: Option<shared::realtime::chunks::ChunkQueue>,
    /// Push to users with no connection (`with_push`).
    pub push: Option<shared::realtime::push::Push>,
    /// `http://127.0.0.1:{port}`: the gateway, `@connections` API included.
    gateway: String,
    poller: StreamPoller,
}

/// Run once, ahead of the first post a relay forwards.
type BeforePost = std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send>>;

impl Realtime {
    /// Starts a gateway with the app's services; reads the stream from now on.
    pub async fn start(app: &crate::TestApp) -> Realtime {
        crate::webhooks::stream_on(app.store()).await;
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0))
            .await
            .expect("bind the gateway");
        let own = format!("http://{}", listener.local_addr().expect("address"));
        let connections = Connections::new(&crate::webhooks::sdk_config(&own), &own);
        tokio::spawn(devgateway::serve(
            listener,
            app.services.clone(),
            connections.clone(),
        ));
        let poller = crate::webhooks::stream_poller().await;
        Realtime {
            url: format!(
                "{}{}",
                own.replace("http://", "ws://"),
                shared::realtime::PATH
            ),
            app_id: app.app_id.clone(),
            store: app.store().clone(),
            connections,
            chunks: None,
            push: None,
            gateway: own,
            poller,
        }
    }

    /// Super channels go through a chunk queue (on the tests' SQS endpoint, moto); returns
    /// its consumer, with `chunk_members` members a chunk and a cap of `posts_per_second`.
    pub async fn with_chunks(
        &mut self,
        chunk_members: usize,
        posts_per_second: u32,
    ) -> shared::realtime::chunks::Chunker {
        let client =
            aws_sdk_sqs::Client::new(&crate::webhooks::sdk_config(crate::webhooks::sqs_endpoint()));
        let name = format!("rt-{}", shared::secrets::random_hex(8));
        let queue = shared::realtime::chunks::ChunkQueue::ensure(client, &name)
            .await
            .expect("create the chunk queue");
        self.chunks = Some(queue.clone());
        let mut chunker = shared::realtime::chunks::Chunker::new(
            self.store.clone(),
            self.connections.clone(),
            queue,
        );
        chunker.chunk_members = chunk_members;
        chunker.posts_per_second = posts_per_second;
        chunker
    }

    /// Push to users with no connection goes to `fcm`, with the tests' service account
    /// set on the app as `talkplus-admin set-app --fcm-service-account` sets it.
    pub async fn with_push(&mut self, fcm: &crate::fcm::FakeFcm) {
        let account =
            shared::realtime::push::ServiceAccount::parse(&crate::fcm::test_account_file())
                .expect("the test account");
        let sealer = shared::seal::Sealer::dev(crate::webhooks::SEAL_KEY);
        let sealed = sealer
            .seal(&self.app_id, &account.to_json())
            .await
            .expect("seal");
        self.store
            .set_fcm_service_account(&self.app_id, Some(&sealed), shared::model::now_ms())
            .await
            .expect("store the account");
        self.push = Some(
            shared::realtime::push::Push::new(
                sealer,
                &fcm.url,
                Some(fcm.oauth_url()),
                PUSH_LINK_BASE,
            )
            .expect("push"),
        );
    }

    /// The fan-out's posts go through a relay on loopback that runs `before` ahead of
    /// forwarding the first of them (the others wait for it): a test's way to make something
    /// happen in the middle of a fan-out. The relay hands back the gateway's answers as they
    /// are (a gone connection included); the gateway's own posts (replays) go direct.
    pub async fn before_first_post(
        &mut self,
        before: impl std::future::Future<Output = ()> + Send + 'static,
    ) {
        use axum::body::Bytes;
        use axum::http::{Method, StatusCode, Uri};
        let hook: BeforePost = Box::pin(before);
        let hook = std::sync::Arc::new(tokio::sync::Mutex::new(Some(hook)));
        let gateway = self.gateway.clone();
        let http = shared::config::reqwest_builder()
            .and_then(|b| b.build().map_err(|e| e.to_string()))
            .expect("HTTP client");
        let relay = axum::Router::new().fallback(move |method: Method, uri: Uri, body: Bytes| {
            let (hook, gateway, http) = (hook.clone(), gateway.clone(), http.clone());
            async move {
                let mut pending = hook.lock().await;
                if let Some(before) = pending.take() {
                    before.await;
                }
                drop(pending);
                let res = http
                    .request(method, format!("{gateway}{uri}"))
                    .body(body)
                    .send()
                    .await
                    .expect("forward the post");
                // The gateway's answer as it gave it: a 410's error type header is what makes
                // the SDK report the connection gone.
                let mut answer = axum::http::Response::builder()
                    .status(StatusCode::from_u16(res.status().as_u16()).expect("a status"));
                for (name, value) in res.headers() {
                    // The body's own framing is set anew from the bytes.
                    if !matches!(
                        name.as_str(),
                        "content-length" | "transfer-encoding" | "connection"
                    ) {
                        answer = answer.header(name.as_str(), value.as_bytes());
                    }
                }
                answer
                    .body(axum::body::Body::from(
                        res.bytes().await.expect("the answer"),
                    ))
                    .expect("an answer")
            }
        });
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0))
            .await
            .expect("bind the relay");
        let url = format!("http://{}", listener.local_addr().expect("address"));
        tokio::spawn(async move { axum::serve(listener, relay).await });
        self.connections = Connections::new(&crate::webhooks::sdk_config(&url), &url);
    }

    /// Fans out what the stream has for this app now (other tests' changes are theirs).
    pub async fn fan_out(&mut self) -> Fanned {
        let app_id = self.app_id.clone();
        self.fan_out_of(&[&app_id]).await
    }

    /// Fans out what the stream has for these apps now, their changes in the same batches.
    pub async fn fan_out_of(&mut self, app_ids: &[&str]) -> Fanned {
        let prefixes: Vec<String> = app_ids.iter().map(|a| format!("{a}#")).collect();
        let mut total = Fanned::default();
        loop {
            let mut records = self.poller.fetch().await.expect("read the stream");
            if records.is_empty() {
                self.poller.commit().await.expect("commit");
                return total;
            }
            records.retain(|r| {
                matches!(r.keys.get("pk"), Some(serde_dynamo::AttributeValue::S(pk))
                    if prefixes.iter().any(|p| pk.starts_with(p.as_str())))
            });
            let done = fan_out(
                &self.store,
                &self.connections,
                self.chunks.as_ref(),
                self.push.as_ref(),
                &records,
            )
            .await
            .expect("fan out");
            self.poller.commit().await.expect("commit");
            total.merge(done);
        }
    }

    /// Connects (with `?timestamp=` when given), authenticates as `user` with the SDK's first
    /// frame, and waits until the connection is listed as theirs.
    pub async fn connect_as(
        &self,
        user: &crate::client::SdkClient<'_>,
        since: Option<i64>,
    ) -> WsClient {
        let before = self.live(&user.user_id).await;
        let mut ws = WsClient::connect(&self.url, since).await;
        ws.auth(&self.app_id, &user.session_id, &user.session_token)
            .await;
        let deadline = Instant::now() + Duration::from_secs(10);
        while self.live(&user.user_id).await <= before {
            assert!(Instant::now() < deadline, "the connection was never listed");
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        ws
    }

    /// How many live connections `user` has.
    pub async fn live(&self, user: &str) -> usize {
        self.store
            .connections_of(
                &self.app_id,
                &[user.to_owned()],
                shared::model::now_ms() / 1000,
            )
            .await
            .expect("read connections")
            .get(user)
            .map_or(0, Vec::len)
    }

    /// Lists a connection for `user` whose `$disconnect` never ran: the table has it, the
    /// gateway does not, so a post to it finds it gone.
    pub async fn dead_connection(&self, connection_id: &str, user: &str) {
        let now = shared::model::now_ms();
        self.store
            .open_connection(connection_id, None, now, now / 1000 + 60)
            .await
            .expect("open the connection");
        assert!(
            self.store
                .authenticate_connection(connection_id, &self.app_id, user, "s", now / 1000 + 60)
                .await
                .expect("authenticate the connection"),
            "the connection is listed"
        );
    }
}

/// One SDK's socket.
pub struct WsClient {
    ws: Socket,
    pongs: usize,
    /// Frames that came while waiting for a pong, handed out next.
    held: std::collections::VecDeque<Value>,
}

impl WsClient {
    pub async fn connect(url: &str, since: Option<i64>) -> WsClient {
        let url = match since {
            Some(t) => format!("{url}?timestamp={t}"),
            None => url.to_owned(),
        };
        let (ws, _) = tokio_tungstenite::connect_async(url.as_str())
            .await
            .expect("connect");
        WsClient {
            ws,
            pongs: 0,
            held: Default::default(),
        }
    }

    /// The SDK's first frame.
    pub async fn auth(&mut self, app_id: &str, session_id: &str, token: &str) {
        self.text(
            &json!({"appId": app_id, "sessionId": session_id, "sessionToken": token}).to_string(),
        )
        .await;
    }

    pub async fn text(&mut self, text: &str) {
        self.ws
            .send(Message::Text(text.to_owned().into()))
            .await
            .expect("send a frame");
    }

    /// The next event frame within `within`; `None` if none came (or the socket closed).
    pub async fn next(&mut self, within: Duration) -> Option<Value> {
        if let Some(f) = self.held.pop_front() {
            return Some(f);
        }
        self.receive(within).await
    }

    async fn receive(&mut self, within: Duration) -> Option<Value> {
        let deadline = tokio::time::Instant::now() + within;
        loop {
            let msg = tokio::time::timeout_at(deadline, self.ws.next())
                .await
                .ok()??;
            match msg.ok()? {
                Message::Text(t) => {
                    return Some(serde_json::from_str(&t).expect("a frame is JSON"));
                }
                Message::Pong(_) => self.pongs += 1,
                Message::Close(_) => return None,
                _ => {}
            }
        }
    }

    /// Every frame until none comes for `quiet`.
    pub async fn drain(&mut self, quiet: Duration) -> Vec<Value> {
        let mut out = Vec::new();
        while let Some(f) = self.next(quiet).await {
            out.push(f);
        }
        out
    }

    /// The frame of event `kind` next, within 5 s, skipping none: panics on another.
    pub async fn expect(&mut self, kind: &str) -> Value {
        let f = self
            .next(Duration::from_secs(5))
            .await
            .unwrap_or_else(|| panic!("no {kind} frame came"));
        assert_eq!(f["type"], kind, "{f}");
        f
    }

    /// Sends a ping and waits for its pong.
    pub async fn ping(&mut self) -> bool {
        let before = self.pongs;
        self.ws
            .send(Message::Ping(b"keepalive".to_vec().into()))
            .await
            .expect("ping");
        let deadline = Instant::now() + Duration::from_secs(5);
        while self.pongs == before && Instant::now() < deadline {
            if let Some(f) = self.receive(Duration::from_millis(200)).await {
                self.held.push_back(f);
            }
        }
        self.pongs > before
    }

    /// Whether the server closes the socket within `within`.
    pub async fn closed(&mut self, within: Duration) -> bool {
        let deadline = tokio::time::Instant::now() + within;
        loop {
            match tokio::time::timeout_at(deadline, self.ws.next()).await {
                Err(_) => return false,
                Ok(None) | Ok(Some(Err(_))) | Ok(Some(Ok(Message::Close(_)))) => return true,
                Ok(Some(Ok(_))) => {}
            }
        }
    }

    /// Closes the socket as a client going away does.
    pub async fn close(mut self) {
        let _ = self.ws.close(None).await;
        while let Some(Ok(_)) = self.ws.next().await {}
    }
}
