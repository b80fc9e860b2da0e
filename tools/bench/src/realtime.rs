//! Send → event received over the SDKs' WebSocket (issue 15), on loopback as `make dev` runs
//! it: the dev gateway in a process of its own (it holds the server side of every socket, as
//! API Gateway would), the dispatcher's loop here (the stream polled as `make dev` polls it, the
//! fan-out posting to the gateway's `@connections` API; a super channel's pages through the
//! chunk queue on moto's SQS, consumed here, under the default send-rate cap), and the clients
//! here: real sockets, each authenticated with its own session from `users/login/anonymous`.
//!
//! A sample is the time from just before the send request to a client reading the frame.

use std::collections::HashMap;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::{SinkExt, StreamExt};
use lambda_http::http::Method;
use serde_json::{Value, json};
use talkplus_tests::TestApp;
use talkplus_tests::client::{SdkClient, Transport};
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::Message;

use crate::{Report, ms, percentile, scale};

/// The clients of each case: one channel, channels side by side, one super channel.
struct Sizes {
    one_channel: usize,
    spread_channels: usize,
    spread_each: usize,
    super_clients: usize,
    runs: usize,
}

/// How far apart the one-channel case's messages are sent: a busy chat's pace. Sent back to
/// back, each send would wait in the in-process engine (one request at a time) behind the
/// previous message's 101 replay writes, which on DynamoDB go to other partitions side by
/// side; that case measures how the engine queues, not how long a message takes.
const ONE_CHANNEL_PACE: Duration = Duration::from_millis(250);

/// Overrides the super channel's clients (e.g. a shorter run while working on it).
const SUPER_CLIENTS_VAR: &str = "BENCH_REALTIME_SUPER_CLIENTS";

fn sizes() -> Sizes {
    if scale().release {
        Sizes {
            one_channel: 100,
            spread_channels: 100,
            spread_each: 10,
            super_clients: std::env::var(SUPER_CLIENTS_VAR)
                .ok()
                .and_then(|v| v.parse().ok())
                .unwrap_or(10_000),
            runs: 20,
        }
    } else {
        Sizes {
            one_channel: 10,
            spread_channels: 4,
            spread_each: 5,
            super_clients: 50,
            runs: 2,
        }
    }
}

/// The gateway process; killed when dropped.
struct Gateway(Child);

impl Drop for Gateway {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn start_gateway(port: u16) -> Gateway {
    let profile = if scale().release { "release" } else { "debug" };
    let mut build = Command::new("cargo");
    build.args(["build", "-q", "-p", "talkplus-devgateway"]);
    if scale().release {
        build.arg("--release");
    }
    let status = build
        .current_dir(crate::footprint::root())
        .status()
        .expect("cargo build");
    assert!(status.success(), "build the dev gateway");
    let target = std::env::var_os("CARGO_TARGET_DIR").map_or_else(
        || crate::footprint::root().join("target"),
        std::path::PathBuf::from,
    );
    let child = Command::new(target.join(profile).join("talkplus-devgateway"))
        .env("WS_PORT", port.to_string())
        .env("TABLE_NAME", talkplus_tests::TABLE)
        .env("AWS_ENDPOINT_URL_DYNAMODB", talkplus_tests::endpoint())
        .env("AWS_REGION", "us-east-1")
        .env("AWS_ACCESS_KEY_ID", "test")
        .env("AWS_SECRET_ACCESS_KEY", "test")
        .env("TALKPLUS_DEV_SEAL_KEY", talkplus_tests::TEST_SEAL_KEY)
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .spawn()
        .expect("start the dev gateway");
    let deadline = Instant::now() + Duration::from_secs(30);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "the dev gateway did not start");
        std::thread::sleep(Duration::from_millis(50));
    }
    Gateway(child)
}

/// How many times the dispatcher's loop found the stream drained.
type Drained = std::sync::Arc<std::sync::atomic::AtomicUsize>;

/// Waits until the dispatcher's loop finds the stream drained again: every change so far
/// fanned out, its replay writes included.
async fn quiet(drained: &Drained) {
    use std::sync::atomic::Ordering;
    let before = drained.load(Ordering::SeqCst);
    let deadline = Instant::now() + Duration::from_secs(60);
    while drained.load(Ordering::SeqCst) == before {
        assert!(Instant::now() < deadline, "the fan-out never went quiet");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// The dispatcher's loop of `make dev` (talkplus-admin webhooks), realtime part, for this app.
fn start_fan_out(
    app: &TestApp,
    callback: &str,
    chunker: &shared::realtime::chunks::Chunker,
    drained: Drained,
) -> tokio::task::JoinHandle<()> {
    let store = app.store().clone();
    let prefix = format!("{}#", app.app_id);
    let config = talkplus_tests::webhooks::sdk_config(callback);
    let connections = shared::realtime::connections::Connections::new(&config, callback);
    let chunker = chunker.clone();
    tokio::spawn(async move {
        let pump = chunker.clone();
        // The chunk queue's consumer (Lambda's event source mapping on AWS), four at once.
        for _ in 0..4 {
            let pump = pump.clone();
            tokio::spawn(async move {
                loop {
                    if let Err(e) = pump.pump(1).await {
                        eprintln!("chunk queue: {e}");
                        tokio::time::sleep(Duration::from_millis(200)).await;
                    }
                }
            });
        }
        let mut poller = talkplus_tests::webhooks::stream_poller().await;
        loop {
            let mut records = poller.fetch().await.expect("read the stream");
            if records.is_empty() {
                poller.commit().await.expect("commit");
                drained.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                tokio::time::sleep(poller.idle_wait()).await;
                continue;
            }
            records.retain(|r| {
                matches!(r.keys.get("pk"), Some(serde_dynamo::AttributeValue::S(pk)) if pk.starts_with(&prefix))
            });
            let started = Instant::now();
            let fanned = shared::realtime::fanout::fan_out(
                &store,
                &connections,
                Some(&chunker.queue),
                None,
                &records,
            )
            .await
            .expect("fan out");
            // Where a slow case spends its time (stderr, not the report).
            if started.elapsed() > Duration::from_millis(200) {
                eprintln!(
                    "realtime: {} records, {} events, {} posts fanned out in {:.0?}",
                    records.len(),
                    fanned.events,
                    fanned.posts,
                    started.elapsed()
                );
            }
            poller.commit().await.expect("commit");
        }
    })
}

/// (client index, message text, when it arrived)
type Arrival = (usize, String, Instant);

/// Opens a socket per session and authenticates it; each reports the `message` frames it
/// reads. Returns once every connection is listed as its user's.
async fn connect_all(
    app: &TestApp,
    url: &str,
    users: &[SdkClient<'_>],
    first: usize,
    tx: &mpsc::UnboundedSender<Arrival>,
) {
    let sem = Arc::new(tokio::sync::Semaphore::new(64));
    for (i, u) in users.iter().enumerate() {
        let permit = sem.clone().acquire_owned().await.expect("semaphore");
        let (mut ws, _) = tokio_tungstenite::connect_async(url)
            .await
            .expect("connect");
        let auth = json!({"appId": app.app_id, "sessionId": u.session_id, "sessionToken": u.session_token});
        ws.send(Message::Text(auth.to_string().into()))
            .await
            .expect("auth frame");
        drop(permit);
        let tx = tx.clone();
        let index = first + i;
        tokio::spawn(async move {
            while let Some(Ok(msg)) = ws.next().await {
                if let Message::Text(t) = msg {
                    let at = Instant::now();
                    let f: Value = serde_json::from_str(&t).unwrap_or_default();
                    if f["type"] == "message"
                        && let Some(text) = f["data"]["message"]["text"].as_str()
                    {
                        let _ = tx.send((index, text.to_owned(), at));
                    }
                }
            }
        });
    }
    // Listed: the auth frames went through.
    let ids: Vec<String> = users.iter().map(|u| u.user_id.clone()).collect();
    let deadline = Instant::now() + Duration::from_secs(300);
    loop {
        let live = app
            .store()
            .connections_of(&app.app_id, &ids, shared::model::now_ms() / 1000)
            .await
            .expect("read connections");
        if live.len() == ids.len() {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "{} of {} connections listed",
            live.len(),
            ids.len()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// `count` users logged in anonymously (each its own session), named `{prefix}{i}`.
async fn sessions<'a>(t: &'a Transport<'a>, prefix: &str, count: usize) -> Vec<SdkClient<'a>> {
    let mut out = Vec::with_capacity(count);
    for wave in (0..count).collect::<Vec<_>>().chunks(32) {
        let logins = wave.iter().map(|i| {
            let id = format!("{prefix}{i:05}");
            async move {
                SdkClient::login_anonymous(t, &id)
                    .await
                    .expect("anonymous login")
                    .0
            }
        });
        out.extend(futures::future::join_all(logins).await);
    }
    out
}

async fn send(c: &SdkClient<'_>, channel: &str, text: &str) {
    c.call(
        Method::POST,
        &format!("channels/{channel}/messages/send"),
        Some(json!({"type": "text", "text": text})),
    )
    .await
    .unwrap_or_else(|code| panic!("send: {code}"));
}

/// Waits for `want` arrivals of `text`, returns their times after `sent`.
async fn arrivals(
    rx: &mut mpsc::UnboundedReceiver<Arrival>,
    texts: &HashMap<String, Instant>,
    want: usize,
) -> Vec<Duration> {
    let mut out = Vec::with_capacity(want);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(120);
    while out.len() < want {
        let Ok(Some((_, text, at))) = tokio::time::timeout_at(deadline, rx.recv()).await else {
            panic!("{} of {want} frames arrived", out.len());
        };
        if let Some(sent) = texts.get(&text) {
            out.push(at.duration_since(*sent));
        }
    }
    out
}

pub async fn measure(report: &mut Report) {
    let s = sizes();
    let app = TestApp::new().await;
    app.store()
        .set_anonymous_login(&app.app_id, true, shared::model::now_ms())
        .await
        .expect("anonymous login on");
    let port = std::net::TcpListener::bind(("127.0.0.1", 0))
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port();
    let _gateway = start_gateway(port);
    let callback = format!("http://127.0.0.1:{port}");
    let url = format!("ws://127.0.0.1:{port}{}", shared::realtime::PATH);
    let sqs = talkplus_tests::webhooks::sqs_endpoint();
    let queue = shared::realtime::chunks::ChunkQueue::ensure(
        aws_sdk_sqs::Client::new(&talkplus_tests::webhooks::sdk_config(sqs)),
        "bench-realtime",
    )
    .await
    .expect("the chunk queue");
    let chunker = shared::realtime::chunks::Chunker::new(
        app.store().clone(),
        shared::realtime::connections::Connections::new(
            &talkplus_tests::webhooks::sdk_config(&callback),
            &callback,
        ),
        queue,
    );
    report.set(
        "realtime.super_channel.posts_per_second_cap",
        chunker.posts_per_second,
    );
    let t = Transport::InProcess(&app);
    let (tx, mut rx) = mpsc::unbounded_channel();

    // Every case's users, channels and sockets first, with the table's stream still off: the
    // in-process engine (dynoxide 3.2) finds a stream's next sequence number, at every write,
    // and a poll's records with a scan of every record the stream holds, so 10,000 logins,
    // joins and connections made with the stream on would slow down every later write and
    // poll (bench/README.md, "Realtime"). What is measured starts from a short stream.
    let setup = Instant::now();
    let members = sessions(&t, "one", s.one_channel).await;
    let ids: Vec<&str> = members.iter().map(|m| m.user_id.as_str()).collect();
    created(
        t.admin(
            Method::POST,
            "channels/create",
            Some(json!({"channelId": "rt-one", "type": "private", "members": ids})),
        )
        .await,
    );
    connect_all(&app, &url, &members, 0, &tx).await;

    let spread = sessions(&t, "spread", s.spread_channels * s.spread_each).await;
    for (c, group) in spread.chunks(s.spread_each).enumerate() {
        let ids: Vec<&str> = group.iter().map(|m| m.user_id.as_str()).collect();
        created(
            t.admin(
                Method::POST,
                "channels/create",
                Some(json!({"channelId": format!("rt-spread-{c}"), "type": "private", "members": ids})),
            )
            .await,
        );
    }
    connect_all(&app, &url, &spread, 100_000, &tx).await;

    let phase = Instant::now();
    let crowd = sessions(&t, "crowd", s.super_clients).await;
    eprintln!(
        "realtime: {} sessions in {:.1?}",
        crowd.len(),
        phase.elapsed()
    );
    let phase = Instant::now();
    created(
        t.admin(
            Method::POST,
            "channels/create",
            Some(json!({"channelId": "rt-super", "type": "super_public", "members": [crowd[0].user_id], "maxMemberCount": -1})),
        )
        .await,
    );
    for wave in crowd[1..].chunks(32) {
        futures::future::join_all(wave.iter().map(|c| async move {
            c.call(Method::POST, "channels/rt-super/join", Some(json!({})))
                .await
                .unwrap_or_else(|code| panic!("join: {code}"))
        }))
        .await;
    }
    eprintln!("realtime: {} joins in {:.1?}", crowd.len(), phase.elapsed());
    let phase = Instant::now();
    connect_all(&app, &url, &crowd, 200_000, &tx).await;
    eprintln!(
        "realtime: {} sockets in {:.1?}",
        crowd.len(),
        phase.elapsed()
    );
    let setup = setup.elapsed();

    talkplus_tests::webhooks::stream_on(app.store()).await;
    let drained = Drained::default();
    let fan_out = start_fan_out(&app, &callback, &chunker, drained.clone());
    // The loop's first read positions it at the stream's end.
    tokio::time::sleep(Duration::from_millis(500)).await;

    report.line("");
    report.line(format!(
        "Send → event received (p50 / p99 over every receiver of every message; the dev gateway \
         in its own process, the fan-out loop of `make dev` polling the in-process engine's \
         stream as `make dev` does, {} messages per case, in the one-channel case {} ms apart, \
         in the 100-channel case each round once the last one's fan-out is over; set-up of the {} \
         clients: {:.0} s):",
        s.runs,
        ONE_CHANNEL_PACE.as_millis(),
        members.len() + spread.len() + crowd.len(),
        setup.as_secs_f64()
    ));
    report.line("");
    report.line("| case | clients | p50 | p99 | slowest receiver, median over messages |");
    report.line("|---|---:|---:|---:|---:|");

    // One channel, every member connected.
    let mut samples = Vec::new();
    let mut slowest = Vec::new();
    for run in 0..s.runs {
        let text = format!("one-{run}");
        let sent = Instant::now();
        send(&members[0], "rt-one", &text).await;
        let got = arrivals(&mut rx, &HashMap::from([(text, sent)]), members.len()).await;
        slowest.push(*got.iter().max().expect("arrivals"));
        samples.extend(got);
        // The next message once this one's fan-out is over, replay writes included.
        tokio::time::sleep_until((sent + ONE_CHANNEL_PACE).into()).await;
    }
    row(
        report,
        "one_channel",
        "one channel",
        members.len(),
        &samples,
        &slowest,
    );

    // Channels side by side: a message to each at once.
    let mut samples = Vec::new();
    let mut slowest = Vec::new();
    for run in 0..s.runs {
        let mut texts = HashMap::new();
        let sends = spread.chunks(s.spread_each).enumerate().map(|(c, group)| {
            let text = format!("spread-{run}-{c}");
            texts.insert(text.clone(), Instant::now());
            let channel = format!("rt-spread-{c}");
            async move { send(&group[0], &channel, &text).await }
        });
        let sends: Vec<_> = sends.collect();
        let sending = Instant::now();
        futures::future::join_all(sends).await;
        eprintln!(
            "realtime: {} sends at once took {:.0?}",
            s.spread_channels,
            sending.elapsed()
        );
        let got = arrivals(&mut rx, &texts, spread.len()).await;
        slowest.push(*got.iter().max().expect("arrivals"));
        samples.extend(got);
        // The next round once this one's fan-out is over, replay writes included: they go to
        // other partitions on DynamoDB, but queue in front of the next sends in the local
        // engine, which runs one request at a time (bench/README.md, "Realtime").
        quiet(&drained).await;
    }
    row(
        report,
        "spread",
        &format!("{} channels of {}", s.spread_channels, s.spread_each),
        spread.len(),
        &samples,
        &slowest,
    );
    report.set("realtime.spread.channels", s.spread_channels);

    // A super channel, every member connected.
    let runs = s.runs.min(3);
    let mut samples = Vec::new();
    let mut slowest = Vec::new();
    for run in 0..runs {
        let text = format!("crowd-{run}");
        let sent = Instant::now();
        send(&crowd[0], "rt-super", &text).await;
        let got = arrivals(&mut rx, &HashMap::from([(text, sent)]), crowd.len()).await;
        slowest.push(*got.iter().max().expect("arrivals"));
        samples.extend(got);
    }
    row(
        report,
        "super_channel",
        "a super channel",
        crowd.len(),
        &samples,
        &slowest,
    );
    fan_out.abort();
}

fn created(reply: talkplus_tests::Reply) {
    assert_eq!(reply.status, 200, "create channel: {}", reply.body);
}

fn row(
    report: &mut Report,
    key: &str,
    title: &str,
    clients: usize,
    samples: &[Duration],
    slowest: &[Duration],
) {
    let p50 = ms(percentile(samples, 50));
    let p99 = ms(percentile(samples, 99));
    let last = ms(percentile(slowest, 50));
    report.line(format!(
        "| {title} | {clients} | {p50:.1} ms | {p99:.1} ms | {last:.1} ms |"
    ));
    report.set(&format!("realtime.{key}.clients"), clients);
    report.set(&format!("realtime.{key}.p50_ms"), p50);
    report.set(&format!("realtime.{key}.p99_ms"), p99);
    report.set(&format!("realtime.{key}.slowest_ms"), last);
}
