//! Membership changes (add, remove, ban, unban, mute, unmute) and member lists, through the
//! handlers, against the engine: each rule and code, the races, super channels, and the
//! changes of 100 members that need more than one transaction. Every test ends with the
//! storage invariants (`check_channels`).

use std::collections::BTreeSet;

use lambda_http::http::Method;
use serde_json::{Value, json};
use shared::model::ChannelType;
use talkplus_tests::{Reply, TestApp};

fn ids(prefix: &str, n: usize) -> Vec<String> {
    (0..n).map(|i| format!("{prefix}{i:03}")).collect()
}

/// `POST /channels/{id}/members/{change}` with `members`.
async fn change(app: &TestApp, channel: &str, what: &str, members: &[&str]) -> Reply {
    change_body(app, channel, what, json!({"members": members})).await
}

async fn change_body(app: &TestApp, channel: &str, what: &str, body: Value) -> Reply {
    app.route(
        &format!("channels-members-{what}"),
        Method::POST,
        &format!("/v1.4/api/channels/{channel}/members/{what}"),
        Some(body),
    )
    .await
}

async fn view(app: &TestApp, channel: &str) -> Value {
    let r = app.view_channel(channel).await;
    assert_eq!(r.status, 200, "view: {}", r.body);
    r.body["channel"].clone()
}

fn ids_of(list: &Value) -> Vec<String> {
    list.as_array()
        .expect("array")
        .iter()
        .map(|m| m["id"].as_str().expect("id").to_owned())
        .collect()
}

#[tokio::test]
async fn add_follows_every_rule_and_keeps_count_and_index() {
    let app = TestApp::new().await;
    app.add_users(&["o", "a", "b", "c", "d", "x"]).await;
    app.create_channel( json!({"channelId": "g", "type": "public", "ownerId": "o", "members": ["a"], "maxMemberCount": 4})).await;

    let r = change(&app, "g", "add", &["b", "c"]).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let c = &r.body["channel"];
    assert_eq!(c["memberCount"], 4);
    assert_eq!(ids_of(&c["members"]), ["a", "b", "c", "o"]);
    assert_eq!(
        c["members"][1]["username"], "name-b",
        "profiles come with the answer"
    );
    assert_eq!(c["members"][1]["muteExpiresAt"], 0);
    assert_eq!(
        view(&app, "g").await,
        *c,
        "the answer is the channel as stored"
    );

    // Each rule, and all or nothing: a request with one bad id changes nothing.
    change(&app, "g", "add", &["d", "nobody"])
        .await
        .assert_error(404, "3003");
    change(&app, "g", "add", &["d", "a"])
        .await
        .assert_error(409, "2008");
    change(&app, "g", "add", &["d"])
        .await
        .assert_error(403, "2029");
    change(&app, "nowhere", "add", &["d"])
        .await
        .assert_error(404, "2003");
    change(&app, "g", "add", &[])
        .await
        .assert_error(400, "1001");
    change(&app, "g", "add", &["a b"])
        .await
        .assert_error(400, "1001");
    change_body(&app, "g", "add", json!({}))
        .await
        .assert_error(400, "1002");
    change_body(&app, "g", "add", json!({"members": "d"}))
        .await
        .assert_error(400, "1001");
    let many: Vec<String> = ids("u", 101);
    let many: Vec<&str> = many.iter().map(String::as_str).collect();
    change(&app, "g", "add", &many)
        .await
        .assert_error(400, "1001");
    assert_eq!(view(&app, "g").await["memberCount"], 4);

    // Duplicates fold; the reverse index lists the channel for the new member.
    let r = change(&app, "g", "remove", &["c", "c"]).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["channel"]["memberCount"], 3);
    let r = change(&app, "g", "add", &["d", "d"]).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let census = app.check_channels().await;
    assert_eq!(census.channels["g"], 4);
}

#[tokio::test]
async fn remove_and_ban_follow_their_rules() {
    let app = TestApp::new().await;
    app.add_users(&["o", "a", "b", "c", "x"]).await;
    app.create_channel(
        json!({"channelId": "g", "type": "private", "ownerId": "o", "members": ["a", "b", "c"]}),
    )
    .await;

    change(&app, "g", "remove", &["o"])
        .await
        .assert_error(403, "2007");
    change(&app, "g", "remove", &["a", "x"])
        .await
        .assert_error(404, "2009");
    change(&app, "g", "ban", &["o"])
        .await
        .assert_error(403, "2016");
    change(&app, "g", "ban", &["a", "x"])
        .await
        .assert_error(404, "2010");
    assert_eq!(view(&app, "g").await["memberCount"], 4, "nothing changed");

    let r = change(&app, "g", "remove", &["a"]).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(ids_of(&r.body["channel"]["members"]), ["b", "c", "o"]);

    // A ban removes at once and keeps out until unbanned.
    let r = change(&app, "g", "ban", &["b"]).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let c = &r.body["channel"];
    assert_eq!(ids_of(&c["members"]), ["c", "o"]);
    assert_eq!(c["memberCount"], 2);
    assert_eq!(ids_of(&c["bannedUsers"]), ["b"]);
    assert_eq!(c["bannedUsers"][0]["username"], "name-b");
    assert_eq!(view(&app, "g").await, *c);
    change(&app, "g", "add", &["b"])
        .await
        .assert_error(403, "2017");
    let users = app
        .route(
            "users-channels",
            Method::GET,
            "/v1.4/api/users/b/channels",
            None,
        )
        .await;
    assert_eq!(users.body["channels"], json!([]), "{}", users.body);

    let banned = app
        .route(
            "channels-members-banned",
            Method::GET,
            "/v1.4/api/channels/g/members/banned",
            None,
        )
        .await;
    assert_eq!(banned.status, 200, "{}", banned.body);
    assert_eq!(ids_of(&banned.body["users"]), ["b"]);
    assert_eq!(banned.body["hasNext"], false);
    assert_eq!(banned.body["users"][0]["username"], "name-b");

    // Unban of someone not banned changes nothing; unban lets the user back in.
    let r = change(&app, "g", "unban", &["x"]).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(ids_of(&r.body["channel"]["bannedUsers"]), ["b"]);
    let r = change(&app, "g", "unban", &["b", "x"]).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["channel"]["bannedUsers"], json!([]));
    let r = change(&app, "g", "add", &["b"]).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let census = app.check_channels().await;
    assert_eq!(census.channels["g"], 3);
    assert!(census.bans["g"].is_empty());
}

#[tokio::test]
async fn mutes_show_lift_by_themselves_and_follow_their_rules() {
    let app = TestApp::new().await;
    app.add_users(&["o", "a", "b", "x"]).await;
    app.create_channel(
        json!({"channelId": "g", "type": "public", "ownerId": "o", "members": ["a", "b"]}),
    )
    .await;

    change(&app, "g", "mute", &["o"])
        .await
        .assert_error(403, "2028");
    change(&app, "g", "mute", &["a", "x"])
        .await
        .assert_error(404, "2001");
    change(&app, "g", "unmute", &["x"])
        .await
        .assert_error(404, "2001");
    for bad in [json!(-1), json!(525_601), json!("10")] {
        change_body(
            &app,
            "g",
            "mute",
            json!({"members": ["a"], "expireInMinutes": bad}),
        )
        .await
        .assert_error(400, "1001");
    }

    let before = shared::model::now_ms();
    let r = change_body(
        &app,
        "g",
        "mute",
        json!({"members": ["a"], "expireInMinutes": 10}),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let c = &r.body["channel"];
    assert_eq!(ids_of(&c["mutedUsers"]), ["a"]);
    let until = c["mutedUsers"][0]["muteExpiresAt"].as_i64().unwrap();
    assert!(
        until >= before + 600_000 && until <= shared::model::now_ms() + 600_000,
        "{until}"
    );
    assert_eq!(c["members"][0]["muteExpiresAt"], until);
    // Without end: 0, and still muted.
    let r = change_body(
        &app,
        "g",
        "mute",
        json!({"members": ["b"], "expireInMinutes": 0}),
    )
    .await;
    assert_eq!(ids_of(&r.body["channel"]["mutedUsers"]), ["a", "b"]);
    assert_eq!(r.body["channel"]["mutedUsers"][1]["muteExpiresAt"], 0);
    let muted = app
        .route(
            "channels-members-muted",
            Method::GET,
            "/v1.4/api/channels/g/members/muted?limit=1",
            None,
        )
        .await;
    assert_eq!(ids_of(&muted.body["members"]), ["a"]);
    assert_eq!(muted.body["hasNext"], true);
    let muted = app
        .route(
            "channels-members-muted",
            Method::GET,
            "/v1.4/api/channels/g/members/muted?lastUserId=a",
            None,
        )
        .await;
    assert_eq!(ids_of(&muted.body["members"]), ["b"]);
    assert_eq!(muted.body["hasNext"], false);

    // A mute whose end has passed is over, with nothing run to lift it.
    let channel = view(&app, "g").await;
    let stored = match app.store().channel(&app.app_id, "g").await.unwrap() {
        shared::store::ChannelLookup::Found(cm) => cm.channel,
        other => panic!("{other:?}"),
    };
    let past = shared::model::now_ms() - 1;
    app.store()
        .change_members(
            &app.app_id,
            &stored,
            None,
            &[shared::store::MemberWrite::Mute("a".into(), past)],
            past,
        )
        .await
        .unwrap()
        .unwrap();
    let c = view(&app, "g").await;
    assert_eq!(ids_of(&c["mutedUsers"]), ["b"]);
    assert_eq!(c["members"][0]["muteExpiresAt"], 0, "{}", channel);

    // Unmute; unmuting someone not muted is 200 with no change.
    let r = change(&app, "g", "unmute", &["a", "b"]).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["channel"]["mutedUsers"], json!([]));
    let r = change(&app, "g", "unmute", &["a"]).await;
    assert_eq!(r.status, 200, "{}", r.body);
    app.check_channels().await;
}

#[tokio::test]
async fn member_list_and_member_read() {
    let app = TestApp::new().await;
    app.add_users(&ids("u", 5)).await;
    app.create_channel(json!({"channelId": "g", "type": "public", "members": ids("u", 5)}))
        .await;
    let r = app
        .route(
            "channels-members",
            Method::GET,
            "/v1.4/api/channels/g/members?limit=2",
            None,
        )
        .await;
    assert_eq!(ids_of(&r.body["members"]), ["u000", "u001"]);
    assert_eq!(r.body["hasNext"], true);
    let r = app
        .route(
            "channels-members",
            Method::GET,
            "/v1.4/api/channels/g/members?lastUserId=u002",
            None,
        )
        .await;
    assert_eq!(ids_of(&r.body["members"]), ["u003", "u004"]);
    assert_eq!(r.body["hasNext"], false);
    assert_eq!(r.body["members"][0]["username"], "name-u003");
    for q in ["limit=0", "limit=101", "limit=x", "lastUserId=a%23b"] {
        app.route(
            "channels-members",
            Method::GET,
            &format!("/v1.4/api/channels/g/members?{q}"),
            None,
        )
        .await
        .assert_error(400, "1001");
    }
    app.route(
        "channels-members",
        Method::GET,
        "/v1.4/api/channels/none/members",
        None,
    )
    .await
    .assert_error(404, "2003");

    let r = app
        .route(
            "channels-member",
            Method::GET,
            "/v1.4/api/channels/g/members/u001",
            None,
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["member"]["id"], "u001");
    assert_eq!(r.body["member"]["username"], "name-u001");
    assert_eq!(r.body["member"]["muteExpiresAt"], 0);
    app.route(
        "channels-member",
        Method::GET,
        "/v1.4/api/channels/g/members/zz",
        None,
    )
    .await
    .assert_error(404, "2001");
    app.route(
        "channels-member",
        Method::GET,
        "/v1.4/api/channels/none/members/u001",
        None,
    )
    .await
    .assert_error(404, "2003");

    // A super channel pages through its member range.
    app.create_channel(json!({"channelId": "s", "type": "super_public", "members": []}))
        .await;
    app.seed_members("s", ChannelType::SuperPublic, 150).await;
    let mut seen = Vec::new();
    let mut query = String::new();
    loop {
        let r = app
            .route(
                "channels-members",
                Method::GET,
                &format!("/v1.4/api/channels/s/members?limit=100{query}"),
                None,
            )
            .await;
        assert_eq!(r.status, 200, "{}", r.body);
        let page = ids_of(&r.body["members"]);
        query = format!("&lastUserId={}", page.last().unwrap());
        seen.extend(page);
        if r.body["hasNext"] == false {
            break;
        }
    }
    assert_eq!(seen.len(), 150);
    assert_eq!(seen.iter().collect::<BTreeSet<_>>().len(), 150);
    let r = app
        .route(
            "channels-member",
            Method::GET,
            "/v1.4/api/channels/s/members/m000149",
            None,
        )
        .await;
    assert_eq!(r.body["member"]["id"], "m000149", "{}", r.body);
    app.check_channels().await;
}

#[tokio::test]
async fn the_cap_holds_under_thirty_concurrent_adds() {
    let app = TestApp::new().await;
    let users = ids("r", 30);
    app.add_users(&users).await;
    app.add_users(&ids("f", 10)).await;
    app.create_channel( json!({"channelId": "cap", "type": "public", "members": ids("f", 10), "maxMemberCount": 20})).await;
    let replies = futures::future::join_all(
        users
            .iter()
            .map(|u| change_body(&app, "cap", "add", json!({"members": [u]}))),
    )
    .await;
    let added = replies.iter().filter(|r| r.status == 200).count();
    for r in replies.iter().filter(|r| r.status != 200) {
        r.assert_error(403, "2029");
    }
    assert_eq!(added, 10, "exactly the free places");
    assert_eq!(view(&app, "cap").await["memberCount"], 20);
    assert_eq!(app.check_channels().await.channels["cap"], 20);
}

#[tokio::test]
async fn a_ban_racing_an_add_never_leaves_a_banned_member() {
    let app = TestApp::new().await;
    app.add_users(&["o", "u"]).await;
    app.create_channel(
        json!({"channelId": "race", "type": "public", "ownerId": "o", "members": ["u"]}),
    )
    .await;
    for round in 0..12 {
        // u is a member: one request bans u while another removes and re-adds u.
        let ban = change(&app, "race", "ban", &["u"]);
        let churn = async {
            let removed = change(&app, "race", "remove", &["u"]).await;
            (removed.status, change(&app, "race", "add", &["u"]).await)
        };
        let (ban, (_, add)) = futures::join!(ban, churn);
        let census = app.check_channels().await;
        let banned = census.bans["race"].contains(&"u".to_owned());
        let member = view(&app, "race").await["members"]
            .to_string()
            .contains("\"u\"");
        assert!(!(banned && member), "round {round}: banned and a member");
        // Each answer agrees with the end state: a ban that succeeded holds (nothing unbans
        // before this check); one that failed found u out (removed); an add that failed found
        // u still in, or banned.
        match ban.status {
            200 => assert!(banned, "round {round}: ban answered 200: {}", ban.body),
            _ => ban.assert_error(404, "2010"),
        }
        if add.status != 200 {
            assert!(
                matches!(add.code(), Some("2008" | "2017")),
                "round {round}: {}",
                add.body
            );
        }
        // Back to the start: u unbanned and a member.
        change(&app, "race", "unban", &["u"]).await;
        if !member {
            let r = change(&app, "race", "add", &["u"]).await;
            assert_eq!(r.status, 200, "{}", r.body);
        }
    }
}

/// The DynamoDB calls of one membership change on a super channel.
async fn super_change_calls(app: &TestApp, channel: &str, what: &str, member: &str) -> Vec<String> {
    app.calls.take();
    let r = change(app, channel, what, &[member]).await;
    assert_eq!(r.status, 200, "{what}: {}", r.body);
    let mut calls = app.calls.take();
    calls.sort();
    calls
}

#[tokio::test]
async fn super_channel_changes_cost_the_same_at_any_size() {
    let app = TestApp::with_auth_cache(std::time::Duration::from_secs(60)).await;
    app.add_users(&["o", "n1", "n2"]).await;
    let mut costs = Vec::new();
    for (channel, size) in [("small", 10), ("large", 3_000)] {
        app.create_channel(
            json!({"channelId": channel, "type": "super_private", "ownerId": "o", "members": []}),
        )
        .await;
        app.seed_members(channel, ChannelType::SuperPrivate, size)
            .await;
        let mut cost = Vec::new();
        for (what, member) in [
            ("add", "n1"),
            ("mute", "n1"),
            ("unmute", "n1"),
            ("remove", "n1"),
            ("add", "n2"),
            ("ban", "n2"),
            ("unban", "n2"),
        ] {
            cost.push(super_change_calls(&app, channel, what, member).await);
        }
        let r = view(&app, channel).await;
        assert_eq!(r["memberCount"], size as i64 + 1);
        assert_eq!(r["members"], json!([]));
        costs.push(cost);
    }
    assert_eq!(
        costs[0], costs[1],
        "10 members and 3,000 cost the same calls"
    );
    // Add: the channel read (three queries) and the named users' state (one batch read) side
    // by side, then the transaction: no member list read, no profile read.
    assert_eq!(
        costs[0][0],
        [
            "BatchGetItem",
            "Query",
            "Query",
            "Query",
            "TransactWriteItems"
        ]
    );
    let census = app.check_channels().await;
    assert_eq!(census.channels["large"], 3_001);
}

#[tokio::test]
async fn a_hundred_members_in_one_request_all_or_nothing() {
    let app = TestApp::new().await;
    let hundred = ids("h", 100);
    app.add_users(&hundred).await;
    app.create_channel(json!({"channelId": "big", "type": "private", "members": []}))
        .await;
    let names: Vec<&str> = hundred.iter().map(String::as_str).collect();
    app.calls.take();
    let r = change(&app, "big", "add", &names).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["channel"]["memberCount"], 100);
    assert_eq!(r.body["channel"]["members"].as_array().unwrap().len(), 100);
    let transactions = app
        .calls
        .take()
        .iter()
        .filter(|c| *c == "TransactWriteItems")
        .count();
    assert_eq!(transactions, 2, "101 writes: two transactions");
    assert_eq!(app.check_channels().await.channels["big"], 100);
    assert_eq!(view(&app, "big").await, r.body["channel"]);

    // A 101st: 2029, nothing written.
    app.add_users(&["late"]).await;
    change(&app, "big", "add", &["late"])
        .await
        .assert_error(403, "2029");

    // Ban all 100 (201 writes, three transactions): all removed, all banned.
    let r = change(&app, "big", "ban", &names).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["channel"]["memberCount"], 0);
    assert_eq!(
        r.body["channel"]["bannedUsers"].as_array().unwrap().len(),
        100
    );
    let census = app.check_channels().await;
    assert_eq!(census.channels["big"], 0);
    assert_eq!(census.bans["big"].len(), 100);
    let r = change(&app, "big", "unban", &names).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(app.check_channels().await.bans["big"].is_empty());
}

#[tokio::test]
async fn a_change_cut_short_after_its_first_transaction_shows_done_and_is_finished_by_the_next() {
    let app = TestApp::new().await;
    let hundred = ids("h", 100);
    app.add_users(&hundred).await;
    app.add_users(&["o", "x"]).await;
    app.create_channel(
        json!({"channelId": "cut", "type": "super_public", "ownerId": "o", "members": []}),
    )
    .await;
    let names: Vec<&str> = hundred.iter().map(String::as_str).collect();
    // The second transaction never reaches the engine (the function died there).
    app.calls.fail("TransactWriteItems", 2);
    let r = change(&app, "cut", "add", &names).await;
    assert!(r.status >= 500, "{}", r.body);
    // Readers see the change as done: the count is final, and the member read shows it.
    let c = view(&app, "cut").await;
    assert_eq!(c["memberCount"], 101);
    let last = hundred.last().unwrap();
    let m = app
        .route(
            "channels-member",
            Method::GET,
            &format!("/v1.4/api/channels/cut/members/{last}"),
            None,
        )
        .await;
    assert_eq!(m.status, 200, "{}", m.body);
    assert_eq!(app.check_channels().await.pending, ["cut"]);
    // The next change of the channel finishes it first.
    let r = change(&app, "cut", "add", &["x"]).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let census = app.check_channels().await;
    assert!(census.pending.is_empty());
    assert_eq!(census.channels["cut"], 102);
}
