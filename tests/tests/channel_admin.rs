//! Channel administration through the handlers, against the engine: update and ownership
//! transfer, freeze, the app's channel list and the list filters, and delete at any size.

use std::time::Duration;

use lambda_http::http::Method;
use serde_json::{Value, json};
use shared::model::ChannelType;
use talkplus_tests::{Reply, TestApp};

async fn update(app: &TestApp, channel: &str, body: Value) -> Reply {
    app.route(
        "channels-update",
        Method::PUT,
        &format!("/v1.4/api/channels/{channel}"),
        Some(body),
    )
    .await
}

fn channel_ids(list: &Value) -> Vec<String> {
    list["channels"]
        .as_array()
        .unwrap_or_else(|| panic!("{list}"))
        .iter()
        .map(|c| c["id"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn update_changes_what_it_names_and_follows_every_rule() {
    let app = TestApp::new().await;
    app.add_users(&["o", "a", "b", "x"]).await;
    let before = app.create_channel( json!({"channelId": "g", "type": "invitationOnly", "invitationCode": "c0de", "ownerId": "o", "members": ["a", "b"], "category": "cat", "data": {"k": "v"}})).await;

    let r = update(&app, "g", json!({"name": "New", "imageUrl": "https://img/1", "data": {"n": "1"}, "maxMemberCount": 3, "hideMessagesBeforeJoin": true, "subcategory": "sub"})).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let c = &r.body["channel"];
    assert_eq!(
        (c["name"].clone(), c["imageUrl"].clone()),
        (json!("New"), json!("https://img/1"))
    );
    assert_eq!(c["data"], json!({"n": "1"}), "data is replaced");
    assert_eq!(c["maxMemberCount"], 3);
    assert_eq!(c["hideMessagesBeforeJoin"], true);
    assert_eq!(
        (c["category"].clone(), c["subcategory"].clone()),
        (json!("cat"), json!("sub"))
    );
    assert_eq!(c["invitationCode"], "c0de", "unnamed fields stay");
    assert_eq!(c["members"], before["members"]);
    assert!(c["updatedAt"].as_i64() >= before["updatedAt"].as_i64());
    assert_eq!(app.view_channel("g").await.body["channel"], *c);

    // Ownership transfer: to a member only, not to the owner.
    update(&app, "g", json!({"ownerId": "x"}))
        .await
        .assert_error(404, "2001");
    update(&app, "g", json!({"ownerId": "o"}))
        .await
        .assert_error(403, "2030");
    let r = update(&app, "g", json!({"ownerId": "a"})).await;
    assert_eq!(r.body["channel"]["ownerId"], "a", "{}", r.body);
    // The old owner can now be removed; the new one cannot.
    let remove = |who: &'static str| {
        app.route(
            "channels-members-remove",
            Method::POST,
            "/v1.4/api/channels/g/members/remove",
            Some(json!({"members": [who]})),
        )
    };
    remove("a").await.assert_error(403, "2007");
    assert_eq!(remove("o").await.status, 200);

    for (body, status, code) in [
        (json!({"maxMemberCount": 1}), 403, "2029"),
        (json!({"maxMemberCount": 0}), 400, "1001"),
        (json!({"maxMemberCount": 101}), 400, "1001"),
        (json!({"maxMemberCount": -1}), 400, "1001"),
        (json!({"invitationCode": ""}), 400, "2013"),
        (json!({"category": "", "subcategory": "s"}), 400, "1001"),
        (json!({"name": "x".repeat(129)}), 400, "1001"),
        (json!({"category": "x".repeat(33)}), 400, "1001"),
        (
            json!({"data": {"a":"1","b":"2","c":"3","d":"4","e":"5","f":"6"}}),
            400,
            "1011",
        ),
        (json!({"ownerId": "a b"}), 400, "1001"),
        (json!({"name": 5}), 400, "1001"),
    ] {
        update(&app, "g", body.clone())
            .await
            .assert_error(status, code);
    }
    update(&app, "nowhere", json!({"name": "n"}))
        .await
        .assert_error(404, "2003");
    // An empty body changes nothing but updatedAt.
    let r = update(&app, "g", json!({})).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["channel"]["name"], "New");

    // Super channels: no upper bound; -1 is unlimited; never below the count.
    app.create_channel(
        json!({"channelId": "s", "type": "super_public", "ownerId": "o", "members": ["a", "b"]}),
    )
    .await;
    for (max, ok) in [(100_000, true), (-1, true), (2, false), (0, false)] {
        let r = update(&app, "s", json!({"maxMemberCount": max})).await;
        assert_eq!(r.status == 200, ok, "{max}: {}", r.body);
    }
    let r = update(&app, "s", json!({"ownerId": "b"})).await;
    assert_eq!(r.body["channel"]["ownerId"], "b", "{}", r.body);
    app.check_channels().await;
}

#[tokio::test]
async fn freeze_and_unfreeze() {
    let app = TestApp::new().await;
    app.add_users(&["o"]).await;
    app.create_channel(json!({"channelId": "f", "type": "public", "ownerId": "o", "members": []}))
        .await;
    let r = app
        .route(
            "channels-freeze",
            Method::POST,
            "/v1.4/api/channels/f/freeze",
            None,
        )
        .await;
    assert_eq!((r.status, r.body.clone()), (200, json!({})));
    assert_eq!(
        app.view_channel("f").await.body["channel"]["isFrozen"],
        true
    );
    // Freezing stops sending, not joining: members may still be added.
    app.add_users(&["a"]).await;
    let r = app
        .route(
            "channels-members-add",
            Method::POST,
            "/v1.4/api/channels/f/members/add",
            Some(json!({"members": ["a"]})),
        )
        .await;
    assert_eq!(r.body["channel"]["isFrozen"], true, "{}", r.body);
    let r = app
        .route(
            "channels-unfreeze",
            Method::POST,
            "/v1.4/api/channels/f/unfreeze",
            None,
        )
        .await;
    assert_eq!((r.status, r.body.clone()), (200, json!({})));
    assert_eq!(
        app.view_channel("f").await.body["channel"]["isFrozen"],
        false
    );
    app.route(
        "channels-freeze",
        Method::POST,
        "/v1.4/api/channels/none/freeze",
        None,
    )
    .await
    .assert_error(404, "2003");
}

#[tokio::test]
async fn the_app_list_pages_and_filters() {
    let app = TestApp::new().await;
    app.add_users(&["u"]).await;
    for (id, t, cat, sub) in [
        ("c1", "public", "games", "chess"),
        ("c2", "private", "games", "go"),
        ("c3", "public", "news", ""),
        ("c4", "super_public", "games", "chess"),
        ("c5", "public", "", ""),
    ] {
        app.create_channel( json!({"channelId": id, "type": t, "members": ["u"], "category": cat, "subcategory": sub})).await;
    }
    let list = |q: &str| {
        let path = format!("/v1.4/api/channels{q}");
        let app = &app;
        async move { app.route("channels-list", Method::GET, &path, None).await }
    };
    let r = list("?limit=2").await;
    assert_eq!(channel_ids(&r.body), ["c1", "c2"]);
    assert_eq!(r.body["hasNext"], true);
    assert_eq!(
        r.body["channels"][0]["members"][0]["id"], "u",
        "channels come whole"
    );
    let r = list("?lastChannelId=c2").await;
    assert_eq!(channel_ids(&r.body), ["c3", "c4", "c5"]);
    assert_eq!(r.body["hasNext"], false);
    assert_eq!(
        channel_ids(&list("?type=public").await.body),
        ["c1", "c3", "c5"]
    );
    assert_eq!(
        channel_ids(&list("?type=&category=").await.body),
        ["c1", "c2", "c3", "c4", "c5"],
        "an empty filter is no filter"
    );
    assert_eq!(
        channel_ids(&list("?category=games").await.body),
        ["c1", "c2", "c4"]
    );
    assert_eq!(
        channel_ids(&list("?category=games&subcategory=chess").await.body),
        ["c1", "c4"]
    );
    let r = list("?category=games&limit=2").await;
    assert_eq!(
        (channel_ids(&r.body), r.body["hasNext"].clone()),
        (vec!["c1".to_owned(), "c2".to_owned()], json!(true))
    );
    let r = list("?category=games&lastChannelId=c2").await;
    assert_eq!(
        (channel_ids(&r.body), r.body["hasNext"].clone()),
        (vec!["c4".to_owned()], json!(false))
    );
    for q in [
        "?type=group",
        "?limit=51",
        "?limit=0",
        "?lastChannelId=a%23b",
        &format!("?category={}", "x".repeat(33)),
    ] {
        list(q).await.assert_error(400, "1001");
    }

    // The same filters on a user's channels and a bot's channels.
    let r = app
        .route(
            "users-channels",
            Method::GET,
            "/v1.4/api/users/u/channels?category=games&subcategory=chess",
            None,
        )
        .await;
    assert_eq!(channel_ids(&r.body), ["c1", "c4"], "{}", r.body);
    let r = app
        .route(
            "users-channels",
            Method::GET,
            "/v1.4/api/users/u/channels?category=games&limit=1",
            None,
        )
        .await;
    assert_eq!(
        (channel_ids(&r.body), r.body["hasNext"].clone()),
        (vec!["c1".to_owned()], json!(true))
    );
    app.route(
        "bots-create",
        Method::POST,
        "/v1.4/api/bots/create",
        Some(json!({"id": "bot"})),
    )
    .await;
    for c in ["c1", "c3", "c4"] {
        let r = app
            .route(
                "bots-join",
                Method::POST,
                &format!("/v1.4/api/bots/bot/channels/{c}/join"),
                None,
            )
            .await;
        assert_eq!(r.status, 200, "{}", r.body);
    }
    let r = app
        .route(
            "bots-channels",
            Method::GET,
            "/v1.4/api/bots/bot/channels?category=games",
            None,
        )
        .await;
    assert_eq!(channel_ids(&r.body), ["c1", "c4"], "{}", r.body);
    let r = app
        .route(
            "bots-channels",
            Method::GET,
            "/v1.4/api/bots/bot/channels?category=none",
            None,
        )
        .await;
    assert_eq!(
        (channel_ids(&r.body).len(), r.body["hasNext"].clone()),
        (0, json!(false))
    );

    // A deleted channel leaves every list at once.
    let r = app
        .route(
            "channels-delete",
            Method::DELETE,
            "/v1.4/api/channels/c1",
            None,
        )
        .await;
    assert_eq!((r.status, r.body.clone()), (200, json!({})));
    assert_eq!(
        channel_ids(&list("?category=games").await.body),
        ["c2", "c4"]
    );
    let r = app
        .route(
            "users-channels",
            Method::GET,
            "/v1.4/api/users/u/channels",
            None,
        )
        .await;
    assert!(!channel_ids(&r.body).contains(&"c1".to_owned()));
    let r = app
        .route(
            "bots-channels",
            Method::GET,
            "/v1.4/api/bots/bot/channels",
            None,
        )
        .await;
    assert_eq!(channel_ids(&r.body), ["c3", "c4"]);
    app.check_channels().await;
}

#[tokio::test]
async fn delete_of_a_channel_with_100_members_and_20_bots_leaves_nothing() {
    let app = TestApp::new().await;
    let members: Vec<String> = (0..99).map(|i| format!("u{i:03}")).collect();
    app.add_users(&members).await;
    app.add_users(&["o", "banned", "x"]).await;
    app.create_channel(
        json!({"channelId": "d", "type": "private", "ownerId": "o", "members": members}),
    )
    .await;
    for i in 0..20 {
        app.route(
            "bots-create",
            Method::POST,
            "/v1.4/api/bots/create",
            Some(json!({"id": format!("b{i:02}")})),
        )
        .await;
        let r = app
            .route(
                "bots-join",
                Method::POST,
                &format!("/v1.4/api/bots/b{i:02}/channels/d/join"),
                None,
            )
            .await;
        assert_eq!(r.status, 200, "{}", r.body);
    }
    let r = app
        .route(
            "channels-members-mute",
            Method::POST,
            "/v1.4/api/channels/d/members/mute",
            Some(json!({"members": ["u001"]})),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let r = app
        .route(
            "channels-members-ban",
            Method::POST,
            "/v1.4/api/channels/d/members/ban",
            Some(json!({"members": ["u002"]})),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(app.check_channels().await.channels["d"], 99);

    let r = app
        .route(
            "channels-delete",
            Method::DELETE,
            "/v1.4/api/channels/d",
            None,
        )
        .await;
    assert_eq!((r.status, r.body.clone()), (200, json!({})));
    app.view_channel("d").await.assert_error(404, "2003");
    let census = app.check_channels().await;
    assert!(
        !census.channels.contains_key("d") && census.deleting.is_empty(),
        "{census:?}"
    );
    // Nothing left in the reverse indexes either.
    let r = app
        .route(
            "users-channels",
            Method::GET,
            "/v1.4/api/users/u000/channels",
            None,
        )
        .await;
    assert_eq!(r.body["channels"], json!([]));
    assert!(
        !app.store()
            .channel_partition_exists(&app.app_id, "d")
            .await
            .unwrap()
    );
    // A repeated delete: 2003, nothing is left; the id is free again.
    app.route(
        "channels-delete",
        Method::DELETE,
        "/v1.4/api/channels/d",
        None,
    )
    .await
    .assert_error(404, "2003");
    let again = app
        .create_channel(json!({"channelId": "d", "type": "public", "members": ["x"]}))
        .await;
    assert_eq!(again["memberCount"], 1);
    assert_eq!(again["bannedUsers"], json!([]));
    assert_eq!(app.check_channels().await.channels["d"], 1);
}

#[tokio::test]
async fn delete_of_a_10000_member_super_channel_finishes_outside_the_request() {
    let app = TestApp::new().await;
    app.add_users(&["o"]).await;
    app.create_channel(
        json!({"channelId": "huge", "type": "super_broadcast", "ownerId": "o", "members": []}),
    )
    .await;
    app.seed_members("huge", ChannelType::SuperBroadcast, 10_000)
        .await;
    assert_eq!(app.check_channels().await.channels["huge"], 10_001);

    // The request ends the channel for readers and sweeps for its budget only.
    let r = app
        .route(
            "channels-delete",
            Method::DELETE,
            "/v1.4/api/channels/huge",
            None,
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    app.view_channel("huge").await.assert_error(404, "2003");
    let census = app.check_channels().await;
    assert!(!census.channels.contains_key("huge"));
    // While anything is left, the id is not free and a repeated delete is 200.
    if let Some(left) = census.deleting.get("huge") {
        assert!(*left > 0);
        let r = app
            .route(
                "channels-create",
                Method::POST,
                "/v1.4/api/channels/create",
                Some(json!({"channelId": "huge", "type": "public", "members": []})),
            )
            .await;
        r.assert_error(409, "2002");
        let r = app
            .route(
                "channels-delete",
                Method::DELETE,
                "/v1.4/api/channels/huge",
                None,
            )
            .await;
        assert_eq!(r.status, 200, "{}", r.body);
    }
    // The sweeper (the change stream's consumer on AWS, `talkplus-admin sweep` locally)
    // finishes the job: the same code, driven by a stream record of the tombstone.
    let event = json!({"Records": [{"eventName": "MODIFY", "dynamodb": {
        "Keys": {"pk": {"S": format!("{}#CHANNEL#huge", app.app_id)}, "sk": {"S": "CHANNEL"}},
        "NewImage": {"deleted_at": {"N": "1"}, "sweep_round": {"N": "1"}}}}]});
    let deadline = tokio::time::Instant::now() + Duration::from_secs(120);
    while app
        .store()
        .channel_partition_exists(&app.app_id, "huge")
        .await
        .unwrap()
    {
        assert!(
            tokio::time::Instant::now() < deadline,
            "sweep did not finish"
        );
        shared::handlers::sweeper::handle(app.store(), event.clone())
            .await
            .expect("sweep");
    }
    let census = app.check_channels().await;
    assert!(
        census.deleting.is_empty() && !census.channels.contains_key("huge"),
        "{census:?}"
    );
    app.route(
        "channels-delete",
        Method::DELETE,
        "/v1.4/api/channels/huge",
        None,
    )
    .await
    .assert_error(404, "2003");
}

#[tokio::test]
async fn a_deleted_channel_refuses_every_change() {
    let app = TestApp::new().await;
    app.add_users(&["o", "a"]).await;
    app.create_channel(
        json!({"channelId": "gone", "type": "public", "ownerId": "o", "members": []}),
    )
    .await;
    app.seed_members("gone", ChannelType::Public, 0).await;
    assert!(
        app.store()
            .delete_channel(&app.app_id, "gone", None, 1)
            .await
            .unwrap()
    );
    // The tombstone is there (nothing swept yet): every change answers 2003.
    for (function, what) in [
        ("channels-members-add", "add"),
        ("channels-members-ban", "ban"),
        ("channels-members-remove", "remove"),
    ] {
        app.route(
            function,
            Method::POST,
            &format!("/v1.4/api/channels/gone/members/{what}"),
            Some(json!({"members": ["a"]})),
        )
        .await
        .assert_error(404, "2003");
    }
    update(&app, "gone", json!({"name": "n"}))
        .await
        .assert_error(404, "2003");
    app.route(
        "bots-create",
        Method::POST,
        "/v1.4/api/bots/create",
        Some(json!({"id": "bb"})),
    )
    .await;
    app.route(
        "bots-join",
        Method::POST,
        "/v1.4/api/bots/bb/channels/gone/join",
        None,
    )
    .await
    .assert_error(404, "2003");
    // Only the owner's membership, from before the delete: nothing was written since.
    assert_eq!(app.check_channels().await.deleting["gone"], 1);
    shared::domain::cleanup::sweep_pending(app.store(), Duration::from_secs(5))
        .await
        .unwrap();
    assert!(
        !app.store()
            .channel_partition_exists(&app.app_id, "gone")
            .await
            .unwrap()
    );
}
