//! Create channel, view channel and a user's channels, through the handlers, against the
//! engine. Every test ends by checking the storage invariants (`check_channels`).

use std::collections::BTreeSet;
use std::time::Duration;

use lambda_http::http::Method;
use serde_json::{Value, json};
use shared::handlers::channels::{create, get, user_channels};
use talkplus_tests::{Reply, TestApp};

const CREATE: &str = "/v1.4/api/channels/create";

fn ids(prefix: &str, n: usize) -> Vec<String> {
    (0..n).map(|i| format!("{prefix}{i:03}")).collect()
}

async fn post(app: &TestApp, body: Value) -> Reply {
    app.send(create, Method::POST, CREATE, Some(body)).await
}

async fn view(app: &TestApp, channel_id: &str) -> Reply {
    app.send(
        get,
        Method::GET,
        &format!("/v1.4/api/channels/{channel_id}"),
        None,
    )
    .await
}

async fn list(app: &TestApp, user_id: &str, query: &str) -> Reply {
    app.send(
        user_channels,
        Method::GET,
        &format!("/v1.4/api/users/{user_id}/channels{query}"),
        None,
    )
    .await
}

fn member_ids(channel: &Value) -> Vec<&str> {
    channel["members"]
        .as_array()
        .expect("members array")
        .iter()
        .map(|m| m["id"].as_str().expect("member id"))
        .collect()
}

/// The JSON type of each leaf, keeping object keys and the first array element's shape.
/// Key-value fields (`data`, `memberInfo`, `privateData`) are typed as string maps, since
/// their keys are the caller's.
fn shape(v: &Value) -> Value {
    match v {
        Value::Object(o) => o
            .iter()
            .map(|(k, v)| {
                let t = match (k.as_str(), v) {
                    ("data" | "memberInfo" | "privateData", Value::Object(m)) => {
                        assert!(m.values().all(Value::is_string), "{k}: {v}");
                        json!("string map")
                    }
                    _ => shape(v),
                };
                (k.clone(), t)
            })
            .collect(),
        Value::Null => json!("null"),
        Value::Bool(_) => json!("bool"),
        Value::Number(n) if n.is_i64() || n.is_u64() => json!("integer"),
        Value::Number(_) => json!("float"),
        Value::String(_) => json!("string"),
        Value::Array(a) => Value::Array(a.iter().take(1).map(shape).collect()),
    }
}

#[tokio::test]
async fn response_has_the_seed_example_shape() {
    let seed: Value =
        serde_json::from_str(include_str!("../fixtures/create-channel-response.json"))
            .expect("seed fixture");
    let app = TestApp::new().await;
    app.add_users(&["user123", "user456"]).await;
    let r = post(
        &app,
        json!({
            "channelId": "channel123", "name": "MyFirstChannel", "ownerId": "user123",
            "type": "private", "imageUrl": "image url", "members": ["user456"],
            "data": {"someMetaKey1": "someMetaValue1", "someMetaKey2": "someMetaValue2"}
        }),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);

    let mut want = shape(&seed);
    // CONTRACT/issue decisions beyond the seed example: `privateData` is an object, `bots`
    // is always present (empty here), and `mutedUsers`/`bannedUsers` hold members.
    want["channel"]["privateData"] = json!("string map");
    want["channel"]["bots"] = json!([]);
    // Every member object carries `muteExpiresAt` (issue 9).
    want["channel"]["members"][0]["muteExpiresAt"] = json!("integer");
    let got = shape(&r.body);
    assert_eq!(got, want, "response: {}", r.body);

    let c = &r.body["channel"];
    assert_eq!(c["id"], "channel123");
    assert_eq!(c["name"], "MyFirstChannel");
    assert_eq!(c["ownerId"], "user123");
    assert_eq!(c["type"], "private");
    assert_eq!(c["imageUrl"], "image url");
    assert_eq!(c["memberCount"], 2);
    assert_eq!(c["maxMemberCount"], 100);
    assert_eq!(c["data"], seed["channel"]["data"]);
    assert_eq!(c["lastMessage"], Value::Null);
    assert_eq!(c["bots"], json!([]));
    assert_eq!(
        (&c["unreadCount"], &c["lastReadAt"]),
        (&json!(0), &json!(0))
    );
    assert_eq!(c["privateData"], json!({}));
    assert_eq!(member_ids(c), ["user123", "user456"]);
    let m = &c["members"][1];
    assert_eq!(m["username"], "name-user456");
    assert_eq!(m["profileImageUrl"], "https://img.test/user456.png");
    assert_eq!(m["data"], json!({"k": "user456"}));
    assert_eq!(m["memberInfo"], json!({}));
    // Millisecond timestamps, the membership's own.
    let created = c["createdAt"].as_i64().unwrap();
    assert!(created > 1_600_000_000_000, "{created}");
    assert_eq!(c["updatedAt"], created);
    assert_eq!(m["createdAt"], created);
    assert_eq!((&m["lastReadAt"], &m["lastSentAt"]), (&json!(0), &json!(0)));

    // The same channel reads back key for key.
    let back = view(&app, "channel123").await;
    assert_eq!(back.status, 200);
    assert_eq!(back.body, r.body);
    app.check_channels().await;
}

#[tokio::test]
async fn each_rule_answers_with_its_code_and_status() {
    let app = TestApp::new().await;
    app.add_users(&["a", "b", "c"]).await;
    assert_eq!(
        post(
            &app,
            json!({"type": "public", "members": ["a"], "channelId": "taken"})
        )
        .await
        .status,
        200
    );
    let cases: Vec<(&str, Value, u16, &str)> = vec![
        ("no type", json!({"members": []}), 400, "1002"),
        ("no members", json!({"type": "public"}), 400, "1002"),
        (
            "unknown type",
            json!({"type": "group", "members": []}),
            400,
            "1001",
        ),
        (
            "members not an array",
            json!({"type": "public", "members": "a"}),
            400,
            "1001",
        ),
        (
            "member not a string",
            json!({"type": "public", "members": [1]}),
            400,
            "1001",
        ),
        (
            "maxMemberCount a string",
            json!({"type": "public", "members": [], "maxMemberCount": "9"}),
            400,
            "1001",
        ),
        (
            "maxMemberCount a float",
            json!({"type": "public", "members": [], "maxMemberCount": 1.5}),
            400,
            "1001",
        ),
        (
            "reuseChannel a string",
            json!({"type": "private", "members": [], "reuseChannel": "yes"}),
            400,
            "1001",
        ),
        (
            "bad data",
            json!({"type": "public", "members": [], "data": {"k": 1}}),
            400,
            "1011",
        ),
        (
            "invitation code missing",
            json!({"type": "invitationOnly", "members": []}),
            400,
            "2012",
        ),
        (
            "invitation code empty",
            json!({"type": "invitationOnly", "members": [], "invitationCode": ""}),
            400,
            "2013",
        ),
        (
            "over maxMemberCount",
            json!({"type": "public", "members": ["a", "b", "c"], "maxMemberCount": 2}),
            403,
            "2029",
        ),
        (
            "owner unknown",
            json!({"type": "public", "members": ["a"], "ownerId": "nobody"}),
            404,
            "2000",
        ),
        (
            "owner unknown before member unknown",
            json!({"type": "public", "members": ["ghost"], "ownerId": "nobody"}),
            404,
            "2000",
        ),
        (
            "member unknown",
            json!({"type": "public", "members": ["a", "ghost"], "ownerId": "b"}),
            404,
            "3003",
        ),
        (
            "channel id taken",
            json!({"type": "public", "members": ["a"], "channelId": "taken"}),
            409,
            "2002",
        ),
        (
            "reuse of a public channel id",
            json!({"type": "private", "members": ["a"], "channelId": "taken", "reuseChannel": true}),
            409,
            "2002",
        ),
    ];
    for (name, body, status, code) in cases {
        let r = post(&app, body).await;
        assert_eq!(
            (r.status, r.code()),
            (status, Some(code)),
            "{name}: {}",
            r.body
        );
        r.assert_error(status, code);
    }
    // Nothing but the one good channel was written.
    let census = app.check_channels().await;
    assert_eq!(census.channels.keys().collect::<Vec<_>>(), ["taken"]);
    assert!(census.pending.is_empty());
}

#[tokio::test]
async fn every_type_is_created_with_its_defaults() {
    let app = TestApp::new().await;
    app.add_users(&["o", "m"]).await;
    for t in [
        "private",
        "public",
        "invitationOnly",
        "broadcast",
        "super_broadcast",
        "super_private",
        "super_public",
    ] {
        let r = post(
            &app,
            json!({"type": t, "channelId": format!("ch-{t}"), "ownerId": "o",
                   "members": ["m", "m"], "invitationCode": "code-1",
                   "hideMessagesBeforeJoin": true, "category": "cat", "subcategory": "sub"}),
        )
        .await;
        assert_eq!(r.status, 200, "{t}: {}", r.body);
        let is_super = t.starts_with("super_");
        for c in [
            &r.body["channel"],
            &view(&app, &format!("ch-{t}")).await.body["channel"],
        ] {
            assert_eq!(c["type"], t);
            assert_eq!(c["memberCount"], 2, "{t}: owner and folded member");
            assert_eq!(c["maxMemberCount"], if is_super { -1 } else { 100 }, "{t}");
            assert_eq!(c["hideMessagesBeforeJoin"], true);
            assert_eq!(
                (&c["category"], &c["subcategory"]),
                (&json!("cat"), &json!("sub"))
            );
            assert_eq!(c["isFrozen"], false);
            assert_eq!(c["mutedUsers"], json!([]));
            assert_eq!(c["bannedUsers"], json!([]));
            assert_eq!(c["bots"], json!([]));
            if is_super {
                assert_eq!(c["members"], json!([]), "{t}");
                assert_eq!(c["invitationCode"], "", "{t}");
            } else {
                assert_eq!(member_ids(c), ["m", "o"], "{t}");
                assert_eq!(c["invitationCode"], "code-1", "{t}");
            }
        }
    }
    let census = app.check_channels().await;
    assert_eq!(census.channels.len(), 7);
    assert!(census.channels.values().all(|&n| n == 2));
}

#[tokio::test]
async fn super_channels_are_read_without_their_members() {
    let app = TestApp::new().await;
    let members = ids("s", 100);
    app.add_users(&members).await;
    let r = post(
        &app,
        json!({"type": "super_public", "channelId": "big", "members": members, "maxMemberCount": 5000}),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["channel"]["memberCount"], 100);
    assert_eq!(r.body["channel"]["maxMemberCount"], 5000);
    assert_eq!(r.body["channel"]["members"], json!([]));
    app.calls.take();

    let r = view(&app, "big").await;
    assert_eq!(r.status, 200);
    assert_eq!(r.body["channel"]["members"], json!([]));
    assert_eq!(r.body["channel"]["memberCount"], 100);
    // One query over the channel's read range beside one of its first bans and one of its
    // newest message, and no profile reads: the 100 membership items are outside that range.
    // (The GetItem is authentication: these test apps do not cache the app item.)
    assert_eq!(app.calls.take(), ["GetItem", "Query", "Query", "Query"]);
    let stored = app.store().channel(&app.app_id, "big").await.expect("read");
    let shared::store::ChannelLookup::Found(cm) = stored else {
        panic!("{stored:?}")
    };
    assert!(cm.members.is_empty());
    assert_eq!(app.check_channels().await.channels["big"], 100);
}

#[tokio::test]
async fn a_channel_of_exactly_100_members_is_created_whole() {
    let app = TestApp::new().await;
    let members = ids("m", 99);
    app.add_users(&members).await;
    app.add_users(&["owner"]).await;
    let r = post(
        &app,
        json!({"type": "private", "channelId": "hundred", "ownerId": "owner", "members": members}),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["channel"]["memberCount"], 100);
    assert_eq!(r.body["channel"]["members"].as_array().unwrap().len(), 100);
    // One batch read of the 100 users, then the two transactions 101 writes need.
    assert_eq!(
        app.calls.take(),
        [
            "GetItem",
            "BatchGetItem",
            "TransactWriteItems",
            "TransactWriteItems"
        ]
    );

    let back = view(&app, "hundred").await;
    assert_eq!(back.body, r.body);
    assert!(
        back.body["channel"]["members"]
            .as_array()
            .unwrap()
            .iter()
            .all(|m| m["username"] == format!("name-{}", m["id"].as_str().unwrap()))
    );
    // The last member (the one written by the second transaction) sees it in its channels.
    let mine = list(&app, "owner", "").await;
    assert_eq!(mine.body["channels"][0]["id"], "hundred");
    assert_eq!(app.check_channels().await.channels["hundred"], 100);

    let extra = ids("x", 101);
    app.add_users(&extra).await;
    post(&app, json!({"type": "private", "members": extra}))
        .await
        .assert_error(403, "2029");
    post(&app, json!({"type": "super_private", "members": extra}))
        .await
        .assert_error(400, "1001");
}

#[tokio::test]
async fn a_failed_create_leaves_nothing_behind() {
    let app = TestApp::new().await;
    let members = ids("m", 100);
    app.add_users(&members).await;

    // One transaction (10 members) that fails.
    app.calls.fail("TransactWriteItems", 1);
    let r = post(
        &app,
        json!({"type": "public", "channelId": "small", "members": &members[..10]}),
    )
    .await;
    assert!(r.status >= 500, "{}", r.body);
    view(&app, "small").await.assert_error(404, "2003");

    // 100 members: the second transaction fails, and the first is undone.
    app.calls.fail("TransactWriteItems", 2);
    let r = post(
        &app,
        json!({"type": "public", "channelId": "hundred", "members": members}),
    )
    .await;
    assert!(r.status >= 500, "{}", r.body);
    view(&app, "hundred").await.assert_error(404, "2003");
    let census = app.check_channels().await;
    assert!(
        census.channels.is_empty() && census.pending.is_empty(),
        "{census:?}"
    );

    // Both work once the faults are gone.
    for (id, n) in [("small", 10), ("hundred", 100)] {
        let r = post(
            &app,
            json!({"type": "public", "channelId": id, "members": &members[..n]}),
        )
        .await;
        assert_eq!(r.status, 200, "{}", r.body);
    }
    let census = app.check_channels().await;
    assert_eq!(census.channels["small"], 10);
    assert_eq!(census.channels["hundred"], 100);
}

#[tokio::test]
async fn a_crash_between_the_two_transactions_is_invisible_and_repaired() {
    let mut app = TestApp::new().await;
    let members = ids("m", 100);
    app.add_users(&members).await;
    let body = json!({"type": "public", "channelId": "crashed", "members": members});

    // The second transaction and the undo both fail: what a function dying between them
    // leaves behind.
    app.calls.fail("TransactWriteItems", 2);
    app.calls.fail("TransactWriteItems", 3);
    assert!(post(&app, body.clone()).await.status >= 500);
    let census = app.check_channels().await;
    assert_eq!(census.pending, ["crashed"]);
    assert!(census.channels.is_empty());

    // Readers do not see it, and its id stays taken while the creation may be alive.
    view(&app, "crashed").await.assert_error(404, "2003");
    let theirs = list(&app, "m000", "").await;
    assert_eq!(theirs.body["channels"], json!([]), "{}", theirs.body);
    post(&app, body.clone()).await.assert_error(409, "2002");

    // Once it is older than the abandon time, the next creation clears it and succeeds.
    app.services.store = app
        .services
        .store
        .clone()
        .with_abandon_after(Duration::ZERO);
    let r = post(&app, body).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let census = app.check_channels().await;
    assert!(census.pending.is_empty(), "{census:?}");
    assert_eq!(census.channels["crashed"], 100);
}

#[tokio::test]
async fn reuse_channel_returns_the_same_channel_for_the_same_members() {
    let app = TestApp::new().await;
    app.add_users(&["x", "y", "z"]).await;
    let first = post(
        &app,
        json!({"type": "private", "channelId": "dm", "ownerId": "x", "members": ["y"], "reuseChannel": true, "name": "first"}),
    )
    .await;
    assert_eq!(first.status, 200, "{}", first.body);

    // Same id, same set (owner included, any order): the existing channel, unchanged.
    let again = post(
        &app,
        json!({"type": "private", "channelId": "dm", "members": ["y", "x", "y"], "reuseChannel": true, "name": "second"}),
    )
    .await;
    assert_eq!(again.status, 200, "{}", again.body);
    assert_eq!(again.body, first.body);

    // Same id, other members.
    post(
        &app,
        json!({"type": "private", "channelId": "dm", "members": ["x", "z"], "reuseChannel": true}),
    )
    .await
    .assert_error(409, "2004");
    // Without reuseChannel the id is simply taken.
    post(
        &app,
        json!({"type": "private", "channelId": "dm", "members": ["x", "y"]}),
    )
    .await
    .assert_error(409, "2002");

    // No channel id: the member set names the channel.
    let a = post(
        &app,
        json!({"type": "private", "ownerId": "x", "members": ["z"], "reuseChannel": true}),
    )
    .await;
    let b = post(
        &app,
        json!({"type": "private", "ownerId": "z", "members": ["x"], "reuseChannel": true}),
    )
    .await;
    assert_eq!((a.status, b.status), (200, 200));
    assert_eq!(a.body, b.body, "the first creator's channel, unchanged");
    let other = post(
        &app,
        json!({"type": "private", "members": ["x", "y", "z"], "reuseChannel": true}),
    )
    .await;
    assert_ne!(other.body["channel"]["id"], a.body["channel"]["id"]);
    // reuseChannel is ignored on other types: each create is a new channel.
    let p1 = post(
        &app,
        json!({"type": "public", "members": ["x"], "reuseChannel": true}),
    )
    .await;
    let p2 = post(
        &app,
        json!({"type": "public", "members": ["x"], "reuseChannel": true}),
    )
    .await;
    assert_ne!(p1.body["channel"]["id"], p2.body["channel"]["id"]);
    assert_eq!(app.check_channels().await.channels.len(), 5);
}

#[tokio::test]
async fn twenty_racing_reuse_creates_make_one_channel() {
    let app = TestApp::new().await;
    app.add_users(&["p", "q"]).await;
    let replies = futures::future::join_all((0..20).map(|i| {
        // Half name the owner, half do not: the same member set either way.
        let body = if i % 2 == 0 {
            json!({"type": "private", "ownerId": "p", "members": ["q"], "reuseChannel": true})
        } else {
            json!({"type": "private", "members": ["q", "p"], "reuseChannel": true})
        };
        post(&app, body)
    }))
    .await;
    let ids: BTreeSet<_> = replies
        .iter()
        .map(|r| {
            assert_eq!(r.status, 200, "{}", r.body);
            r.body["channel"]["id"].as_str().unwrap().to_owned()
        })
        .collect();
    assert_eq!(ids.len(), 1, "{ids:?}");
    let census = app.check_channels().await;
    assert_eq!(census.channels.len(), 1);
    assert_eq!(census.channels.values().next(), Some(&2));
}

#[tokio::test]
async fn twenty_racing_reuse_creates_of_100_members_make_one_channel() {
    // The two-transaction path: losers wait for the winner's second transaction.
    let app = TestApp::new().await;
    let members = ids("m", 100);
    app.add_users(&members).await;
    let replies = futures::future::join_all((0..20).map(|_| {
        post(
            &app,
            json!({"type": "private", "members": members, "reuseChannel": true}),
        )
    }))
    .await;
    let ids: BTreeSet<_> = replies
        .iter()
        .map(|r| {
            assert_eq!(r.status, 200, "{}", r.body);
            assert_eq!(r.body["channel"]["memberCount"], 100);
            r.body["channel"]["id"].as_str().unwrap().to_owned()
        })
        .collect();
    assert_eq!(ids.len(), 1, "{ids:?}");
    let census = app.check_channels().await;
    assert_eq!(census.channels.values().collect::<Vec<_>>(), [&100]);
    assert!(census.pending.is_empty());
}

#[tokio::test]
async fn twenty_racing_creates_of_one_id_give_one_channel_and_nineteen_2002() {
    let app = TestApp::new().await;
    app.add_users(&["p", "q", "r"]).await;
    for (id, members) in [
        ("race-small", json!(["p", "q", "r"])),
        ("race-100", json!(ids("m", 100))),
    ] {
        if id == "race-100" {
            app.add_users(&ids("m", 100)).await;
        }
        let replies = futures::future::join_all((0..20).map(|_| {
            post(
                &app,
                json!({"type": "public", "channelId": id, "members": members}),
            )
        }))
        .await;
        let ok = replies.iter().filter(|r| r.status == 200).count();
        let taken = replies.iter().filter(|r| r.code() == Some("2002")).count();
        let errors: Vec<_> = replies.iter().filter_map(|r| r.code()).collect();
        assert_eq!((ok, taken), (1, 19), "{id}: {errors:?}");
    }
    let census = app.check_channels().await;
    assert_eq!(census.channels["race-small"], 3);
    assert_eq!(census.channels["race-100"], 100);
    assert!(census.pending.is_empty());
}

#[tokio::test]
async fn view_channel_reads_current_profiles_and_answers_2003() {
    let app = TestApp::new().await;
    app.add_users(&["a", "b"]).await;
    post(
        &app,
        json!({"type": "public", "channelId": "c1", "members": ["a", "b"]}),
    )
    .await;
    app.calls.take();
    let r = view(&app, "c1").await;
    assert_eq!(r.status, 200);
    // One query for the channel and its memberships beside one for its bans and one for its
    // newest message, then one batch read of the profiles.
    // (The GetItem is authentication: these test apps do not cache the app item.)
    assert_eq!(
        app.calls.take(),
        ["GetItem", "Query", "Query", "Query", "BatchGetItem"]
    );

    app.store()
        .update_user(
            &app.app_id,
            "b",
            &shared::model::UserChanges {
                username: Some("renamed".into()),
                ..Default::default()
            },
            shared::model::now_ms(),
        )
        .await
        .unwrap();
    let r = view(&app, "c1").await;
    assert_eq!(r.body["channel"]["members"][1]["username"], "renamed");

    view(&app, "nope").await.assert_error(404, "2003");
    view(&app, "bad%23id").await.assert_error(400, "1001");
    app.check_channels().await;
}

#[tokio::test]
async fn a_users_channels_page_through_the_reverse_index() {
    let app = TestApp::new().await;
    app.add_users(&["u", "v", "w"]).await;
    for i in 0..5 {
        let r = post(
            &app,
            json!({"type": "public", "channelId": format!("ch{i}"), "ownerId": "u", "members": ["v"]}),
        )
        .await;
        assert_eq!(r.status, 200);
    }
    post(
        &app,
        json!({"type": "super_public", "channelId": "ch9", "members": ["u"]}),
    )
    .await;
    post(
        &app,
        json!({"type": "public", "channelId": "other", "members": ["w"]}),
    )
    .await;

    let mut seen = Vec::new();
    let mut query = "?limit=2".to_owned();
    loop {
        let r = list(&app, "u", &query).await;
        assert_eq!(r.status, 200, "{}", r.body);
        let channels = r.body["channels"].as_array().unwrap();
        assert!(channels.len() <= 2);
        for c in channels {
            seen.push(c["id"].as_str().unwrap().to_owned());
            if c["type"] == "super_public" {
                assert_eq!(c["members"], json!([]));
            } else {
                assert_eq!(member_ids(c), ["u", "v"]);
                assert_eq!(c["members"][0]["username"], "name-u");
            }
        }
        if r.body["hasNext"] == false {
            break;
        }
        query = format!("?limit=2&lastChannelId={}", seen.last().unwrap());
    }
    assert_eq!(seen, ["ch0", "ch1", "ch2", "ch3", "ch4", "ch9"]);

    let all = list(&app, "u", "").await;
    assert_eq!(all.body["channels"].as_array().unwrap().len(), 6);
    assert_eq!(all.body["hasNext"], false);
    let empty = list(&app, "u", "?lastChannelId=ch9").await;
    assert_eq!(empty.body, json!({"channels": [], "hasNext": false}));
    list(&app, "ghost", "").await.assert_error(404, "3003");
    list(&app, "u", "?limit=0").await.assert_error(400, "1001");
    list(&app, "u", "?limit=51").await.assert_error(400, "1001");
    list(&app, "u", "?lastChannelId=a%23b")
        .await
        .assert_error(400, "1001");
    app.check_channels().await;
}
