//! DynamoDB round trips per operation, counted with an SDK interceptor (`CallLog`). A cold
//! function reads the app item to authenticate; a warm one has it cached (AUTH_CACHE_SECONDS).

use std::time::Duration;

use lambda_http::http::Method;
use serde_json::json;
use shared::handlers::users;
use talkplus_tests::TestApp;

#[tokio::test]
async fn users_endpoints_make_one_call_each_when_warm() {
    let app = TestApp::with_auth_cache(Duration::from_secs(60)).await;

    // Cold: authentication reads the app, then the operation's one call.
    let r = app
        .call(
            users::create,
            app.request(
                Method::POST,
                "/v1.4/api/users/create",
                Some(json!({"userId": "rt", "password": "p"})),
            ),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(app.calls.take(), ["GetItem", "PutItem"]);

    // Warm: the app item is cached.
    let r = app
        .call(
            users::get,
            app.request(Method::GET, "/v1.4/api/users/rt", None),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(app.calls.take(), ["GetItem"]);

    let r = app
        .call(
            users::list,
            app.request(Method::GET, "/v1.4/api/users?limit=10", None),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(app.calls.take(), ["Query"]);

    let r = app
        .call(
            users::update,
            app.request(
                Method::PUT,
                "/v1.4/api/users/rt",
                Some(json!({"username": "x"})),
            ),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(app.calls.take(), ["UpdateItem"]);

    let r = app
        .call(
            users::create,
            app.request(
                Method::POST,
                "/v1.4/api/users/create",
                Some(json!({"userId": "rt", "password": "p"})),
            ),
        )
        .await;
    r.assert_error(409, "3004");
    assert_eq!(
        app.calls.take(),
        ["PutItem"],
        "a taken id costs the one conditional write"
    );

    // Rejected before any storage call: bad input and bad credentials.
    let r = app
        .call(
            users::create,
            app.request(
                Method::POST,
                "/v1.4/api/users/create",
                Some(json!({"userId": "bad id"})),
            ),
        )
        .await;
    r.assert_error(400, "1001");
    assert!(app.calls.take().is_empty());
}

fn sorted(mut calls: Vec<String>) -> Vec<String> {
    calls.sort();
    calls
}

#[tokio::test]
async fn channel_endpoints_round_trips_when_warm() {
    use shared::handlers::channels;
    let app = TestApp::with_auth_cache(Duration::from_secs(60)).await;
    app.add_users(&["a", "b", "c"]).await;
    let create = |body: serde_json::Value| {
        app.send(
            channels::create,
            Method::POST,
            "/v1.4/api/channels/create",
            Some(body),
        )
    };
    // Warm the app cache.
    let r = create(json!({"type": "public", "members": []})).await;
    assert_eq!(r.status, 200, "{}", r.body);
    app.calls.take();

    // Create: the users in one batch read, then one transaction.
    let r =
        create(json!({"type": "public", "channelId": "c1", "ownerId": "a", "members": ["b", "c"]}))
            .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(app.calls.take(), ["BatchGetItem", "TransactWriteItems"]);

    // A taken id: the refused transaction, and a look at the channel item (an abandoned
    // creation would be cleared; a live channel is not).
    let r = create(json!({"type": "public", "channelId": "c1", "members": ["b"]})).await;
    r.assert_error(409, "2002");
    assert_eq!(
        app.calls.take(),
        ["BatchGetItem", "TransactWriteItems", "GetItem"]
    );

    // reuseChannel, new: the users and the channel read side by side (the channel read is
    // three queries at once: the channel with its members, its first bans, its newest
    // message), then the write.
    let dm = json!({"type": "private", "ownerId": "a", "members": ["b"], "reuseChannel": true});
    let r = create(dm.clone()).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let calls = app.calls.take();
    assert_eq!(
        sorted(calls[..4].to_vec()),
        ["BatchGetItem", "Query", "Query", "Query"]
    );
    assert_eq!(calls[4..], ["TransactWriteItems"]);

    // reuseChannel, existing: one parallel round, no write.
    let again = create(dm).await;
    assert_eq!(again.body, r.body);
    assert_eq!(
        sorted(app.calls.take()),
        ["BatchGetItem", "Query", "Query", "Query"]
    );

    // View: the channel read (three queries side by side), one batch read of the profiles.
    let r = app
        .send(channels::get, Method::GET, "/v1.4/api/channels/c1", None)
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(
        app.calls.take(),
        ["Query", "Query", "Query", "BatchGetItem"]
    );

    // A user's channels: the user and the index page side by side, the channels in
    // parallel, then every profile in one batch read.
    let r = app
        .send(
            channels::user_channels,
            Method::GET,
            "/v1.4/api/users/b/channels",
            None,
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["channels"].as_array().unwrap().len(), 2);
    let calls = app.calls.take();
    assert_eq!(sorted(calls[..2].to_vec()), ["GetItem", "Query"]);
    assert_eq!(
        calls[2..],
        [
            "Query",
            "Query",
            "Query",
            "Query",
            "Query",
            "Query",
            "BatchGetItem"
        ]
    );
}

#[tokio::test]
async fn bot_join_and_leave_take_two_sequential_round_trips_when_warm() {
    use shared::handlers::{bots, channels};
    let app = TestApp::with_auth_cache(Duration::from_secs(60)).await;
    app.add_users(&["a", "b"]).await;
    let r = app
        .send(
            bots::create,
            Method::POST,
            "/v1.4/api/bots/create",
            Some(json!({"id": "rb", "name": "RB"})),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let r = app
        .send(
            channels::create,
            Method::POST,
            "/v1.4/api/channels/create",
            Some(json!({"type": "public", "channelId": "rc", "ownerId": "a", "members": ["b"]})),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    app.calls.take();

    // The channel read beside the transaction, then the profile reads (which wait for the
    // read, not for the transaction: the transaction may finish either side of them). The
    // bench measures the rounds (`round_trips.bot_join` in bench/results.json).
    for (join, path) in [
        (true, "/v1.4/api/bots/rb/channels/rc/join"),
        (true, "/v1.4/api/bots/rb/channels/rc/join"),
        (false, "/v1.4/api/bots/rb/channels/rc/leave"),
        (false, "/v1.4/api/bots/rb/channels/rc/leave"),
    ] {
        let r = if join {
            app.send(bots::join, Method::POST, path, None).await
        } else {
            app.send(bots::leave, Method::POST, path, None).await
        };
        assert_eq!(r.status, 200, "{}", r.body);
        let calls = app.calls.take();
        assert_eq!(
            sorted(calls.clone()),
            [
                "BatchGetItem",
                "Query",
                "Query",
                "Query",
                "TransactWriteItems"
            ],
            "{path}"
        );
        let profiles = calls.iter().position(|c| c == "BatchGetItem");
        let last_query = calls.iter().rposition(|c| c == "Query");
        assert!(profiles > last_query, "{path}: {calls:?}");
    }
}
