//! Rate limits (`1010`, 429 with `Retry-After`): counted in the table per app and
//! one-second window, so the limit holds whatever the concurrency.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use lambda_http::http::Method;
use serde_json::json;
use shared::handlers::{channels, users};
use shared::lambda::handle;
use shared::model::{RateLimits, now_ms};
use shared::store::keys;
use talkplus_tests::{TestApp, reply};

fn admin(limit: u32) -> RateLimits {
    RateLimits {
        admin: Some(limit),
        client: None,
    }
}

/// What the counter item of `window` holds (0 when it was never written).
async fn counted(app: &TestApp, window: i64) -> u64 {
    app.stored_item(
        keys::rate_pk(&app.app_id, "admin", window, 0),
        keys::RATE_SK,
    )
    .await
    .and_then(|i| {
        i.get("n")
            .and_then(|n| n.as_n().ok())
            .map(|n| n.parse().unwrap())
    })
    .unwrap_or(0)
}

/// 32 clients send as fast as they can for about 2.5 seconds against a limit of 20 a second:
/// no window admits more than 20, every admitted request is counted, and the refused ones
/// get the TalkPlus body with `Retry-After`.
#[tokio::test]
async fn the_limit_holds_under_32_concurrent_clients() {
    const LIMIT: u32 = 20;
    let app = Arc::new(TestApp::with_limits(Duration::from_secs(60), admin(LIMIT)).await);
    app.add_users(&["u1"]).await;
    let start_window = now_ms() / 1000;
    let admitted = Arc::new(AtomicUsize::new(0));
    let refused = Arc::new(AtomicUsize::new(0));
    let deadline = tokio::time::Instant::now() + Duration::from_millis(2500);
    let clients = (0..32).map(|_| {
        let (app, admitted, refused) = (app.clone(), admitted.clone(), refused.clone());
        tokio::spawn(async move {
            // Bounded both ways: by time, and by count in case the engine is very fast.
            for _ in 0..200 {
                if tokio::time::Instant::now() >= deadline {
                    break;
                }
                let req = app.request(Method::GET, "/v1.4/api/users/u1", None);
                let resp = handle(&app.services, req, users::get).await;
                let retry_after = resp
                    .headers()
                    .get("retry-after")
                    .map(|v| v.to_str().unwrap().to_owned());
                let r = reply(resp);
                match r.status {
                    200 => {
                        admitted.fetch_add(1, Ordering::Relaxed);
                    }
                    429 => {
                        r.assert_error(429, "1010");
                        assert_eq!(retry_after.as_deref(), Some("1"));
                        refused.fetch_add(1, Ordering::Relaxed);
                    }
                    other => panic!("unexpected {other}: {}", r.body),
                }
            }
        })
    });
    for c in futures::future::join_all(clients).await {
        c.unwrap();
    }
    let end_window = now_ms() / 1000;
    let mut total = 0;
    for window in start_window..=end_window {
        let n = counted(&app, window).await;
        assert!(n <= u64::from(LIMIT), "window {window} admitted {n}");
        total += n;
    }
    let admitted = admitted.load(Ordering::Relaxed) as u64;
    assert_eq!(total, admitted, "every admitted request is counted once");
    assert!(
        admitted <= u64::from(LIMIT) * (end_window - start_window + 1) as u64,
        "{admitted} admitted"
    );
    assert!(
        refused.load(Ordering::Relaxed) > 0,
        "the clients went over the limit"
    );
}

/// Runs `run` against a new app limited to one request a second, with `users`, starting at
/// the beginning of a window. What `run` sends must share one window; if a slow machine lets
/// the window turn midway, the attempt proves nothing and is made again with a fresh app.
async fn in_one_window<T>(users: &[&str], run: impl AsyncFn(&TestApp) -> T) -> (TestApp, T) {
    for attempt in 0..5 {
        let app = TestApp::with_limits(Duration::from_secs(60), admin(1)).await;
        app.add_users(users).await;
        let ms = now_ms() % 1000;
        tokio::time::sleep(Duration::from_millis((1000 - ms) as u64 + 5)).await;
        let window = now_ms() / 1000;
        let out = run(&app).await;
        if now_ms() / 1000 == window {
            return (app, out);
        }
        eprintln!("attempt {attempt}: the window turned midway; trying again");
    }
    panic!("no attempt fit in one window");
}

/// Creates user `id` and takes the DynamoDB calls it made.
async fn post_user(app: &TestApp, id: &str) -> (talkplus_tests::Reply, Vec<String>) {
    let body = json!({"userId": id, "password": "p"});
    let r = app
        .call(
            users::create,
            app.request(Method::POST, "/v1.4/api/users/create", Some(body)),
        )
        .await;
    (r, app.calls.take())
}

/// A write over the limit is refused before it touches anything; a read runs beside the
/// counter (no extra sequential round trip) and its result is dropped.
#[tokio::test]
async fn a_refused_write_writes_nothing_and_reads_cost_no_round_trip() {
    let (app, ((first, first_calls), (second, second_calls), (read, mut read_calls))) =
        in_one_window(&["existing"], async |app| {
            let first = post_user(app, "first").await;
            let second = post_user(app, "second").await;
            let get = app.request(Method::GET, "/v1.4/api/users/existing", None);
            let read = app.call(users::get, get).await;
            (first, second, (read, app.calls.take()))
        })
        .await;
    assert_eq!(first.status, 200, "{}", first.body);
    assert_eq!(
        first_calls,
        ["GetItem", "UpdateItem", "PutItem"],
        "auth, the counter, then the write"
    );
    second.assert_error(429, "1010");
    assert_eq!(second_calls, ["UpdateItem"], "refused before any write");
    read.assert_error(429, "1010");
    read_calls.sort();
    assert_eq!(
        read_calls,
        ["GetItem", "UpdateItem"],
        "the read ran beside the counter"
    );
    let gone = app.store().user(&app.app_id, "second").await.unwrap();
    assert!(gone.is_none(), "the refused create wrote nothing");
}

/// A write's reads run beside the count; its write waits for it. A channel create over the
/// limit looks its members up (beside the counter) and then sends no transaction at all.
#[tokio::test]
async fn reads_run_beside_the_count_and_a_refused_create_sends_no_write() {
    let (app, ((first, first_calls), (second, second_calls))) =
        in_one_window(&["owner", "m1"], async |app| {
            let mut out = Vec::new();
            for id in ["c1", "c2"] {
                let body = json!({"channelId": id, "type": "public", "ownerId": "owner", "members": ["m1"]});
                let req = app.request(Method::POST, "/v1.4/api/channels/create", Some(body));
                out.push((app.call(channels::create, req).await, app.calls.take()));
            }
            let second = out.pop().unwrap();
            (out.pop().unwrap(), second)
        })
        .await;
    assert_eq!(first.status, 200, "{}", first.body);
    let mut before_write = first_calls[1..3].to_vec();
    before_write.sort();
    assert_eq!(
        (
            first_calls[0].as_str(),
            before_write,
            first_calls[3].as_str()
        ),
        (
            "GetItem",
            vec!["BatchGetItem".to_owned(), "UpdateItem".to_owned()],
            "TransactWriteItems"
        ),
        "auth, then the member lookup beside the count, then the write: {first_calls:?}"
    );
    second.assert_error(429, "1010");
    let mut calls = second_calls.clone();
    calls.sort();
    assert_eq!(
        calls,
        ["BatchGetItem", "UpdateItem"],
        "no write: {second_calls:?}"
    );
    let census = app.check_channels().await;
    assert_eq!(census.channels.keys().collect::<Vec<_>>(), ["c1"]);
}

#[tokio::test]
async fn zero_turns_the_limit_off_and_a_failed_counter_lets_requests_through() {
    let app = TestApp::with_limits(Duration::from_secs(60), admin(0)).await;
    app.add_users(&["u1"]).await;
    for _ in 0..5 {
        let r = app
            .call(
                users::get,
                app.request(Method::GET, "/v1.4/api/users/u1", None),
            )
            .await;
        assert_eq!(r.status, 200);
    }
    assert!(
        !app.calls.take().contains(&"UpdateItem".to_owned()),
        "no counter without a limit"
    );

    let app = TestApp::with_limits(Duration::from_secs(60), admin(5)).await;
    app.add_users(&["u1"]).await;
    app.calls.fail("UpdateItem", 1);
    let r = app
        .call(
            users::get,
            app.request(Method::GET, "/v1.4/api/users/u1", None),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
}

/// The default applies to an app that set none, and `set_rate_limits` changes it.
#[tokio::test]
async fn limits_are_stored_per_app() {
    let app = TestApp::with_limits(Duration::ZERO, RateLimits::default()).await;
    let stored = app.store().app(&app.app_id).await.unwrap().unwrap().app;
    assert_eq!(
        stored.rate_limits.admin_per_second(),
        shared::ratelimit::DEFAULT_ADMIN_RATE_LIMIT
    );
    app.store()
        .set_rate_limits(&app.app_id, Some(7), None, now_ms())
        .await
        .unwrap();
    let stored = app.store().app(&app.app_id).await.unwrap().unwrap().app;
    assert_eq!(stored.rate_limits.admin_per_second(), 7);
    assert_eq!(
        stored.rate_limits.client_per_second(),
        shared::ratelimit::DEFAULT_CLIENT_RATE_LIMIT
    );
}
