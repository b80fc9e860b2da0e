//! Webhooks and bot callbacks from the change stream: the dispatcher and the deliverer the
//! functions run, driven over the engine's stream and an SQS endpoint (moto), to a local
//! receiver that verifies signatures as a TalkPlus receiver would.

use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, Mac};
use lambda_http::http::Method;
use serde_json::{Value, json};
use sha2::Sha256;
use shared::webhooks::deliver::Outcome;
use shared::webhooks::{Job, RetrySchedule, Target};
use talkplus_tests::TestApp;
use talkplus_tests::webhooks::{Pipeline, Received, Receiver};

fn hmac_b64(key: &str, data: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(key.as_bytes()).unwrap();
    mac.update(data);
    STANDARD.encode(mac.finalize().into_bytes())
}

/// Checks both signatures of a delivery with the app's API key, as a receiver would.
fn assert_signed(r: &Received, api_key: &str) {
    assert_eq!(r.header("user-agent"), "TalkPlus");
    assert_eq!(r.header("content-type"), "application/json");
    assert_eq!(
        r.header("x-talkplus-signature"),
        hmac_b64(api_key, r.body.as_bytes()),
        "x-talkplus-signature"
    );
    let (id, ts) = (r.header("webhook-id"), r.header("webhook-timestamp"));
    assert!(id.starts_with("msg_"), "webhook-id {id}");
    let ts_s: i64 = ts.parse().expect("webhook-timestamp in seconds");
    let now_s = shared::model::now_ms() / 1000;
    assert!(
        (now_s - ts_s).abs() < 120,
        "timestamp {ts_s} vs now {now_s}"
    );
    let signed = format!("{id}.{ts}.{}", r.body);
    assert_eq!(
        r.header("webhook-signature"),
        format!("v1,{}", hmac_b64(api_key, signed.as_bytes())),
        "webhook-signature"
    );
    assert_ne!(
        r.header("x-talkplus-signature"),
        hmac_b64("another-key-0123456789", r.body.as_bytes())
    );
}

async fn post(app: &TestApp, function: &str, path: &str, body: Value) -> Value {
    let r = app.route(function, Method::POST, path, Some(body)).await;
    assert_eq!(r.status, 200, "{path}: {}", r.body);
    r.body
}

/// `POST /channels/{channel}/members/{change}` (add, remove, mute, ...) of `users`.
async fn change_members(app: &TestApp, channel: &str, change: &str, users: &[&str]) {
    post(
        app,
        &format!("channels-members-{change}"),
        &format!("/v1.4/api/channels/{channel}/members/{change}"),
        json!({ "members": users }),
    )
    .await;
}

async fn send_text(app: &TestApp, channel: &str, sender: &str, text: &str) -> Value {
    post(
        app,
        "channels-messages-send",
        &format!("/v1.4/api/channels/{channel}/messages/send"),
        json!({"senderId": sender, "type": "text", "text": text}),
    )
    .await["message"]
        .clone()
}

async fn setup(retry: RetrySchedule) -> (TestApp, Pipeline, Receiver) {
    let app = TestApp::new().await;
    let mut pipeline = Pipeline::start(app.store(), &app.app_id, &app.api_key).await;
    let receiver = Receiver::start().await;
    pipeline
        .set_webhook(&format!("{}/hook", receiver.url), None, retry)
        .await;
    // The settings write itself is in the stream: not an event.
    assert_eq!(pipeline.dispatch().await.events, 0);
    (app, pipeline, receiver)
}

#[tokio::test]
async fn every_event_arrives_once_signed_with_its_documented_shape() {
    let (app, mut pipeline, receiver) = setup(RetrySchedule::Standard).await;
    app.add_users(&["o", "a", "b", "c"]).await;
    app.create_channel(
        json!({"channelId": "w", "type": "public", "ownerId": "o", "members": ["o", "a"]}),
    )
    .await;
    let base = "/v1.4/api/channels/w";
    let put = app
        .route(
            "channels-update",
            Method::PUT,
            base,
            Some(json!({"name": "renamed"})),
        )
        .await;
    assert_eq!(put.status, 200, "{}", put.body);
    change_members(&app, "w", "add", &["b", "c"]).await;
    change_members(&app, "w", "mute", &["b"]).await;
    change_members(&app, "w", "unmute", &["b"]).await;
    change_members(&app, "w", "ban", &["c"]).await;
    change_members(&app, "w", "unban", &["c"]).await;
    change_members(&app, "w", "remove", &["b"]).await;
    let message = send_text(&app, "w", "a", "hello hooks").await;
    let id = message["id"].as_str().unwrap();
    let deleted = app
        .route(
            "channels-messages-delete",
            Method::DELETE,
            &format!("{base}/messages/{id}"),
            None,
        )
        .await;
    assert_eq!(deleted.status, 200, "{}", deleted.body);
    post(
        &app,
        "users-block",
        "/v1.4/api/users/a/block",
        json!({"userId": "o"}),
    )
    .await;
    post(
        &app,
        "users-unblock",
        "/v1.4/api/users/a/unblock",
        json!({"userId": "o"}),
    )
    .await;
    // Everything before the delete is dispatched while the channel exists (a change of a
    // channel deleted before its dispatch is not sent; its channel_removed is).
    assert!(
        pipeline
            .run_until(Duration::from_secs(30), || receiver.delivered().len() >= 12)
            .await
    );
    let gone = app
        .route("channels-delete", Method::DELETE, base, None)
        .await;
    assert_eq!(gone.status, 200, "{}", gone.body);
    assert!(
        pipeline
            .run_until(Duration::from_secs(30), || receiver.delivered().len() >= 13)
            .await
    );
    // Nothing more comes: each event once.
    pipeline
        .run_until(Duration::from_millis(500), || false)
        .await;
    let got = receiver.received();
    for r in &got {
        assert_signed(r, &app.api_key);
        assert_eq!(r.path, "/hook");
        assert_eq!(r.status, 200);
    }
    let events: Vec<String> = got
        .iter()
        .map(|r| r.json()["event"].as_str().unwrap().to_owned())
        .collect();
    let channel_events: Vec<&str> = events
        .iter()
        .map(String::as_str)
        .filter(|e| !e.starts_with("user_"))
        .collect();
    // One channel's events arrive in commit order.
    assert_eq!(
        channel_events,
        [
            "channel_added",
            "channel_changed",
            "member_added",
            "member_muted",
            "member_unmuted",
            "member_banned",
            "member_unbanned",
            "member_left",
            "message",
            "message_deleted",
            "channel_removed"
        ]
    );
    let user_events: Vec<&str> = events
        .iter()
        .map(String::as_str)
        .filter(|e| e.starts_with("user_"))
        .collect();
    assert_eq!(user_events, ["user_blocked", "user_unblocked"]);
    let mut ids: Vec<&str> = got.iter().map(|r| r.header("webhook-id")).collect();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 13, "distinct webhook ids");

    let by_event = |name: &str| {
        got.iter()
            .map(Received::json)
            .find(|b| b["event"] == name)
            .unwrap_or_else(|| panic!("{name}"))
    };
    let added = by_event("channel_added");
    assert_eq!(added["appId"], app.app_id.as_str());
    assert_eq!(added["channel"]["id"], "w");
    for key in [
        "name",
        "type",
        "ownerId",
        "members",
        "memberCount",
        "lastMessage",
        "createdAt",
    ] {
        assert!(added["channel"].get(key).is_some(), "channel.{key}");
    }
    assert_eq!(by_event("channel_changed")["channel"]["name"], "renamed");
    let member_added = by_event("member_added");
    let users: Vec<&str> = member_added["users"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["id"].as_str().unwrap())
        .collect();
    assert_eq!(users, ["b", "c"], "one event for one add of two users");
    assert_eq!(member_added["users"][0]["username"], "name-b");
    assert_eq!(member_added["channel"]["id"], "w");
    assert_eq!(by_event("member_muted")["users"][0]["id"], "b");
    assert_eq!(by_event("member_banned")["users"][0]["id"], "c");
    assert_eq!(by_event("member_unbanned")["users"][0]["id"], "c");
    assert_eq!(by_event("member_left")["users"][0]["id"], "b");
    let m = by_event("message");
    assert_eq!(m["message"]["id"], id);
    assert_eq!(m["message"]["text"], "hello hooks");
    assert_eq!(m["message"]["userId"], "a");
    assert_eq!(m["message"]["username"], "name-a");
    assert_eq!(by_event("message_deleted")["message"]["id"], id);
    let removed = by_event("channel_removed");
    assert_eq!(removed["channel"]["id"], "w");
    assert_eq!(removed["channel"]["name"], "renamed");
    let blocked = by_event("user_blocked");
    assert_eq!(blocked["user"]["id"], "a");
    assert_eq!(blocked["blockedUser"]["id"], "o");
    assert!(blocked.get("channel").is_none());
}

#[tokio::test]
async fn a_receiver_down_for_a_while_gets_everything_after_with_the_same_ids() {
    let (app, mut pipeline, receiver) = setup(RetrySchedule::Standard).await;
    app.add_users(&["a"]).await;
    app.create_channel(json!({"channelId": "d", "type": "public", "members": ["a"]}))
        .await;
    assert!(
        pipeline
            .run_until(Duration::from_secs(20), || receiver.delivered().len() == 1)
            .await
    );
    // Down: the next two requests get 503 (the first one in the standard schedule's 5 s wait).
    receiver.plan(&[503]);
    for text in ["one", "two", "three"] {
        send_text(&app, "d", "a", text).await;
    }
    assert!(
        pipeline
            .run_until(Duration::from_secs(30), || receiver.delivered().len() == 4)
            .await,
        "got {:?}",
        receiver
            .received()
            .iter()
            .map(|r| r.status)
            .collect::<Vec<_>>()
    );
    let got = receiver.received();
    let failed: Vec<&Received> = got.iter().filter(|r| r.status == 503).collect();
    assert_eq!(failed.len(), 1);
    let retried: Vec<&Received> = got
        .iter()
        .filter(|r| r.status == 200 && r.header("webhook-id") == failed[0].header("webhook-id"))
        .collect();
    assert_eq!(
        retried.len(),
        1,
        "the retry carries the first attempt's webhook-id"
    );
    assert_eq!(retried[0].body, failed[0].body);
    let texts: Vec<String> = receiver
        .delivered()
        .iter()
        .filter_map(|r| r.json()["message"]["text"].as_str().map(str::to_owned))
        .collect();
    assert_eq!(
        texts,
        ["one", "two", "three"],
        "in order, behind the retried one"
    );

    // Down altogether (connections dropped unanswered), then back: the retry gets through.
    receiver.set_down(true);
    send_text(&app, "d", "a", "four").await;
    pipeline.run_until(Duration::from_secs(2), || false).await;
    assert_eq!(receiver.received().len(), 5, "nothing answered while down");
    receiver.set_down(false);
    assert!(
        pipeline
            .run_until(Duration::from_secs(30), || receiver.delivered().len() == 5)
            .await
    );
    assert_eq!(receiver.delivered()[4].json()["message"]["text"], "four");
}

#[tokio::test]
async fn an_exhausted_delivery_lands_in_the_dead_letter_queue() {
    let (app, mut pipeline, receiver) = setup(RetrySchedule::Talkplus).await;
    receiver.always(500);
    app.add_users(&["a"]).await;
    app.create_channel(json!({"channelId": "x", "type": "public", "members": ["a"]}))
        .await;
    // TalkPlus's schedule: the attempt, and one retry after 5 s.
    assert!(
        pipeline
            .run_until(Duration::from_secs(20), || receiver.received().len() == 2)
            .await
    );
    let mut dead = Vec::new();
    for _ in 0..20 {
        dead = pipeline.dead_letters().await;
        if !dead.is_empty() {
            break;
        }
        pipeline
            .run_until(Duration::from_millis(300), || false)
            .await;
    }
    assert_eq!(dead.len(), 1, "{dead:?}");
    assert_eq!(dead[0]["event"], "channel_added");
    assert_eq!(dead[0]["deadReason"], "HTTP 500");
    assert_eq!(dead[0]["id"], receiver.received()[0].header("webhook-id"));
    // Not attempted again.
    pipeline.run_until(Duration::from_secs(6), || false).await;
    assert_eq!(receiver.received().len(), 2);
}

#[tokio::test]
async fn a_410_turns_the_webhook_off_and_events_filter_what_is_sent() {
    let app = TestApp::new().await;
    let mut pipeline = Pipeline::start(app.store(), &app.app_id, &app.api_key).await;
    let receiver = Receiver::start().await;
    let only = vec!["member_added".to_owned()];
    pipeline
        .set_webhook(
            &format!("{}/hook", receiver.url),
            Some(&only),
            RetrySchedule::Talkplus,
        )
        .await;
    app.add_users(&["a", "b"]).await;
    app.create_channel(json!({"channelId": "g", "type": "public", "members": ["a"]}))
        .await;
    change_members(&app, "g", "add", &["b"]).await;
    assert!(
        pipeline
            .run_until(Duration::from_secs(20), || !receiver.received().is_empty())
            .await
    );
    pipeline
        .run_until(Duration::from_millis(500), || false)
        .await;
    let got = receiver.received();
    assert_eq!(got.len(), 1, "only the wanted event");
    assert_eq!(got[0].json()["event"], "member_added");

    receiver.always(410);
    change_members(&app, "g", "remove", &["b"]).await;
    change_members(&app, "g", "add", &["b"]).await;
    assert!(
        pipeline
            .run_until(Duration::from_secs(20), || receiver.received().len() == 2)
            .await
    );
    let settings = app.store().app(&app.app_id).await.unwrap().unwrap().webhook;
    assert_eq!(settings.url, None, "a 410 turns the webhook off");
    assert_eq!(
        settings.retry,
        RetrySchedule::Talkplus,
        "the schedule is kept"
    );
    // Not retried, and nothing more is sent.
    change_members(&app, "g", "remove", &["b"]).await;
    change_members(&app, "g", "add", &["b"]).await;
    pipeline.run_until(Duration::from_secs(6), || false).await;
    assert_eq!(receiver.received().len(), 2);
    assert!(pipeline.dead_letters().await.is_empty());
}

#[tokio::test]
async fn a_rolled_back_write_emits_nothing() {
    let (app, mut pipeline, receiver) = setup(RetrySchedule::Standard).await;
    app.add_users(&["a"]).await;
    app.create_channel(json!({"channelId": "r", "type": "public", "members": ["a"]}))
        .await;
    assert!(
        pipeline
            .run_until(Duration::from_secs(20), || receiver.delivered().len() == 1)
            .await
    );
    // The same id again: the create's transaction is cancelled on its condition.
    app.calls.take();
    let again = app
        .route(
            "channels-create",
            Method::POST,
            "/v1.4/api/channels/create",
            Some(json!({"channelId": "r", "type": "private", "members": ["a"], "name": "second"})),
        )
        .await;
    assert_ne!(again.status, 200);
    assert!(
        app.calls.take().contains(&"TransactWriteItems".to_owned()),
        "the create reached its transaction, which was cancelled"
    );
    // A message to a channel the sender is not in: refused, never written.
    let refused = app
        .route(
            "channels-messages-send",
            Method::POST,
            "/v1.4/api/channels/r/messages/send",
            Some(json!({"senderId": "ghost", "type": "text", "text": "no"})),
        )
        .await;
    assert_ne!(refused.status, 200);
    let done = pipeline.dispatch().await;
    assert_eq!(done.events, 0, "{done:?}");
    pipeline
        .run_until(Duration::from_millis(500), || false)
        .await;
    assert_eq!(receiver.received().len(), 1);
}

#[tokio::test]
async fn a_bot_callback_reaches_the_bot_and_not_others() {
    let app = TestApp::new().await;
    let mut pipeline = Pipeline::start(app.store(), &app.app_id, &app.api_key).await;
    let receiver = Receiver::start().await;
    app.add_users(&["a"]).await;
    for bot in ["b1", "b2"] {
        post(
            &app,
            "bots-create",
            "/v1.4/api/bots/create",
            json!({"id": bot, "name": bot, "type": "cs", "callbackUrl": format!("{}/{bot}", receiver.url)}),
        )
        .await;
    }
    app.create_channel(json!({"channelId": "c", "type": "public", "members": ["a"]}))
        .await;
    post(
        &app,
        "bots-join",
        "/v1.4/api/bots/b1/channels/c/join",
        json!({}),
    )
    .await;
    send_text(&app, "c", "a", "to the bot").await;
    // The bot's own message is not called back to it.
    post(
        &app,
        "bots-send",
        "/v1.4/api/bots/b1/channels/c/send",
        json!({"type": "bot", "text": "from the bot"}),
    )
    .await;
    assert!(
        pipeline
            .run_until(Duration::from_secs(20), || !receiver.received().is_empty())
            .await
    );
    pipeline.run_until(Duration::from_secs(1), || false).await;
    let got = receiver.received();
    assert_eq!(
        got.len(),
        1,
        "{:?}",
        got.iter().map(|r| &r.path).collect::<Vec<_>>()
    );
    assert_eq!(got[0].path, "/b1");
    assert_signed(&got[0], &app.api_key);
    let body = got[0].json();
    assert_eq!(body["event"], "message");
    assert_eq!(body["message"]["text"], "to the bot");
    assert_eq!(body["channel"]["id"], "c");
}

#[tokio::test]
async fn private_link_local_and_metadata_addresses_are_refused() {
    let app = TestApp::new().await;
    let pipeline = Pipeline::start(app.store(), &app.app_id, &app.api_key).await;
    // A deliverer as on AWS: loopback refused too.
    let deliverer = shared::webhooks::deliver::Deliverer::new(
        app.store().clone(),
        pipeline.queue.clone(),
        Some(shared::seal::Sealer::dev(
            talkplus_tests::webhooks::SEAL_KEY,
        )),
        false,
        Duration::from_secs(2),
    )
    .unwrap();
    let receiver = Receiver::start().await;
    let job = Job {
        id: "msg_test".into(),
        app_id: app.app_id.clone(),
        event: "message".into(),
        target: Target::Webhook,
        retry: RetrySchedule::Talkplus,
        queued_at: shared::model::now_ms(),
        body: "{}".into(),
        body_parts: 0,
    };
    for url in [
        "https://169.254.169.254/latest/meta-data/",
        "https://10.0.0.5/hook",
        "https://192.168.1.1/hook",
        "https://[fd00:ec2::254]/hook",
        "https://[fe80::1]/hook",
        "https://127.0.0.1/hook",
        "https://localhost/hook",
        &format!("{}/hook", receiver.url),
    ] {
        pipeline
            .set_webhook(url, None, RetrySchedule::Talkplus)
            .await;
        let creds = app.store().app(&app.app_id).await.unwrap();
        let outcome = deliverer.attempt(&job, creds.as_ref()).await.unwrap();
        assert!(matches!(outcome, Outcome::Refused(_)), "{url}: {outcome:?}");
    }
    assert!(receiver.received().is_empty());
    // The same receiver where loopback is allowed (local development) is reached.
    let creds = app.store().app(&app.app_id).await.unwrap();
    let outcome = pipeline
        .deliverer
        .attempt(&job, creds.as_ref())
        .await
        .unwrap();
    assert_eq!(outcome, Outcome::Delivered);
    assert_eq!(receiver.received().len(), 1);
}

#[tokio::test]
async fn a_rotated_key_signs_from_then_on() {
    let (app, mut pipeline, receiver) = setup(RetrySchedule::Standard).await;
    app.add_users(&["a"]).await;
    app.create_channel(json!({"channelId": "k", "type": "public", "members": ["a"]}))
        .await;
    assert!(
        pipeline
            .run_until(Duration::from_secs(20), || receiver.delivered().len() == 1)
            .await
    );
    assert_signed(&receiver.delivered()[0], &app.api_key);
    // A change made before the rotation and delivered after it is signed with the new key:
    // deliveries are signed when they are sent.
    send_text(&app, "k", "a", "across the rotation").await;
    // What `talkplus-admin rotate-key` does: the new digest, the new key sealed.
    let new_key = shared::secrets::new_secret();
    let now = shared::model::now_ms();
    app.store()
        .set_api_key_digest(&app.app_id, &shared::secrets::secret_digest(&new_key), now)
        .await
        .unwrap();
    let sealed = shared::seal::Sealer::dev(talkplus_tests::webhooks::SEAL_KEY)
        .seal(&app.app_id, &new_key)
        .await
        .unwrap();
    app.store()
        .set_signing_key(&app.app_id, &sealed, now)
        .await
        .unwrap();
    assert!(
        pipeline
            .run_until(Duration::from_secs(20), || receiver.delivered().len() == 2)
            .await
    );
    assert_signed(&receiver.delivered()[1], &new_key);
    assert_eq!(
        receiver.delivered()[1].json()["message"]["text"],
        "across the rotation"
    );
}

#[tokio::test]
async fn dispatch_reads_what_a_payload_needs_and_nothing_for_unwanted_events() {
    let app = TestApp::new().await;
    let mut pipeline = Pipeline::start(app.store(), &app.app_id, &app.api_key).await;
    let receiver = Receiver::start().await;
    let only = vec!["message".to_owned()];
    pipeline
        .set_webhook(
            &format!("{}/hook", receiver.url),
            Some(&only),
            RetrySchedule::Standard,
        )
        .await;
    app.add_users(&["a", "b"]).await;
    app.create_channel(json!({"channelId": "t", "type": "public", "members": ["a"]}))
        .await;
    change_members(&app, "t", "add", &["b"]).await;
    app.calls.take();
    // Events nobody wants: the app's settings, nothing more.
    let done = pipeline.dispatch().await;
    assert_eq!(done.events, 0);
    assert_eq!(
        app.calls.take(),
        ["GetItem"],
        "one read of the app per batch"
    );
    send_text(&app, "t", "a", "counted").await;
    app.calls.take();
    let done = pipeline.dispatch().await;
    assert_eq!((done.events, done.queued), (1, 1));
    // The app; the channel as GET /channels/{id} reads it (one parallel round of queries,
    // then the members' profiles and the newest message's author). The event's message is
    // that newest message, its author a member: nothing more to read.
    let channel_read = ["GetItem", "Query", "Query", "Query", "BatchGetItem"];
    assert_eq!(app.calls.take(), channel_read);

    let members_only = vec!["member_added".to_owned()];
    pipeline
        .set_webhook(
            &format!("{}/hook", receiver.url),
            Some(&members_only),
            RetrySchedule::Standard,
        )
        .await;
    app.add_users(&["c"]).await;
    pipeline.dispatch().await;
    // A member added: the channel read has the new member's profile.
    change_members(&app, "t", "add", &["c"]).await;
    app.calls.take();
    let done = pipeline.dispatch().await;
    assert_eq!((done.events, done.queued), (1, 1));
    assert_eq!(app.calls.take(), channel_read);
    // A message nobody's webhook wants, in a channel without bots: the channel item alone.
    send_text(&app, "t", "a", "unwanted").await;
    app.calls.take();
    let done = pipeline.dispatch().await;
    assert_eq!(done.events, 0);
    assert_eq!(
        app.calls.take(),
        ["GetItem", "GetItem"],
        "the app, the channel item"
    );
}

#[tokio::test]
async fn a_body_too_large_for_a_queue_message_is_delivered_whole() {
    let (app, mut pipeline, receiver) = setup(RetrySchedule::Standard).await;
    // 60 members with the largest profile data: a channel object of about 350 KB.
    let ids: Vec<String> = (0..60).map(|i| format!("big{i:02}")).collect();
    app.add_users(&ids).await;
    let data: serde_json::Map<String, Value> = (0..5)
        .map(|k| (format!("key-{k}"), json!("x".repeat(1024))))
        .collect();
    for id in &ids {
        let r = app
            .route(
                "users-update",
                Method::PUT,
                &format!("/v1.4/api/users/{id}"),
                Some(json!({ "data": data })),
            )
            .await;
        assert_eq!(r.status, 200, "{}", r.body);
    }
    app.create_channel(json!({"channelId": "big", "type": "public", "members": ids}))
        .await;
    assert!(
        pipeline
            .run_until(Duration::from_secs(30), || receiver.delivered().len() == 1)
            .await
    );
    let got = &receiver.delivered()[0];
    assert!(got.body.len() > 300_000, "{} bytes", got.body.len());
    assert_signed(got, &app.api_key);
    let body = got.json();
    assert_eq!(body["event"], "channel_added");
    assert_eq!(body["channel"]["members"].as_array().unwrap().len(), 60);
    assert_eq!(
        body["channel"]["members"][59]["data"]["key-4"],
        "x".repeat(1024)
    );
}
