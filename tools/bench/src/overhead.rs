//! Warm overhead, round trips and capacity per operation.
//!
//! Each operation runs through the same pipeline a function runs (authenticate from the
//! warm app cache, rate-limit gate, handler, store) against the in-process engine, with the
//! bench's `Recorder` on its client. Right after each run, the same DynamoDB calls are sent
//! again directly (`record::replay_rounds`: same bodies, same rounds, same SDK client
//! settings) against a twin of the data, so both see the same engine state and machine
//! load. Ours / direct is our overhead: authentication, parsing, validation, building the
//! calls and the answer.
//!
//! A third pass with `ReturnConsumedCapacity` counts calls, sequential rounds, and the read
//! and write units the engine reports.

use std::time::{Duration, Instant};

use lambda_http::http::Method;
use serde_json::{Value, json};
use talkplus_tests::TestApp;

use crate::record::{self, Call, Recorder};
use crate::{Report, ms, percentile, scale};

/// An operation the bench measures: its name in results.json, and a way to make run `i` of
/// it (the function, the request, and the id swaps that point its calls at the twin data).
struct Op {
    key: String,
    title: String,
    function: &'static str,
    method: Method,
    path: Box<dyn Fn(usize) -> String>,
    body: Box<dyn Fn(usize) -> Option<Value>>,
    /// (ours, twin) substrings for run `i`; each pair the same length, so the twin request
    /// has the same size and capacity.
    twin: Box<dyn Fn(usize) -> Vec<(String, String)>>,
    /// Swaps read off the answer (ids the server made, such as a message id).
    from_answer: fn(&Value) -> Vec<(String, String)>,
    /// A client API operation: sent with the bench's session (`CLIENT_USER`'s), as the SDKs
    /// send it, instead of the app's API key.
    client: bool,
}

/// The client API's user: a member of `sendc-10`, `markc-10` and of the 20 channels
/// `cl-00`..`cl-19`.
const CLIENT_USER: &str = "cli";

pub const CREATE_SIZES: [usize; 4] = [1, 2, 10, 100];
const USERS: usize = 100;

fn user(i: usize) -> String {
    format!("u{i:03}")
}

fn no_swaps(_: &Value) -> Vec<(String, String)> {
    Vec::new()
}

fn message_swap(answer: &Value) -> Vec<(String, String)> {
    let id = answer["message"]["id"]
        .as_str()
        .expect("a sent message has an id");
    let fresh = shared::domain::messages::new_message_id(shared::model::now_ms());
    assert_eq!(id.len(), fresh.len(), "message ids are ULIDs");
    vec![(id.to_owned(), fresh)]
}

async fn call(app: &TestApp, function: &str, method: Method, path: &str, body: Option<Value>) {
    let r = app
        .call_function(function, app.request(method, path, body))
        .await;
    assert_eq!(r.status, 200, "{function} {path}: {}", r.body);
}

async fn create_channel(app: &TestApp, id: &str, members: usize) {
    let members: Vec<String> = (0..members).map(user).collect();
    app.create_channel(
        json!({"channelId": id, "type": "public", "ownerId": user(0), "members": members}),
    )
    .await;
}

/// Per operation: (ours, direct) latencies, calls, rounds, read and write units.
pub struct Measured {
    pub key: String,
    pub title: String,
    pub ours: Vec<Duration>,
    pub direct: Vec<Duration>,
    pub calls: usize,
    pub rounds: usize,
    /// The calls of each round, e.g. "BatchGetItem + UpdateItem → TransactWriteItems".
    pub shape: String,
    pub read_units: f64,
    pub write_units: f64,
}

/// The app every operation runs for: users `u000`..`u099` and the bot `bench-bot`.
pub async fn bench_app(recorder: &Recorder) -> TestApp {
    let client = aws_sdk_dynamodb::Client::from_conf(
        talkplus_tests::client_config()
            .http_client(record::Slow::client(recorder))
            .interceptor(recorder.clone())
            .build(),
    );
    // Rate limits on (as an app has them) and high enough never to refuse the bench.
    let limits = shared::model::RateLimits {
        admin: Some(1_000_000),
        client: Some(1_000_000),
    };
    let app = TestApp::with_client(client, Duration::from_secs(600), limits).await;
    let users: Vec<String> = (0..USERS).map(user).collect();
    app.add_users(&users).await;
    call(
        &app,
        "bots-create",
        Method::POST,
        "/v1.4/api/bots/create",
        Some(json!({"id": "bench-bot", "name": "Bench", "type": "cs"})),
    )
    .await;
    app
}

fn ops() -> Vec<Op> {
    let mut ops = Vec::new();
    for n in CREATE_SIZES {
        ops.push(Op {
            key: format!("create_channel_{n}"),
            title: format!("create channel, {n} member(s)"),
            function: "channels-create",
            method: Method::POST,
            path: Box::new(|_| "/v1.4/api/channels/create".into()),
            body: Box::new(move |i| {
                let members: Vec<String> = (0..n).map(user).collect();
                Some(
                    json!({"channelId": format!("cr{n:03}-o-{i:04}"), "type": "public",
                            "ownerId": user(0), "members": members}),
                )
            }),
            twin: Box::new(move |i| {
                vec![(format!("cr{n:03}-o-{i:04}"), format!("cr{n:03}-t-{i:04}"))]
            }),
            from_answer: no_swaps,
            client: false,
        });
    }
    ops.push(Op {
        key: "view_channel".into(),
        title: "view channel (10 members)".into(),
        function: "channels-get",
        method: Method::GET,
        path: Box::new(|_| "/v1.4/api/channels/view-10".into()),
        body: Box::new(|_| None),
        twin: Box::new(|_| Vec::new()),
        from_answer: no_swaps,
        client: false,
    });
    for (verb, key) in [("join", "bot_join"), ("leave", "bot_leave")] {
        ops.push(Op {
            key: key.into(),
            title: format!("bot {verb} (10 members)"),
            function: if verb == "join" {
                "bots-join"
            } else {
                "bots-leave"
            },
            method: Method::POST,
            path: Box::new(move |i| {
                format!("/v1.4/api/bots/bench-bot/channels/jn-o-{i:04}/{verb}")
            }),
            body: Box::new(|_| None),
            twin: Box::new(|i| vec![(format!("jn-o-{i:04}"), format!("jn-t-{i:04}"))]),
            from_answer: no_swaps,
            client: false,
        });
    }
    ops.push(Op {
        key: "send_message".into(),
        title: "send message (10 members)".into(),
        function: "channels-messages-send",
        method: Method::POST,
        path: Box::new(|_| "/v1.4/api/channels/send-10/messages/send".into()),
        body: Box::new(|_| {
            Some(json!({"senderId": user(1), "text": "a message of some ordinary length"}))
        }),
        twin: Box::new(|_| Vec::new()),
        from_answer: message_swap,
        client: false,
    });
    // The client API, as an SDK calls it with a session.
    ops.push(Op {
        key: "client_send_message".into(),
        title: "client: send message (10 members)".into(),
        function: "channels-messages-send",
        method: Method::POST,
        path: Box::new(|_| "/v1.4/channels/sendc-10/messages/send".into()),
        body: Box::new(|_| Some(json!({"text": "a message of some ordinary length"}))),
        twin: Box::new(|_| Vec::new()),
        from_answer: message_swap,
        client: true,
    });
    ops.push(Op {
        key: "client_markread".into(),
        title: "client: mark read (10 members)".into(),
        function: "channels-markread",
        method: Method::POST,
        // A channel the client user never sends to: each run's mark (and its replay) is
        // conditioned on their own sends since the last, none.
        path: Box::new(|_| "/v1.4/channels/markc-10/markread".into()),
        body: Box::new(|_| Some(json!({}))),
        twin: Box::new(|_| Vec::new()),
        from_answer: no_swaps,
        client: true,
    });
    ops.push(Op {
        key: "client_channels_20".into(),
        title: "client: my channels, 20 of 10 members, with unread counts".into(),
        function: "users-channels",
        method: Method::GET,
        path: Box::new(|_| "/v1.4/channels?type=default&limit=20".into()),
        body: Box::new(|_| None),
        twin: Box::new(|_| Vec::new()),
        from_answer: no_swaps,
        client: true,
    });
    ops.push(Op {
        key: "client_unread_count".into(),
        title: "client: unread/count over 22 channels".into(),
        function: "channels-unread-count",
        method: Method::GET,
        path: Box::new(|_| "/v1.4/channels/unread/count".into()),
        body: Box::new(|_| None),
        twin: Box::new(|_| Vec::new()),
        from_answer: no_swaps,
        client: true,
    });
    ops.push(Op {
        key: "user_channels_20x100".into(),
        title: "a user's channels: 20 channels of 100 members".into(),
        function: "users-channels",
        method: Method::GET,
        // u099 is only in channels of 100 members (`seed` makes 20 of them).
        path: Box::new(|_| format!("/v1.4/api/users/{}/channels?limit=20", user(99))),
        body: Box::new(|_| None),
        twin: Box::new(|_| Vec::new()),
        from_answer: no_swaps,
        client: false,
    });
    ops
}

/// The channels the operations need, ours and twins; the client API's session token.
async fn seed(app: &TestApp, runs: usize) -> String {
    create_channel(app, "view-10", 10).await;
    create_channel(app, "send-10", 10).await;
    let t = talkplus_tests::client::Transport::InProcess(app);
    let created = t
        .admin(
            Method::POST,
            "users/create",
            Some(json!({"userId": CLIENT_USER, "password": "bench"})),
        )
        .await;
    let login_token = created.body["loginToken"].as_str().expect("a login token");
    let (session, _) = talkplus_tests::client::SdkClient::login_with_token(
        &t,
        CLIENT_USER,
        login_token,
        json!({}),
    )
    .await
    .expect("the bench's session");
    let with_client = |id: String| {
        let mut members: Vec<String> = (1..10).map(user).collect();
        members.push(CLIENT_USER.into());
        json!({"channelId": id, "type": "private", "ownerId": user(1), "members": members})
    };
    app.create_channel(with_client("sendc-10".into())).await;
    app.create_channel(with_client("markc-10".into())).await;
    for c in 0..20 {
        let id = format!("cl-{c:02}");
        app.create_channel(with_client(id.clone())).await;
        for _ in 0..3 {
            call(
                app,
                "channels-messages-send",
                Method::POST,
                &format!("/v1.4/api/channels/{id}/messages/send"),
                Some(json!({"senderId": user(1), "text": "unread"})),
            )
            .await;
        }
    }
    for i in 0..runs + 1 {
        create_channel(app, &format!("jn-o-{i:04}"), 10).await;
        create_channel(app, &format!("jn-t-{i:04}"), 10).await;
    }
    for c in 0..20 {
        let members: Vec<String> = (0..USERS).map(user).collect();
        app.create_channel(json!({"channelId": format!("big-{c:02}"), "type": "public",
                                  "ownerId": user(99), "members": members}))
            .await;
    }
    session.session_token
}

/// Runs every operation `runs` times, ours then direct each time, then once more counting
/// capacity.
pub async fn measure(report: &mut Report, app: &TestApp, recorder: &Recorder) -> Vec<Measured> {
    let runs = scale().op_runs;
    let session = seed(app, runs).await;
    recorder.take();
    let direct = talkplus_tests::client();
    let mut out = Vec::new();
    for op in ops() {
        let (mut ours, mut theirs) = (Vec::new(), Vec::new());
        // Run `runs` is the capacity pass (join and leave have one spare channel for it).
        for i in 0..=runs {
            let counting = i == runs;
            recorder.count_capacity(counting);
            recorder.take();
            let started = Instant::now();
            let r = app
                .call_function(op.function, request(app, &op, i, &session))
                .await;
            let took = started.elapsed();
            assert_eq!(r.status, 200, "{}: {}", op.key, r.body);
            let calls = recorder.take();
            recorder.count_capacity(false);
            if counting {
                out.push(summarise(
                    &op,
                    calls,
                    std::mem::take(&mut ours),
                    std::mem::take(&mut theirs),
                ));
                break;
            }
            let mut swaps = (op.twin)(i);
            swaps.extend((op.from_answer)(&r.body));
            let direct_took = record::replay_rounds(&direct, &calls, &swaps).await;
            ours.push(took);
            theirs.push(direct_took);
        }
    }
    report_table(report, &out);
    out
}

/// Run `i` of `op` as its caller sends it: with the app's key, or with the session.
fn request(app: &TestApp, op: &Op, i: usize, session: &str) -> lambda_http::Request {
    if !op.client {
        return app.request(op.method.clone(), &(op.path)(i), (op.body)(i));
    }
    let mut req = app.request_as(
        &app.app_id,
        "",
        op.method.clone(),
        &(op.path)(i),
        (op.body)(i),
    );
    req.headers_mut().insert(
        "authorization",
        format!("Bearer {session}").parse().expect("a header value"),
    );
    req
}

fn summarise(op: &Op, calls: Vec<Call>, ours: Vec<Duration>, direct: Vec<Duration>) -> Measured {
    Measured {
        key: op.key.clone(),
        title: op.title.clone(),
        rounds: record::rounds(&calls).len(),
        shape: record::shape(&calls),
        calls: calls.len(),
        read_units: calls.iter().map(|c| c.read_units).sum(),
        write_units: calls.iter().map(|c| c.write_units).sum(),
        ours,
        direct,
    }
}

fn report_table(report: &mut Report, measured: &[Measured]) {
    report.line("");
    report.line("| operation (warm, in-process engine) | ours p50 (ms) | ours p99 (ms) | ours ops/s | direct p50 (ms) | ours / direct | DynamoDB calls | sequential rounds | read units | write units |");
    report.line("|---|---|---|---|---|---|---|---|---|---|");
    let mut shapes = Vec::new();
    for m in measured {
        let total: Duration = m.ours.iter().sum();
        let rate = m.ours.len() as f64 / total.as_secs_f64();
        let (ours50, ours99) = (percentile(&m.ours, 50), percentile(&m.ours, 99));
        let direct50 = percentile(&m.direct, 50);
        let ratio = ours50.as_secs_f64() / direct50.as_secs_f64();
        report.line(format!(
            "| {} | {:.2} | {:.2} | {:.0} | {:.2} | {:.2} | {} | {} | {:.1} | {:.1} |",
            m.title,
            ms(ours50),
            ms(ours99),
            rate,
            ms(direct50),
            ratio,
            m.calls,
            m.rounds,
            m.read_units,
            m.write_units
        ));
        shapes.push(format!("| {} | {} |", m.title, m.shape));
        let k = &m.key;
        report.set(&format!("overhead_ratio.{k}"), ratio);
        report.set(&format!("warm.{k}.ours_p50_ms"), ms(ours50));
        report.set(&format!("warm.{k}.ours_p99_ms"), ms(ours99));
        report.set(&format!("warm.{k}.ours_ops_per_s"), rate);
        report.set(&format!("warm.{k}.direct_p50_ms"), ms(direct50));
        report.set(
            &format!("warm.{k}.direct_p99_ms"),
            ms(percentile(&m.direct, 99)),
        );
        report.set(&format!("round_trips.{k}"), m.rounds);
        report.set(&format!("calls.{k}"), m.calls);
        report.set(&format!("read_units.{k}"), m.read_units);
        report.set(&format!("write_units.{k}"), m.write_units);
        report.set(&format!("call_rounds.{k}"), m.shape.as_str());
    }
    report.line("");
    report.line("| operation | its DynamoDB calls, round by round (calls in one round are in flight together) |");
    report.line("|---|---|");
    for line in shapes {
        report.line(line);
    }
}
