//! End-to-end: real HTTP through `make dev`'s stack (cargo lambda watch + router + the
//! function binaries + the local engine). Ignored by a plain `cargo test`; `make test` starts
//! the stack and runs them with `--ignored`, setting what `talkplus_tests::stack` reads.

use reqwest::Method;
use serde_json::{Value, json};
use talkplus_tests::stack::{Stack, var};

/// A new user with a unique password: (id, password, login token).
async fn user_with_secrets(s: &Stack, prefix: &str) -> (String, String, String) {
    let id = unique(prefix);
    let password = format!("pw-{}", shared::secrets::random_hex(12));
    let (status, body) = s
        .send(
            Method::POST,
            "users/create",
            Some(json!({"userId": id, "password": password})),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let token = body["loginToken"].as_str().unwrap().to_owned();
    (id, password, token)
}

/// The body of a 200 answer.
#[track_caller]
fn ok((status, body): (reqwest::StatusCode, Value)) -> Value {
    assert_eq!(status, 200, "{body}");
    body
}

/// Asserts a TalkPlus error answer with this status and code.
#[track_caller]
fn err((status, body): (reqwest::StatusCode, Value), want: u16, code: &str) {
    assert_eq!(
        (status.as_u16(), body["code"].as_str()),
        (want, Some(code)),
        "{body}"
    );
}

fn unique(prefix: &str) -> String {
    format!("{prefix}-{}", shared::secrets::random_hex(6))
}

#[tokio::test]
#[ignore = "needs the local stack; run by `make test`"]
async fn user_lifecycle_over_http() {
    let s = Stack::from_env();
    let id = unique("e2e");
    let (status, body) = s
        .send(
            Method::POST,
            "users/create",
            Some(json!({"userId": id, "password": "pw", "username": "E2E"})),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["user"]["id"], id);
    assert_eq!(body["loginToken"].as_str().map(str::len), Some(64));

    let (status, again) = s
        .send(
            Method::POST,
            "users/create",
            Some(json!({"userId": id, "password": "pw"})),
        )
        .await;
    assert_eq!(
        (status.as_u16(), again["code"].clone()),
        (409, json!("3004"))
    );

    // The path parameter reaches the function through the router.
    let (status, got) = s.send(Method::GET, &format!("users/{id}"), None).await;
    assert_eq!(status, 200, "{got}");
    assert_eq!(got["user"], body["user"]);

    let (status, put) = s
        .send(
            Method::PUT,
            &format!("users/{id}"),
            Some(json!({"username": "Renamed"})),
        )
        .await;
    assert_eq!(status, 200, "{put}");
    assert_eq!(put["user"]["username"], "Renamed");

    let (status, missing) = s.send(Method::GET, "users/no-such-user-e2e", None).await;
    assert_eq!(
        (status.as_u16(), missing["code"].clone()),
        (404, json!("3003"))
    );

    let (status, list) = s.send(Method::GET, "users?limit=100", None).await;
    assert_eq!(status, 200);
    assert!(list["hasNext"].is_boolean());
    assert!(list["users"].as_array().unwrap().len() <= 100);
}

#[tokio::test]
#[ignore = "needs the local stack; run by `make test`"]
async fn wrong_key_gets_401_and_the_1006_body() {
    let s = Stack::from_env();
    let (status, body) = s
        .send_as(
            "not-the-key",
            Method::POST,
            "users/create",
            Some(json!({"userId": "x", "password": "p"})),
        )
        .await;
    assert_eq!(status, 401);
    let rid = body["requestId"].as_str().expect("requestId").to_owned();
    assert!(!rid.is_empty(), "the Lambda request id is reported");
    assert_eq!(
        body,
        json!({"error": true, "code": "1006", "message": "Unauthorized", "requestId": rid})
    );
}

#[tokio::test]
#[ignore = "needs the local stack; run by `make test`"]
async fn the_dev_table_holds_no_secret_in_clear() {
    let s = Stack::from_env();
    let (id, password, token) = user_with_secrets(&s, "secret").await;

    let client = talkplus_tests::client();
    let mut dump = String::new();
    let mut start = None;
    loop {
        let out = client
            .scan()
            .table_name(var("TABLE_NAME"))
            .set_exclusive_start_key(start)
            .send()
            .await
            .expect("scan the dev table");
        dump.push_str(&format!("{:?}", out.items()));
        start = out.last_evaluated_key;
        if start.is_none() {
            break;
        }
    }
    assert!(dump.contains(&id), "the scan sees the new user");
    for secret in [password.as_str(), token.as_str(), s.api_key.as_str()] {
        assert!(!dump.contains(secret), "a secret is stored in clear");
    }
}

#[tokio::test]
#[ignore = "needs the local stack; run by `make test`"]
async fn channel_create_and_view_over_http() {
    let s = Stack::from_env();
    let (owner, member) = (unique("owner"), unique("member"));
    for id in [&owner, &member] {
        let (status, body) = s
            .send(
                Method::POST,
                "users/create",
                Some(json!({"userId": id, "password": "pw", "username": format!("name of {id}")})),
            )
            .await;
        assert_eq!(status, 200, "{body}");
    }
    let dm = json!({"type": "private", "ownerId": owner, "members": [member], "reuseChannel": true, "data": {"topic": "e2e"}});
    let (status, created) = s
        .send(Method::POST, "channels/create", Some(dm.clone()))
        .await;
    assert_eq!(status, 200, "{created}");
    let channel = &created["channel"];
    let id = channel["id"].as_str().expect("channel id").to_owned();
    assert_eq!(channel["memberCount"], 2);
    assert_eq!(channel["lastMessage"], Value::Null);
    assert_eq!(channel["bots"], json!([]));
    let names: Vec<_> = channel["members"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["username"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(names.len(), 2);
    assert!(names.contains(&format!("name of {owner}")));

    // Reopening the same 1:1 chat answers the same channel.
    let (status, again) = s.send(Method::POST, "channels/create", Some(dm)).await;
    assert_eq!(status, 200);
    assert_eq!(again, created);

    // The path parameter reaches channels-get; the literal route reaches channels-create.
    let (status, got) = s.send(Method::GET, &format!("channels/{id}"), None).await;
    assert_eq!(status, 200, "{got}");
    assert_eq!(got, created);

    let (status, theirs) = s
        .send(Method::GET, &format!("users/{member}/channels"), None)
        .await;
    assert_eq!(status, 200, "{theirs}");
    assert_eq!(theirs["channels"][0]["id"], id.as_str());
    assert_eq!(theirs["hasNext"], false);

    let (status, missing) = s
        .send(Method::GET, "channels/no-such-channel-e2e", None)
        .await;
    assert_eq!(
        (status.as_u16(), missing["code"].clone()),
        (404, json!("2003"))
    );
    let (status, bad) = s
        .send(
            Method::POST,
            "channels/create",
            Some(json!({"type": "invitationOnly", "members": []})),
        )
        .await;
    assert_eq!((status.as_u16(), bad["code"].clone()), (400, json!("2012")));
}

#[tokio::test]
#[ignore = "needs the local stack; run by `make test`"]
async fn bot_lifecycle_over_http() {
    let s = Stack::from_env();
    let bot = unique("bot");
    let (status, created) = s
        .send(
            Method::POST,
            "bots/create",
            Some(json!({"id": bot, "name": "E2E Bot", "type": "cs"})),
        )
        .await;
    assert_eq!(status, 200, "{created}");
    let (status, channel) = s
        .send(
            Method::POST,
            "channels/create",
            Some(json!({"type": "public", "members": []})),
        )
        .await;
    assert_eq!(status, 200, "{channel}");
    let channel_id = channel["channel"]["id"].as_str().unwrap().to_owned();

    let join = format!("bots/{bot}/channels/{channel_id}/join");
    let (status, joined) = s.send(Method::POST, &join, None).await;
    assert_eq!(status, 200, "{joined}");
    assert_eq!(
        joined["channel"]["bots"],
        json!([{"id": bot, "name": "E2E Bot", "profileImageUrl": "", "type": "cs"}])
    );
    let (status, again) = s.send(Method::POST, &join, None).await;
    assert_eq!((status.as_u16(), &again), (200, &joined));

    let (status, put) = s
        .send(
            Method::PUT,
            &format!("bots/{bot}"),
            Some(json!({"name": "Renamed"})),
        )
        .await;
    assert_eq!(status, 200, "{put}");
    let (_, seen) = s
        .send(Method::GET, &format!("channels/{channel_id}"), None)
        .await;
    assert_eq!(seen["channel"]["bots"][0]["name"], "Renamed");
    let (status, theirs) = s
        .send(Method::GET, &format!("bots/{bot}/channels"), None)
        .await;
    assert_eq!(status, 200, "{theirs}");
    assert_eq!(theirs["channels"][0]["id"], channel_id.as_str());
    let (status, list) = s.send(Method::GET, "bots?limit=100", None).await;
    assert_eq!(status, 200, "{list}");

    let (status, left) = s
        .send(
            Method::POST,
            &format!("bots/{bot}/channels/{channel_id}/leave"),
            None,
        )
        .await;
    assert_eq!(status, 200, "{left}");
    assert_eq!(left["channel"]["bots"], json!([]));
    let (status, deleted) = s.send(Method::DELETE, &format!("bots/{bot}"), None).await;
    assert_eq!((status.as_u16(), deleted), (200, json!({})));
    let (status, gone) = s.send(Method::GET, &format!("bots/{bot}"), None).await;
    assert_eq!(
        (status.as_u16(), gone["code"].clone()),
        (404, json!("7001"))
    );
}

/// No credential reaches the logs, at any level: `make test` runs the stack's functions at
/// TRACE (FUNCTION_LOG_LEVEL) and names the log in TALKPLUS_STACK_LOG. This test sends
/// secrets of its own (a password, a wrong key), gets a login token back, and searches the
/// log for them and for the dev app's API key, which every end-to-end and fuzzing request
/// carries. `make dev`'s banner (lines starting with two spaces) shows the dev key on
/// purpose and is left out.
#[tokio::test]
#[ignore = "needs the local stack; run by `make test`"]
async fn no_secret_reaches_the_logs() {
    let s = Stack::from_env();
    let Ok(log_path) = std::env::var("TALKPLUS_STACK_LOG") else {
        panic!("TALKPLUS_STACK_LOG must name the stack's log (run `make test`)");
    };
    let (id, password, token) = user_with_secrets(&s, "secrets").await;
    // The other paths that carry secrets: login (a password in, a token out), a password
    // change, a device's push token.
    let (status, logged_in) = s
        .send(
            Method::POST,
            "users/login",
            Some(json!({"userId": id, "password": password})),
        )
        .await;
    assert_eq!(status, 200, "{logged_in}");
    let login_token = logged_in["loginToken"].as_str().unwrap().to_owned();
    let new_password = format!("pw-{}", shared::secrets::random_hex(12));
    let (status, _) = s
        .send(
            Method::PUT,
            &format!("users/{id}/password"),
            Some(json!({"password": new_password})),
        )
        .await;
    assert_eq!(status, 200);
    let fcm_token = format!("fcm-{}", shared::secrets::random_hex(16));
    let (status, _) = s
        .send(
            Method::POST,
            &format!("users/{id}/register/fcm"),
            Some(json!({"deviceId": "phone", "fcmToken": fcm_token})),
        )
        .await;
    assert_eq!(status, 200);
    let wrong_key = format!("wrong-{}", shared::secrets::random_hex(12));
    let (status, _) = s
        .send_as(&wrong_key, Method::GET, &format!("users/{id}"), None)
        .await;
    assert_eq!(status, 401);
    // Logs are written as they happen; give the last lines a moment to reach the file.
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;

    let log = std::fs::read_to_string(&log_path).expect("read the stack's log");
    assert!(
        log.lines().any(|l| l.contains("DEBUG")),
        "the functions log at DEBUG or finer, so the search covers their most detailed output"
    );
    let lines: Vec<&str> = log.lines().filter(|l| !l.starts_with("  ")).collect();
    for (what, secret) in [
        ("the dev API key", s.api_key.as_str()),
        ("a password", password.as_str()),
        ("a login token", token.as_str()),
        ("a login token from login", login_token.as_str()),
        ("a new password", new_password.as_str()),
        ("an FCM token", fcm_token.as_str()),
        ("a wrong API key", wrong_key.as_str()),
    ] {
        let found: Vec<&&str> = lines
            .iter()
            .filter(|l| l.contains(secret))
            .take(3)
            .collect();
        assert!(found.is_empty(), "{what} is in the log: {found:?}");
    }
}

#[tokio::test]
#[ignore = "needs the local stack; run by `make test`"]
async fn channel_administration_over_http() {
    let s = Stack::from_env();
    let (owner, _, _) = user_with_secrets(&s, "adm-o").await;
    let (a, _, _) = user_with_secrets(&s, "adm-a").await;
    let (b, _, _) = user_with_secrets(&s, "adm-b").await;
    let id = unique("adm-c");
    let category = unique("cat");
    ok(s.send(Method::POST, "channels/create", Some(json!({"channelId": id, "type": "public", "ownerId": owner, "members": [], "category": category}))).await);

    // Members: add, read, list, mute, ban and back.
    let c = ok(s
        .send(
            Method::POST,
            &format!("channels/{id}/members/add"),
            Some(json!({"members": [a, b]})),
        )
        .await);
    assert_eq!(c["channel"]["memberCount"], 3);
    err(
        s.send(
            Method::POST,
            &format!("channels/{id}/members/add"),
            Some(json!({"members": [a]})),
        )
        .await,
        409,
        "2008",
    );
    let m = ok(s
        .send(Method::GET, &format!("channels/{id}/members/{a}"), None)
        .await);
    assert_eq!(m["member"]["id"], a.as_str());
    let list = ok(s
        .send(Method::GET, &format!("channels/{id}/members?limit=2"), None)
        .await);
    assert_eq!(list["members"].as_array().unwrap().len(), 2);
    assert_eq!(list["hasNext"], true);
    let c = ok(s
        .send(
            Method::POST,
            &format!("channels/{id}/members/mute"),
            Some(json!({"members": [a], "expireInMinutes": 5})),
        )
        .await);
    assert_eq!(c["channel"]["mutedUsers"][0]["id"], a.as_str());
    let muted = ok(s
        .send(Method::GET, &format!("channels/{id}/members/muted"), None)
        .await);
    assert_eq!(muted["members"][0]["id"], a.as_str());
    ok(s.send(
        Method::POST,
        &format!("channels/{id}/members/unmute"),
        Some(json!({"members": [a]})),
    )
    .await);
    err(
        s.send(
            Method::POST,
            &format!("channels/{id}/members/mute"),
            Some(json!({"members": [owner]})),
        )
        .await,
        403,
        "2028",
    );
    let c = ok(s
        .send(
            Method::POST,
            &format!("channels/{id}/members/ban"),
            Some(json!({"members": [b]})),
        )
        .await);
    assert_eq!(c["channel"]["bannedUsers"][0]["id"], b.as_str());
    let banned = ok(s
        .send(Method::GET, &format!("channels/{id}/members/banned"), None)
        .await);
    assert_eq!(banned["users"][0]["id"], b.as_str());
    err(
        s.send(
            Method::POST,
            &format!("channels/{id}/members/add"),
            Some(json!({"members": [b]})),
        )
        .await,
        403,
        "2017",
    );
    ok(s.send(
        Method::POST,
        &format!("channels/{id}/members/unban"),
        Some(json!({"members": [b]})),
    )
    .await);
    let c = ok(s
        .send(
            Method::POST,
            &format!("channels/{id}/members/remove"),
            Some(json!({"members": [a]})),
        )
        .await);
    assert_eq!(c["channel"]["memberCount"], 1);
    err(
        s.send(
            Method::POST,
            &format!("channels/{id}/members/remove"),
            Some(json!({"members": [owner]})),
        )
        .await,
        403,
        "2007",
    );

    // Update and ownership transfer, freeze, the app's list.
    ok(s.send(
        Method::POST,
        &format!("channels/{id}/members/add"),
        Some(json!({"members": [a]})),
    )
    .await);
    let c = ok(s
        .send(
            Method::PUT,
            &format!("channels/{id}"),
            Some(json!({"name": "Renamed", "ownerId": a})),
        )
        .await);
    assert_eq!(
        (
            c["channel"]["name"].clone(),
            c["channel"]["ownerId"].clone()
        ),
        (json!("Renamed"), json!(a))
    );
    err(
        s.send(
            Method::PUT,
            &format!("channels/{id}"),
            Some(json!({"ownerId": a})),
        )
        .await,
        403,
        "2030",
    );
    assert_eq!(
        ok(s.send(Method::POST, &format!("channels/{id}/freeze"), None)
            .await),
        json!({})
    );
    assert_eq!(
        ok(s.send(Method::GET, &format!("channels/{id}"), None).await)["channel"]["isFrozen"],
        true
    );
    ok(
        s.send(Method::POST, &format!("channels/{id}/unfreeze"), None)
            .await,
    );
    let listed = ok(s
        .send(Method::GET, &format!("channels?category={category}"), None)
        .await);
    assert_eq!(listed["channels"][0]["id"], id.as_str(), "{listed}");
    let theirs = ok(s
        .send(
            Method::GET,
            &format!("users/{a}/channels?category={category}"),
            None,
        )
        .await);
    assert_eq!(theirs["channels"][0]["id"], id.as_str(), "{theirs}");

    // Delete: gone at once, then 2003 once nothing is left.
    assert_eq!(
        ok(s.send(Method::DELETE, &format!("channels/{id}"), None)
            .await),
        json!({})
    );
    err(
        s.send(Method::GET, &format!("channels/{id}"), None).await,
        404,
        "2003",
    );
    err(
        s.send(Method::DELETE, &format!("channels/{id}"), None)
            .await,
        404,
        "2003",
    );
    let listed = ok(s
        .send(Method::GET, &format!("channels?category={category}"), None)
        .await);
    assert_eq!(listed["channels"], json!([]));
}

#[tokio::test]
#[ignore = "needs the local stack; run by `make test`"]
async fn user_administration_over_http() {
    let s = Stack::from_env();
    let (u, password, _) = user_with_secrets(&s, "adm-u").await;
    let (o, _, _) = user_with_secrets(&s, "adm-o").await;
    let (x, _, _) = user_with_secrets(&s, "adm-x").await;

    // Login and password.
    let login = |user: String, password: String| {
        let s = &s;
        async move {
            s.send(
                Method::POST,
                "users/login",
                Some(json!({"userId": user, "password": password})),
            )
            .await
        }
    };
    let body = ok(login(u.clone(), password.clone()).await);
    assert_eq!(body["user"]["id"], u.as_str());
    assert_eq!(body["loginToken"].as_str().map(str::len), Some(64));
    err(login(u.clone(), "wrong".into()).await, 401, "3008");
    err(login(unique("nobody"), "pw".into()).await, 404, "3003");
    ok(s.send(
        Method::PUT,
        &format!("users/{u}/password"),
        Some(json!({"password": "second"})),
    )
    .await);
    err(login(u.clone(), password.clone()).await, 401, "3008");
    ok(login(u.clone(), "second".into()).await);

    // Activation.
    assert_eq!(
        ok(s.send(Method::POST, &format!("users/{u}/deactivate"), None)
            .await),
        json!({})
    );
    err(login(u.clone(), "second".into()).await, 403, "3010");
    ok(s.send(Method::GET, &format!("users/{u}"), None).await);
    ok(s.send(Method::POST, &format!("users/{u}/activate"), None)
        .await);
    ok(login(u.clone(), "second".into()).await);

    // Push and devices.
    let body = ok(s
        .send(Method::POST, &format!("users/{u}/push/disable"), None)
        .await);
    assert_eq!(body["user"]["disablePushNotification"], true);
    let body = ok(s
        .send(Method::POST, &format!("users/{u}/push/enable"), None)
        .await);
    assert_eq!(body["user"]["disablePushNotification"], false);
    ok(s.send(
        Method::POST,
        &format!("users/{u}/register/fcm"),
        Some(json!({"deviceId": "d1", "fcmToken": "t1"})),
    )
    .await);
    err(
        s.send(
            Method::POST,
            &format!("users/{u}/register/fcm"),
            Some(json!({"deviceId": "d1"})),
        )
        .await,
        400,
        "1002",
    );

    // Blocks and their rules.
    err(
        s.send(
            Method::POST,
            &format!("users/{o}/block"),
            Some(json!({"userId": o})),
        )
        .await,
        400,
        "5000",
    );
    ok(s.send(
        Method::POST,
        &format!("users/{o}/block"),
        Some(json!({"userId": x})),
    )
    .await);
    ok(s.send(
        Method::POST,
        &format!("users/{o}/block"),
        Some(json!({"userId": x})),
    )
    .await);
    let body = ok(s
        .send(Method::GET, &format!("users/{o}/blocked?limit=10"), None)
        .await);
    assert_eq!(body["users"][0]["id"], x.as_str());
    assert_eq!(body["hasNext"], false);
    err(
        s.send(
            Method::POST,
            "channels/create",
            Some(json!({"type": "public", "ownerId": o, "members": [x]})),
        )
        .await,
        403,
        "2019",
    );
    let channel = unique("adm-g");
    ok(s.send(
        Method::POST,
        "channels/create",
        Some(json!({"channelId": channel, "type": "public", "ownerId": o, "members": [u]})),
    )
    .await);
    err(
        s.send(
            Method::POST,
            &format!("channels/{channel}/members/add"),
            Some(json!({"members": [x]})),
        )
        .await,
        403,
        "2021",
    );
    ok(s.send(
        Method::POST,
        &format!("users/{o}/unblock"),
        Some(json!({"userId": x})),
    )
    .await);
    err(
        s.send(
            Method::POST,
            &format!("users/{o}/unblock"),
            Some(json!({"userId": x})),
        )
        .await,
        404,
        "5002",
    );

    // Delete: gone at once, out of the channel, the owned channel kept without an owner.
    assert_eq!(
        ok(s.send(Method::DELETE, &format!("users/{o}"), None).await),
        json!({})
    );
    err(
        s.send(Method::GET, &format!("users/{o}"), None).await,
        404,
        "3003",
    );
    let c = ok(s
        .send(Method::GET, &format!("channels/{channel}"), None)
        .await);
    assert_eq!(c["channel"]["ownerId"], "");
    assert_eq!(c["channel"]["memberCount"], 1);
    // The sweeper (`talkplus-admin sweep --watch`) finishes after the settle time.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(40);
    loop {
        let (status, body) = s.send(Method::DELETE, &format!("users/{o}"), None).await;
        if status == 404 {
            assert_eq!(body["code"], "3003");
            break;
        }
        assert_eq!(status, 200, "{body}");
        assert!(
            std::time::Instant::now() < deadline,
            "the user delete did not finish"
        );
        tokio::time::sleep(std::time::Duration::from_secs(1)).await;
    }
}

#[tokio::test]
#[ignore = "needs the local stack; run by `make test`"]
async fn messaging_over_http() {
    let s = Stack::from_env();
    let (a, _, _) = user_with_secrets(&s, "msg-a").await;
    let (b, _, _) = user_with_secrets(&s, "msg-b").await;
    let (x, _, _) = user_with_secrets(&s, "msg-x").await;
    let channel = unique("msg-c");
    ok(s.send(
        Method::POST,
        "channels/create",
        Some(json!({"channelId": channel, "type": "private", "ownerId": a, "members": [b]})),
    )
    .await);
    let path = format!("channels/{channel}/messages/send");

    // Send, with a retry-safe key: the repeat answers the same message.
    let body = json!({"senderId": a, "text": "hello", "mentions": [b]});
    let first = ok(s
        .send_headers(
            Method::POST,
            &path,
            Some(body.clone()),
            &[("Idempotency-Key", "e2e-1")],
        )
        .await);
    let id = first["message"]["id"].as_str().unwrap().to_owned();
    assert_eq!(first["message"]["userId"], a.as_str());
    let repeat = ok(s
        .send_headers(
            Method::POST,
            &path,
            Some(body),
            &[("Idempotency-Key", "e2e-1")],
        )
        .await);
    assert_eq!(repeat["message"]["id"], id.as_str());
    err(
        s.send_headers(
            Method::POST,
            &path,
            Some(json!({"senderId": a, "text": "changed"})),
            &[("Idempotency-Key", "e2e-1")],
        )
        .await,
        400,
        "1001",
    );
    let reply = ok(s
        .send(
            Method::POST,
            &path,
            Some(json!({"senderId": b, "text": "hi", "parentMessageId": id})),
        )
        .await);
    assert_eq!(reply["message"]["parentMessage"]["id"], id.as_str());
    let reply_id = reply["message"]["id"].as_str().unwrap().to_owned();
    err(
        s.send(
            Method::POST,
            &path,
            Some(json!({"senderId": x, "text": "hi"})),
        )
        .await,
        403,
        "4000",
    );
    err(
        s.send(Method::POST, &path, Some(json!({"senderId": a})))
            .await,
        400,
        "4002",
    );
    ok(s.send(
        Method::POST,
        &path,
        Some(json!({"type": "admin", "text": "notice"})),
    )
    .await);

    // A bot in the channel sends as itself.
    let bot = unique("msg-bot");
    ok(s.send(
        Method::POST,
        "bots/create",
        Some(json!({"id": bot, "name": "Helper"})),
    )
    .await);
    err(
        s.send(
            Method::POST,
            &format!("bots/{bot}/channels/{channel}/send"),
            Some(json!({"text": "x"})),
        )
        .await,
        403,
        "4000",
    );
    ok(s.send(
        Method::POST,
        &format!("bots/{bot}/channels/{channel}/join"),
        None,
    )
    .await);
    let beep = ok(s
        .send(
            Method::POST,
            &format!("bots/{bot}/channels/{channel}/send"),
            Some(json!({"text": "beep"})),
        )
        .await);
    assert_eq!(beep["message"]["username"], "Helper");
    let beep_id = beep["message"]["id"].as_str().unwrap().to_owned();

    // History both ways, view in both path forms, lastMessage and lastSentAt.
    let page = ok(s
        .send(
            Method::GET,
            &format!("channels/{channel}/messages?limit=2"),
            None,
        )
        .await);
    let newest: Vec<&str> = page["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["id"].as_str().unwrap())
        .collect();
    assert_eq!(newest[0], beep_id.as_str());
    assert_eq!(page["hasNext"], true);
    let oldest = ok(s
        .send(
            Method::GET,
            &format!("channels/{channel}/messages?order=oldest&limit=50"),
            None,
        )
        .await);
    assert_eq!(oldest["messages"].as_array().unwrap().len(), 4);
    assert_eq!(oldest["messages"][0]["id"], id.as_str());
    assert_eq!(oldest["hasNext"], false);
    for form in ["messages", "message"] {
        let v = ok(s
            .send(
                Method::GET,
                &format!("channels/{channel}/{form}/{reply_id}"),
                None,
            )
            .await);
        assert_eq!(v["message"]["text"], "hi");
    }
    let view = ok(s
        .send(Method::GET, &format!("channels/{channel}"), None)
        .await);
    assert_eq!(view["channel"]["lastMessage"]["id"], beep_id.as_str());
    let member_b = view["channel"]["members"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["id"] == b.as_str())
        .unwrap()
        .clone();
    assert!(member_b["lastSentAt"].as_i64().unwrap() > 0);

    // Delete: lastMessage moves back; the message is gone for every reader.
    assert_eq!(
        ok(s.send(
            Method::DELETE,
            &format!("channels/{channel}/messages/{beep_id}"),
            None
        )
        .await),
        json!({})
    );
    err(
        s.send(
            Method::GET,
            &format!("channels/{channel}/messages/{beep_id}"),
            None,
        )
        .await,
        404,
        "4003",
    );
    let view = ok(s
        .send(Method::GET, &format!("channels/{channel}"), None)
        .await);
    assert_ne!(view["channel"]["lastMessage"]["id"], beep_id.as_str());

    // Deleting the channel takes its messages.
    ok(s.send(Method::DELETE, &format!("channels/{channel}"), None)
        .await);
    err(
        s.send(Method::GET, &format!("channels/{channel}/messages"), None)
            .await,
        404,
        "2003",
    );
}

/// Runs the provisioning CLI of the stack's build against the stack's table.
fn admin(args: &[&str]) -> std::process::Output {
    let target = std::env::var("CARGO_TARGET_DIR")
        .unwrap_or_else(|_| concat!(env!("CARGO_MANIFEST_DIR"), "/../target").to_owned());
    std::process::Command::new(format!("{target}/debug/talkplus-admin"))
        .args(args)
        .env("TABLE_NAME", var("TABLE_NAME"))
        .env(
            "AWS_ENDPOINT_URL_DYNAMODB",
            var("TALKPLUS_TEST_DYNAMODB_ENDPOINT"),
        )
        .env("AWS_REGION", "us-east-1")
        .env("AWS_ACCESS_KEY_ID", "local")
        .env("AWS_SECRET_ACCESS_KEY", "local")
        // make dev's development sealing key (scripts/dev.sh).
        .env(
            "TALKPLUS_DEV_SEAL_KEY",
            std::env::var("TALKPLUS_DEV_SEAL_KEY")
                .unwrap_or_else(|_| "talkplus-dev-seal-key".to_owned()),
        )
        .output()
        .expect("run talkplus-admin")
}

#[tokio::test]
#[ignore = "needs the local stack; run by `make test`"]
async fn webhooks_arrive_through_the_local_pipeline() {
    use talkplus_tests::webhooks::Receiver;
    let s = Stack::from_env();
    let receiver = Receiver::start().await;
    let url = format!("{}/e2e", receiver.url);
    let refused = admin(&[
        "set-webhook",
        "--app-id",
        &s.app_id,
        "--url",
        "http://hooks.example.com/x",
    ]);
    assert!(!refused.status.success());
    assert!(String::from_utf8_lossy(&refused.stderr).contains("https"));
    let set = admin(&[
        "set-webhook",
        "--app-id",
        &s.app_id,
        "--url",
        &url,
        "--events",
        "channel_added,message",
        "--retry",
        "talkplus",
    ]);
    assert!(
        set.status.success(),
        "{}",
        String::from_utf8_lossy(&set.stderr)
    );
    let shown: Value = serde_json::from_slice(&set.stdout).unwrap();
    assert_eq!(shown["url"], url.as_str());
    assert_eq!(shown["retry"], "talkplus");

    let (a, _, _) = user_with_secrets(&s, "hook-a").await;
    let channel = unique("hook-c");
    ok(s.send(
        Method::POST,
        "channels/create",
        Some(json!({"channelId": channel, "type": "public", "members": [a]})),
    )
    .await);
    let sent = ok(s
        .send(
            Method::POST,
            &format!("channels/{channel}/messages/send"),
            Some(json!({"senderId": a, "text": "over the pipeline"})),
        )
        .await);
    let ours = || {
        receiver
            .delivered()
            .into_iter()
            .filter(|r| r.json()["channel"]["id"] == channel.as_str())
            .collect::<Vec<_>>()
    };
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while ours().len() < 2 && std::time::Instant::now() < deadline {
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    let off = admin(&["set-webhook", "--app-id", &s.app_id, "--off"]);
    assert!(
        off.status.success(),
        "{}",
        String::from_utf8_lossy(&off.stderr)
    );
    let got = ours();
    let events: Vec<Value> = got.iter().map(|r| r.json()["event"].clone()).collect();
    assert_eq!(events, [json!("channel_added"), json!("message")]);
    assert_eq!(got[1].json()["message"]["id"], sent["message"]["id"]);
    for r in &got {
        // As a TalkPlus receiver checks it: HMAC-SHA256 of the body with the API key.
        assert_eq!(
            r.header("x-talkplus-signature"),
            shared::webhooks::sign::talkplus_signature(&s.api_key, r.body.as_bytes())
        );
        assert_eq!(r.header("user-agent"), "TalkPlus");
    }
}

/// The client API over HTTP exactly as the SDKs call it: the walkthrough of
/// `talkplus_tests::client` (login, channels, members, messages, the permission and join
/// rules, logout) through `make dev`'s router and function binaries.
#[tokio::test]
#[ignore = "needs the local stack; run by `make test`"]
async fn the_sdk_walkthrough_over_http() {
    let s = Stack::from_env();
    talkplus_tests::client::walkthrough(&talkplus_tests::client::Transport::Http(&s)).await;
}

/// Uploads through `make dev`: multipart forms as the SDKs send them, the files stored in
/// moto's S3 and served from the URLs the answers give.
#[tokio::test]
#[ignore = "needs the local stack; run by `make test`"]
async fn uploads_over_http() {
    let s = Stack::from_env();
    talkplus_tests::client::uploads(&talkplus_tests::client::Transport::Http(&s)).await;
}

/// `talkplus-admin set-app --anonymous-login true` opens anonymous login (seen by a warm
/// function within its auth cache's 30 s), which then creates the user.
#[tokio::test]
#[ignore = "needs the local stack; run by `make test`"]
async fn anonymous_login_is_opened_by_the_provisioning_tool() {
    use talkplus_tests::client::{SdkClient, Transport};
    let s = Stack::from_env();
    let t = Transport::Http(&s);
    let set = admin(&[
        "set-app",
        "--app-id",
        &s.app_id,
        "--anonymous-login",
        "true",
    ]);
    assert!(
        set.status.success(),
        "{}",
        String::from_utf8_lossy(&set.stderr)
    );
    let printed: Value = serde_json::from_slice(&set.stdout).expect("JSON");
    assert_eq!(printed["anonymousLogin"], true);
    let id = unique("anon");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(45);
    let body = loop {
        match SdkClient::login_anonymous(&t, &id).await {
            Ok((_, body)) => break body,
            Err(code) => {
                assert_eq!(code, "3006");
                assert!(
                    std::time::Instant::now() < deadline,
                    "still refused after 45 s"
                );
                tokio::time::sleep(std::time::Duration::from_secs(1)).await;
            }
        }
    };
    assert_eq!(body["user"]["id"], id);
    let got = ok(s.send(Method::GET, &format!("users/{id}"), None).await);
    assert_eq!(got["user"]["id"], id);
}

/// The SDKs' WebSocket through `make dev`: the dev gateway, the functions' code behind it,
/// and the fan-out from the engine's stream. The sockets connect with `?timestamp=` a moment
/// back, so an event that comes before the auth frame is through is replayed, not missed.
#[tokio::test]
#[ignore = "needs the local stack; run by `make test`"]
async fn realtime_over_http() {
    use talkplus_tests::client::{Transport, logged_in_users};
    use talkplus_tests::realtime::WsClient;
    let s = Stack::from_env();
    let url = var("TALKPLUS_E2E_WS_URL");
    let t = Transport::Http(&s);
    let users = logged_in_users(&t, &["ws-alice", "ws-bob"]).await;
    let (alice, bob) = (&users[0], &users[1]);
    let since = shared::model::now_ms() - 1_000;
    let mut sockets = Vec::new();
    for u in &users {
        let mut ws = WsClient::connect(&url, Some(since)).await;
        ws.auth(&s.app_id, &u.session_id, &u.session_token).await;
        sockets.push(ws);
    }
    let id = unique("ws");
    alice
        .call(
            Method::POST,
            "channels/create",
            Some(json!({"channelId": id, "type": "private", "ownerId": alice.user_id, "members": [bob.user_id]})),
        )
        .await
        .expect("create");
    bob.call(
        Method::POST,
        &format!("channels/{id}/messages/send"),
        Some(json!({"type": "text", "text": "over the socket"})),
    )
    .await
    .expect("send");
    for ws in sockets.iter_mut() {
        assert!(ws.ping().await, "a ping is answered");
        let mut seen = std::collections::BTreeMap::new();
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
        while seen.len() < 2 && std::time::Instant::now() < deadline {
            if let Some(f) = ws.next(std::time::Duration::from_secs(1)).await
                && f["data"]["channel"]["id"] == id.as_str()
            {
                seen.insert(f["uid"].as_str().unwrap().to_owned(), f);
            }
        }
        let mut kinds: Vec<&str> = seen.values().map(|f| f["type"].as_str().unwrap()).collect();
        kinds.sort_unstable();
        assert_eq!(kinds, ["channelAdded", "message"], "{seen:?}");
        let message = seen.values().find(|f| f["type"] == "message").unwrap();
        assert_eq!(message["data"]["message"]["text"], "over the socket");
    }
}

/// A public channel's watcher through `make dev`: a non-member reads the channel's history
/// over HTTP, and the channel's next message reaches their socket marked
/// `isPublicChannelEvent`.
#[tokio::test]
#[ignore = "needs the local stack; run by `make test`"]
async fn public_channel_watchers_over_http() {
    use talkplus_tests::client::{Transport, logged_in_users};
    use talkplus_tests::realtime::WsClient;
    let s = Stack::from_env();
    let url = var("TALKPLUS_E2E_WS_URL");
    let t = Transport::Http(&s);
    let users = logged_in_users(&t, &["ws-host", "ws-watcher"]).await;
    let (host, watcher) = (&users[0], &users[1]);
    let id = unique("ws-pub");
    host.call(
        Method::POST,
        "channels/create",
        Some(json!({"channelId": id, "type": "public", "ownerId": host.user_id, "members": []})),
    )
    .await
    .expect("create");
    let mut ws = WsClient::connect(&url, None).await;
    ws.auth(&s.app_id, &watcher.session_id, &watcher.session_token)
        .await;
    assert!(ws.ping().await, "authenticated and answering");
    watcher
        .call(Method::GET, &format!("channels/{id}/messages"), None)
        .await
        .expect("a non-member reads a public channel");
    host.call(
        Method::POST,
        &format!("channels/{id}/messages/send"),
        Some(json!({"type": "text", "text": "to the watchers"})),
    )
    .await
    .expect("send");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    let frame = loop {
        assert!(
            std::time::Instant::now() < deadline,
            "no message reached the watcher"
        );
        if let Some(f) = ws.next(std::time::Duration::from_secs(1)).await
            && f["data"]["channel"]["id"] == id.as_str()
        {
            break f;
        }
    };
    assert_eq!(frame["type"], "message", "{frame}");
    assert_eq!(frame["data"]["isPublicChannelEvent"], true, "{frame}");
    assert_eq!(frame["data"]["message"]["text"], "to the watchers");
}

/// Push through `make dev`: the app gets the tests' service account from `talkplus-admin
/// set-app --fcm-service-account`, a message reaches the fake FCM for the member with no
/// connection, and the push's link answers with the event over the client API.
#[tokio::test]
#[ignore = "needs the local stack; run by `make test`"]
async fn push_over_http() {
    use talkplus_tests::client::{Transport, logged_in_users};
    use talkplus_tests::fcm::{FakeFcm, test_account_file, test_account_path};
    let s = Stack::from_env();
    let account = shared::realtime::push::ServiceAccount::parse(&test_account_file()).unwrap();
    let port: u16 = var("TALKPLUS_E2E_FCM_PORT").parse().unwrap();
    let fcm = FakeFcm::start_on(&account, port).await;
    let set = admin(&[
        "set-app",
        "--app-id",
        &s.app_id,
        "--fcm-service-account",
        &test_account_path(),
    ]);
    assert!(
        set.status.success(),
        "{}",
        String::from_utf8_lossy(&set.stderr)
    );
    let out: Value = serde_json::from_slice(&set.stdout).unwrap();
    assert_eq!(
        (out["fcm"].as_bool(), out["fcmProject"].as_str()),
        (Some(true), Some("talkplus-test"))
    );
    let bad = admin(&[
        "set-app",
        "--app-id",
        &s.app_id,
        "--fcm-service-account",
        "Cargo.toml",
    ]);
    assert!(
        !bad.status.success(),
        "a file that is not a key file is refused"
    );

    let t = Transport::Http(&s);
    let users = logged_in_users(&t, &["push-alice", "push-bob"]).await;
    let (alice, bob) = (&users[0], &users[1]);
    let token = format!("tok-{}", unique("e2e"));
    bob.call(
        Method::POST,
        "users/register/fcm",
        Some(json!({"deviceId": "phone", "fcmToken": token})),
    )
    .await
    .expect("register");
    let id = unique("push");
    alice
        .call(
            Method::POST,
            "channels/create",
            Some(json!({"channelId": id, "type": "private", "ownerId": alice.user_id, "members": [bob.user_id]})),
        )
        .await
        .expect("create");
    alice
        .call(
            Method::POST,
            &format!("channels/{id}/messages/send"),
            Some(json!({"type": "text", "text": "you have mail"})),
        )
        .await
        .expect("send");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    let push = loop {
        if let Some(p) = fcm.pushed().into_iter().find(|p| p.token == token) {
            break p;
        }
        assert!(std::time::Instant::now() < deadline, "no push for bob");
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    };
    assert!(
        fcm.pushed().iter().all(|p| p.token == token),
        "only bob is pushed (alice registered no device)"
    );
    let link = push.talkplus["notificationLink"].as_str().unwrap();
    let path = link
        .strip_prefix(&format!("{}/v1.4/", s.base.trim_end_matches('/')))
        .unwrap_or_else(|| panic!("{link} is not on {}", s.base));
    let n = bob.call(Method::GET, path, None).await.expect("the link");
    assert_eq!(n["notification"]["type"], "message");
    assert_eq!(
        n["notification"]["data"]["message"]["text"],
        "you have mail"
    );
    assert_eq!(n["notification"]["data"]["channel"]["id"], id.as_str());
    let off = admin(&["set-app", "--app-id", &s.app_id, "--no-fcm"]);
    assert!(off.status.success());
}
