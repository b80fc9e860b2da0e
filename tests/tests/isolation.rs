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

#[tokio::test]
async fn another_app_cannot_see_or_change_anything_on_any_route() {
    let a = TestApp::new().await;
    let b = TestApp::new().await;
    a.add_users(&["a1", "a2"]).await;
    b.add_users(&["b-owner"]).await;
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
    let message_id = sent.body["message"]["id"]
        .as_str()
        .expect("sent")
        .to_owned();
    let before = snapshot(&a, &message_id).await;

    // Creations last, so that the reads and changes run while B has no such ids at all.
    let mut routes = router();
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
        for leak in ["A's bot", "name-a2", "\"ac\"", "A's secret"] {
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
