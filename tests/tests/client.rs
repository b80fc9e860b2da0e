//! The client API as the SDKs use it (client-protocol.md): sessions, the paths of §3, the
//! client permission rules, 500 errors. The walkthrough (`talkplus_tests::client`) runs
//! here on the test engine and in e2e.rs over HTTP through `make dev`.

use std::time::Duration;

use lambda_http::http::Method;
use serde_json::json;
use shared::model::{RateLimits, now_ms};
use talkplus_tests::TestApp;
use talkplus_tests::client::{SdkClient, Transport, logged_in_users, provision_user, walkthrough};

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

/// Unread counts stay exact while members send and mark read at once: each member's count is
/// the others' messages after their mark, the channel's counter is its history.
#[tokio::test]
async fn unread_counts_are_exact_under_concurrent_sends_and_mark_reads() {
    let app = TestApp::new().await;
    let t = Transport::InProcess(&app);
    let clients = logged_in_users(&t, &["ann", "ben", "cat"]).await;
    let ids: Vec<String> = clients.iter().map(|c| c.user_id.clone()).collect();
    let (ann, ben, cat) = (&clients[0], &clients[1], &clients[2]);
    ann.call(
        Method::POST,
        "channels/create",
        Some(json!({"channelId": "busy", "type": "private", "members": [ids[1], ids[2]]})),
    )
    .await
    .unwrap();
    const EACH: usize = 15;
    // Ben and Cat send while Ann sends and marks read (her own sends and marks in turn: a
    // mark races the others' sends, which stay unread, never her own).
    let work = clients.iter().map(|c| async move {
        for i in 0..EACH {
            c.call(
                Method::POST,
                "channels/busy/messages/send",
                Some(json!({"text": format!("{} {i}", c.user_id)})),
            )
            .await
            .unwrap();
            if c.user_id == ann.user_id && i % 3 == 0 {
                c.call(Method::POST, "channels/busy/markread", Some(json!({})))
                    .await
                    .unwrap();
            }
        }
    });
    futures::future::join_all(work).await;

    // Ben and Cat never marked: every message of the two others is unread.
    assert_eq!(unread(ben).await, 2 * EACH as i64);
    assert_eq!(unread(cat).await, 2 * EACH as i64);
    let ann_unread = unread(ann).await;
    assert!((0..=2 * EACH as i64).contains(&ann_unread), "{ann_unread}");
    // The channel's counter is its history.
    let item = app
        .stored_item(
            shared::store::keys::channel_pk(&app.app_id, "busy"),
            "CHANNEL",
        )
        .await
        .unwrap();
    assert_eq!(
        item["message_count"].as_n().unwrap(),
        &(3 * EACH).to_string()
    );
    // A mark-read in quiet reads everything; then exactly what others send is unread.
    ann.call(Method::POST, "channels/busy/markread", Some(json!({})))
        .await
        .unwrap();
    assert_eq!(unread(ann).await, 0);
    let more = clients.iter().zip([2, 5, 3]).map(|(c, n)| async move {
        for _ in 0..n {
            c.call(
                Method::POST,
                "channels/busy/messages/send",
                Some(json!({"text": "x"})),
            )
            .await
            .unwrap();
        }
    });
    futures::future::join_all(more).await;
    assert_eq!(unread(ann).await, 8);
    assert_eq!(unread(ben).await, 2 * EACH as i64 + 2 + 3);
}

/// The caller's `unreadCount` of channel `busy`.
async fn unread(c: &SdkClient<'_>) -> i64 {
    c.call(Method::GET, "channels/busy", None).await.unwrap()["channel"]["unreadCount"]
        .as_i64()
        .unwrap()
}

/// Concurrent reactions never lose one another: each is a set member, added by one update.
#[tokio::test]
async fn concurrent_reactions_all_land() {
    let app = TestApp::new().await;
    let t = Transport::InProcess(&app);
    let names: Vec<String> = (0..12).map(|i| format!("r{i}")).collect();
    let names: Vec<&str> = names.iter().map(String::as_str).collect();
    let clients = logged_in_users(&t, &names).await;
    let ids: Vec<String> = clients.iter().map(|c| c.user_id.clone()).collect();
    clients[0]
        .call(
            Method::POST,
            "channels/create",
            Some(json!({"channelId": "fans", "type": "private", "members": ids})),
        )
        .await
        .unwrap();
    let sent = clients[0]
        .call(
            Method::POST,
            "channels/fans/messages/send",
            Some(json!({"text": "vote"})),
        )
        .await
        .unwrap();
    let path = format!(
        "channels/fans/messages/{}/reactions",
        sent["message"]["id"].as_str().unwrap()
    );
    let votes = clients.iter().enumerate().map(|(i, c)| {
        let path = path.clone();
        async move {
            let reaction = if i % 2 == 0 { "up" } else { "down" };
            c.call(Method::POST, &path, Some(json!({"reaction": reaction})))
                .await
                .unwrap();
        }
    });
    futures::future::join_all(votes).await;
    let got = clients[1].call(Method::GET, &path, None).await.unwrap();
    let mut up: Vec<&String> = ids.iter().step_by(2).collect();
    let mut down: Vec<&String> = ids.iter().skip(1).step_by(2).collect();
    up.sort();
    down.sort();
    assert_eq!(got["reactions"], json!({"up": up, "down": down}));
}

/// The admin API's per-user counterparts name the user; the client API shows the result as
/// that user's own view.
#[tokio::test]
async fn the_admin_api_hides_and_sets_push_for_a_user() {
    let app = TestApp::new().await;
    let t = Transport::InProcess(&app);
    let (id, token) = provision_user(&t, "hal").await;
    let (hal, _) = SdkClient::login_with_token(&t, &id, &token, json!({}))
        .await
        .unwrap();
    hal.call(
        Method::POST,
        "channels/create",
        Some(json!({"channelId": "ops", "type": "private", "members": []})),
    )
    .await
    .unwrap();
    let r = t
        .admin(
            Method::POST,
            "channels/ops/hide",
            Some(json!({"userId": id})),
        )
        .await;
    assert_eq!((r.status, &r.body), (200, &json!({})));
    let hidden = hal
        .call_query(Method::GET, "channels", "type=hidden", None)
        .await
        .unwrap();
    assert_eq!(hidden["channels"][0]["id"], "ops");
    let r = t
        .admin(
            Method::POST,
            "channels/ops/push/disable",
            Some(json!({"userId": id})),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(
        r.body["channel"].get("pushNotificationDisabled").is_none(),
        "the admin view has no per-user fields: {}",
        r.body
    );
    let seen = hal.call(Method::GET, "channels/ops", None).await.unwrap();
    assert_eq!(seen["channel"]["pushNotificationDisabled"], true);
    let r = t
        .admin(Method::POST, "channels/ops/show", Some(json!({})))
        .await;
    r.assert_error(400, "1002");
    let r = t
        .admin(
            Method::POST,
            "channels/ops/show",
            Some(json!({"userId": "stranger"})),
        )
        .await;
    r.assert_error(404, "2001");
}

/// Texts of a message list, oldest first.
fn texts(list: &serde_json::Value) -> Vec<String> {
    let mut t: Vec<(String, String)> = list["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            (
                m["id"].as_str().unwrap().to_owned(),
                m["text"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    t.sort();
    t.into_iter().map(|(_, text)| text).collect()
}

/// Broadcast channels show a member's message only to its sender and the owner;
/// `hideMessagesBeforeJoin` hides the history from a member who joined later; `ownReactions`
/// comes when asked.
#[tokio::test]
async fn what_each_reader_sees_of_the_history() {
    let app = TestApp::new().await;
    let t = Transport::InProcess(&app);
    let c = logged_in_users(&t, &["own", "mem", "oth", "late"]).await;
    let (owner, member, other, late) = (&c[0], &c[1], &c[2], &c[3]);
    owner
        .call(
            Method::POST,
            "channels/create",
            Some(json!({"channelId": "cast", "type": "broadcast", "members": [member.user_id, other.user_id]})),
        )
        .await
        .unwrap();
    let from_owner = send_text(owner, "cast", "from owner").await;
    let from_member = send_text(member, "cast", "from member").await;
    send_text(other, "cast", "from other").await;
    assert_eq!(
        texts(&cast_list(member, "limit=50").await),
        ["from owner", "from member"]
    );
    assert_eq!(
        texts(&cast_list(other, "limit=50").await),
        ["from owner", "from other"]
    );
    assert_eq!(
        texts(&cast_list(owner, "limit=50").await),
        ["from owner", "from member", "from other"]
    );
    let hidden = other
        .call(
            Method::GET,
            &format!("channels/cast/messages/{from_member}"),
            None,
        )
        .await
        .err();
    assert_eq!(hidden.as_deref(), Some("4003"));
    // The channel's `lastMessage` follows the same rule: each reader's newest visible one.
    let last_text = |v: &serde_json::Value| v["lastMessage"]["text"].as_str().map(str::to_owned);
    let seen = member
        .call(Method::GET, "channels/cast", None)
        .await
        .unwrap();
    assert_eq!(last_text(&seen["channel"]).as_deref(), Some("from member"));
    let seen = owner
        .call(Method::GET, "channels/cast", None)
        .await
        .unwrap();
    assert_eq!(last_text(&seen["channel"]).as_deref(), Some("from other"));
    let listed = member
        .call_query(Method::GET, "channels", "type=default", None)
        .await
        .unwrap();
    assert_eq!(
        last_text(&listed["channels"][0]).as_deref(),
        Some("from member")
    );
    // An answer that does not search (here a mark-read) shows none rather than another's.
    let marked = member
        .call(Method::POST, "channels/cast/markread", Some(json!({})))
        .await
        .unwrap();
    assert!(
        [Some("from member".to_owned()), None].contains(&last_text(&marked["channel"])),
        "{marked}"
    );
    let marked = other
        .call(Method::POST, "channels/cast/markread", Some(json!({})))
        .await
        .unwrap();
    assert_eq!(last_text(&marked["channel"]).as_deref(), Some("from other"));
    send_text(member, "cast", "member again").await;
    let marked = other
        .call(Method::POST, "channels/cast/markread", Some(json!({})))
        .await
        .unwrap();
    assert!(marked["channel"]["lastMessage"].is_null(), "{marked}");
    let seen = other
        .call(Method::GET, "channels/cast", None)
        .await
        .unwrap();
    assert_eq!(last_text(&seen["channel"]).as_deref(), Some("from other"));

    // ownReactions, only when asked.
    member
        .call(
            Method::POST,
            &format!("channels/cast/messages/{from_owner}/reactions"),
            Some(json!({"reaction": "like"})),
        )
        .await
        .unwrap();
    let asked = cast_list(member, "limit=50&includeOwnReactions=true").await;
    let first = &asked["messages"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["id"] == from_owner.as_str())
        .unwrap()
        .clone();
    assert_eq!(first["ownReactions"], json!(["like"]));
    let plain = cast_list(member, "limit=50").await;
    assert!(plain["messages"][0].get("ownReactions").is_none());

    // History hidden before joining.
    owner
        .call(
            Method::POST,
            "channels/create",
            Some(json!({"channelId": "club", "type": "public", "hideMessagesBeforeJoin": true, "members": []})),
        )
        .await
        .unwrap();
    let early = send_text(owner, "club", "early 1").await;
    send_text(owner, "club", "early 2").await;
    tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    let joined = late
        .call(Method::POST, "channels/club/join", Some(json!({})))
        .await
        .unwrap();
    assert!(joined["channel"]["lastMessage"].is_null(), "{joined}");
    let seen = late.call(Method::GET, "channels/club", None).await.unwrap();
    assert!(seen["channel"]["lastMessage"].is_null(), "{seen}");
    tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    send_text(owner, "club", "after").await;
    for q in [
        "order=latest&limit=1",
        "order=latest&limit=50",
        "order=oldest&limit=50",
    ] {
        let seen = late
            .call_query(Method::GET, "channels/club/messages", q, None)
            .await
            .unwrap();
        assert_eq!(texts(&seen), ["after"], "{q}");
        assert_eq!(seen["hasNext"], false, "{q}");
    }
    let seen = late.call(Method::GET, "channels/club", None).await.unwrap();
    assert_eq!(seen["channel"]["lastMessage"]["text"], "after");
    let refused = late
        .call(
            Method::GET,
            &format!("channels/club/messages/{early}"),
            None,
        )
        .await
        .err();
    assert_eq!(refused.as_deref(), Some("4003"));
    let all = owner
        .call_query(Method::GET, "channels/club/messages", "limit=50", None)
        .await
        .unwrap();
    assert_eq!(texts(&all), ["early 1", "early 2", "after"]);
}

/// Sends `text` to `channel` as `who`; the message's id.
async fn send_text(who: &SdkClient<'_>, channel: &str, text: &str) -> String {
    let path = format!("channels/{channel}/messages/send");
    who.call(Method::POST, &path, Some(json!({"text": text})))
        .await
        .unwrap()["message"]["id"]
        .as_str()
        .unwrap()
        .to_owned()
}

/// `who`'s page of channel `cast`'s history.
async fn cast_list(who: &SdkClient<'_>, query: &str) -> serde_json::Value {
    who.call_query(Method::GET, "channels/cast/messages", query, None)
        .await
        .unwrap()
}

/// `users/register/fcm` takes the token alone: the device is the one the session was opened
/// on (the login's `deviceId`).
#[tokio::test]
async fn a_push_token_is_filed_under_the_sessions_device() {
    let app = TestApp::new().await;
    let t = Transport::InProcess(&app);
    let (id, token) = provision_user(&t, "pia").await;
    let (pia, _) = SdkClient::login_with_token(&t, &id, &token, json!({}))
        .await
        .unwrap();
    let done = pia
        .call(
            Method::POST,
            "users/register/fcm",
            Some(json!({"fcmToken": "fcm-1"})),
        )
        .await
        .unwrap();
    assert_eq!(done, json!({}));
    pia.call(
        Method::POST,
        "users/register/fcm",
        Some(json!({"fcmToken": "fcm-2"})),
    )
    .await
    .unwrap();
    let devices = app
        .store()
        .devices(&app.app_id, &id)
        .await
        .unwrap()
        .unwrap()
        .devices;
    assert_eq!(devices.len(), 1, "{devices:?}");
    assert_eq!(devices[0].device_id, format!("device-{id}"));
    assert_eq!(devices[0].fcm_token, "fcm-2");
    let refused = pia
        .call(Method::POST, "users/register/fcm", Some(json!({})))
        .await
        .err();
    assert_eq!(refused.as_deref(), Some("1002"));
    // A PushKit token goes to the same device, beside its FCM token.
    let done = pia
        .call(
            Method::POST,
            "users/register/pushkit",
            Some(json!({"pushKitToken": "voip-1"})),
        )
        .await
        .unwrap();
    assert_eq!(done, json!({}));
    let devices = app
        .store()
        .devices(&app.app_id, &id)
        .await
        .unwrap()
        .unwrap()
        .devices;
    assert_eq!(devices.len(), 1, "{devices:?}");
    assert_eq!(
        (
            devices[0].fcm_token.as_str(),
            devices[0].pushkit_token.as_str()
        ),
        ("fcm-2", "voip-1")
    );
    let refused = pia
        .call(
            Method::POST,
            "users/register/pushkit",
            Some(json!({"pushKitToken": ""})),
        )
        .await
        .err();
    assert_eq!(refused.as_deref(), Some("1002"));
}

/// `markread/all` and `hide/all` that outgrow their request: what the request leaves (here:
/// everything, with no time to work) is a job the sweeper finishes, and a finished job is gone.
#[tokio::test]
async fn a_change_to_every_channel_is_finished_by_the_sweeper() {
    use shared::domain::channels::bulk;
    use shared::domain::cleanup::{WORKER_SWEEP, sweep_pending};
    use shared::store::JobKind;

    let app = TestApp::new().await;
    let t = Transport::InProcess(&app);
    let clients = logged_in_users(&t, &["ida", "jon"]).await;
    let (ida, jon) = (&clients[0], &clients[1]);
    let channels = ["j1", "j2", "j3"];
    for id in channels {
        jon.call(
            Method::POST,
            "channels/create",
            Some(json!({"channelId": id, "type": "private", "members": [ida.user_id]})),
        )
        .await
        .unwrap();
        for _ in 0..2 {
            jon.call(
                Method::POST,
                &format!("channels/{id}/messages/send"),
                Some(json!({"text": "hi"})),
            )
            .await
            .unwrap();
        }
    }
    let total = || async {
        ida.call(Method::GET, "channels/unread/count", None)
            .await
            .unwrap()["count"]
            .as_i64()
            .unwrap()
    };
    assert_eq!(total().await, 6);
    let store = app.store();
    let job_item = |kind: JobKind| {
        let (pk, sk) = (
            shared::store::keys::user_pk(&app.app_id, &ida.user_id),
            shared::store::keys::job_sk(kind.as_str()),
        );
        let app = &app;
        async move { app.stored_item(pk, &sk).await }
    };
    for kind in [JobKind::MarkReadAll, JobKind::HideAll] {
        bulk::start(store, &app.app_id, &ida.user_id, kind, Duration::ZERO)
            .await
            .unwrap();
        assert!(job_item(kind).await.is_some(), "{kind:?}: a job is left");
    }
    assert_eq!(total().await, 6, "nothing done within the request");
    // (The index is the table's: other tests' leftovers may be swept too.)
    assert!(sweep_pending(store, WORKER_SWEEP).await.unwrap() >= 2);
    assert_eq!(total().await, 0);
    let hidden = ida
        .call_query(Method::GET, "channels", "type=hidden", None)
        .await
        .unwrap();
    assert_eq!(hidden["channels"].as_array().unwrap().len(), 3, "{hidden}");
    for kind in [JobKind::MarkReadAll, JobKind::HideAll] {
        assert!(job_item(kind).await.is_none(), "{kind:?}: the job is gone");
    }
    // Jon's own counts and view are untouched.
    let jons = jon
        .call_query(Method::GET, "channels", "type=default", None)
        .await
        .unwrap();
    assert_eq!(jons["channels"].as_array().unwrap().len(), 3, "{jons}");
    app.check_channels().await;
    app.check_users().await;
}

/// Peer mutes: any member mutes others for themselves; a member under any peer mute in force
/// cannot send (`2027`) until every muter lifts theirs; each muter lists their own.
#[tokio::test]
async fn a_peer_mute_silences_a_member_until_every_muter_lifts_it() {
    use shared::model::{Message, MessageType};
    use shared::store::{SendRefusal, SenderGuard};

    let app = TestApp::new().await;
    let t = Transport::InProcess(&app);
    let clients = logged_in_users(&t, &["kim", "lee", "max", "out"]).await;
    let (kim, lee, max, out) = (&clients[0], &clients[1], &clients[2], &clients[3]);
    kim.call(
        Method::POST,
        "channels/create",
        Some(json!({"channelId": "dm", "type": "private", "members": [lee.user_id, max.user_id]})),
    )
    .await
    .unwrap();
    send_hi(max).await.unwrap();
    let before = now_ms();
    let muted = lee
        .call(
            Method::POST,
            "channels/dm/peer/mute",
            Some(json!({"members": [max.user_id], "expireInMinutes": 60})),
        )
        .await
        .unwrap();
    assert_eq!(muted["channel"]["id"], "dm");
    assert_eq!(muted["members"][0]["id"], max.user_id.as_str());
    let end = muted["members"][0]["muteExpiresAt"].as_i64().unwrap();
    assert!(
        end >= before + 3_600_000 && end <= now_ms() + 3_600_000,
        "{end}"
    );
    assert_eq!(send_hi(max).await.err().as_deref(), Some("2027"));
    // The others still send; the muted member still reads.
    send_hi(kim).await.unwrap();
    max.call(Method::GET, "channels/dm/messages", None)
        .await
        .unwrap();
    let forever = kim
        .call(
            Method::POST,
            "channels/dm/peer/mute",
            Some(json!({"members": [max.user_id]})),
        )
        .await
        .unwrap();
    assert_eq!(forever["members"][0]["muteExpiresAt"], 0);
    assert_eq!(
        peer_muted_ids(lee).await,
        std::slice::from_ref(&max.user_id)
    );
    assert_eq!(
        peer_muted_ids(kim).await,
        std::slice::from_ref(&max.user_id)
    );
    assert!(peer_muted_ids(max).await.is_empty());
    // A send decided before a mute landed is refused by its write.
    let m = Message {
        id: ulid::Ulid::from_parts(now_ms() as u64, 7).to_string(),
        channel_id: "dm".into(),
        user_id: lee.user_id.clone(),
        message_type: MessageType::Text,
        text: "late".into(),
        data: Default::default(),
        file_url: String::new(),
        mentions: Vec::new(),
        parent: None,
        reactions: Default::default(),
        created_at: now_ms(),
    };
    let lees_guard = |seen| SenderGuard::Member {
        sort_key: shared::store::keys::member_sk(shared::model::ChannelType::Private, &lee.user_id),
        mute_applies: true,
        peer_mutes_seen: seen,
    };
    max.call(
        Method::POST,
        "channels/dm/peer/mute",
        Some(json!({"members": [lee.user_id], "expireInMinutes": 1})),
    )
    .await
    .unwrap();
    let refused = app
        .store()
        .send_message(&app.app_id, &m, &lees_guard(0), None, true, now_ms())
        .await
        .unwrap();
    assert_eq!(refused, Err(SendRefusal::Sender));
    max.call(
        Method::POST,
        "channels/dm/peer/unmute",
        Some(json!({"members": [lee.user_id]})),
    )
    .await
    .unwrap();
    send_hi(lee).await.unwrap();

    // Each muter lifts only their own mute.
    let lifted = lee
        .call(
            Method::POST,
            "channels/dm/peer/unmute",
            Some(json!({"members": [max.user_id]})),
        )
        .await
        .unwrap();
    assert_eq!(lifted["members"][0]["muteExpiresAt"], 0);
    assert!(peer_muted_ids(lee).await.is_empty());
    assert_eq!(
        send_hi(max).await.err().as_deref(),
        Some("2027"),
        "kim's holds"
    );
    kim.call(
        Method::POST,
        "channels/dm/peer/unmute",
        Some(json!({"members": [max.user_id]})),
    )
    .await
    .unwrap();
    send_hi(max).await.unwrap();

    // Concurrent mutes of one member by two muters both land.
    let (a, b) = futures::future::join(
        kim.call(
            Method::POST,
            "channels/dm/peer/mute",
            Some(json!({"members": [max.user_id]})),
        ),
        lee.call(
            Method::POST,
            "channels/dm/peer/mute",
            Some(json!({"members": [max.user_id]})),
        ),
    )
    .await;
    a.unwrap();
    b.unwrap();
    kim.call(
        Method::POST,
        "channels/dm/peer/unmute",
        Some(json!({"members": [max.user_id]})),
    )
    .await
    .unwrap();
    assert_eq!(
        send_hi(max).await.err().as_deref(),
        Some("2027"),
        "lee's holds"
    );
    assert_eq!(
        peer_muted_ids(lee).await,
        std::slice::from_ref(&max.user_id)
    );

    // Refusals.
    let lee_id = lee.user_id.clone();
    assert_eq!(
        post_err(lee, "channels/dm/peer/mute", json!({"members": [lee_id]}))
            .await
            .as_deref(),
        Some("1001")
    );
    assert_eq!(
        post_err(
            lee,
            "channels/dm/peer/mute",
            json!({"members": [out.user_id]})
        )
        .await
        .as_deref(),
        Some("2001")
    );
    assert_eq!(
        post_err(out, "channels/dm/peer/mute", json!({"members": [lee_id]}))
            .await
            .as_deref(),
        Some("2005")
    );
    assert_eq!(
        post_err(
            lee,
            "channels/nope/peer/mute",
            json!({"members": [out.user_id]})
        )
        .await
        .as_deref(),
        Some("2003")
    );
    assert_eq!(
        post_err(lee, "channels/dm/peer/mute", json!({}))
            .await
            .as_deref(),
        Some("1002")
    );
    app.check_channels().await;
}

async fn send_hi(who: &SdkClient<'_>) -> Result<serde_json::Value, String> {
    who.call(
        Method::POST,
        "channels/dm/messages/send",
        Some(json!({"text": "hi"})),
    )
    .await
}

/// The ids of the caller's `peer/muted` list of channel `dm`.
async fn peer_muted_ids(who: &SdkClient<'_>) -> Vec<String> {
    let page = who
        .call(Method::GET, "channels/dm/peer/muted", None)
        .await
        .unwrap();
    page["members"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["id"].as_str().unwrap().to_owned())
        .collect()
}

async fn post_err(who: &SdkClient<'_>, path: &str, body: serde_json::Value) -> Option<String> {
    who.call(Method::POST, path, Some(body)).await.err()
}

/// Uploads as the SDKs send them (`talkplus_tests::client::uploads`), on the test engine with
/// moto's S3; then what only this process can set up: the admin API's multipart user create,
/// a file over the limit, and a function without a file store.
#[tokio::test]
async fn uploads_become_file_urls() {
    use talkplus_tests::client::{FilePart, Payload, multipart, uploads};

    let mut app = TestApp::new().await;
    app.services.files = Some(talkplus_tests::webhooks::file_store().await);
    let t = Transport::InProcess(&app);
    uploads(&t).await;

    // The admin API's user create takes the same form.
    let form = multipart(
        &[("userId", "made-with-photo"), ("password", "pw")],
        Some(&FilePart {
            name: "p.gif",
            content_type: "image/gif",
            bytes: b"GIF89a",
        }),
    );
    let Payload::Form {
        content_type,
        bytes,
    } = form
    else {
        unreachable!()
    };
    let mut req = app.request(Method::POST, "/v1.4/api/users/create", None);
    req.headers_mut()
        .insert("content-type", content_type.parse().unwrap());
    *req.body_mut() = lambda_http::Body::Binary(bytes);
    let created = app.call_function("users-create", req).await;
    assert_eq!(created.status, 200, "{:?}", created.body);
    let image = created.body["user"]["profileImageUrl"].as_str().unwrap();
    assert!(image.ends_with("/p.gif"), "{image}");

    let who = &logged_in_users(&t, &["xia"]).await[0];
    let big = vec![7u8; shared::files::MAX_FILE_BYTES + 1];
    let too_big = FilePart {
        name: "big.bin",
        content_type: "application/octet-stream",
        bytes: &big,
    };
    let refused = who
        .call_form(Method::PUT, "users/update", multipart(&[], Some(&too_big)))
        .await
        .err();
    assert_eq!(refused.as_deref(), Some("6001"));
    let bare = TestApp::new().await;
    let tb = Transport::InProcess(&bare);
    let who = &logged_in_users(&tb, &["wes"]).await[0];
    let small = FilePart {
        name: "a.txt",
        content_type: "text/plain",
        bytes: b"a",
    };
    let refused = who
        .call_form(Method::PUT, "users/update", multipart(&[], Some(&small)))
        .await
        .err();
    assert_eq!(refused.as_deref(), Some("6000"));
}

/// A member's own fields of a super channel (whose members a channel read leaves out) are in
/// their channel list and its filters, as for any channel; super channels have no unread count.
#[tokio::test]
async fn a_super_channel_in_a_members_list_carries_their_own_fields() {
    let app = TestApp::new().await;
    let t = Transport::InProcess(&app);
    let c = logged_in_users(&t, &["sup", "fan"]).await;
    let (owner, fan) = (&c[0], &c[1]);
    owner
        .call(
            Method::POST,
            "channels/create",
            Some(json!({"channelId": "arena", "type": "super_public", "members": [fan.user_id]})),
        )
        .await
        .unwrap();
    fan.call(
        Method::POST,
        "channels/arena/privateTag",
        Some(json!({"privateTag": "vip"})),
    )
    .await
    .unwrap();
    fan.call(Method::POST, "channels/arena/push/disable", Some(json!({})))
        .await
        .unwrap();
    for query in ["type=default", "type=default&privateTag=vip"] {
        let listed = fan
            .call_query(Method::GET, "channels", query, None)
            .await
            .unwrap();
        let arena = &listed["channels"][0];
        assert_eq!(arena["id"], "arena", "{query}: {listed}");
        assert_eq!(arena["privateTag"], "vip");
        assert_eq!(arena["pushNotificationDisabled"], true);
        assert_eq!(arena["unreadCount"], 0);
    }
    let got = fan.call(Method::GET, "channels/arena", None).await.unwrap();
    assert_eq!(got["channel"]["privateTag"], "vip");
    // The owner's own view is theirs.
    let theirs = owner
        .call_query(Method::GET, "channels", "type=default", None)
        .await
        .unwrap();
    assert_eq!(theirs["channels"][0]["privateTag"], "");
    assert_eq!(theirs["channels"][0]["pushNotificationDisabled"], false);
}
