//! Injected storage faults on every write endpoint (see `talkplus_tests::faults`): one
//! fault of any kind is absorbed by retries and the request succeeds once; faults that do
//! not stop give 503/`1003` inside the function's timeout. Never a panic, never a hang,
//! never a duplicate, and the storage invariants hold afterwards.

use std::time::{Duration, Instant};

use futures::StreamExt;
use lambda_http::http::Method;
use serde_json::{Value, json};
use talkplus_tests::faults::{Fault, Faults};
use talkplus_tests::{Reply, TestApp};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    UsersCreate,
    UsersUpdate,
    ChannelsCreate,
    BotsCreate,
    BotsUpdate,
    BotsDelete,
    BotsJoin,
    BotsLeave,
    ChannelsUpdate,
    ChannelsDelete,
    MembersAdd,
    MembersBan,
    UsersLogin,
    UsersDelete,
    UsersBlock,
    UsersRegisterFcm,
    MessagesSend,
}

impl Op {
    const ALL: [Op; 17] = [
        Op::UsersCreate,
        Op::UsersUpdate,
        Op::ChannelsCreate,
        Op::BotsCreate,
        Op::BotsUpdate,
        Op::BotsDelete,
        Op::BotsJoin,
        Op::BotsLeave,
        Op::ChannelsUpdate,
        Op::ChannelsDelete,
        Op::MembersAdd,
        Op::MembersBan,
        Op::UsersLogin,
        Op::UsersDelete,
        Op::UsersBlock,
        Op::UsersRegisterFcm,
        Op::MessagesSend,
    ];

    /// The DynamoDB call that writes.
    fn write_call(self) -> &'static str {
        match self {
            Op::UsersCreate | Op::BotsCreate => "PutItem",
            Op::UsersUpdate | Op::BotsUpdate | Op::UsersLogin | Op::UsersDelete => "UpdateItem",
            Op::BotsDelete => "DeleteItem",
            Op::ChannelsDelete => "UpdateItem",
            Op::ChannelsCreate
            | Op::BotsJoin
            | Op::BotsLeave
            | Op::ChannelsUpdate
            | Op::MembersAdd
            | Op::MembersBan
            | Op::UsersBlock
            | Op::UsersRegisterFcm
            | Op::MessagesSend => "TransactWriteItems",
        }
    }
}

async fn post(
    app: &TestApp,
    function: &str,
    method: Method,
    path: &str,
    body: Option<Value>,
) -> Reply {
    app.call_function(function, app.request(method, path, body))
        .await
}

/// Users owner and m1, bot b1, channel c1 (owner, m1); b1 in c1 where the operation needs it.
async fn setup(app: &TestApp, op: Op) {
    app.add_users(&["owner", "m1", "m2"]).await;
    let ok = |r: Reply| assert_eq!(r.status, 200, "setup: {}", r.body);
    ok(post(
        app,
        "bots-create",
        Method::POST,
        "/v1.4/api/bots/create",
        Some(json!({"id": "b1", "name": "B1"})),
    )
    .await);
    ok(post(
        app,
        "channels-create",
        Method::POST,
        "/v1.4/api/channels/create",
        Some(json!({"channelId": "c1", "type": "public", "ownerId": "owner", "members": ["m1"]})),
    )
    .await);
    if op == Op::UsersLogin {
        ok(post(
            app,
            "users-create",
            Method::POST,
            "/v1.4/api/users/create",
            Some(json!({"userId": "lu", "password": "secret"})),
        )
        .await);
    }
    if matches!(op, Op::BotsLeave | Op::BotsDelete | Op::ChannelsDelete) {
        ok(post(
            app,
            "bots-join",
            Method::POST,
            "/v1.4/api/bots/b1/channels/c1/join",
            None,
        )
        .await);
    }
}

async fn run(app: &TestApp, op: Op) -> Reply {
    match op {
        Op::UsersCreate => post(app, "users-create", Method::POST, "/v1.4/api/users/create",
            Some(json!({"userId": "new", "password": "p"}))).await,
        Op::UsersUpdate => post(app, "users-update", Method::PUT, "/v1.4/api/users/m1",
            Some(json!({"username": "renamed"}))).await,
        Op::ChannelsCreate => post(app, "channels-create", Method::POST, "/v1.4/api/channels/create",
            Some(json!({"channelId": "c2", "type": "private", "ownerId": "owner", "members": ["m1"]}))).await,
        Op::BotsCreate => post(app, "bots-create", Method::POST, "/v1.4/api/bots/create",
            Some(json!({"id": "b2", "name": "B2"}))).await,
        Op::BotsUpdate => post(app, "bots-update", Method::PUT, "/v1.4/api/bots/b1",
            Some(json!({"name": "renamed"}))).await,
        Op::BotsDelete => post(app, "bots-delete", Method::DELETE, "/v1.4/api/bots/b1", None).await,
        Op::BotsJoin => post(app, "bots-join", Method::POST, "/v1.4/api/bots/b1/channels/c1/join", None).await,
        Op::BotsLeave => post(app, "bots-leave", Method::POST, "/v1.4/api/bots/b1/channels/c1/leave", None).await,
        Op::ChannelsUpdate => post(app, "channels-update", Method::PUT, "/v1.4/api/channels/c1",
            Some(json!({"name": "renamed", "ownerId": "m1"}))).await,
        Op::ChannelsDelete => post(app, "channels-delete", Method::DELETE, "/v1.4/api/channels/c1", None).await,
        Op::MembersAdd => post(app, "channels-members-add", Method::POST, "/v1.4/api/channels/c1/members/add",
            Some(json!({"members": ["m2"]}))).await,
        Op::MembersBan => post(app, "channels-members-ban", Method::POST, "/v1.4/api/channels/c1/members/ban",
            Some(json!({"members": ["m1"]}))).await,
        Op::UsersLogin => post(app, "users-login", Method::POST, "/v1.4/api/users/login",
            Some(json!({"userId": "lu", "password": "secret"}))).await,
        Op::UsersDelete => post(app, "users-delete", Method::DELETE, "/v1.4/api/users/m1", None).await,
        Op::UsersBlock => post(app, "users-block", Method::POST, "/v1.4/api/users/m1/block",
            Some(json!({"userId": "m2"}))).await,
        Op::UsersRegisterFcm => post(app, "users-register-fcm", Method::POST, "/v1.4/api/users/m1/register/fcm",
            Some(json!({"deviceId": "d", "fcmToken": "t"}))).await,
        Op::MessagesSend => post(app, "channels-messages-send", Method::POST, "/v1.4/api/channels/c1/messages/send",
            Some(json!({"senderId": "m1", "text": "hello"}))).await,
    }
}

/// The operation's effect is there, once.
async fn check_applied(app: &TestApp, op: Op, reply: &Reply) {
    let census = app.check_channels().await;
    let users = app.check_users().await;
    let bots_in_c1 = census.bots.get("c1").cloned().unwrap_or_default();
    match op {
        Op::UsersCreate => {
            let u = app.store().user(&app.app_id, "new").await.unwrap();
            assert!(u.is_some(), "user created");
        }
        Op::UsersUpdate => {
            let u = app.store().user(&app.app_id, "m1").await.unwrap().unwrap();
            assert_eq!(u.username, "renamed");
        }
        Op::ChannelsCreate => {
            assert_eq!(
                census.channels.get("c2"),
                Some(&2),
                "c2 with its two members"
            );
            let r = post(
                app,
                "channels-get",
                Method::GET,
                "/v1.4/api/channels/c2",
                None,
            )
            .await;
            assert_eq!(r.body["channel"]["memberCount"], 2);
        }
        Op::BotsCreate => {
            let r = post(app, "bots-get", Method::GET, "/v1.4/api/bots/b2", None).await;
            assert_eq!(r.status, 200, "{}", r.body);
        }
        Op::BotsUpdate => {
            let r = post(app, "bots-get", Method::GET, "/v1.4/api/bots/b1", None).await;
            assert_eq!(r.body["bot"]["name"], "renamed");
        }
        Op::BotsDelete => {
            let r = post(app, "bots-get", Method::GET, "/v1.4/api/bots/b1", None).await;
            r.assert_error(404, "7001");
            assert!(bots_in_c1.is_empty(), "swept from c1: {bots_in_c1:?}");
        }
        Op::BotsJoin => assert_eq!(bots_in_c1, ["b1"]),
        Op::ChannelsUpdate => {
            let r = post(
                app,
                "channels-get",
                Method::GET,
                "/v1.4/api/channels/c1",
                None,
            )
            .await;
            assert_eq!(r.body["channel"]["name"], "renamed");
            assert_eq!(r.body["channel"]["ownerId"], "m1");
        }
        Op::ChannelsDelete => {
            assert!(
                !census.channels.contains_key("c1") && census.deleting.is_empty(),
                "{census:?}"
            );
        }
        Op::MembersAdd => assert_eq!(census.channels["c1"], 3),
        Op::MembersBan => {
            assert_eq!(census.channels["c1"], 1);
            assert_eq!(census.bans["c1"], ["m1"]);
        }
        Op::BotsLeave => assert!(bots_in_c1.is_empty(), "{bots_in_c1:?}"),
        Op::UsersLogin => {
            // The token answered is the user's one current token.
            let token = reply.body["loginToken"].as_str().expect("a login token");
            let item = app
                .stored_item(
                    shared::store::keys::user_pk(&app.app_id, "lu"),
                    shared::store::keys::USER_SK,
                )
                .await
                .expect("user item");
            assert_eq!(
                item["login_token_digest"].as_s().unwrap(),
                &shared::secrets::secret_digest(token)
            );
        }
        Op::UsersDelete => {
            assert!(
                !users.users.contains("m1") && users.deleting.is_empty(),
                "{users:?}"
            );
            assert_eq!(census.channels["c1"], 1, "m1 left c1");
            assert!(users.orphans.is_empty());
        }
        Op::UsersBlock => assert_eq!(
            users.blocks.into_iter().collect::<Vec<_>>(),
            [("m1".to_owned(), "m2".to_owned())]
        ),
        Op::UsersRegisterFcm => assert_eq!(users.devices["m1"], ["d"]),
        Op::MessagesSend => {
            assert_eq!(
                census.messages.get("c1"),
                Some(&1),
                "one message: {census:?}"
            );
            let r = post(
                app,
                "channels-get",
                Method::GET,
                "/v1.4/api/channels/c1",
                None,
            )
            .await;
            assert_eq!(
                r.body["channel"]["lastMessage"]["id"],
                reply.body["message"]["id"]
            );
        }
    }
}

/// Runs `op` with `faults` armed by `arm`, bounded by the function's timeout.
async fn attempt(op: Op, fault: Fault, times: usize) -> (Op, Fault, Reply, Duration, TestApp) {
    let faults = Faults::default();
    let app = TestApp::with_faults(faults.clone()).await;
    setup(&app, op).await;
    faults.inject(op.write_call(), fault, times);
    let started = Instant::now();
    let reply = tokio::time::timeout(Duration::from_secs(10), run(&app, op))
        .await
        .unwrap_or_else(|_| panic!("{op:?} under {fault:?} hung past the function timeout"));
    let took = started.elapsed();
    assert!(
        faults.injected() >= 1,
        "{op:?} {fault:?}: the fault was reached"
    );
    faults.clear();
    (op, fault, reply, took, app)
}

/// Runs the attempts a dozen at a time: they use the functions' short SDK timeouts, which a
/// local engine serving a hundred requests at once on two cores would trip by itself.
async fn run_all<F: std::future::Future>(runs: impl Iterator<Item = F>) -> Vec<F::Output> {
    futures::stream::iter(runs)
        .buffer_unordered(12)
        .collect()
        .await
}

#[tokio::test]
async fn one_fault_of_any_kind_is_absorbed_without_duplicates() {
    let runs = Op::ALL
        .into_iter()
        .flat_map(|op| Fault::ALL.into_iter().map(move |f| attempt(op, f, 1)));
    let mut wrong = Vec::new();
    for (op, fault, reply, _, app) in run_all(runs).await {
        if reply.status == 200 {
            check_applied(&app, op, &reply).await;
        } else {
            wrong.push(format!("{op:?} after one {fault:?}: {}", reply.body));
        }
    }
    assert!(wrong.is_empty(), "{wrong:#?}");
}

#[tokio::test]
async fn faults_that_do_not_stop_answer_503_in_time() {
    let runs = Op::ALL
        .into_iter()
        .flat_map(|op| Fault::ALL.into_iter().map(move |f| attempt(op, f, 1000)));
    let mut wrong = Vec::new();
    for (op, fault, reply, took, app) in run_all(runs).await {
        if (reply.status, reply.code()) != (503, Some("1003")) {
            wrong.push(format!(
                "{op:?} under {fault:?}: {} {}",
                reply.status, reply.body
            ));
        }
        if took >= Duration::from_secs(9) {
            wrong.push(format!("{op:?} under {fault:?} answered after {took:?}"));
        }
        // Whatever was applied before the faults (a lost reply applies the write) is whole.
        app.check_channels().await;
        app.check_users().await;
    }
    assert!(wrong.is_empty(), "{wrong:#?}");
}
