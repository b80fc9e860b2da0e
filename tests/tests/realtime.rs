//! The SDKs' WebSocket (client-protocol.md §4) through the dev gateway and the fan-out code
//! the functions run, over the engine's change stream: who gets which event in which frame,
//! replay after a reconnect, the auth frame, pings, and dead connections.

use std::time::Duration;

use lambda_http::http::Method;
use serde_json::{Value, json};
use talkplus_tests::TestApp;
use talkplus_tests::client::{SdkClient, Transport, logged_in_users};
use talkplus_tests::realtime::{Realtime, WsClient};

const QUIET: Duration = Duration::from_millis(300);

async fn ok(c: &SdkClient<'_>, method: Method, path: &str, body: Value) -> Value {
    c.call(method, path, Some(body))
        .await
        .unwrap_or_else(|code| panic!("{path}: {code}"))
}

/// Every frame `ws` gets until it goes quiet, as event names.
async fn kinds(ws: &mut WsClient) -> Vec<String> {
    ws.drain(QUIET)
        .await
        .iter()
        .map(|f| f["type"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn every_event_reaches_the_members_in_its_documented_frame_and_no_one_else() {
    let app = TestApp::new().await;
    let t = Transport::InProcess(&app);
    let mut rt = Realtime::start(&app).await;
    let users = logged_in_users(&t, &["alice", "bob", "carol"]).await;
    let (alice, bob, carol) = (&users[0], &users[1], &users[2]);
    let mut a = rt.connect_as(alice, None).await;
    let mut b = rt.connect_as(bob, None).await;
    let mut c = rt.connect_as(carol, None).await;
    // Another app's user in the same table hears nothing of this one.
    let other = TestApp::new().await;
    let ot = Transport::InProcess(&other);
    let mut rt_other = Realtime::start(&other).await;
    let others = logged_in_users(&ot, &["alice"]).await;
    let mut o = rt_other.connect_as(&others[0], None).await;

    let id = format!("rt-{}", shared::secrets::random_hex(4));
    let path = format!("channels/{id}");
    ok(
        alice,
        Method::POST,
        "channels/create",
        json!({"channelId": id, "name": "Chat", "type": "private", "ownerId": alice.user_id, "members": [bob.user_id]}),
    )
    .await;
    rt.fan_out().await;
    for ws in [&mut a, &mut b] {
        let f = ws.expect("channelAdded").await;
        // The frame: uid, type at the top and inside data, a timestamp in ms, the channel.
        assert_eq!(f["uid"].as_str().map(str::len), Some(24), "{f}");
        assert_eq!(f["data"]["type"], "channelAdded");
        assert!(f["timestamp"].as_i64().unwrap() > 1_600_000_000_000);
        assert_eq!(f["data"]["channel"]["id"], id.as_str());
        assert_eq!(f["data"]["channel"]["members"].as_array().unwrap().len(), 2);
    }
    assert_eq!(kinds(&mut c).await, Vec::<String>::new(), "not a member");

    let sent = ok(
        bob,
        Method::POST,
        &format!("{path}/messages/send"),
        json!({"type": "text", "text": "hello"}),
    )
    .await;
    let message_id = sent["message"]["id"].as_str().unwrap().to_owned();
    rt.fan_out().await;
    for ws in [&mut a, &mut b] {
        let f = ws.expect("message").await;
        assert_eq!(f["data"]["message"]["id"], message_id.as_str());
        assert_eq!(f["data"]["message"]["text"], "hello");
        assert_eq!(f["data"]["message"]["userId"], bob.user_id.as_str());
        assert_eq!(f["data"]["channel"]["id"], id.as_str());
        assert_eq!(
            f["data"]["channel"]["lastMessage"]["id"],
            message_id.as_str()
        );
    }

    let msg_path = format!("{path}/messages/{message_id}");
    ok(
        bob,
        Method::PUT,
        &msg_path,
        json!({"text": "hello, edited"}),
    )
    .await;
    rt.fan_out().await;
    for ws in [&mut a, &mut b] {
        let f = ws.expect("messageUpdated").await;
        assert_eq!(f["data"]["message"]["text"], "hello, edited");
    }
    ok(
        alice,
        Method::POST,
        &format!("{msg_path}/reactions"),
        json!({"reaction": "like"}),
    )
    .await;
    rt.fan_out().await;
    for ws in [&mut a, &mut b] {
        let f = ws.expect("reactionUpdated").await;
        assert_eq!(
            f["data"]["message"]["reactions"],
            json!({"like": [alice.user_id]})
        );
    }
    ok(alice, Method::PUT, &path, json!({"name": "Renamed"})).await;
    rt.fan_out().await;
    for ws in [&mut a, &mut b] {
        let f = ws.expect("channelChanged").await;
        assert_eq!(f["data"]["channel"]["name"], "Renamed");
    }

    // Carol is added: she gets the channel, the others the new member.
    ok(
        alice,
        Method::POST,
        &format!("{path}/members/add"),
        json!({"members": [carol.user_id]}),
    )
    .await;
    rt.fan_out().await;
    let f = c.expect("channelAdded").await;
    assert_eq!(f["data"]["channel"]["id"], id.as_str());
    for ws in [&mut a, &mut b] {
        let f = ws.expect("memberAdded").await;
        assert_eq!(f["data"]["users"][0]["id"], carol.user_id.as_str());
    }
    ok(
        alice,
        Method::POST,
        &format!("{path}/members/mute"),
        json!({"members": [carol.user_id], "expireInMinutes": 0}),
    )
    .await;
    ok(
        alice,
        Method::POST,
        &format!("{path}/members/unmute"),
        json!({"members": [carol.user_id]}),
    )
    .await;
    rt.fan_out().await;
    for ws in [&mut a, &mut b, &mut c] {
        let f = ws.expect("memberMuted").await;
        assert_eq!(f["data"]["users"][0]["id"], carol.user_id.as_str());
        ws.expect("memberUnmuted").await;
    }
    // A ban is `memberBanned` (not `memberLeft`), to the banned user too; so is the unban.
    ok(
        alice,
        Method::POST,
        &format!("{path}/members/ban"),
        json!({"members": [carol.user_id]}),
    )
    .await;
    rt.fan_out().await;
    for ws in [&mut a, &mut b, &mut c] {
        let f = ws.expect("memberBanned").await;
        assert_eq!(f["data"]["users"][0]["id"], carol.user_id.as_str());
        assert_eq!(kinds(ws).await, Vec::<String>::new());
    }
    ok(
        alice,
        Method::POST,
        &format!("{path}/members/unban"),
        json!({"members": [carol.user_id]}),
    )
    .await;
    rt.fan_out().await;
    for ws in [&mut a, &mut b, &mut c] {
        ws.expect("memberUnbanned").await;
    }
    // Carol is out: the channel's messages no longer reach her.
    ok(
        bob,
        Method::POST,
        &format!("{path}/messages/send"),
        json!({"type": "text", "text": "without carol"}),
    )
    .await;
    rt.fan_out().await;
    assert_eq!(kinds(&mut c).await, Vec::<String>::new());
    for ws in [&mut a, &mut b] {
        ws.expect("message").await;
    }
    let r = bob.call(Method::DELETE, &msg_path, None).await;
    assert!(r.is_ok(), "{r:?}");
    rt.fan_out().await;
    for ws in [&mut a, &mut b] {
        let f = ws.expect("messageDeleted").await;
        assert_eq!(f["data"]["message"]["id"], message_id.as_str());
    }
    ok(bob, Method::POST, &format!("{path}/leave"), json!({})).await;
    rt.fan_out().await;
    for ws in [&mut a, &mut b] {
        let f = ws.expect("memberLeft").await;
        assert_eq!(f["data"]["users"][0]["id"], bob.user_id.as_str());
    }
    let r = alice.call(Method::DELETE, &path, None).await;
    assert!(r.is_ok(), "{r:?}");
    // A small channel's memberships are swept within its delete: each member hears of it
    // as theirs goes.
    let mut removed = Vec::new();
    for _ in 0..20 {
        rt.fan_out().await;
        removed.extend(a.drain(Duration::from_millis(100)).await);
        if !removed.is_empty() {
            break;
        }
    }
    assert_eq!(removed.len(), 1, "{removed:?}");
    assert_eq!(removed[0]["type"], "channelRemoved");
    assert_eq!(removed[0]["data"]["channel"]["id"], id.as_str());
    assert_eq!(kinds(&mut b).await, Vec::<String>::new(), "bob had left");

    rt_other.fan_out().await;
    assert_eq!(
        kinds(&mut o).await,
        Vec::<String>::new(),
        "another app's user"
    );
    assert_eq!(kinds(&mut c).await, Vec::<String>::new());
}

#[tokio::test]
async fn a_broadcast_channel_shows_a_member_message_to_its_author_and_the_owner_only() {
    let app = TestApp::new().await;
    let t = Transport::InProcess(&app);
    let mut rt = Realtime::start(&app).await;
    let users = logged_in_users(&t, &["owner", "m1", "m2"]).await;
    let (owner, m1, m2) = (&users[0], &users[1], &users[2]);
    let id = format!("bc-{}", shared::secrets::random_hex(4));
    let path = format!("channels/{id}");
    ok(
        owner,
        Method::POST,
        "channels/create",
        json!({"channelId": id, "type": "broadcast", "ownerId": owner.user_id, "members": [m1.user_id, m2.user_id]}),
    )
    .await;
    rt.fan_out().await;
    let mut sockets = Vec::new();
    for u in &users {
        sockets.push(rt.connect_as(u, None).await);
    }
    ok(
        m1,
        Method::POST,
        &format!("{path}/messages/send"),
        json!({"type": "text", "text": "to the owner"}),
    )
    .await;
    rt.fan_out().await;
    let got: Vec<Vec<String>> = {
        let mut v = Vec::new();
        for ws in sockets.iter_mut() {
            v.push(kinds(ws).await);
        }
        v
    };
    assert_eq!(
        got,
        [vec!["message"], vec!["message"], vec![]],
        "owner, m1, m2"
    );
    ok(
        owner,
        Method::POST,
        &format!("{path}/messages/send"),
        json!({"type": "text", "text": "to everyone"}),
    )
    .await;
    rt.fan_out().await;
    for ws in sockets.iter_mut() {
        let f = ws.expect("message").await;
        assert_eq!(f["data"]["message"]["text"], "to everyone");
    }
    let _ = m2;
}

#[tokio::test]
async fn a_reconnect_with_a_timestamp_replays_the_missed_events_in_order_then_live_ones() {
    let app = TestApp::new().await;
    let t = Transport::InProcess(&app);
    let mut rt = Realtime::start(&app).await;
    let users = logged_in_users(&t, &["alice", "bob"]).await;
    let (alice, bob) = (&users[0], &users[1]);
    let id = format!("rp-{}", shared::secrets::random_hex(4));
    let send = format!("channels/{id}/messages/send");
    ok(
        alice,
        Method::POST,
        "channels/create",
        json!({"channelId": id, "type": "private", "ownerId": alice.user_id, "members": [bob.user_id]}),
    )
    .await;
    let mut b = rt.connect_as(bob, None).await;
    rt.fan_out().await;
    let last = b.expect("channelAdded").await;
    let last_at = last["timestamp"].as_i64().unwrap();
    b.close().await;
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    while rt.live(&bob.user_id).await > 0 {
        assert!(
            std::time::Instant::now() < deadline,
            "$disconnect forgot it"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    // Missed while away.
    for text in ["one", "two", "three"] {
        ok(
            alice,
            Method::POST,
            &send,
            json!({"type": "text", "text": text}),
        )
        .await;
        rt.fan_out().await;
    }
    let mut b = rt.connect_as(bob, Some(last_at)).await;
    let mut replayed = b.drain(QUIET).await;
    // The event at the very millisecond given may come again: the SDK drops it by uid.
    replayed.retain(|f| f["uid"] != last["uid"]);
    let texts: Vec<&str> = replayed
        .iter()
        .map(|f| f["data"]["message"]["text"].as_str().unwrap_or("?"))
        .collect();
    assert_eq!(texts, ["one", "two", "three"], "{replayed:?}");
    let stamps: Vec<i64> = replayed
        .iter()
        .map(|f| f["timestamp"].as_i64().unwrap())
        .collect();
    assert!(stamps.windows(2).all(|w| w[0] <= w[1]), "{stamps:?}");
    ok(
        alice,
        Method::POST,
        &send,
        json!({"type": "text", "text": "live"}),
    )
    .await;
    rt.fan_out().await;
    let f = b.expect("message").await;
    assert_eq!(f["data"]["message"]["text"], "live");
    // A connect without a timestamp replays nothing.
    let mut fresh = rt.connect_as(bob, None).await;
    assert_eq!(kinds(&mut fresh).await, Vec::<String>::new());
}

#[tokio::test]
async fn the_first_frame_authenticates_pings_are_answered_and_a_bad_auth_closes() {
    let app = TestApp::new().await;
    let t = Transport::InProcess(&app);
    let rt = Realtime::start(&app).await;
    let users = logged_in_users(&t, &["alice"]).await;
    let alice = &users[0];
    // Frames before a valid auth frame get nothing, and the socket stays.
    let mut ws = WsClient::connect(&rt.url, None).await;
    ws.text("hello").await;
    ws.text("{\"ping\":1}").await;
    assert!(ws.next(QUIET).await.is_none());
    assert!(ws.ping().await, "a ping is answered");
    assert_eq!(rt.live(&alice.user_id).await, 0);
    // A token of the wrong session, a forged token, another app: each closes the socket.
    for (app_id, session, token) in [
        (
            rt.app_id.as_str(),
            "another-session",
            alice.session_token.as_str(),
        ),
        (
            rt.app_id.as_str(),
            alice.session_id.as_str(),
            "e30.e30.forged",
        ),
        (
            "no-such-app",
            alice.session_id.as_str(),
            alice.session_token.as_str(),
        ),
    ] {
        let mut ws = WsClient::connect(&rt.url, None).await;
        ws.auth(app_id, session, token).await;
        assert!(
            ws.closed(Duration::from_secs(5)).await,
            "{app_id} {session} {token}"
        );
    }
    assert_eq!(rt.live(&alice.user_id).await, 0);
    let mut ws = rt.connect_as(alice, None).await;
    assert!(ws.ping().await);
    // After logout the session is gone: a new socket with it is refused.
    ok(alice, Method::POST, "users/logout", json!({})).await;
    let mut again = WsClient::connect(&rt.url, None).await;
    again
        .auth(&rt.app_id, &alice.session_id, &alice.session_token)
        .await;
    assert!(again.closed(Duration::from_secs(5)).await);
}

#[tokio::test]
async fn a_dead_connection_is_forgotten_when_a_post_finds_it_gone() {
    let app = TestApp::new().await;
    let t = Transport::InProcess(&app);
    let mut rt = Realtime::start(&app).await;
    let users = logged_in_users(&t, &["alice", "bob"]).await;
    let (alice, bob) = (&users[0], &users[1]);
    let mut b = rt.connect_as(bob, None).await;
    // A connection whose $disconnect never ran: listed, but unknown to the gateway.
    let now = shared::model::now_ms();
    rt.store
        .open_connection("dead-connection", None, now, now / 1000 + 60)
        .await
        .unwrap();
    assert!(
        rt.store
            .authenticate_connection(
                "dead-connection",
                &rt.app_id,
                &bob.user_id,
                "s",
                now / 1000 + 60
            )
            .await
            .unwrap()
    );
    assert_eq!(rt.live(&bob.user_id).await, 2);
    let id = format!("dc-{}", shared::secrets::random_hex(4));
    ok(
        alice,
        Method::POST,
        "channels/create",
        json!({"channelId": id, "type": "private", "ownerId": alice.user_id, "members": [bob.user_id]}),
    )
    .await;
    let fanned = rt.fan_out().await;
    assert_eq!((fanned.posts, fanned.gone), (1, 1), "{fanned:?}");
    b.expect("channelAdded").await;
    assert_eq!(rt.live(&bob.user_id).await, 1);
    assert!(
        rt.store
            .connection("dead-connection")
            .await
            .unwrap()
            .is_none()
    );
}

#[tokio::test]
async fn a_super_channel_tells_every_member_of_messages_and_only_the_user_of_member_events() {
    let app = TestApp::new().await;
    let t = Transport::InProcess(&app);
    let mut rt = Realtime::start(&app).await;
    let users = logged_in_users(&t, &["host", "fan1", "fan2"]).await;
    let (host, fan1, fan2) = (&users[0], &users[1], &users[2]);
    let id = format!("sp-{}", shared::secrets::random_hex(4));
    let path = format!("channels/{id}");
    ok(
        host,
        Method::POST,
        "channels/create",
        json!({"channelId": id, "type": "super_public", "ownerId": host.user_id, "members": [fan1.user_id]}),
    )
    .await;
    let mut h = rt.connect_as(host, None).await;
    let mut f1 = rt.connect_as(fan1, None).await;
    let mut f2 = rt.connect_as(fan2, None).await;
    rt.fan_out().await;
    for ws in [&mut h, &mut f1] {
        ws.expect("channelAdded").await;
    }
    ok(fan2, Method::POST, &format!("{path}/join"), json!({})).await;
    rt.fan_out().await;
    let f = f2.expect("channelAdded").await;
    assert_eq!(f["data"]["channel"]["members"], json!([]), "{f}");
    assert_eq!(
        kinds(&mut h).await,
        Vec::<String>::new(),
        "no memberAdded to the others"
    );
    assert_eq!(kinds(&mut f1).await, Vec::<String>::new());
    ok(
        host,
        Method::POST,
        &format!("{path}/messages/send"),
        json!({"type": "text", "text": "to the crowd"}),
    )
    .await;
    let fanned = rt.fan_out().await;
    assert_eq!(fanned.posts, 3, "{fanned:?}");
    for ws in [&mut h, &mut f1, &mut f2] {
        let f = ws.expect("message").await;
        assert_eq!(f["data"]["message"]["text"], "to the crowd");
    }
    ok(fan1, Method::POST, &format!("{path}/leave"), json!({})).await;
    rt.fan_out().await;
    f1.expect("memberLeft").await;
    assert_eq!(kinds(&mut h).await, Vec::<String>::new());
    assert_eq!(kinds(&mut f2).await, Vec::<String>::new());
}

/// A super channel's event goes out in chunks over the queue (each chunk queues the next),
/// and a chunk over the channel's send-rate cap waits for the next second instead of posting.
#[tokio::test]
async fn a_super_channel_fans_out_in_chunks_under_its_send_rate_cap() {
    use shared::realtime::chunks::{Chunk, ChunkOutcome};
    let app = TestApp::new().await;
    let t = Transport::InProcess(&app);
    let mut rt = Realtime::start(&app).await;
    // Two members a chunk, two posts a second.
    let chunker = rt.with_chunks(2, 2).await;
    let users = logged_in_users(&t, &["host", "f1", "f2", "f3", "f4"]).await;
    let id = format!("sc-{}", shared::secrets::random_hex(4));
    let ids: Vec<&str> = users.iter().map(|u| u.user_id.as_str()).collect();
    ok(
        &users[0],
        Method::POST,
        "channels/create",
        json!({"channelId": id, "type": "super_public", "ownerId": ids[0], "members": ids}),
    )
    .await;
    rt.fan_out().await;
    // channelAdded went out as chunks too; clear them before connecting.
    while !chunker.queue.receive(0).await.unwrap().is_empty() {}
    let mut sockets = Vec::new();
    for u in &users {
        sockets.push(rt.connect_as(u, None).await);
    }
    ok(
        &users[0],
        Method::POST,
        &format!("channels/{id}/messages/send"),
        json!({"type": "text", "text": "in chunks"}),
    )
    .await;
    let fanned = rt.fan_out().await;
    assert_eq!(
        fanned.posts, 0,
        "the dispatcher only queues the first chunk"
    );
    let (mut posted, mut deferred, mut chunks) = (0, 0, 0);
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while posted < users.len() {
        assert!(std::time::Instant::now() < deadline, "posted {posted}");
        for m in chunker.queue.receive(1).await.unwrap() {
            let chunk: Chunk = serde_json::from_str(&m.body).unwrap();
            match chunker.run(&chunk).await.unwrap() {
                ChunkOutcome::Posted(f) => {
                    chunks += 1;
                    posted += f.posts;
                }
                ChunkOutcome::Deferred => deferred += 1,
            }
            chunker.queue.delete(&m.receipt_handle).await.unwrap();
        }
    }
    assert_eq!((posted, chunks), (5, 3), "five members, two a chunk");
    assert!(
        deferred >= 1,
        "five posts at two a second wait at least once"
    );
    for ws in sockets.iter_mut() {
        let f = ws.expect("message").await;
        assert_eq!(f["data"]["message"]["text"], "in chunks");
        assert_eq!(kinds(ws).await, Vec::<String>::new(), "once");
    }
}
