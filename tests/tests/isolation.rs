//! Tenant isolation: app B, with its own valid credentials, sends every route of the API
//! (enumerated from the router, which the layout test holds equal to template.yaml) with
//! app A's ids. B gets not-found or its own data, never A's, and A's data is unchanged.

use lambda_http::http::Method;
use serde_json::{Value, json};
use talkplus_tests::layout::router;
use talkplus_tests::{Reply, TestApp};

/// What B may get on each route with A's ids: (body, status, code or None for success).
fn expectation(function: &str) -> (Option<Value>, u16, Option<&'static str>) {
    match function {
        "users-get" | "users-update" | "users-channels" => {
            (Some(json!({"username": "stolen"})), 404, Some("3003"))
        }
        "users-list" | "bots-list" => (None, 200, None),
        "users-login" => (
            Some(json!({"userId": "a1", "password": "p"})),
            404,
            Some("3003"),
        ),
        "users-password" => (Some(json!({"password": "stolen"})), 404, Some("3003")),
        "users-activate" | "users-deactivate" | "users-push-enable" | "users-push-disable"
        | "users-delete" | "users-blocked" => (None, 404, Some("3003")),
        "users-register-fcm" => (
            Some(json!({"deviceId": "d", "fcmToken": "t"})),
            404,
            Some("3003"),
        ),
        "users-block" | "users-unblock" => (Some(json!({"userId": "a2"})), 404, Some("3003")),
        "channels-get"
        | "channels-delete"
        | "channels-freeze"
        | "channels-unfreeze"
        | "channels-members"
        | "channels-member"
        | "channels-members-banned"
        | "channels-members-muted" => (None, 404, Some("2003")),
        "channels-update" => (Some(json!({"name": "stolen"})), 404, Some("2003")),
        "channels-members-add"
        | "channels-members-remove"
        | "channels-members-ban"
        | "channels-members-unban"
        | "channels-members-mute"
        | "channels-members-unmute" => (Some(json!({"members": ["a1"]})), 404, Some("2003")),
        "channels-list" => (None, 200, None),
        "channels-hide"
        | "channels-show"
        | "channels-push-enable"
        | "channels-push-disable"
        | "channels-push-settings" => (Some(json!({"userId": "a1"})), 404, Some("2003")),
        "channels-messages"
        | "channels-messages-get"
        | "channels-message-get"
        | "channels-messages-delete" => (None, 404, Some("2003")),
        "channels-messages-send" => (
            Some(json!({"senderId": "a1", "text": "stolen"})),
            404,
            Some("2003"),
        ),
        "channels-create" => (
            Some(json!({"type": "public", "ownerId": "b-owner", "members": ["a1"]})),
            404,
            Some("3003"),
        ),
        "bots-get" | "bots-update" | "bots-delete" | "bots-join" | "bots-leave"
        | "bots-channels" => (Some(json!({"name": "stolen"})), 404, Some("7001")),
        "bots-send" => (Some(json!({"text": "stolen"})), 404, Some("7001")),
        // Creating an id that exists in A makes B's own, separate item.
        "users-create" => (Some(json!({"userId": "a1", "password": "p"})), 200, None),
        "bots-create" => (Some(json!({"id": "ab", "name": "B's bot"})), 200, None),
        other => panic!("no isolation case for {other}: add one"),
    }
}

fn fill(path: &str, message_id: &str) -> String {
    path.replace("{userId}", "a1")
        .replace("{channelId}", "ac")
        .replace("{botId}", "ab")
        .replace("{memberId}", "a1")
        .replace("{messageId}", message_id)
        .replace("{reaction}", "like")
        .replace("{notificationId}", "1795219200000-0123456789abcdef01234567")
}

/// Everything A can read about its data, to compare before and after.
async fn snapshot(a: &TestApp, message_id: &str) -> Vec<Value> {
    let mut out = Vec::new();
    let message = format!("/v1.4/api/channels/ac/messages/{message_id}");
    for (function, path) in [
        ("channels-messages", "/v1.4/api/channels/ac/messages"),
        ("channels-messages-get", message.as_str()),
        ("users-get", "/v1.4/api/users/a1"),
        ("users-get", "/v1.4/api/users/a2"),
        ("users-list", "/v1.4/api/users"),
        ("users-blocked", "/v1.4/api/users/a1/blocked"),
        ("channels-get", "/v1.4/api/channels/ac"),
        ("users-channels", "/v1.4/api/users/a1/channels"),
        ("bots-get", "/v1.4/api/bots/ab"),
        ("bots-list", "/v1.4/api/bots"),
        ("bots-channels", "/v1.4/api/bots/ab/channels"),
        ("channels-list", "/v1.4/api/channels"),
        ("channels-members", "/v1.4/api/channels/ac/members"),
        ("channels-member", "/v1.4/api/channels/ac/members/a2"),
        (
            "channels-members-banned",
            "/v1.4/api/channels/ac/members/banned",
        ),
        (
            "channels-members-muted",
            "/v1.4/api/channels/ac/members/muted",
        ),
    ] {
        let r = a
            .call_function(function, a.request(Method::GET, path, None))
            .await;
        assert_eq!(r.status, 200, "{path}: {}", r.body);
        out.push(r.body);
    }
    out
}

/// A's data: users a1 and a2, bot ab, channel ac (a1's, with a2 and the bot), a block, a
/// message; its id.
async fn setup_a(a: &TestApp) -> String {
    a.add_users(&["a1", "a2"]).await;
    let ok = |r: Reply| assert_eq!(r.status, 200, "setup: {}", r.body);
    ok(a.call_function(
        "bots-create",
        a.request(
            Method::POST,
            "/v1.4/api/bots/create",
            Some(json!({"id": "ab", "name": "A's bot"})),
        ),
    )
    .await);
    ok(a.call_function(
        "channels-create",
        a.request(
            Method::POST,
            "/v1.4/api/channels/create",
            Some(json!({"channelId": "ac", "type": "private", "ownerId": "a1", "members": ["a2"]})),
        ),
    )
    .await);
    ok(a.call_function(
        "bots-join",
        a.request(Method::POST, "/v1.4/api/bots/ab/channels/ac/join", None),
    )
    .await);
    ok(a.call_function(
        "users-block",
        a.request(
            Method::POST,
            "/v1.4/api/users/a1/block",
            Some(json!({"userId": "a2"})),
        ),
    )
    .await);
    let sent = a
        .call_function(
            "channels-messages-send",
            a.request(
                Method::POST,
                "/v1.4/api/channels/ac/messages/send",
                Some(json!({"senderId": "a2", "text": "A's secret"})),
            ),
        )
        .await;
    sent.body["message"]["id"]
        .as_str()
        .expect("sent")
        .to_owned()
}

const LEAKS: [&str; 4] = ["A's bot", "name-a2", "\"ac\"", "A's secret"];

#[tokio::test]
async fn another_app_cannot_see_or_change_anything_on_any_route() {
    let a = TestApp::new().await;
    let b = TestApp::new().await;
    let message_id = setup_a(&a).await;
    b.add_users(&["b-owner"]).await;
    let before = snapshot(&a, &message_id).await;

    // Creations last, so that the reads and changes run while B has no such ids at all.
    let mut routes: Vec<_> = router()
        .into_iter()
        .filter(|r| !shared::openapi::is_client_path(&r.path))
        .collect();
    routes.sort_by_key(|r| r.function.ends_with("-create"));
    assert!(routes.len() >= 15);
    for route in routes {
        let (body, status, code) = expectation(&route.function);
        let method = Method::from_bytes(route.method.as_bytes()).unwrap();
        let body = if method == Method::GET || method == Method::DELETE {
            None
        } else {
            body
        };
        let path = fill(&route.path, &message_id);
        let r = b
            .call_function(&route.function, b.request(method, &path, body))
            .await;
        match code {
            Some(code) => r.assert_error(status, code),
            None => assert_eq!(r.status, status, "{} {path}: {}", route.method, r.body),
        }
        let text = r.body.to_string();
        for leak in LEAKS {
            assert!(
                !text.contains(leak),
                "{} {path} shows A's data: {text}",
                route.method
            );
        }
    }

    assert_eq!(
        snapshot(&a, &message_id).await,
        before,
        "A's data is unchanged"
    );
    // B's creations are B's own.
    let r = b
        .call_function(
            "bots-get",
            b.request(Method::GET, "/v1.4/api/bots/ab", None),
        )
        .await;
    assert_eq!(r.body["bot"]["name"], "B's bot");
    let r = b
        .call_function(
            "users-list",
            b.request(Method::GET, "/v1.4/api/users", None),
        )
        .await;
    let ids: Vec<&str> = r.body["users"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["id"].as_str().unwrap())
        .collect();
    assert!(!ids.contains(&"a2"), "{ids:?}");
    a.check_channels().await;
}

/// What B's logged-in user gets on each client route with A's ids: the code, or success
/// (the routes about the caller act on B's own user).
fn client_expectation(function: &str, path: &str) -> (Option<Value>, Option<&'static str>) {
    // Routes that share a function with another operation, and act on the caller's own.
    match path {
        "/v1.4/users/register/pushkit" => return (Some(json!({"pushKitToken": "b-t"})), None),
        "/v1.4/channels/markread/all" | "/v1.4/channels/hide/all" => {
            return (Some(json!({})), None);
        }
        _ => {}
    }
    match function {
        "users-update" => (Some(json!({"username": "b-name"})), None),
        "users-register-fcm" => (Some(json!({"fcmToken": "b-token"})), None),
        "users-push-enable"
        | "users-push-disable"
        | "users-blocked"
        | "users-channels"
        | "channels-unread-count" => (None, None),
        "users-block" | "users-unblock" => (Some(json!({"userId": "a2"})), Some("3003")),
        "users-login-token" => (
            Some(json!({"userId": "a1", "loginToken": "guess"})),
            Some("3009"),
        ),
        "users-login-anonymous" => (Some(json!({"userId": "a1"})), Some("3006")),
        "channels-create" => (
            Some(json!({"channelId": "bc", "type": "public", "members": ["a2"]})),
            Some("3003"),
        ),
        "channels-members-add"
        | "channels-members-remove"
        | "channels-members-ban"
        | "channels-members-unban"
        | "channels-members-mute"
        | "channels-members-unmute" => (Some(json!({"members": ["a2"]})), Some("2003")),
        "channels-update" => (Some(json!({"name": "stolen"})), Some("2003")),
        "channels-transfer-ownership" => (Some(json!({"userId": "a2"})), Some("2003")),
        "channels-join" => (Some(json!({"invitationCode": "x"})), Some("2003")),
        "channels-messages-send" => (Some(json!({"text": "stolen"})), Some("2003")),
        "channels-get"
        | "channels-delete"
        | "channels-freeze"
        | "channels-unfreeze"
        | "channels-members"
        | "channels-member"
        | "channels-members-banned"
        | "channels-members-muted"
        | "channels-leave"
        | "channels-messages"
        | "channels-messages-get"
        | "channels-messages-delete"
        | "channels-markread"
        | "channels-messages-reactions"
        | "channels-hide"
        | "channels-show"
        | "channels-push-enable"
        | "channels-push-disable"
        | "channels-push-settings" => (Some(json!({})), Some("2003")),
        "channels-private-tag" => (Some(json!({"privateTag": "t"})), Some("2003")),
        "channels-private-data" => (Some(json!({"privateData": {"k": "v"}})), Some("2003")),
        "channels-member-info" => (Some(json!({"memberInfo": {"k": "v"}})), Some("2003")),
        "channels-messages-update" => (Some(json!({"text": "stolen"})), Some("2003")),
        "channels-peer-mute" => (Some(json!({"members": ["a2"]})), Some("2003")),
        "channels-peer-muted" => (None, Some("2003")),
        // Nothing of B's (A's links are checked in tests/tests/realtime.rs).
        "notifications-get" => (None, Some("4003")),
        "channels-messages-react" | "channels-messages-unreact" => {
            (Some(json!({"reaction": "like"})), Some("2003"))
        }
        other => panic!("no client isolation case for {other}: add one"),
    }
}

/// The client API: a session of B's user `a1` (an id A has too) sends every client route with
/// A's ids. It gets not-found or its own data, never A's, and A's data is unchanged.
#[tokio::test]
async fn another_apps_session_cannot_reach_anything_on_any_client_route() {
    use talkplus_tests::client::{SdkClient, Transport};
    let a = TestApp::new().await;
    let b = TestApp::new().await;
    let message_id = setup_a(&a).await;
    let before = snapshot(&a, &message_id).await;
    let tb = Transport::InProcess(&b);
    let r = tb
        .admin(
            Method::POST,
            "users/create",
            Some(json!({"userId": "a1", "password": "p"})),
        )
        .await;
    let token = r.body["loginToken"].as_str().expect("B's a1").to_owned();
    let (b1, _) = SdkClient::login_with_token(&tb, "a1", &token, json!({}))
        .await
        .unwrap();
    let routes: Vec<_> = router()
        .into_iter()
        .filter(|r| shared::openapi::is_client_path(&r.path))
        .filter(|r| !matches!(r.function.as_str(), "users-logout" | "users-delete"))
        .collect();
    assert!(routes.len() >= 30);
    for route in routes {
        let (body, code) = client_expectation(&route.function, &route.path);
        let method = Method::from_bytes(route.method.as_bytes()).unwrap();
        // (A DELETE of the client API may carry a body: a reaction's.)
        let body = if method == Method::GET { None } else { body };
        let path = fill(&route.path, &message_id);
        let relative = path.strip_prefix("/v1.4/").unwrap();
        let answer = if route.path.starts_with("/v1.4/users/login/") {
            let login = body.unwrap_or_default();
            match route.function.as_str() {
                "users-login-token" => SdkClient::login_with_token(
                    &tb,
                    login["userId"].as_str().unwrap(),
                    login["loginToken"].as_str().unwrap(),
                    json!({}),
                )
                .await
                .map(|(_, b)| b),
                _ => SdkClient::login_anonymous(&tb, login["userId"].as_str().unwrap())
                    .await
                    .map(|(_, b)| b),
            }
        } else {
            b1.call(method, relative, body).await
        };
        match (code, &answer) {
            (Some(want), Err(got)) => assert_eq!(got, want, "{} {path}", route.method),
            (None, Ok(_)) => {}
            _ => panic!("{} {path}: {answer:?}, expected {code:?}", route.method),
        }
        let text = format!("{answer:?}");
        for leak in LEAKS {
            assert!(
                !text.contains(leak),
                "{} {path} shows A's data: {text}",
                route.method
            );
        }
    }
    // The caller's own: deleting B's a1 touches nothing of A's.
    b1.call(Method::DELETE, "users/delete", None).await.unwrap();
    assert_eq!(
        snapshot(&a, &message_id).await,
        before,
        "A's data is unchanged"
    );
    a.check_channels().await;
}
