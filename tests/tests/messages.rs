//! Messaging: send (user, admin, bot), history, view, delete, `lastMessage`, `lastSentAt`,
//! idempotency, and what holds under concurrent senders and deletes.

use std::collections::BTreeSet;

use lambda_http::http::{HeaderValue, Method};
use serde_json::{Value, json};
use shared::domain::messages::Idempotency;
use shared::model::{Message, MessageType, now_ms};
use shared::store::{SendRefusal, SenderGuard};
use talkplus_tests::{Reply, TestApp};

async fn send(app: &TestApp, channel: &str, body: Value) -> Reply {
    app.route(
        "channels-messages-send",
        Method::POST,
        &format!("/v1.4/api/channels/{channel}/messages/send"),
        Some(body),
    )
    .await
}

async fn send_keyed(app: &TestApp, channel: &str, key: &str, body: Value) -> Reply {
    let mut req = app.request(
        Method::POST,
        &format!("/v1.4/api/channels/{channel}/messages/send"),
        Some(body),
    );
    req.headers_mut()
        .insert("idempotency-key", HeaderValue::from_str(key).unwrap());
    app.call_function("channels-messages-send", req).await
}

async fn bot_send(app: &TestApp, bot: &str, channel: &str, body: Value) -> Reply {
    app.route(
        "bots-send",
        Method::POST,
        &format!("/v1.4/api/bots/{bot}/channels/{channel}/send"),
        Some(body),
    )
    .await
}

async fn history(app: &TestApp, channel: &str, query: &str) -> Reply {
    app.route(
        "channels-messages",
        Method::GET,
        &format!("/v1.4/api/channels/{channel}/messages{query}"),
        None,
    )
    .await
}

async fn view(app: &TestApp, channel: &str, id: &str) -> Reply {
    app.route(
        "channels-messages-get",
        Method::GET,
        &format!("/v1.4/api/channels/{channel}/messages/{id}"),
        None,
    )
    .await
}

async fn delete(app: &TestApp, channel: &str, id: &str) -> Reply {
    app.route(
        "channels-messages-delete",
        Method::DELETE,
        &format!("/v1.4/api/channels/{channel}/messages/{id}"),
        None,
    )
    .await
}

#[track_caller]
fn sent(r: &Reply) -> String {
    assert_eq!(r.status, 200, "{}", r.body);
    r.body["message"]["id"]
        .as_str()
        .expect("message id")
        .to_owned()
}

fn ids(r: &Reply) -> Vec<String> {
    assert_eq!(r.status, 200, "{}", r.body);
    r.body["messages"]
        .as_array()
        .expect("messages")
        .iter()
        .map(|m| m["id"].as_str().unwrap().to_owned())
        .collect()
}

async fn last_message_id(app: &TestApp, channel: &str) -> Value {
    app.view_channel(channel).await.body["channel"]["lastMessage"]["id"].clone()
}

/// Users owner, m1, m2, m3 and outsider; channel c1 (owner, m1, m2, m3).
async fn setup(app: &TestApp) {
    app.add_users(&["owner", "m1", "m2", "m3", "outsider"])
        .await;
    app.create_channel(json!({
        "channelId": "c1", "type": "private", "ownerId": "owner", "members": ["m1", "m2", "m3"]
    }))
    .await;
}

async fn post_admin(app: &TestApp, function: &str, path: &str, body: Option<Value>) {
    let r = app.route(function, Method::POST, path, body).await;
    assert_eq!(r.status, 200, "{function}: {}", r.body);
}

#[tokio::test]
async fn every_send_rule_has_its_code() {
    let app = TestApp::new().await;
    setup(&app).await;
    sent(&send(&app, "c1", json!({"senderId": "m1", "text": "hi"})).await);

    send(&app, "c1", json!({"senderId": "outsider", "text": "hi"}))
        .await
        .assert_error(403, "4000");
    send(&app, "c1", json!({"senderId": "nobody", "text": "hi"}))
        .await
        .assert_error(403, "4000");
    send(&app, "c1", json!({"text": "hi"}))
        .await
        .assert_error(400, "1002");
    send(&app, "c1", json!({"senderId": "m1"}))
        .await
        .assert_error(400, "4002");
    send(
        &app,
        "c1",
        json!({"senderId": "m1", "text": "x".repeat(8193)}),
    )
    .await
    .assert_error(400, "4001");
    sent(
        &send(
            &app,
            "c1",
            json!({"senderId": "m1", "text": "x".repeat(8192)}),
        )
        .await,
    );
    let eleven: serde_json::Map<String, Value> =
        (0..11).map(|i| (format!("k{i}"), json!("v"))).collect();
    send(&app, "c1", json!({"senderId": "m1", "data": eleven}))
        .await
        .assert_error(400, "1011");
    sent(
        &send(
            &app,
            "c1",
            json!({"senderId": "m1", "data": {"only": "data"}}),
        )
        .await,
    );
    send(
        &app,
        "c1",
        json!({"senderId": "m1", "text": "x", "mentions": ["m2", "outsider"]}),
    )
    .await
    .assert_error(400, "2026");
    send(
        &app,
        "c1",
        json!({"senderId": "m1", "text": "x", "type": "bot"}),
    )
    .await
    .assert_error(400, "1001");
    send(
        &app,
        "c1",
        json!({"senderId": "m1", "text": "x", "fileUrl": "file:///etc/passwd"}),
    )
    .await
    .assert_error(400, "1001");
    send(&app, "nope", json!({"senderId": "m1", "text": "x"}))
        .await
        .assert_error(404, "2003");
    // A parent that is well formed but not a message of this channel.
    app.create_channel(
        json!({"channelId": "c2", "type": "public", "ownerId": "m1", "members": []}),
    )
    .await;
    let elsewhere = sent(&send(&app, "c2", json!({"senderId": "m1", "text": "x"})).await);
    send(
        &app,
        "c1",
        json!({"senderId": "m1", "text": "x", "parentMessageId": elsewhere}),
    )
    .await
    .assert_error(400, "1001");

    // Mute: the muted member gets 2027 until unmuted; admin types pass.
    post_admin(
        &app,
        "channels-members-mute",
        "/v1.4/api/channels/c1/members/mute",
        Some(json!({"members": ["m3"]})),
    )
    .await;
    send(&app, "c1", json!({"senderId": "m3", "text": "x"}))
        .await
        .assert_error(403, "2027");
    sent(
        &send(
            &app,
            "c1",
            json!({"senderId": "m3", "type": "admin", "text": "x"}),
        )
        .await,
    );
    post_admin(
        &app,
        "channels-members-unmute",
        "/v1.4/api/channels/c1/members/unmute",
        Some(json!({"members": ["m3"]})),
    )
    .await;
    sent(&send(&app, "c1", json!({"senderId": "m3", "text": "x"})).await);

    // Frozen: members 2025; the owner and admin messages pass.
    post_admin(
        &app,
        "channels-freeze",
        "/v1.4/api/channels/c1/freeze",
        None,
    )
    .await;
    send(&app, "c1", json!({"senderId": "m1", "text": "x"}))
        .await
        .assert_error(403, "2025");
    sent(&send(&app, "c1", json!({"senderId": "owner", "text": "x"})).await);
    let notice = send(
        &app,
        "c1",
        json!({"type": "admin_hidden", "text": "notice"}),
    )
    .await;
    sent(&notice);
    assert_eq!(notice.body["message"]["userId"], "");
    assert_eq!(notice.body["message"]["username"], "");
    post_admin(
        &app,
        "channels-unfreeze",
        "/v1.4/api/channels/c1/unfreeze",
        None,
    )
    .await;

    // Deactivated: 3010.
    post_admin(
        &app,
        "users-deactivate",
        "/v1.4/api/users/m2/deactivate",
        None,
    )
    .await;
    send(&app, "c1", json!({"senderId": "m2", "text": "x"}))
        .await
        .assert_error(403, "3010");
    post_admin(&app, "users-activate", "/v1.4/api/users/m2/activate", None).await;
    sent(&send(&app, "c1", json!({"senderId": "m2", "text": "x"})).await);

    // Removed: 4000 from then on.
    post_admin(
        &app,
        "channels-members-remove",
        "/v1.4/api/channels/c1/members/remove",
        Some(json!({"members": ["m2"]})),
    )
    .await;
    send(&app, "c1", json!({"senderId": "m2", "text": "x"}))
        .await
        .assert_error(403, "4000");
    app.check_channels().await;
}

#[tokio::test]
async fn the_message_object_replies_profiles_and_last_message() {
    let app = TestApp::new().await;
    setup(&app).await;
    let r = app.view_channel("c1").await;
    assert_eq!(r.body["channel"]["lastMessage"], Value::Null);

    let first = send(
        &app,
        "c1",
        json!({"senderId": "m1", "text": "hello", "data": {"k": "v"}, "mentions": ["m2", "m2"],
               "fileUrl": "https://cdn.test/a.png", "translationTargetLanguages": ["ko"]}),
    )
    .await;
    let first_id = sent(&first);
    let m = &first.body["message"];
    let keys: BTreeSet<&str> = m.as_object().unwrap().keys().map(String::as_str).collect();
    let expected: BTreeSet<&str> = [
        "id",
        "channelId",
        "userId",
        "username",
        "profileImageUrl",
        "type",
        "text",
        "data",
        "fileUrl",
        "mentions",
        "parentMessageId",
        "parentMessage",
        "reactions",
        "translations",
        "createdAt",
    ]
    .into();
    assert_eq!(keys, expected);
    assert_eq!(first_id.len(), 26);
    assert_eq!(m["channelId"], "c1");
    assert_eq!(
        (m["userId"].as_str(), m["username"].as_str()),
        (Some("m1"), Some("name-m1"))
    );
    assert_eq!(m["profileImageUrl"], "https://img.test/m1.png");
    assert_eq!(m["type"], "text");
    assert_eq!(m["data"], json!({"k": "v"}));
    assert_eq!(m["mentions"], json!(["m2"]));
    assert_eq!(m["fileUrl"], "https://cdn.test/a.png");
    assert_eq!(
        (
            &m["parentMessageId"],
            &m["parentMessage"],
            &m["reactions"],
            &m["translations"]
        ),
        (&json!(""), &json!({}), &json!({}), &json!({}))
    );
    let created_at = m["createdAt"].as_i64().unwrap();
    assert!((now_ms() - created_at).abs() < 60_000);

    // A reply shows its parent as it is now, without the parent's own parent.
    let reply = send(
        &app,
        "c1",
        json!({"senderId": "m2", "text": "re", "parentMessageId": first_id}),
    )
    .await;
    let reply_id = sent(&reply);
    let parent = &reply.body["message"]["parentMessage"];
    assert_eq!(reply.body["message"]["parentMessageId"], first_id.as_str());
    assert_eq!(parent["id"], first_id.as_str());
    assert_eq!(parent["username"], "name-m1");
    assert_eq!(parent["parentMessage"], json!({}));
    assert_eq!(parent["text"], "hello");

    // Views, the history and lastMessage show current profiles.
    let r = app
        .route(
            "users-update",
            Method::PUT,
            "/v1.4/api/users/m1",
            Some(json!({"username": "Renamed"})),
        )
        .await;
    assert_eq!(r.status, 200);
    let v = view(&app, "c1", &reply_id).await;
    assert_eq!(v.status, 200, "{}", v.body);
    assert_eq!(v.body["message"]["parentMessage"]["username"], "Renamed");
    let singular = app
        .route(
            "channels-message-get",
            Method::GET,
            &format!("/v1.4/api/channels/c1/message/{first_id}"),
            None,
        )
        .await;
    assert_eq!(singular.body["message"]["username"], "Renamed");
    let channel = app.view_channel("c1").await.body["channel"].clone();
    assert_eq!(channel["lastMessage"]["id"], reply_id.as_str());
    assert_eq!(
        channel["lastMessage"]["parentMessage"]["username"],
        "Renamed"
    );
    let member = |id: &str| {
        channel["members"]
            .as_array()
            .unwrap()
            .iter()
            .find(|m| m["id"] == id)
            .cloned()
            .unwrap()
    };
    assert!(member("m1")["lastSentAt"].as_i64().unwrap() >= created_at);
    assert_eq!(member("m3")["lastSentAt"], 0);
    let listed = app
        .route(
            "users-channels",
            Method::GET,
            "/v1.4/api/users/m3/channels",
            None,
        )
        .await;
    assert_eq!(
        listed.body["channels"][0]["lastMessage"]["id"],
        reply_id.as_str()
    );

    // The parent deleted: the reply keeps its id, and shows `{}`.
    assert_eq!(delete(&app, "c1", &first_id).await.status, 200);
    let v = view(&app, "c1", &reply_id).await;
    assert_eq!(v.body["message"]["parentMessageId"], first_id.as_str());
    assert_eq!(v.body["message"]["parentMessage"], json!({}));
    view(&app, "c1", &first_id).await.assert_error(404, "4003");
    delete(&app, "c1", &first_id)
        .await
        .assert_error(404, "4003");
    view(&app, "nope", &first_id)
        .await
        .assert_error(404, "2003");
    view(&app, "c1", "not-a-ulid")
        .await
        .assert_error(400, "1001");
    view(&app, "c1", &first_id.to_lowercase())
        .await
        .assert_error(400, "1001");
    delete(&app, "nope", &reply_id)
        .await
        .assert_error(404, "2003");

    // A deleted author shows "".
    assert_eq!(
        app.route("users-delete", Method::DELETE, "/v1.4/api/users/m2", None)
            .await
            .status,
        200
    );
    let v = view(&app, "c1", &reply_id).await;
    assert_eq!(v.body["message"]["userId"], "m2");
    assert_eq!(v.body["message"]["username"], "");
}

#[tokio::test]
async fn bots_send_as_themselves() {
    let app = TestApp::new().await;
    setup(&app).await;
    let create = app
        .route(
            "bots-create",
            Method::POST,
            "/v1.4/api/bots/create",
            Some(
                json!({"id": "b1", "name": "Helper", "profileImageUrl": "https://img.test/b1.png"}),
            ),
        )
        .await;
    assert_eq!(create.status, 200);
    bot_send(&app, "ghost", "c1", json!({"text": "x"}))
        .await
        .assert_error(404, "7001");
    bot_send(&app, "b1", "c1", json!({"text": "x"}))
        .await
        .assert_error(403, "4000");
    post_admin(
        &app,
        "bots-join",
        "/v1.4/api/bots/b1/channels/c1/join",
        None,
    )
    .await;
    bot_send(&app, "b1", "nope", json!({"text": "x"}))
        .await
        .assert_error(404, "2003");
    bot_send(&app, "b1", "c1", json!({"type": "text", "text": "x"}))
        .await
        .assert_error(400, "1001");
    bot_send(&app, "b1", "c1", json!({}))
        .await
        .assert_error(400, "4002");
    let r = bot_send(
        &app,
        "b1",
        "c1",
        json!({"text": "How can I help?", "data": {"a": "b"}}),
    )
    .await;
    let id = sent(&r);
    let m = &r.body["message"];
    assert_eq!(
        (m["userId"].as_str(), m["type"].as_str()),
        (Some("b1"), Some("bot"))
    );
    assert_eq!(m["username"], "Helper");
    assert_eq!(m["profileImageUrl"], "https://img.test/b1.png");
    let hidden = bot_send(
        &app,
        "b1",
        "c1",
        json!({"type": "bot_hidden", "text": "psst"}),
    )
    .await;
    assert_eq!(hidden.body["message"]["type"], "bot_hidden");

    let r = app
        .route(
            "bots-update",
            Method::PUT,
            "/v1.4/api/bots/b1",
            Some(json!({"name": "Support"})),
        )
        .await;
    assert_eq!(r.status, 200);
    assert_eq!(
        view(&app, "c1", &id).await.body["message"]["username"],
        "Support"
    );
    // A user may reply to the bot; the parent's author is the bot.
    let reply = send(
        &app,
        "c1",
        json!({"senderId": "m1", "text": "thanks", "parentMessageId": id}),
    )
    .await;
    assert_eq!(
        reply.body["message"]["parentMessage"]["username"],
        "Support"
    );

    post_admin(
        &app,
        "channels-freeze",
        "/v1.4/api/channels/c1/freeze",
        None,
    )
    .await;
    bot_send(&app, "b1", "c1", json!({"text": "x"}))
        .await
        .assert_error(403, "2025");
    post_admin(
        &app,
        "channels-unfreeze",
        "/v1.4/api/channels/c1/unfreeze",
        None,
    )
    .await;
    post_admin(
        &app,
        "bots-leave",
        "/v1.4/api/bots/b1/channels/c1/leave",
        None,
    )
    .await;
    bot_send(&app, "b1", "c1", json!({"text": "x"}))
        .await
        .assert_error(403, "4000");
}

/// Stores messages straight through the store, `per_ms` of them in each millisecond from
/// `start`, so that many share a timestamp. Returns their ids in id order.
async fn seed(
    app: &TestApp,
    channel: &str,
    count: usize,
    per_ms: usize,
    start: i64,
) -> Vec<String> {
    let mut ids = Vec::new();
    for i in 0..count {
        let at = start + (i / per_ms) as i64;
        let random = u128::from_str_radix(&shared::secrets::random_hex(10), 16).unwrap();
        let id = ulid::Ulid::from_parts(at as u64, random).to_string();
        let m = Message {
            id: id.clone(),
            channel_id: channel.to_owned(),
            user_id: String::new(),
            message_type: MessageType::Admin,
            text: format!("seeded {i}"),
            data: Default::default(),
            file_url: String::new(),
            mentions: Vec::new(),
            parent: None,
            reactions: Default::default(),
            created_at: at,
        };
        app.store()
            .send_message(&app.app_id, &m, &SenderGuard::Channel, None, true, now_ms())
            .await
            .expect("store a message")
            .expect("the channel exists");
        ids.push(id);
    }
    ids.sort();
    app.calls.take();
    ids
}

/// Pages through the whole history with `limit` per page in `order`.
async fn walk(app: &TestApp, channel: &str, order: &str, limit: usize) -> Vec<String> {
    let mut all = Vec::new();
    let mut cursor = String::new();
    loop {
        let r = history(
            app,
            channel,
            &format!("?order={order}&limit={limit}&lastMessageId={cursor}"),
        )
        .await;
        let page = ids(&r);
        assert!(page.len() <= limit);
        let has_next = r.body["hasNext"].as_bool().unwrap();
        all.extend(page.iter().cloned());
        if !has_next {
            return all;
        }
        assert_eq!(page.len(), limit, "a page that is not the last is full");
        cursor = page.last().unwrap().clone();
    }
}

#[tokio::test]
async fn history_pages_both_ways_with_equal_timestamps() {
    let app = TestApp::new().await;
    setup(&app).await;
    // 45 messages, five to a millisecond.
    let seeded = seed(&app, "c1", 45, 5, 1_700_000_000_000).await;

    let latest = walk(&app, "c1", "latest", 7).await;
    let mut newest_first = seeded.clone();
    newest_first.reverse();
    assert_eq!(latest, newest_first);
    assert_eq!(walk(&app, "c1", "oldest", 7).await, seeded);
    assert_eq!(walk(&app, "c1", "oldest", 45).await, seeded);

    // Default: the newest 20, newest first.
    let r = history(&app, "c1", "").await;
    assert_eq!(ids(&r), newest_first[..20]);
    assert_eq!(r.body["hasNext"], true);
    // A cursor inside a millisecond: exactly the ones on its side, itself excluded.
    let cursor = &seeded[22];
    let r = history(&app, "c1", &format!("?lastMessageId={cursor}&limit=50")).await;
    assert_eq!(ids(&r), newest_first[23..]);
    assert_eq!(r.body["hasNext"], false);
    let r = history(
        &app,
        "c1",
        &format!("?order=oldest&lastMessageId={cursor}&limit=50"),
    )
    .await;
    assert_eq!(ids(&r), seeded[23..]);
    // The cursor message deleted: the cursor still works.
    assert_eq!(delete(&app, "c1", cursor).await.status, 200);
    let r = history(
        &app,
        "c1",
        &format!("?order=oldest&lastMessageId={cursor}&limit=3"),
    )
    .await;
    assert_eq!(ids(&r), seeded[23..26]);
    let r = history(&app, "c1", "?limit=50").await;
    assert_eq!(ids(&r).len(), 44);

    for bad in [
        "?limit=0",
        "?limit=51",
        "?limit=x",
        "?order=newest",
        "?lastMessageId=abc",
    ] {
        history(&app, "c1", bad).await.assert_error(400, "1001");
    }
    history(&app, "nope", "").await.assert_error(404, "2003");
    let empty = history(&app, "c2-none", "").await;
    empty.assert_error(404, "2003");
    app.create_channel(json!({"channelId": "quiet", "type": "public", "members": []}))
        .await;
    let r = history(&app, "quiet", "").await;
    assert_eq!((ids(&r).len(), &r.body["hasNext"]), (0, &json!(false)));
}

#[tokio::test]
async fn twenty_concurrent_senders_lose_nothing() {
    let app = TestApp::new().await;
    let users: Vec<String> = (0..20).map(|i| format!("s{i:02}")).collect();
    app.add_users(&users).await;
    app.create_channel(
        json!({"channelId": "busy", "type": "public", "ownerId": "s00", "members": users}),
    )
    .await;
    let replies = futures::future::join_all(users.iter().map(|u| {
        let app = &app;
        async move {
            send(
                app,
                "busy",
                json!({"senderId": u, "text": format!("from {u}")}),
            )
            .await
        }
    }))
    .await;
    let mut sent_ids: Vec<String> = replies.iter().map(sent).collect();
    sent_ids.sort();
    sent_ids.dedup();
    assert_eq!(sent_ids.len(), 20);
    let mut listed = ids(&history(&app, "busy", "?limit=50").await);
    listed.sort();
    assert_eq!(listed, sent_ids, "every message stored once");
    assert_eq!(
        last_message_id(&app, "busy").await,
        json!(sent_ids.last().unwrap()),
        "lastMessage is the newest"
    );
    let channel = app.view_channel("busy").await.body["channel"].clone();
    for m in channel["members"].as_array().unwrap() {
        assert!(m["lastSentAt"].as_i64().unwrap() > 0, "{m}");
    }
    assert_eq!(app.check_channels().await.messages["busy"], 20);
}

#[tokio::test]
async fn deletes_racing_a_send_never_leave_a_deleted_last_message() {
    let app = TestApp::new().await;
    setup(&app).await;
    for round in 0..5 {
        let a = sent(
            &send(
                &app,
                "c1",
                json!({"senderId": "m1", "text": format!("a{round}")}),
            )
            .await,
        );
        let b = sent(
            &send(
                &app,
                "c1",
                json!({"senderId": "m2", "text": format!("b{round}")}),
            )
            .await,
        );
        assert_eq!(last_message_id(&app, "c1").await, json!(b));
        // Two deletes of the newest and a send, at once.
        let (d1, d2, s) = tokio::join!(
            delete(&app, "c1", &b),
            delete(&app, "c1", &b),
            send(
                &app,
                "c1",
                json!({"senderId": "m3", "text": format!("c{round}")})
            ),
        );
        let mut statuses = [d1.status, d2.status];
        statuses.sort();
        assert_eq!(statuses, [200, 404], "exactly one delete applies");
        let c = sent(&s);
        assert_eq!(last_message_id(&app, "c1").await, json!(c));
        // The newest deleted: lastMessage moves back to the newest left.
        assert_eq!(delete(&app, "c1", &c).await.status, 200);
        assert_eq!(last_message_id(&app, "c1").await, json!(a));
    }
}

#[tokio::test]
async fn an_idempotency_key_gives_one_message() {
    let app = TestApp::new().await;
    setup(&app).await;
    let body = json!({"senderId": "m1", "text": "once"});
    let first = sent(&send_keyed(&app, "c1", "key-1", body.clone()).await);
    let again = sent(&send_keyed(&app, "c1", "key-1", body.clone()).await);
    assert_eq!(first, again, "the repeat answers the first message");
    assert_eq!(
        ids(&history(&app, "c1", "").await),
        std::slice::from_ref(&first)
    );
    // The same key with another body or channel: 1001, nothing written.
    send_keyed(
        &app,
        "c1",
        "key-1",
        json!({"senderId": "m1", "text": "other"}),
    )
    .await
    .assert_error(400, "1001");
    app.create_channel(
        json!({"channelId": "c2", "type": "public", "ownerId": "m1", "members": []}),
    )
    .await;
    send_keyed(&app, "c2", "key-1", body.clone())
        .await
        .assert_error(400, "1001");
    // Another key is another message.
    let other = sent(&send_keyed(&app, "c1", "key-2", body.clone()).await);
    assert_ne!(other, first);

    // Concurrent requests with one key: one message, the same answer to both.
    for round in 0..5 {
        let key = format!("race-{round}");
        let body = json!({"senderId": "m2", "text": format!("race {round}")});
        let replies =
            futures::future::join_all((0..4).map(|_| send_keyed(&app, "c1", &key, body.clone())))
                .await;
        let answered: BTreeSet<String> = replies.iter().map(sent).collect();
        assert_eq!(answered.len(), 1, "{answered:?}");
    }
    assert_eq!(app.check_channels().await.messages["c1"], 2 + 5);

    // A record past its 24 hours is not obeyed (TTL removal lags).
    let key_digest = Idempotency::from_request(Some("key-1"), "", "", b"")
        .unwrap()
        .unwrap()
        .key_digest;
    app.store()
        .client()
        .update_item()
        .table_name(app.store().table())
        .key(
            "pk",
            aws_sdk_dynamodb::types::AttributeValue::S(shared::store::keys::idempotency_pk(
                &app.app_id,
                &key_digest,
            )),
        )
        .key(
            "sk",
            aws_sdk_dynamodb::types::AttributeValue::S(shared::store::keys::IDEMPOTENCY_SK.into()),
        )
        .update_expression("SET #t = :past")
        .expression_attribute_names("#t", "ttl")
        .expression_attribute_values(
            ":past",
            aws_sdk_dynamodb::types::AttributeValue::N((now_ms() / 1000 - 1).to_string()),
        )
        .send()
        .await
        .unwrap();
    let fresh = sent(&send_keyed(&app, "c1", "key-1", body.clone()).await);
    assert_ne!(fresh, first);

    // A key's message deleted: the repeat says so rather than sending again.
    assert_eq!(delete(&app, "c1", &fresh).await.status, 200);
    send_keyed(&app, "c1", "key-1", body.clone())
        .await
        .assert_error(404, "4003");

    // Bot sends take keys too; a malformed key is 1001.
    app.route(
        "bots-create",
        Method::POST,
        "/v1.4/api/bots/create",
        Some(json!({"id": "b1"})),
    )
    .await;
    post_admin(
        &app,
        "bots-join",
        "/v1.4/api/bots/b1/channels/c1/join",
        None,
    )
    .await;
    let keyed_bot = |key: &str| {
        let mut req = app.request(
            Method::POST,
            "/v1.4/api/bots/b1/channels/c1/send",
            Some(json!({"text": "beep"})),
        );
        req.headers_mut()
            .insert("idempotency-key", HeaderValue::from_str(key).unwrap());
        app.call_function("bots-send", req)
    };
    let b1 = sent(&keyed_bot("bot-key").await);
    assert_eq!(sent(&keyed_bot("bot-key").await), b1);
    keyed_bot(&"k".repeat(256)).await.assert_error(400, "1001");
}

#[tokio::test]
async fn a_send_commits_only_while_its_guard_holds() {
    let app = TestApp::new().await;
    setup(&app).await;
    let store = app.store();
    let message = |id: &str| Message {
        id: id.to_owned(),
        channel_id: "c1".into(),
        user_id: "m1".into(),
        message_type: MessageType::Text,
        text: "x".into(),
        data: Default::default(),
        file_url: String::new(),
        mentions: Vec::new(),
        parent: None,
        reactions: Default::default(),
        created_at: now_ms(),
    };
    let member = |user: &str, mute_applies| SenderGuard::Member {
        sort_key: shared::store::keys::member_sk(shared::model::ChannelType::Private, user),
        mute_applies,
        peer_mutes_seen: 0,
    };
    let id = |n: u128| ulid::Ulid::from_parts(now_ms() as u64, n).to_string();
    // The decision was made on a read; the write still refuses what changed since.
    let refused = store
        .send_message(
            &app.app_id,
            &message(&id(1)),
            &member("outsider", true),
            None,
            true,
            now_ms(),
        )
        .await
        .unwrap();
    assert_eq!(refused, Err(SendRefusal::Sender));
    post_admin(
        &app,
        "channels-members-mute",
        "/v1.4/api/channels/c1/members/mute",
        Some(json!({"members": ["m1"], "expireInMinutes": 5})),
    )
    .await;
    let refused = store
        .send_message(
            &app.app_id,
            &message(&id(2)),
            &member("m1", true),
            None,
            true,
            now_ms(),
        )
        .await
        .unwrap();
    assert_eq!(refused, Err(SendRefusal::Sender), "muted at commit");
    store
        .send_message(
            &app.app_id,
            &message(&id(3)),
            &member("m1", false),
            None,
            true,
            now_ms(),
        )
        .await
        .unwrap()
        .expect("an admin message is not held by a mute");
    // A mute that has ended does not hold a send back.
    let later = now_ms() + 6 * 60 * 1000;
    store
        .send_message(
            &app.app_id,
            &message(&id(4)),
            &member("m1", true),
            None,
            true,
            later,
        )
        .await
        .unwrap()
        .expect("the mute has ended by then");
    assert_eq!(
        store
            .send_message(
                &app.app_id,
                &message(&id(5)),
                &SenderGuard::Bot("b9".into()),
                None,
                true,
                now_ms()
            )
            .await
            .unwrap(),
        Err(SendRefusal::Sender)
    );
    // Nothing of the refused sends was written.
    assert_eq!(app.check_channels().await.messages["c1"], 2);
}

#[tokio::test]
async fn a_deleted_channel_takes_its_messages_and_refuses_new_ones() {
    let app = TestApp::new().await;
    setup(&app).await;
    seed(&app, "c1", 120, 3, now_ms()).await;
    let mid = sent(&send(&app, "c1", json!({"senderId": "m1", "text": "last"})).await);
    let r = app
        .route(
            "channels-delete",
            Method::DELETE,
            "/v1.4/api/channels/c1",
            None,
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let census = app.check_channels().await;
    assert!(census.messages.is_empty(), "{census:?}");
    assert!(census.deleting.is_empty(), "{census:?}");
    // A send that read the channel before its delete cannot land behind the sweep: its guard
    // (the membership, or for the app the channel item) is gone.
    let late = Message {
        id: ulid::Ulid::from_parts(now_ms() as u64, 7).to_string(),
        channel_id: "c1".into(),
        user_id: String::new(),
        message_type: MessageType::Admin,
        text: "late".into(),
        data: Default::default(),
        file_url: String::new(),
        mentions: Vec::new(),
        parent: None,
        reactions: Default::default(),
        created_at: now_ms(),
    };
    for guard in [
        SenderGuard::Channel,
        SenderGuard::Member {
            sort_key: shared::store::keys::member_sk(shared::model::ChannelType::Private, "m1"),
            mute_applies: true,
            peer_mutes_seen: 0,
        },
    ] {
        let r = app
            .store()
            .send_message(&app.app_id, &late, &guard, None, true, now_ms())
            .await
            .unwrap();
        assert_eq!(r, Err(SendRefusal::Sender), "{guard:?}");
    }
    view(&app, "c1", &mid).await.assert_error(404, "2003");
    send(&app, "c1", json!({"senderId": "m1", "text": "x"}))
        .await
        .assert_error(404, "2003");
    assert!(app.check_channels().await.messages.is_empty());
}

#[tokio::test]
async fn super_channel_members_send_and_their_last_sent_at_moves() {
    let app = TestApp::new().await;
    app.add_users(&["o", "a"]).await;
    app.create_channel(
        json!({"channelId": "big", "type": "super_public", "ownerId": "o", "members": ["a"]}),
    )
    .await;
    let id = sent(
        &send(
            &app,
            "big",
            json!({"senderId": "a", "text": "hi", "mentions": ["o"]}),
        )
        .await,
    );
    assert_eq!(last_message_id(&app, "big").await, json!(id));
    let r = app
        .route(
            "channels-member",
            Method::GET,
            "/v1.4/api/channels/big/members/a",
            None,
        )
        .await;
    assert!(
        r.body["member"]["lastSentAt"].as_i64().unwrap() > 0,
        "{}",
        r.body
    );
}

#[tokio::test]
async fn round_trips_of_each_operation() {
    let app = TestApp::with_auth_cache(std::time::Duration::from_secs(60)).await;
    setup(&app).await;
    sent(&send(&app, "c1", json!({"senderId": "m1", "text": "warm"})).await);
    app.calls.take();
    let sorted = |mut v: Vec<String>| {
        v.sort();
        v
    };

    // Send: one batch read, one transaction.
    let first = sent(
        &send(
            &app,
            "c1",
            json!({"senderId": "m1", "text": "x", "mentions": ["m2"]}),
        )
        .await,
    );
    assert_eq!(app.calls.take(), ["BatchGetItem", "TransactWriteItems"]);
    // A reply: the parent's author is read beside the write.
    sent(
        &send(
            &app,
            "c1",
            json!({"senderId": "m2", "text": "re", "parentMessageId": first}),
        )
        .await,
    );
    let calls = app.calls.take();
    assert_eq!(calls[0], "BatchGetItem");
    assert_eq!(
        sorted(calls[1..].to_vec()),
        ["BatchGetItem", "TransactWriteItems"]
    );

    // History: the page beside the channel item, then one batch of profiles and parents.
    assert_eq!(ids(&history(&app, "c1", "").await).len(), 3);
    let calls = app.calls.take();
    assert_eq!(sorted(calls[..2].to_vec()), ["GetItem", "Query"]);
    assert_eq!(calls[2..], ["BatchGetItem"]);

    // View: channel and message in one batch, then the profiles.
    assert_eq!(view(&app, "c1", &first).await.status, 200);
    assert_eq!(app.calls.take(), ["BatchGetItem", "BatchGetItem"]);

    // Delete: the delete beside the channel item.
    assert_eq!(delete(&app, "c1", &first).await.status, 200);
    assert_eq!(sorted(app.calls.take()), ["DeleteItem", "GetItem"]);

    // Member reads show members, not the channel object: no read of its newest message.
    let r = app
        .route(
            "channels-members",
            Method::GET,
            "/v1.4/api/channels/c1/members",
            None,
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(sorted(app.calls.take()), ["BatchGetItem", "Query", "Query"]);
    let r = app
        .route(
            "channels-member",
            Method::GET,
            "/v1.4/api/channels/c1/members/m1",
            None,
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(sorted(app.calls.take()), ["BatchGetItem", "Query", "Query"]);
}
