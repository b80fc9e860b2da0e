//! Cold starts: each release `bootstrap` started under the Runtime API emulator, timed to
//! its first poll (init done) and, for the operations below, to its answer to a first real
//! request (its DynamoDB calls against the in-process engine). The hello-world
//! `bench-hello` runs interleaved with every function's runs, so each ratio compares two
//! things measured side by side under the same load.

use std::path::{Path, PathBuf};
use std::time::Duration;

use lambda_http::http::Method;
use serde_json::{Value, json};
use talkplus_tests::TestApp;

use crate::runtime::{Sandbox, http_event};
use crate::{Report, ms, percentile, scale};

/// A first request for a function: run `i` of it.
type FirstRequest = fn(usize) -> Request;

/// (method, route, path, path parameters, body).
type Request = (
    Method,
    &'static str,
    String,
    Vec<(&'static str, String)>,
    Option<Value>,
);

/// The functions whose first answer is measured, and the request each gets. The others
/// are timed to the end of init only.
fn first_request(function: &str) -> Option<FirstRequest> {
    Some(match function {
        "channels-create" => |i| {
            (
                Method::POST,
                "/v1.4/api/channels/create",
                "/v1.4/api/channels/create".into(),
                vec![],
                Some(
                    json!({"channelId": format!("cold-{i:04}"), "type": "public",
                            "ownerId": "u000", "members": ["u000", "u001"]}),
                ),
            )
        },
        "channels-get" => |_| {
            (
                Method::GET,
                "/v1.4/api/channels/{channelId}",
                "/v1.4/api/channels/view-10".into(),
                vec![("channelId", "view-10".into())],
                None,
            )
        },
        "bots-join" => |i| bot_move("join", i),
        "bots-leave" => |i| bot_move("leave", i),
        "channels-messages-send" => |_| {
            (
                Method::POST,
                "/v1.4/api/channels/{channelId}/messages/send",
                "/v1.4/api/channels/send-10/messages/send".into(),
                vec![("channelId", "send-10".into())],
                Some(json!({"senderId": "u001", "text": "a message of some ordinary length"})),
            )
        },
        "users-get" => |_| {
            (
                Method::GET,
                "/v1.4/api/users/{userId}",
                "/v1.4/api/users/u001".into(),
                vec![("userId", "u001".into())],
                None,
            )
        },
        "users-channels" => |_| {
            (
                Method::GET,
                "/v1.4/api/users/{userId}/channels",
                "/v1.4/api/users/u001/channels".into(),
                vec![("userId", "u001".into())],
                None,
            )
        },
        _ => return None,
    })
}

/// The API Gateway event of `request`, with these headers.
fn event_of(request: Request, headers: &[(&str, &str)]) -> Vec<u8> {
    let (method, route, path, params, body) = request;
    let params: Vec<(&str, &str)> = params.iter().map(|(k, v)| (*k, v.as_str())).collect();
    http_event(
        method.as_str(),
        route,
        &path,
        &params,
        headers,
        body.as_ref(),
    )
}

/// Run `i` of a bot join or leave: the bot moves in or out of channel `cj-{i}`.
fn bot_move(verb: &str, i: usize) -> Request {
    let route = if verb == "join" {
        "/v1.4/api/bots/{botId}/channels/{channelId}/join"
    } else {
        "/v1.4/api/bots/{botId}/channels/{channelId}/leave"
    };
    (
        Method::POST,
        route,
        format!("/v1.4/api/bots/bench-bot/channels/cj-{i:04}/{verb}"),
        vec![
            ("botId", "bench-bot".into()),
            ("channelId", format!("cj-{i:04}")),
        ],
        None,
    )
}

/// The operation of `overhead` whose direct DynamoDB time stands for a first request's.
pub fn direct_op(function: &str) -> Option<&'static str> {
    Some(match function {
        "channels-create" => "create_channel_2",
        "channels-get" => "view_channel",
        "bots-join" => "bot_join",
        "bots-leave" => "bot_leave",
        "channels-messages-send" => "send_message",
        _ => return None,
    })
}

/// Workers read more configuration than the table (their queue, their key); values that
/// let them finish init without reaching anything.
fn worker_env() -> Vec<(String, String)> {
    [
        (
            "TALKPLUS_WEBHOOK_QUEUE_URL",
            "http://127.0.0.1:9/000000000000/bench.fifo",
        ),
        (
            "TALKPLUS_WEBHOOK_DLQ_URL",
            "http://127.0.0.1:9/000000000000/bench-dlq.fifo",
        ),
        ("TALKPLUS_KMS_KEY_ID", "bench-key"),
        ("TALKPLUS_WS_CALLBACK_URL", "http://127.0.0.1:9/live"),
        (
            "TALKPLUS_REALTIME_QUEUE_URL",
            "http://127.0.0.1:9/000000000000/bench-realtime",
        ),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect()
}

pub struct Cold {
    pub function: String,
    pub init: Vec<Duration>,
    pub first: Vec<Duration>,
    pub hello_init: Vec<Duration>,
    pub hello_first: Vec<Duration>,
}

/// One start of `bootstrap`: (init, first answer if `event`).
async fn start_once(
    bootstrap: &Path,
    name: &str,
    env: &[(String, String)],
    event: Option<Vec<u8>>,
) -> (Duration, Option<Duration>) {
    let mut sandbox = Sandbox::start(bootstrap, name, env).await;
    let init = sandbox.init_done().await - sandbox.started;
    let mut first = None;
    if let Some(event) = event {
        let (_, answer) = sandbox.invoke(&event).await;
        assert!(
            !answer.error,
            "{name}: {}",
            String::from_utf8_lossy(&answer.body)
        );
        let reply: Value = serde_json::from_slice(&answer.body).expect("a JSON answer");
        assert_eq!(reply["statusCode"], 200, "{name}: {reply}");
        first = Some(answer.at - sandbox.started);
    }
    sandbox.stop().await;
    (init, first)
}

/// Cold starts of every binary in `bins` (function name, bootstrap path), each interleaved
/// with the hello world's.
pub async fn measure(app: &TestApp, bins: &[(String, PathBuf)], hello: &Path) -> Vec<Cold> {
    let runs = scale().cold_runs;
    // Data for the first requests: channels to join and leave, one per run.
    for i in 0..runs {
        app.create_channel(json!({"channelId": format!("cj-{i:04}"), "type": "public",
                                  "ownerId": "u000", "members": ["u000", "u001"]}))
            .await;
    }
    let env = environment();
    let headers = [
        ("app-id", app.app_id.as_str()),
        ("api-key", app.api_key.as_str()),
    ];
    let hello_event = http_event("GET", "/hello", "/hello", &[], &[], None);
    let mut out = Vec::new();
    for (name, bootstrap) in bins {
        let request = first_request(name);
        let mut cold = Cold {
            function: name.clone(),
            init: Vec::new(),
            first: Vec::new(),
            hello_init: Vec::new(),
            hello_first: Vec::new(),
        };
        for i in 0..runs {
            let event = request.map(|make| event_of(make(i), &headers));
            let (init, first) = start_once(bootstrap, name, &env, event).await;
            cold.init.push(init);
            cold.first.extend(first);
            let (init, first) =
                start_once(hello, "bench-hello", &env, Some(hello_event.clone())).await;
            cold.hello_init.push(init);
            cold.hello_first.extend(first);
        }
        out.push(cold);
    }
    out
}

/// Warm invocations through the runtime: one started function answering `runs` requests
/// in a row, and the hello world likewise, interleaved. What the Runtime API's two HTTP
/// hops per invocation and the event's parsing add to the in-process figures.
pub async fn warm_through_runtime(
    report: &mut Report,
    app: &TestApp,
    bins: &[(String, PathBuf)],
    hello: &Path,
    in_process_ms: impl Fn(&str) -> Option<f64>,
) {
    let runs = scale().op_runs;
    let headers = [
        ("app-id", app.app_id.as_str()),
        ("api-key", app.api_key.as_str()),
    ];
    let hello_event = http_event("GET", "/hello", "/hello", &[], &[], None);
    let env = environment();
    report.line("");
    report.line("| warm, through the Runtime API emulator | ours p50 (ms) | hello p50 (ms) | in-process p50 (ms) |");
    report.line("|---|---|---|---|");
    for (name, bootstrap) in bins {
        let (Some(make), Some(op)) = (first_request(name), direct_op(name)) else {
            continue;
        };
        if name == "bots-join" || name == "bots-leave" || name == "channels-create" {
            // Each needs fresh data per request; view and send stand for the rest.
            continue;
        }
        let mut ours = Sandbox::start(bootstrap, name, &env).await;
        let mut bare = Sandbox::start(hello, "bench-hello", &env).await;
        let (mut ours_t, mut bare_t) = (Vec::new(), Vec::new());
        for i in 0..=runs {
            let event = event_of(make(i), &headers);
            let (sent, answer) = ours.invoke(&event).await;
            assert!(
                !answer.error,
                "{name}: {}",
                String::from_utf8_lossy(&answer.body)
            );
            let (bare_sent, bare_answer) = bare.invoke(&hello_event).await;
            // The first is the cold one, measured above.
            if i > 0 {
                ours_t.push(answer.at - sent);
                bare_t.push(bare_answer.at - bare_sent);
            }
        }
        ours.stop().await;
        bare.stop().await;
        let (o, h) = (ms(percentile(&ours_t, 50)), ms(percentile(&bare_t, 50)));
        let inproc = in_process_ms(op);
        report.line(format!(
            "| {name} | {o:.2} | {h:.2} | {} |",
            inproc.map_or("–".into(), |v| format!("{v:.2}"))
        ));
        report.set(&format!("warm_runtime.{name}.ours_p50_ms"), o);
        report.set(&format!("warm_runtime.{name}.hello_p50_ms"), h);
    }
}

/// The environment Lambda gives a function, pointed at the in-process engine.
fn environment() -> Vec<(String, String)> {
    let mut env: Vec<(String, String)> = [
        ("TABLE_NAME", talkplus_tests::TABLE.to_owned()),
        (
            "AWS_ENDPOINT_URL_DYNAMODB",
            talkplus_tests::endpoint().to_owned(),
        ),
        ("AWS_REGION", "us-east-1".into()),
        ("AWS_DEFAULT_REGION", "us-east-1".into()),
        // Lambda hands a function its role's credentials in the environment.
        ("AWS_ACCESS_KEY_ID", "ASIABENCHBENCHBENCH0".into()),
        (
            "AWS_SECRET_ACCESS_KEY",
            "bench-secret-bench-secret-bench-secret00".into(),
        ),
        ("AWS_SESSION_TOKEN", "bench-session-token".into()),
        ("AUTH_CACHE_SECONDS", "30".into()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect();
    env.extend(worker_env());
    env
}

/// The table, and results.json's `cold_start` keys. `direct_ms` gives an operation's direct
/// DynamoDB time (from `overhead`), for the first-response target.
pub fn report_table(report: &mut Report, colds: &[Cold], direct_ms: impl Fn(&str) -> Option<f64>) {
    report.line("");
    report.line("| function | init p50 (ms) | hello init p50 (ms) | init / hello | first answer p50 (ms) | hello first p50 (ms) | first / hello | target: first ≤ 2 × (hello first + direct calls) |");
    report.line("|---|---|---|---|---|---|---|---|");
    let mut slowest_init: Option<(&Cold, f64)> = None;
    let mut slowest_first: Option<(&Cold, f64)> = None;
    for c in colds {
        let init = ms(percentile(&c.init, 50));
        let hello_init = ms(percentile(&c.hello_init, 50));
        let hello_first = ms(percentile(&c.hello_first, 50));
        let init_ratio = init / hello_init;
        let key = |k: &str| format!("cold_start.functions.{}.{k}", c.function);
        report.set(&key("init_p50_ms"), init);
        report.set(&key("hello_init_p50_ms"), hello_init);
        report.set(&key("init_ratio"), init_ratio);
        if slowest_init.is_none_or(|(s, _)| ms(percentile(&s.init, 50)) < init) {
            slowest_init = Some((c, init_ratio));
        }
        let (first_cell, ratio_cell, target_cell) = if c.first.is_empty() {
            ("–".to_owned(), "–".to_owned(), "–".to_owned())
        } else {
            let first = ms(percentile(&c.first, 50));
            let ratio = first / hello_first;
            report.set(&key("first_p50_ms"), first);
            report.set(&key("hello_first_p50_ms"), hello_first);
            report.set(&key("first_response_ratio"), ratio);
            if slowest_first.is_none_or(|(s, _)| ms(percentile(&s.first, 50)) < first) {
                slowest_first = Some((c, ratio));
            }
            let target =
                direct_op(&c.function)
                    .and_then(&direct_ms)
                    .map_or("–".to_owned(), |d| {
                        let bound = 2.0 * (hello_first + d);
                        format!(
                            "{} ({first:.1} vs {bound:.1})",
                            if first <= bound { "met" } else { "missed" }
                        )
                    });
            (format!("{first:.2}"), format!("{ratio:.2}"), target)
        };
        report.line(format!(
            "| {} | {init:.2} | {hello_init:.2} | {init_ratio:.2} | {first_cell} | {hello_first:.2} | {ratio_cell} | {target_cell} |",
            c.function
        ));
    }
    // results.json's headline keys: the slowest function's medians and ratio.
    let mut headline = |what: &str, ratio_key: &str, slowest: Option<(&Cold, f64)>| {
        if let Some((c, ratio)) = slowest {
            let (ours, hello) = if what == "init" {
                (&c.init, &c.hello_init)
            } else {
                (&c.first, &c.hello_first)
            };
            report.set(&format!("cold_start.{ratio_key}"), ratio);
            report.set(
                &format!("cold_start.{what}_slowest_function"),
                c.function.as_str(),
            );
            report.set(
                &format!("cold_start.{what}_p50_ms"),
                ms(percentile(ours, 50)),
            );
            report.set(
                &format!("cold_start.hello_{what}_p50_ms"),
                ms(percentile(hello, 50)),
            );
        }
    };
    headline("init", "init_ratio", slowest_init);
    headline("first", "first_response_ratio", slowest_first);
}
