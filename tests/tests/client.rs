//! The client API as the SDKs use it (client-protocol.md): sessions, the paths of §3, the
//! client permission rules, 500 errors. The walkthrough (`talkplus_tests::client`) runs
//! here on the test engine and in e2e.rs over HTTP through `make dev`.

use std::time::Duration;

use lambda_http::http::Method;
use serde_json::json;
use shared::model::{RateLimits, now_ms};
use talkplus_tests::TestApp;
use talkplus_tests::client::{SdkClient, Transport, provision_user, walkthrough};

#[tokio::test]
async fn the_sdk_walkthrough() {
    let app = TestApp::new().await;
    walkthrough(&Transport::InProcess(&app)).await;
    app.check_channels().await;
    app.check_users().await;
}

#[tokio::test]
async fn anonymous_login_is_the_apps_choice_and_never_takes_a_password_user() {
    let app = TestApp::new().await;
    let t = Transport::InProcess(&app);
    let refused = SdkClient::login_anonymous(&t, "guest-1").await.err();
    assert_eq!(refused.as_deref(), Some("3006"));
    app.store()
        .set_anonymous_login(&app.app_id, true, now_ms())
        .await
        .unwrap();
    let (guest, body) = SdkClient::login_anonymous(&t, "guest-1").await.unwrap();
    assert_eq!(body["user"]["username"], "guest guest-1");
    // The user now exists for the admin API too; a second login is the same user, another
    // session.
    let r = t.admin(Method::GET, "users/guest-1", None).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let (again, _) = SdkClient::login_anonymous(&t, "guest-1").await.unwrap();
    assert_ne!(again.session_id, guest.session_id);
    guest
        .call(
            Method::POST,
            "channels/create",
            Some(json!({"channelId": "g", "type": "public", "members": []})),
        )
        .await
        .unwrap();
    // A user with a password (the admin API's) is not open to anonymous login.
    let (alice, _) = provision_user(&t, "alice").await;
    let refused = SdkClient::login_anonymous(&t, &alice).await.err();
    assert_eq!(refused.as_deref(), Some("3009"));
    app.check_users().await;
}

/// A session ends with a password change, and the user's deactivation or delete refuses it
/// (this app's services cache nothing, so at once).
#[tokio::test]
async fn password_change_deactivation_and_delete_end_sessions() {
    let app = TestApp::new().await;
    let t = Transport::InProcess(&app);
    let (id, token) = provision_user(&t, "dana").await;
    let (first, _) = SdkClient::login_with_token(&t, &id, &token, json!({}))
        .await
        .unwrap();
    let (second, _) = SdkClient::login_with_token(&t, &id, &token, json!({}))
        .await
        .unwrap();
    first
        .call(Method::GET, "users/blocked", None)
        .await
        .unwrap();

    let r = t
        .admin(
            Method::POST,
            &format!("users/{id}/deactivate"),
            Some(json!({})),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let refused = first.call(Method::GET, "users/blocked", None).await.err();
    assert_eq!(refused.as_deref(), Some("3010"));
    let r = t
        .admin(
            Method::POST,
            &format!("users/{id}/activate"),
            Some(json!({})),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    first
        .call(Method::GET, "users/blocked", None)
        .await
        .unwrap();

    // A password change: both sessions end, and the old login token is no good either.
    let r = t
        .admin(
            Method::PUT,
            &format!("users/{id}/password"),
            Some(json!({"password": "new-pw"})),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    for s in [&first, &second] {
        let refused = s.call(Method::GET, "users/blocked", None).await.err();
        assert_eq!(refused.as_deref(), Some("3001"));
    }
    let refused = SdkClient::login_with_token(&t, &id, &token, json!({}))
        .await
        .err();
    assert_eq!(refused.as_deref(), Some("3009"));

    // A new login token, a new session; the user's delete ends it.
    let r = t
        .admin(
            Method::POST,
            "users/login",
            Some(json!({"userId": id, "password": "new-pw"})),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let token = r.body["loginToken"].as_str().unwrap();
    let (third, _) = SdkClient::login_with_token(&t, &id, token, json!({}))
        .await
        .unwrap();
    third
        .call(Method::DELETE, "users/delete", None)
        .await
        .unwrap();
    let refused = third.call(Method::GET, "users/blocked", None).await.err();
    assert_eq!(refused.as_deref(), Some("3001"));
    let refused = SdkClient::login_with_token(&t, &id, token, json!({}))
        .await
        .err();
    assert_eq!(refused.as_deref(), Some("3003"));
}

/// A warm function trusts a session it has checked for the auth cache's time; its own logout
/// is seen at once.
#[tokio::test]
async fn a_cached_session_ends_at_once_with_its_own_logout() {
    let app = TestApp::with_auth_cache(Duration::from_secs(30)).await;
    let t = Transport::InProcess(&app);
    let (id, token) = provision_user(&t, "erin").await;
    let (erin, _) = SdkClient::login_with_token(&t, &id, &token, json!({}))
        .await
        .unwrap();
    app.calls.take();
    erin.call(Method::GET, "users/blocked", None).await.unwrap();
    let calls = app.calls.take();
    assert!(
        calls.iter().any(|c| c == "BatchGetItem"),
        "the first request reads the session: {calls:?}"
    );
    // Trusted: no session read.
    erin.call(Method::GET, "users/blocked", None).await.unwrap();
    let calls = app.calls.take();
    assert!(
        !calls.iter().any(|c| c == "BatchGetItem"),
        "a trusted session is not read again: {calls:?}"
    );
    erin.call(Method::POST, "users/logout", Some(json!({})))
        .await
        .unwrap();
    let refused = erin.call(Method::GET, "users/blocked", None).await.err();
    assert_eq!(refused.as_deref(), Some("3001"));
}

/// The client API's rate limit counts per session and answers `1010` with HTTP 500.
#[tokio::test]
async fn the_rate_limit_is_per_session_and_answers_500() {
    let app = TestApp::with_limits(
        Duration::ZERO,
        RateLimits {
            admin: Some(0),
            client: Some(2),
        },
    )
    .await;
    let t = Transport::InProcess(&app);
    let (id, token) = provision_user(&t, "fay").await;
    let (fay, _) = SdkClient::login_with_token(&t, &id, &token, json!({}))
        .await
        .unwrap();
    let (other, _) = SdkClient::login_with_token(&t, &id, &token, json!({}))
        .await
        .unwrap();
    // Eight requests take well under a second, so at most two windows: at most four pass.
    let mut refused = 0;
    for _ in 0..8 {
        match fay.call(Method::GET, "users/blocked", None).await {
            Ok(_) => {}
            Err(code) => {
                assert_eq!(code, "1010");
                refused += 1;
            }
        }
    }
    assert!(refused >= 4, "{refused} of 8 refused at 2 a second");
    // Another session of the same user has its own budget.
    other
        .call(Method::GET, "users/blocked", None)
        .await
        .unwrap();
}

/// The token names its app: one app's session is no key to another's.
#[tokio::test]
async fn a_session_of_one_app_is_refused_by_another() {
    let a = TestApp::new().await;
    let b = TestApp::new().await;
    let ta = Transport::InProcess(&a);
    let (id, token) = provision_user(&ta, "gil").await;
    let (gil, _) = SdkClient::login_with_token(&ta, &id, &token, json!({}))
        .await
        .unwrap();
    let tb = Transport::InProcess(&b);
    let (id_b, token_b) = provision_user(&tb, "gil").await;
    let (gil_b, _) = SdkClient::login_with_token(&tb, &id_b, &token_b, json!({}))
        .await
        .unwrap();
    let refused = gil_b
        .call_with_token(
            Method::GET,
            "users/blocked",
            &format!("Bearer {}", gil.session_token),
        )
        .await
        .err();
    assert_eq!(refused.as_deref(), Some("3002"));
}
