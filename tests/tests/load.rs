//! A bounded load run against the `make dev` stack over HTTP: a mix of channel creation,
//! bot join and leave, and channel views from 32 concurrent clients. It fails on any 5xx
//! or unexpected answer, checks the storage invariants afterwards, and reports throughput
//! and latency. Ignored by a plain `cargo test`; `make test` runs a short version
//! (LOAD_REQUESTS=600) and `make load` the full one (5,000), both through scripts that set
//! the same variables as the end-to-end tests.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use reqwest::Method;
use serde_json::json;
use shared::model::{App, RateLimits, now_ms};
use shared::secrets::{new_app_id, new_secret, random_hex, secret_digest};
use shared::store::Store;
use talkplus_tests::stack::{Stack, var};

const CLIENTS: usize = 32;
const USERS: usize = 40;
const BOTS: usize = 10;
const CHANNELS: usize = 20;

fn pick(n: usize, i: usize) -> usize {
    // A cheap spread that differs per request and per field.
    (i.wrapping_mul(2_654_435_761) >> 7) % n
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
#[ignore = "needs the local stack; run by `make test` and `make load`"]
async fn mixed_load_has_no_5xx_and_keeps_the_invariants() {
    let total: usize = std::env::var("LOAD_REQUESTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(600);
    // Its own app, with a rate limit far above what this machine can send, so the limiter
    // runs (and costs what it costs) without refusing anything.
    let store = Store::new(talkplus_tests::client(), var("TABLE_NAME"));
    let app_id = new_app_id();
    let api_key = new_secret();
    let app = App {
        rate_limits: RateLimits {
            admin: Some(1_000_000),
            client: None,
        },
        ..App::new(app_id.clone(), "load", now_ms())
    };
    store
        .create_app(&app, &secret_digest(&api_key))
        .await
        .expect("provision the load app");
    let t = Arc::new(Stack::new(var("TALKPLUS_E2E_URL"), app_id.clone(), api_key));

    // Setup, not measured: users, bots and channels to work on.
    for u in 0..USERS {
        let (s, b) = t
            .send(
                Method::POST,
                "users/create",
                Some(json!({"userId": format!("u{u}"), "password": random_hex(8)})),
            )
            .await;
        assert_eq!(s, 200, "{b}");
    }
    for b in 0..BOTS {
        let (s, body) = t
            .send(
                Method::POST,
                "bots/create",
                Some(json!({"id": format!("b{b}"), "name": "load"})),
            )
            .await;
        assert_eq!(s, 200, "{body}");
    }
    for c in 0..CHANNELS {
        let members: Vec<String> = (0..5).map(|k| format!("u{}", (c + k) % USERS)).collect();
        let (s, body) = t
            .send(
                Method::POST,
                "channels/create",
                Some(json!({"channelId": format!("c{c}"), "type": "public", "ownerId": format!("u{c}"), "members": members})),
            )
            .await;
        assert_eq!(s, 200, "{body}");
    }

    let next = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let workers = (0..CLIENTS).map(|_| {
        let (t, next) = (t.clone(), next.clone());
        tokio::spawn(async move {
            let mut seen = Vec::new();
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= total {
                    return seen;
                }
                let channel = format!("c{}", pick(CHANNELS, i));
                let bot = format!("b{}", pick(BOTS, i / 3));
                let sent = Instant::now();
                let (kind, (status, body)) = match i % 10 {
                    0 | 1 => {
                        let n = 2 + pick(9, i);
                        let members: Vec<String> = (0..n)
                            .map(|k| format!("u{}", pick(USERS, i + k * 7)))
                            .collect();
                        let body =
                            json!({"type": "private", "ownerId": members[0], "members": members});
                        (
                            "create",
                            t.send(Method::POST, "channels/create", Some(body)).await,
                        )
                    }
                    2..=4 => (
                        "join",
                        t.send(
                            Method::POST,
                            &format!("bots/{bot}/channels/{channel}/join"),
                            None,
                        )
                        .await,
                    ),
                    5..=7 => (
                        "leave",
                        t.send(
                            Method::POST,
                            &format!("bots/{bot}/channels/{channel}/leave"),
                            None,
                        )
                        .await,
                    ),
                    _ => (
                        "view",
                        t.send(Method::GET, &format!("channels/{channel}"), None)
                            .await,
                    ),
                };
                let took = sent.elapsed();
                assert!(
                    !status.is_server_error(),
                    "{kind} answered {status}: {body}"
                );
                assert_eq!(status, 200, "{kind}: {body}");
                seen.push((kind, took));
            }
        })
    });
    let mut latencies = Vec::with_capacity(total);
    let mut per_kind = std::collections::BTreeMap::<&str, usize>::new();
    for w in futures::future::join_all(workers).await {
        for (kind, took) in w.expect("a client panicked") {
            *per_kind.entry(kind).or_default() += 1;
            latencies.push(took);
        }
    }
    let elapsed = started.elapsed();
    latencies.sort();
    assert_eq!(latencies.len(), total);

    let census = talkplus_tests::invariants::check_channels(&store, &app_id).await;
    assert!(census.channels.len() >= CHANNELS);
    assert!(census.pending.is_empty(), "{:?}", census.pending);

    let report = json!({
        "requests": total,
        "clients": CLIENTS,
        "seconds": elapsed.as_secs_f64(),
        "throughput_per_s": total as f64 / elapsed.as_secs_f64(),
        "p50_ms": percentile(&latencies, 0.50).as_secs_f64() * 1e3,
        "p99_ms": percentile(&latencies, 0.99).as_secs_f64() * 1e3,
        "mix": per_kind,
        "channels_after": census.channels.len(),
    });
    println!("load: {report}");
    let out = talkplus_tests::layout::workspace_root().join("target/load.json");
    std::fs::write(out, serde_json::to_string_pretty(&report).unwrap())
        .expect("write target/load.json");
}
