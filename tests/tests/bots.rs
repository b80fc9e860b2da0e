//! Bots: CRUD, join and leave, a bot's channels, deletion from every channel; through the
//! handlers, against the engine. Tests touching channels end with `check_channels`.

use lambda_http::http::Method;
use serde_json::{Value, json};
use shared::handlers::{bots, channels};
use talkplus_tests::{Reply, TestApp};

async fn make_bot(app: &TestApp, id: &str) -> Reply {
    let body = json!({"id": id, "name": format!("Bot {id}"), "type": "cs",
                      "profileImageUrl": format!("https://img.test/{id}.png")});
    app.send(
        bots::create,
        Method::POST,
        "/v1.4/api/bots/create",
        Some(body),
    )
    .await
}

async fn make_channel(app: &TestApp, id: &str, body: Value) -> Reply {
    let mut body = body;
    body["channelId"] = json!(id);
    let r = app
        .send(
            channels::create,
            Method::POST,
            "/v1.4/api/channels/create",
            Some(body),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    r
}

async fn join(app: &TestApp, bot: &str, channel: &str) -> Reply {
    app.send(
        bots::join,
        Method::POST,
        &format!("/v1.4/api/bots/{bot}/channels/{channel}/join"),
        None,
    )
    .await
}

async fn leave(app: &TestApp, bot: &str, channel: &str) -> Reply {
    app.send(
        bots::leave,
        Method::POST,
        &format!("/v1.4/api/bots/{bot}/channels/{channel}/leave"),
        None,
    )
    .await
}

async fn view(app: &TestApp, channel: &str) -> Reply {
    app.send(
        channels::get,
        Method::GET,
        &format!("/v1.4/api/channels/{channel}"),
        None,
    )
    .await
}

fn bot_ids(r: &Reply) -> Vec<String> {
    r.body["channel"]["bots"]
        .as_array()
        .unwrap_or_else(|| panic!("bots array in {}", r.body))
        .iter()
        .map(|b| b["id"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn bots_are_created_read_listed_updated_and_deleted() {
    let app = TestApp::new().await;
    let r = app
        .send(
            bots::create,
            Method::POST,
            "/v1.4/api/bots/create",
            Some(json!({"id": "cs_bot", "name": "CS Bot", "type": "cs",
                        "profileImageUrl": "https://img.test/cs.png",
                        "callbackUrl": "https://hooks.test/cs"})),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(
        r.body,
        json!({"bot": {"id": "cs_bot", "name": "CS Bot", "profileImageUrl": "https://img.test/cs.png",
                        "type": "cs", "callbackUrl": "https://hooks.test/cs"}})
    );
    make_bot(&app, "cs_bot").await.assert_error(409, "7002");

    let bad: Vec<(Value, u16, &str)> = vec![
        (json!({}), 400, "1002"),
        (json!({"id": null}), 400, "1002"),
        (json!({"id": "a b"}), 400, "1001"),
        (json!({"id": "x".repeat(69)}), 400, "1001"),
        (
            json!({"id": "b1", "callbackUrl": "http://hooks.test/x"}),
            400,
            "1001",
        ),
        (
            json!({"id": "b1", "callbackUrl": "hooks.test/x"}),
            400,
            "1001",
        ),
        (json!({"id": "b1", "type": "t".repeat(69)}), 400, "1001"),
        (json!({"id": "b1", "name": 5}), 400, "1001"),
    ];
    for (body, status, code) in bad {
        app.send(
            bots::create,
            Method::POST,
            "/v1.4/api/bots/create",
            Some(body.clone()),
        )
        .await
        .assert_error(status, code);
    }
    let local = app
        .send(
            bots::create,
            Method::POST,
            "/v1.4/api/bots/create",
            Some(json!({"id": "dev_bot", "callbackUrl": "http://localhost:8080/hook"})),
        )
        .await;
    assert_eq!(local.status, 200, "{}", local.body);
    assert_eq!(local.body["bot"]["name"], "");

    let got = app
        .send(bots::get, Method::GET, "/v1.4/api/bots/cs_bot", None)
        .await;
    assert_eq!(got.body, r.body);
    app.send(bots::get, Method::GET, "/v1.4/api/bots/nobot", None)
        .await
        .assert_error(404, "7001");

    for i in 0..3 {
        assert_eq!(make_bot(&app, &format!("p{i}")).await.status, 200);
    }
    let page = app
        .send(bots::list, Method::GET, "/v1.4/api/bots?limit=2", None)
        .await;
    assert_eq!(page.body["hasNext"], true);
    let ids: Vec<_> = page.body["bots"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["cs_bot", "dev_bot"]);
    let rest = app
        .send(
            bots::list,
            Method::GET,
            "/v1.4/api/bots?limit=10&lastBotId=dev_bot",
            None,
        )
        .await;
    assert_eq!(rest.body["hasNext"], false);
    assert_eq!(rest.body["bots"].as_array().unwrap().len(), 3);
    app.send(bots::list, Method::GET, "/v1.4/api/bots?limit=101", None)
        .await
        .assert_error(400, "1001");

    let put = app
        .send(
            bots::update,
            Method::PUT,
            "/v1.4/api/bots/cs_bot",
            Some(json!({"name": "Support", "callbackUrl": ""})),
        )
        .await;
    assert_eq!(put.status, 200, "{}", put.body);
    assert_eq!(put.body["bot"]["name"], "Support");
    assert_eq!(put.body["bot"]["type"], "cs");
    assert_eq!(put.body["bot"]["callbackUrl"], "");
    app.send(
        bots::update,
        Method::PUT,
        "/v1.4/api/bots/nobot",
        Some(json!({"name": "x"})),
    )
    .await
    .assert_error(404, "7001");
    app.send(
        bots::update,
        Method::PUT,
        "/v1.4/api/bots/cs_bot",
        Some(json!({"callbackUrl": "ftp://x"})),
    )
    .await
    .assert_error(400, "1001");

    let del = app
        .send(bots::delete, Method::DELETE, "/v1.4/api/bots/cs_bot", None)
        .await;
    assert_eq!((del.status, &del.body), (200, &json!({})));
    app.send(bots::get, Method::GET, "/v1.4/api/bots/cs_bot", None)
        .await
        .assert_error(404, "7001");
    app.send(bots::delete, Method::DELETE, "/v1.4/api/bots/cs_bot", None)
        .await
        .assert_error(404, "7001");
}

#[tokio::test]
async fn join_and_leave_are_idempotent_and_answer_the_channel() {
    let app = TestApp::new().await;
    app.add_users(&["user123", "user456"]).await;
    make_bot(&app, "bot_001").await;
    make_bot(&app, "bot_002").await;
    // A full channel (maxMemberCount 2): bots do not count as members.
    let created = make_channel(
        &app,
        "channel123",
        json!({"type": "private", "ownerId": "user123", "members": ["user456"], "maxMemberCount": 2}),
    )
    .await;

    let r = join(&app, "bot_001", "channel123").await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(
        r.body["channel"]["bots"],
        json!([{"id": "bot_001", "name": "Bot bot_001", "profileImageUrl": "https://img.test/bot_001.png", "type": "cs"}])
    );
    assert_eq!(r.body["channel"]["memberCount"], 2);
    let mut without_bots = r.body.clone();
    without_bots["channel"]["bots"] = json!([]);
    assert_eq!(without_bots, created.body, "only bots changed");

    // Again: the same answer, nothing duplicated.
    let again = join(&app, "bot_001", "channel123").await;
    assert_eq!(again.body, r.body);
    let two = join(&app, "bot_002", "channel123").await;
    assert_eq!(bot_ids(&two), ["bot_001", "bot_002"]);
    assert_eq!(view(&app, "channel123").await.body, two.body);

    let left = leave(&app, "bot_001", "channel123").await;
    assert_eq!(left.status, 200, "{}", left.body);
    assert_eq!(bot_ids(&left), ["bot_002"]);
    let left_again = leave(&app, "bot_001", "channel123").await;
    assert_eq!(left_again.body, left.body);

    join(&app, "nobot", "channel123")
        .await
        .assert_error(404, "7001");
    leave(&app, "nobot", "channel123")
        .await
        .assert_error(404, "7001");
    join(&app, "bot_001", "nochannel")
        .await
        .assert_error(404, "2003");
    leave(&app, "bot_001", "nochannel")
        .await
        .assert_error(404, "2003");
    join(&app, "bot_001", "bad%23id")
        .await
        .assert_error(400, "1001");

    // Every type may be joined, super channels included.
    make_channel(
        &app,
        "big",
        json!({"type": "super_public", "members": ["user123"]}),
    )
    .await;
    let sup = join(&app, "bot_001", "big").await;
    assert_eq!(bot_ids(&sup), ["bot_001"]);
    assert_eq!(sup.body["channel"]["members"], json!([]));

    let census = app.check_channels().await;
    assert_eq!(census.bots["channel123"], ["bot_002"]);
    assert_eq!(census.bots["big"], ["bot_001"]);
    assert_eq!(census.channels["channel123"], 2);
}

#[tokio::test]
async fn a_bots_profile_change_shows_in_every_channel_and_delete_removes_it_everywhere() {
    let app = TestApp::new().await;
    make_bot(&app, "b").await;
    for i in 0..5 {
        make_channel(
            &app,
            &format!("c{i}"),
            json!({"type": "public", "members": []}),
        )
        .await;
        assert_eq!(join(&app, "b", &format!("c{i}")).await.status, 200);
    }
    app.send(
        bots::update,
        Method::PUT,
        "/v1.4/api/bots/b",
        Some(json!({"name": "Renamed", "profileImageUrl": "https://img.test/new.png"})),
    )
    .await;
    for i in 0..5 {
        let c = view(&app, &format!("c{i}")).await;
        assert_eq!(c.body["channel"]["bots"][0]["name"], "Renamed");
        assert_eq!(
            c.body["channel"]["bots"][0]["profileImageUrl"],
            "https://img.test/new.png"
        );
    }
    let mine = app
        .send(
            bots::channels,
            Method::GET,
            "/v1.4/api/bots/b/channels?limit=3",
            None,
        )
        .await;
    assert_eq!(mine.body["hasNext"], true);
    assert_eq!(mine.body["channels"][0]["bots"][0]["name"], "Renamed");
    let rest = app
        .send(
            bots::channels,
            Method::GET,
            "/v1.4/api/bots/b/channels?lastChannelId=c2",
            None,
        )
        .await;
    let ids: Vec<_> = rest.body["channels"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["c3", "c4"]);

    let del = app
        .send(bots::delete, Method::DELETE, "/v1.4/api/bots/b", None)
        .await;
    assert_eq!(del.status, 200);
    for i in 0..5 {
        assert_eq!(
            view(&app, &format!("c{i}")).await.body["channel"]["bots"],
            json!([])
        );
    }
    app.send(
        bots::channels,
        Method::GET,
        "/v1.4/api/bots/b/channels",
        None,
    )
    .await
    .assert_error(404, "7001");
    let census = app.check_channels().await;
    assert!(census.bots.values().all(Vec::is_empty), "{census:?}");
}

#[tokio::test]
async fn deleting_a_bot_in_1000_channels_removes_every_membership() {
    let app = TestApp::new().await;
    make_bot(&app, "busy").await;
    let ids: Vec<String> = (0..1000).map(|i| format!("ch{i:04}")).collect();
    let store = app.store();
    let app_id = app.app_id.as_str();
    let now = shared::model::now_ms();
    let work = ids.iter().map(|id| async move {
        let channel = shared::model::Channel {
            id: id.clone(),
            channel_type: shared::model::ChannelType::Public,
            name: String::new(),
            owner_id: String::new(),
            image_url: String::new(),
            invitation_code: String::new(),
            is_frozen: false,
            hide_messages_before_join: false,
            category: String::new(),
            subcategory: String::new(),
            data: Default::default(),
            member_count: 0,
            max_member_count: 100,
            message_count: 0,
            created_at: now,
            updated_at: now,
        };
        store.create_channel(app_id, &channel, &[]).await.unwrap();
        let moved = store.join_bot(app_id, "busy", id, now).await.unwrap();
        assert_eq!(moved, shared::store::BotMove::Changed);
    });
    futures::stream::iter(work)
        .buffer_unordered(32)
        .collect::<Vec<()>>()
        .await;
    assert_eq!(
        app.check_channels().await.bots.values().flatten().count(),
        1000
    );

    app.calls.take();
    let del = app
        .send(bots::delete, Method::DELETE, "/v1.4/api/bots/busy", None)
        .await;
    assert_eq!(del.status, 200, "{}", del.body);
    let calls = app.calls.take();
    let count = |op: &str| calls.iter().filter(|c| *c == op).count();
    assert_eq!(
        count("TransactWriteItems"),
        1000,
        "one transaction per membership"
    );
    assert_eq!(count("Query"), 10, "ten index pages of 100");
    let census = app.check_channels().await;
    assert_eq!(census.channels.len(), 1000);
    assert!(census.bots.values().all(Vec::is_empty));
}

use futures::StreamExt;

#[tokio::test]
async fn thirty_bots_racing_into_one_channel_twenty_get_in() {
    let app = TestApp::new().await;
    let bots: Vec<String> = (0..30).map(|i| format!("bot{i:02}")).collect();
    for b in &bots {
        make_bot(&app, b).await;
    }
    make_channel(&app, "crowded", json!({"type": "public", "members": []})).await;
    let replies = futures::future::join_all(bots.iter().map(|b| join(&app, b, "crowded"))).await;
    let ok = replies.iter().filter(|r| r.status == 200).count();
    let full = replies.iter().filter(|r| r.code() == Some("7003")).count();
    let codes: Vec<_> = replies.iter().filter_map(Reply::code).collect();
    assert_eq!((ok, full), (20, 10), "{codes:?}");
    for r in replies.iter().filter(|r| r.code() == Some("7003")) {
        r.assert_error(403, "7003");
    }
    let c = view(&app, "crowded").await;
    assert_eq!(bot_ids(&c).len(), 20);
    let census = app.check_channels().await;
    assert_eq!(census.bots["crowded"].len(), 20);
    assert_eq!(census.bots["crowded"], bot_ids(&c));
}

#[tokio::test]
async fn two_hundred_random_joins_and_leaves_keep_everything_in_agreement() {
    let app = TestApp::new().await;
    app.add_users(&["m1", "m2"]).await;
    let bots: Vec<String> = (0..10).map(|i| format!("bot{i}")).collect();
    for b in &bots {
        make_bot(&app, b).await;
    }
    make_channel(
        &app,
        "busy",
        json!({"type": "public", "members": ["m1", "m2"]}),
    )
    .await;
    // A fixed-seed LCG: the same "random" sequence every run.
    let mut seed: u64 = 0x5eed;
    let ops: Vec<(bool, &String)> = (0..200)
        .map(|_| {
            seed = seed
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (
                (seed >> 33).is_multiple_of(2),
                &bots[((seed >> 40) % 10) as usize],
            )
        })
        .collect();
    let app = &app;
    let replies = futures::future::join_all(ops.iter().map(|(is_join, b)| async move {
        if *is_join {
            join(app, b, "busy").await
        } else {
            leave(app, b, "busy").await
        }
    }))
    .await;
    for r in &replies {
        assert_eq!(r.status, 200, "{}", r.body);
        assert!(bot_ids(r).len() <= 20);
        assert_eq!(r.body["channel"]["memberCount"], 2);
    }
    let c = view(app, "busy").await;
    let census = app.check_channels().await;
    assert_eq!(
        census.bots["busy"],
        bot_ids(&c),
        "bots array = membership items"
    );
    assert_eq!(census.channels["busy"], 2, "memberCount unchanged");
    // The reverse index agrees: each bot lists the channel exactly when it is in it.
    for b in &bots {
        let theirs = app
            .send(
                bots::channels,
                Method::GET,
                &format!("/v1.4/api/bots/{b}/channels"),
                None,
            )
            .await;
        let listed = theirs.body["channels"].as_array().unwrap().len();
        assert_eq!(listed == 1, census.bots["busy"].contains(b), "{b}");
    }
}
