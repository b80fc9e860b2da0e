//! The rest of the users API through the handlers, against the engine: login and password,
//! activation, push settings and devices, blocking and the block rules, and delete at any
//! size, with the races the issue names. Tests that write end with the storage invariants.

use std::time::Duration;

use lambda_http::http::Method;
use serde_json::{Value, json};
use shared::secrets::secret_digest;
use shared::store::keys;
use talkplus_tests::{Reply, TestApp};

async fn post(app: &TestApp, function: &str, path: &str, body: Option<Value>) -> Reply {
    app.route(function, Method::POST, path, body).await
}

async fn create_user(app: &TestApp, id: &str, password: &str) -> Value {
    let r = post(
        app,
        "users-create",
        "/v1.4/api/users/create",
        Some(json!({"userId": id, "password": password, "username": format!("name-{id}")})),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    r.body
}

async fn login(app: &TestApp, id: &str, password: &str) -> Reply {
    post(
        app,
        "users-login",
        "/v1.4/api/users/login",
        Some(json!({"userId": id, "password": password})),
    )
    .await
}

async fn get_user(app: &TestApp, id: &str) -> Reply {
    app.route(
        "users-get",
        Method::GET,
        &format!("/v1.4/api/users/{id}"),
        None,
    )
    .await
}

async fn action(app: &TestApp, id: &str, what: &str) -> Reply {
    let function = format!("users-{}", what.replace('/', "-"));
    post(
        app,
        &function,
        &format!("/v1.4/api/users/{id}/{what}"),
        None,
    )
    .await
}

async fn block(app: &TestApp, id: &str, what: &str, target: &str) -> Reply {
    post(
        app,
        &format!("users-{what}"),
        &format!("/v1.4/api/users/{id}/{what}"),
        Some(json!({"userId": target})),
    )
    .await
}

async fn delete_user(app: &TestApp, id: &str) -> Reply {
    app.route(
        "users-delete",
        Method::DELETE,
        &format!("/v1.4/api/users/{id}"),
        None,
    )
    .await
}

async fn add(app: &TestApp, channel: &str, members: &[&str]) -> Reply {
    post(
        app,
        "channels-members-add",
        &format!("/v1.4/api/channels/{channel}/members/add"),
        Some(json!({"members": members})),
    )
    .await
}

async fn create(app: &TestApp, body: Value) -> Reply {
    post(
        app,
        "channels-create",
        "/v1.4/api/channels/create",
        Some(body),
    )
    .await
}

/// The stored digest of a user's login token.
async fn token_digest(app: &TestApp, id: &str) -> String {
    let item = app
        .stored_item(keys::user_pk(&app.app_id, id), keys::USER_SK)
        .await
        .expect("user item");
    item["login_token_digest"].as_s().expect("digest").clone()
}

/// Runs the sweeper until nothing of deleted users or channels is left (bounded).
async fn sweep_all(app: &TestApp) {
    for _ in 0..60 {
        shared::domain::cleanup::sweep_pending(app.store(), Duration::from_secs(5))
            .await
            .expect("sweep");
        let users = app.check_users().await;
        let channels = app.check_channels().await;
        if users.deleting.is_empty() && channels.deleting.is_empty() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("the sweep did not finish");
}

#[tokio::test]
async fn login_issues_one_current_token_and_a_password_change_ends_it() {
    let app = TestApp::new().await;
    let created = create_user(&app, "u", "first").await;
    let create_token = created["loginToken"].as_str().unwrap().to_owned();
    assert_eq!(token_digest(&app, "u").await, secret_digest(&create_token));

    login(&app, "u", "wrong").await.assert_error(401, "3008");
    login(&app, "nobody", "first")
        .await
        .assert_error(404, "3003");
    post(
        &app,
        "users-login",
        "/v1.4/api/users/login",
        Some(json!({"userId": "u"})),
    )
    .await
    .assert_error(400, "1002");
    post(
        &app,
        "users-login",
        "/v1.4/api/users/login",
        Some(json!({"password": "x"})),
    )
    .await
    .assert_error(400, "1002");

    let r = login(&app, "u", "first").await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["user"]["id"], "u");
    assert_eq!(r.body["user"]["username"], "name-u");
    let token = r.body["loginToken"].as_str().unwrap().to_owned();
    assert_eq!(token.len(), 64);
    assert_ne!(token, create_token);
    // One current token: the new one's digest replaced the old one's.
    assert_eq!(token_digest(&app, "u").await, secret_digest(&token));

    let r = app
        .route(
            "users-password",
            Method::PUT,
            "/v1.4/api/users/u/password",
            Some(json!({"password": "second"})),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["user"]["id"], "u");
    assert!(r.body.get("loginToken").is_none());
    let after = token_digest(&app, "u").await;
    assert_ne!(
        after,
        secret_digest(&token),
        "tokens issued before stop working"
    );
    assert_ne!(after, secret_digest(&create_token));
    login(&app, "u", "first").await.assert_error(401, "3008");
    assert_eq!(login(&app, "u", "second").await.status, 200);

    for (body, code) in [
        (json!({}), "1002"),
        (json!({"password": ""}), "1001"),
        (json!({"password": "x".repeat(1025)}), "1001"),
    ] {
        app.route(
            "users-password",
            Method::PUT,
            "/v1.4/api/users/u/password",
            Some(body),
        )
        .await
        .assert_error(400, code);
    }
    app.route(
        "users-password",
        Method::PUT,
        "/v1.4/api/users/nobody/password",
        Some(json!({"password": "x"})),
    )
    .await
    .assert_error(404, "3003");
}

#[tokio::test]
async fn login_is_two_calls_and_the_hash_runs_only_where_it_must() {
    let app = TestApp::with_auth_cache(Duration::from_secs(60)).await;
    create_user(&app, "rt", "pw").await;
    app.calls.take();
    assert_eq!(login(&app, "rt", "pw").await.status, 200);
    assert_eq!(app.calls.take(), ["GetItem", "UpdateItem"]);
    login(&app, "rt", "no").await.assert_error(401, "3008");
    assert_eq!(app.calls.take(), ["GetItem"]);
    login(&app, "ghost", "no").await.assert_error(404, "3003");
    assert_eq!(app.calls.take(), ["GetItem"]);
    for what in ["deactivate", "activate"] {
        assert_eq!(action(&app, "rt", what).await.status, 200);
        assert_eq!(app.calls.take(), ["UpdateItem"]);
    }
}

#[tokio::test]
async fn a_deactivated_user_is_readable_but_cannot_log_in_own_or_join() {
    let app = TestApp::new().await;
    create_user(&app, "d", "pw").await;
    app.add_users(&["o", "m"]).await;
    app.create_channel(
        json!({"channelId": "g", "type": "public", "ownerId": "o", "members": ["d", "m"]}),
    )
    .await;

    action(&app, "nobody", "deactivate")
        .await
        .assert_error(404, "3003");
    action(&app, "nobody", "activate")
        .await
        .assert_error(404, "3003");
    let r = action(&app, "d", "deactivate").await;
    assert_eq!((r.status, r.body.clone()), (200, json!({})));
    assert_eq!(action(&app, "d", "deactivate").await.status, 200);

    // Still readable and listed, still a member.
    assert_eq!(get_user(&app, "d").await.status, 200);
    let list = app
        .route("users-list", Method::GET, "/v1.4/api/users", None)
        .await;
    assert!(list.body["users"].to_string().contains("\"d\""));
    assert!(
        app.view_channel("g").await.body["channel"]["members"]
            .to_string()
            .contains("\"d\"")
    );

    login(&app, "d", "pw").await.assert_error(403, "3010");
    // Without the right password it is only a wrong password.
    login(&app, "d", "no").await.assert_error(401, "3008");
    create(
        &app,
        json!({"type": "public", "ownerId": "d", "members": ["m"]}),
    )
    .await
    .assert_error(403, "3010");
    create(
        &app,
        json!({"type": "public", "ownerId": "o", "members": ["m", "d"]}),
    )
    .await
    .assert_error(403, "3010");
    create(
        &app,
        json!({"channelId": "h", "type": "public", "ownerId": "o", "members": ["m"]}),
    )
    .await;
    add(&app, "h", &["d"]).await.assert_error(403, "3010");
    app.route(
        "channels-update",
        Method::PUT,
        "/v1.4/api/channels/g",
        Some(json!({"ownerId": "d"})),
    )
    .await
    .assert_error(403, "3010");

    assert_eq!(action(&app, "d", "activate").await.status, 200);
    assert_eq!(login(&app, "d", "pw").await.status, 200);
    assert_eq!(add(&app, "h", &["d"]).await.status, 200);
    app.check_channels().await;
}

#[tokio::test]
async fn push_settings_and_devices_with_the_cap() {
    let app = TestApp::new().await;
    app.add_users(&["u"]).await;
    let r = action(&app, "u", "push/disable").await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["user"]["disablePushNotification"], true);
    assert_eq!(
        get_user(&app, "u").await.body["user"]["disablePushNotification"],
        true
    );
    let r = action(&app, "u", "push/enable").await;
    assert_eq!(r.body["user"]["disablePushNotification"], false);
    action(&app, "nobody", "push/enable")
        .await
        .assert_error(404, "3003");

    let register = |device: String, token: String| {
        let app = &app;
        async move {
            post(
                app,
                "users-register-fcm",
                "/v1.4/api/users/u/register/fcm",
                Some(json!({"deviceId": device, "fcmToken": token})),
            )
            .await
        }
    };
    for body in [
        json!({"deviceId": "d"}),
        json!({"fcmToken": "t"}),
        json!({"deviceId": "", "fcmToken": "t"}),
        json!({"deviceId": "d", "fcmToken": ""}),
    ] {
        post(
            &app,
            "users-register-fcm",
            "/v1.4/api/users/u/register/fcm",
            Some(body),
        )
        .await
        .assert_error(400, "1002");
    }
    register("d".into(), "t".repeat(4097))
        .await
        .assert_error(400, "1001");
    post(
        &app,
        "users-register-fcm",
        "/v1.4/api/users/nobody/register/fcm",
        Some(json!({"deviceId": "d", "fcmToken": "t"})),
    )
    .await
    .assert_error(404, "3003");

    let r = register("phone".into(), "t1".into()).await;
    assert_eq!((r.status, r.body.clone()), (200, json!({})));
    assert_eq!(register("phone".into(), "t2".into()).await.status, 200);
    let census = app.check_users().await;
    assert_eq!(
        census.devices["u"],
        ["phone"],
        "the same id replaces its token"
    );
    let devices = app
        .store()
        .devices(&app.app_id, "u")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(devices.devices[0].fcm_token, "t2");

    // 25 new devices at once: the cap holds exactly, the oldest go.
    let results = futures::future::join_all(
        (0..25).map(|i| register(format!("tab{i:02}"), format!("tok{i}"))),
    )
    .await;
    for r in &results {
        assert_eq!(r.status, 200, "{}", r.body);
    }
    let census = app.check_users().await;
    assert_eq!(census.devices["u"].len(), 20);
    assert!(
        !census.devices["u"].contains(&"phone".to_owned()),
        "oldest evicted"
    );
}

#[tokio::test]
async fn block_unblock_and_the_blocked_list() {
    let app = TestApp::new().await;
    app.add_users(&["u", "a", "b", "c"]).await;
    block(&app, "u", "block", "u")
        .await
        .assert_error(400, "5000");
    block(&app, "u", "unblock", "u")
        .await
        .assert_error(400, "5001");
    block(&app, "u", "unblock", "a")
        .await
        .assert_error(404, "5002");
    block(&app, "u", "block", "ghost")
        .await
        .assert_error(404, "3003");
    block(&app, "ghost", "block", "u")
        .await
        .assert_error(404, "3003");
    block(&app, "u", "unblock", "ghost")
        .await
        .assert_error(404, "3003");
    post(
        &app,
        "users-block",
        "/v1.4/api/users/u/block",
        Some(json!({})),
    )
    .await
    .assert_error(400, "1002");

    for target in ["c", "a", "b", "a"] {
        let r = block(&app, "u", "block", target).await;
        assert_eq!(
            (r.status, r.body.clone()),
            (200, json!({})),
            "blocking twice is 200"
        );
    }
    assert_eq!(block(&app, "a", "block", "u").await.status, 200);
    let census = app.check_users().await;
    assert_eq!(census.blocks.len(), 4);

    let page = |q: &str| {
        let app = &app;
        let path = format!("/v1.4/api/users/u/blocked{q}");
        async move { app.route("users-blocked", Method::GET, &path, None).await }
    };
    let r = page("?limit=2").await;
    assert_eq!(r.status, 200, "{}", r.body);
    let ids = |v: &Value| -> Vec<String> {
        v["users"]
            .as_array()
            .unwrap()
            .iter()
            .map(|u| u["id"].as_str().unwrap().to_owned())
            .collect()
    };
    assert_eq!(ids(&r.body), ["a", "b"]);
    assert_eq!(r.body["hasNext"], true);
    assert_eq!(r.body["users"][0]["username"], "name-a", "with profiles");
    let r = page("?limit=2&lastUserId=b").await;
    assert_eq!(
        (ids(&r.body), r.body["hasNext"].clone()),
        (vec!["c".to_owned()], json!(false))
    );
    app.route(
        "users-blocked",
        Method::GET,
        "/v1.4/api/users/ghost/blocked",
        None,
    )
    .await
    .assert_error(404, "3003");

    assert_eq!(block(&app, "u", "unblock", "b").await.status, 200);
    block(&app, "u", "unblock", "b")
        .await
        .assert_error(404, "5002");
    assert_eq!(ids(&page("").await.body), ["a", "c"]);
    app.check_users().await;
}

#[tokio::test]
async fn the_block_rules_hold_where_users_enter_a_channel() {
    let app = TestApp::new().await;
    app.add_users(&["o", "x", "y", "m", "p", "q"]).await;
    // o blocks x; y blocks o; m blocks p.
    assert_eq!(block(&app, "o", "block", "x").await.status, 200);
    assert_eq!(block(&app, "y", "block", "o").await.status, 200);
    assert_eq!(block(&app, "m", "block", "p").await.status, 200);

    create(
        &app,
        json!({"type": "public", "ownerId": "o", "members": ["m", "x"]}),
    )
    .await
    .assert_error(403, "2019");
    create(
        &app,
        json!({"type": "public", "ownerId": "o", "members": ["y"]}),
    )
    .await
    .assert_error(403, "2020");
    // Co-membership with a blocked user who is not the owner is allowed.
    let r = create(&app, json!({"channelId": "g", "type": "public", "ownerId": "q", "members": ["m", "p", "x", "o"]})).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let r = create(
        &app,
        json!({"channelId": "h", "type": "public", "ownerId": "o", "members": ["m"]}),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    add(&app, "h", &["p", "x"]).await.assert_error(403, "2021");
    add(&app, "h", &["y"]).await.assert_error(403, "2022");
    assert_eq!(add(&app, "h", &["p"]).await.status, 200);
    // The owner, who has blocks, named among the users added: a member like any other.
    add(&app, "h", &["o"]).await.assert_error(409, "2008");
    add(&app, "h", &["o", "p"]).await.assert_error(409, "2008");
    // A block does not remove anyone, and unblocking lifts the rule.
    assert_eq!(block(&app, "o", "unblock", "x").await.status, 200);
    assert_eq!(add(&app, "h", &["x"]).await.status, 200);
    app.check_channels().await;
    app.check_users().await;
}

#[tokio::test]
async fn a_user_with_blocks_costs_the_add_one_more_read_round_only_then() {
    let app = TestApp::with_auth_cache(Duration::from_secs(60)).await;
    app.add_users(&["o", "a", "b"]).await;
    app.create_channel(json!({"channelId": "g", "type": "public", "ownerId": "o", "members": []}))
        .await;
    app.calls.take();
    assert_eq!(add(&app, "g", &["a"]).await.status, 200);
    let plain = app.calls.take();
    assert!(!plain.is_empty());
    assert_eq!(block(&app, "b", "block", "a").await.status, 200);
    app.calls.take();
    assert_eq!(add(&app, "g", &["b"]).await.status, 200);
    let with_blocks = app.calls.take();
    assert_eq!(
        with_blocks.len(),
        plain.len() + 1,
        "{with_blocks:?} vs {plain:?}"
    );
}

#[tokio::test]
async fn delete_removes_the_user_everywhere_at_any_size() {
    let app = TestApp::new().await;
    app.add_users(&["u", "o", "a", "b"]).await;
    // u owns 20 channels and is a member of 130 more: more than one page of its index.
    let mut bodies = Vec::new();
    for i in 0..150 {
        let (owner, members) = if i < 20 {
            ("u", json!(["o", "a"]))
        } else {
            ("o", json!(["u", "a"]))
        };
        bodies.push(json!({"channelId": format!("c{i:03}"), "type": "public", "ownerId": owner, "members": members}));
    }
    bodies.push(
        json!({"channelId": "s", "type": "super_public", "ownerId": "o", "members": ["u", "b"]}),
    );
    for chunk in bodies.chunks(10) {
        futures::future::join_all(chunk.iter().map(|b| app.create_channel(b.clone()))).await;
    }
    for (who, what, target) in [
        ("u", "block", "a"),
        ("b", "block", "u"),
        ("a", "block", "b"),
    ] {
        assert_eq!(block(&app, who, what, target).await.status, 200);
    }
    let r = post(
        &app,
        "users-register-fcm",
        "/v1.4/api/users/u/register/fcm",
        Some(json!({"deviceId": "d", "fcmToken": "t"})),
    )
    .await;
    assert_eq!(r.status, 200);

    // The delete's first write alone (as if its request died right after): the user is gone
    // for every reader, the id is taken, and a delete still answers 200 and sweeps on.
    assert!(
        app.store()
            .delete_user(&app.app_id, "u", shared::model::now_ms())
            .await
            .unwrap()
    );
    get_user(&app, "u").await.assert_error(404, "3003");
    login(&app, "u", "p").await.assert_error(404, "3003");
    block(&app, "a", "block", "u")
        .await
        .assert_error(404, "3003");
    add(&app, "s", &["u"]).await.assert_error(404, "3003");
    let list = app
        .route("users-list", Method::GET, "/v1.4/api/users", None)
        .await;
    assert!(!list.body["users"].to_string().contains("\"u\""));
    post(
        &app,
        "users-create",
        "/v1.4/api/users/create",
        Some(json!({"userId": "u", "password": "p"})),
    )
    .await
    .assert_error(409, "3004");
    assert!(app.check_users().await.deleting.contains_key("u"));

    let r = delete_user(&app, "u").await;
    assert_eq!((r.status, r.body.clone()), (200, json!({})));
    sweep_all(&app).await;
    delete_user(&app, "u").await.assert_error(404, "3003");
    let users = app.check_users().await;
    assert!(users.orphans.is_empty(), "{:?}", users.orphans);
    assert!(!users.devices.contains_key("u"));
    assert_eq!(
        users.blocks.into_iter().collect::<Vec<_>>(),
        [("a".to_owned(), "b".to_owned())],
        "u's blocks both ways are gone, counts checked"
    );
    let channels = app.check_channels().await;
    for i in 0..150 {
        let id = format!("c{i:03}");
        assert_eq!(channels.channels[&id], 2, "{id}");
        let c = app.view_channel(&id).await.body["channel"].clone();
        assert_eq!(c["memberCount"], 2);
        if i < 20 {
            assert_eq!(c["ownerId"], "", "an owned channel stays without an owner");
        } else {
            assert_eq!(c["ownerId"], "o");
        }
    }
    assert_eq!(channels.channels["s"], 2);
    // The id is free again.
    create_user(&app, "u", "new").await;
    assert!(
        app.store()
            .user_channel_ids(&app.app_id, "u", None, 10)
            .await
            .unwrap()
            .items
            .is_empty()
    );
}

#[tokio::test]
async fn concurrent_deletes_and_a_delete_racing_an_add() {
    let app = TestApp::new().await;
    app.add_users(&["o", "v"]).await;
    app.create_channel(
        json!({"channelId": "g", "type": "public", "ownerId": "o", "members": ["v"]}),
    )
    .await;
    let (r1, r2) = tokio::join!(delete_user(&app, "v"), delete_user(&app, "v"));
    assert_eq!(
        (r1.status, r2.status),
        (200, 200),
        "{} {}",
        r1.body,
        r2.body
    );
    sweep_all(&app).await;
    delete_user(&app, "v").await.assert_error(404, "3003");

    // Each round: add w{i} to g while w{i} is deleted. Whichever wins, no membership of a
    // deleted user is left and the count is exact.
    let rounds = 12;
    let ids: Vec<String> = (0..rounds).map(|i| format!("w{i:02}")).collect();
    app.add_users(&ids).await;
    for id in &ids {
        let named = [id.as_str()];
        let (added, deleted) = tokio::join!(add(&app, "g", &named), delete_user(&app, id));
        assert_eq!(deleted.status, 200, "{}", deleted.body);
        assert!(
            added.status == 200 || added.code() == Some("3003"),
            "add: {}",
            added.body
        );
    }
    sweep_all(&app).await;
    let users = app.check_users().await;
    assert!(users.orphans.is_empty(), "{:?}", users.orphans);
    let channels = app.check_channels().await;
    assert_eq!(channels.channels["g"], 1, "only the owner is left");
}

#[tokio::test]
async fn a_block_racing_a_create_ends_in_a_serial_state() {
    let app = TestApp::new().await;
    let rounds = 10;
    let ids: Vec<String> = (0..rounds).map(|i| format!("t{i:02}")).collect();
    app.add_users(&["o"]).await;
    app.add_users(&ids).await;
    for (i, id) in ids.iter().enumerate() {
        let channel = format!("r{i:02}");
        let (created, blocked) = tokio::join!(
            create(
                &app,
                json!({"channelId": channel, "type": "public", "ownerId": "o", "members": [id]})
            ),
            block(&app, "o", "block", id),
        );
        assert_eq!(blocked.status, 200, "{}", blocked.body);
        match created.status {
            // Created first, then blocked: co-membership stays.
            200 => assert_eq!(app.view_channel(&channel).await.status, 200),
            _ => {
                created.assert_error(403, "2019");
                app.view_channel(&channel).await.assert_error(404, "2003");
            }
        }
    }
    app.check_channels().await;
    let users = app.check_users().await;
    assert_eq!(users.blocks.len(), rounds);
}

#[tokio::test]
async fn a_deleted_users_sweep_clears_a_creation_that_died_midway() {
    let mut app = TestApp::new().await;
    let members: Vec<String> = (0..100).map(|i| format!("m{i:03}")).collect();
    app.add_users(&members).await;
    // A 100-member create whose second transaction and undo both fail: the creation is left
    // between its transactions, invisible, holding m000's membership.
    app.calls.fail("TransactWriteItems", 2);
    app.calls.fail("TransactWriteItems", 3);
    let r = create(
        &app,
        json!({"type": "public", "channelId": "died", "members": members}),
    )
    .await;
    assert!(r.status >= 500, "{}", r.body);
    assert_eq!(app.check_channels().await.pending, ["died"]);

    // Old enough to count as abandoned: the user's sweep clears it, as a create would.
    app.services.store = app
        .services
        .store
        .clone()
        .with_abandon_after(Duration::ZERO);
    assert_eq!(delete_user(&app, "m000").await.status, 200);
    sweep_all(&app).await;
    delete_user(&app, "m000").await.assert_error(404, "3003");
    let census = app.check_channels().await;
    assert!(
        census.pending.is_empty() && census.channels.is_empty(),
        "{census:?}"
    );
    assert!(app.check_users().await.orphans.is_empty());
}
