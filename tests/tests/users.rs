//! Users endpoints through the handlers, against a real engine (see the harness).

use futures::future::join_all;
use lambda_http::http::Method;
use serde_json::{Value, json};
use shared::handlers::users;
use talkplus_tests::TestApp;

async fn create(app: &TestApp, body: Value) -> talkplus_tests::Reply {
    app.call(
        users::create,
        app.request(Method::POST, "/v1.4/api/users/create", Some(body)),
    )
    .await
}

#[tokio::test]
async fn create_returns_user_and_login_token() {
    let app = TestApp::new().await;
    let r = create(
        &app,
        json!({"userId": "john", "password": "pw-123", "username": "John", "profileImageUrl": "https://cdn.example/j.png", "data": {"team": "a"}}),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let user = &r.body["user"];
    let keys: Vec<_> = user.as_object().unwrap().keys().cloned().collect();
    assert_eq!(
        keys,
        [
            "createdAt",
            "data",
            "disablePushNotification",
            "id",
            "profileImageUrl",
            "updatedAt",
            "username"
        ]
    );
    assert_eq!(user["id"], "john");
    assert_eq!(user["username"], "John");
    assert_eq!(user["profileImageUrl"], "https://cdn.example/j.png");
    assert_eq!(user["data"], json!({"team": "a"}));
    assert_eq!(user["disablePushNotification"], false);
    let created = user["createdAt"].as_i64().unwrap();
    assert!(created > 1_600_000_000_000, "milliseconds: {created}");
    assert_eq!(user["updatedAt"], user["createdAt"]);
    let token = r.body["loginToken"].as_str().unwrap();
    assert_eq!(token.len(), 64);
    assert_eq!(r.body.as_object().unwrap().len(), 2);
}

#[tokio::test]
async fn optional_fields_default_to_empty() {
    let app = TestApp::new().await;
    let r = create(&app, json!({"userId": "u1", "password": "p"})).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["user"]["username"], "");
    assert_eq!(r.body["user"]["profileImageUrl"], "");
    assert_eq!(r.body["user"]["data"], json!({}));
}

#[tokio::test]
async fn taken_id_is_3004() {
    let app = TestApp::new().await;
    assert_eq!(
        create(&app, json!({"userId": "dup", "password": "p"}))
            .await
            .status,
        200
    );
    create(&app, json!({"userId": "dup", "password": "other"}))
        .await
        .assert_error(409, "3004");
}

#[tokio::test]
async fn concurrent_creates_of_one_id_make_one_user() {
    let app = TestApp::new().await;
    let tasks: Vec<_> = (0..10)
        .map(|i| create(&app, json!({"userId": "race", "password": format!("p{i}")})))
        .collect();
    let replies = join_all(tasks).await;
    let ok = replies.iter().filter(|r| r.status == 200).count();
    assert_eq!(ok, 1, "{replies:?}");
    for r in replies.iter().filter(|r| r.status != 200) {
        r.assert_error(409, "3004");
    }
}

#[tokio::test]
async fn validation_errors() {
    let app = TestApp::new().await;
    let cases = [
        (json!({"password": "p"}), 400, "1002"),
        (json!({"userId": "u"}), 400, "1002"),
        (json!({"userId": null, "password": "p"}), 400, "1002"),
        (json!({"userId": "", "password": "p"}), 400, "1001"),
        (json!({"userId": "has space", "password": "p"}), 400, "1001"),
        (
            json!({"userId": "x".repeat(69), "password": "p"}),
            400,
            "1001",
        ),
        (json!({"userId": 12, "password": "p"}), 400, "1001"),
        (json!({"userId": "u", "password": ""}), 400, "1001"),
        (
            json!({"userId": "u", "password": "x".repeat(1025)}),
            400,
            "1001",
        ),
        (
            json!({"userId": "u", "password": "p", "username": "x".repeat(129)}),
            400,
            "1001",
        ),
        (
            json!({"userId": "u", "password": "p", "profileImageUrl": "x".repeat(2049)}),
            400,
            "1001",
        ),
        (
            json!({"userId": "u", "password": "p", "data": {"a": 1}}),
            400,
            "1011",
        ),
        (
            json!({"userId": "u", "password": "p", "data": {"1": "a", "2": "b", "3": "c", "4": "d", "5": "e", "6": "f"}}),
            400,
            "1011",
        ),
        (
            json!({"userId": "u", "password": "p", "data": "x"}),
            400,
            "1011",
        ),
    ];
    for (body, status, code) in cases {
        let r = create(&app, body.clone()).await;
        assert_eq!(
            (r.status, r.code()),
            (status, Some(code)),
            "{body} -> {}",
            r.body
        );
    }
    // A user id of exactly 68 characters is fine.
    let r = create(&app, json!({"userId": "x".repeat(68), "password": "p"})).await;
    assert_eq!(r.status, 200, "{}", r.body);
    // Nothing was written by the rejected requests.
    let page = app
        .store()
        .users_after(&app.app_id, None, 100)
        .await
        .unwrap();
    assert_eq!(page.items.len(), 1);
}

#[tokio::test]
async fn malformed_and_oversized_bodies() {
    let app = TestApp::new().await;
    let mut req = app.request(Method::POST, "/v1.4/api/users/create", None);
    *req.body_mut() = lambda_http::Body::Text("{not json".into());
    app.call(users::create, req).await.assert_error(400, "1001");

    let mut req = app.request(Method::POST, "/v1.4/api/users/create", None);
    *req.body_mut() = lambda_http::Body::Text(format!(
        r#"{{"userId":"big","password":"p","username":"{}"}}"#,
        "x".repeat(300 * 1024)
    ));
    app.call(users::create, req).await.assert_error(413, "1001");
}

#[tokio::test]
async fn get_returns_the_created_user_or_3003() {
    let app = TestApp::new().await;
    let created = create(
        &app,
        json!({"userId": "amy", "password": "p", "username": "Amy"}),
    )
    .await;
    let r = app
        .call(
            users::get,
            app.request(Method::GET, "/v1.4/api/users/amy", None),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body, json!({"user": created.body["user"]}));

    app.call(
        users::get,
        app.request(Method::GET, "/v1.4/api/users/nobody", None),
    )
    .await
    .assert_error(404, "3003");
}

#[tokio::test]
async fn list_pages_by_last_user_id_with_exact_has_next() {
    let app = TestApp::new().await;
    for id in ["u5", "u1", "u4", "u2", "u3", "u7", "u6"] {
        assert_eq!(
            create(&app, json!({"userId": id, "password": "p"}))
                .await
                .status,
            200
        );
    }
    let list = |q: &str| {
        app.call(
            users::list,
            app.request(Method::GET, &format!("/v1.4/api/users{q}"), None),
        )
    };
    let ids = |r: &talkplus_tests::Reply| -> Vec<String> {
        r.body["users"]
            .as_array()
            .unwrap()
            .iter()
            .map(|u| u["id"].as_str().unwrap().to_owned())
            .collect()
    };

    let p1 = list("?limit=3").await;
    assert_eq!(
        (ids(&p1), p1.body["hasNext"].clone()),
        (vec!["u1".into(), "u2".into(), "u3".into()], json!(true))
    );
    let p2 = list("?limit=3&lastUserId=u3").await;
    assert_eq!(
        (ids(&p2), p2.body["hasNext"].clone()),
        (vec!["u4".into(), "u5".into(), "u6".into()], json!(true))
    );
    let p3 = list("?limit=3&lastUserId=u6").await;
    assert_eq!(
        (ids(&p3), p3.body["hasNext"].clone()),
        (vec!["u7".to_owned()], json!(false))
    );
    // A page that ends exactly at the last user has no next page.
    let exact = list("?limit=4&lastUserId=u3").await;
    assert_eq!(exact.body["hasNext"], json!(false));
    assert_eq!(ids(&exact).len(), 4);
    // Default limit covers all seven.
    let all = list("").await;
    assert_eq!(ids(&all).len(), 7);
    assert_eq!(all.body.as_object().unwrap().len(), 2);
    // Users of another app never show up.
    let other = TestApp::new().await;
    let r = other
        .call(
            users::list,
            other.request(Method::GET, "/v1.4/api/users", None),
        )
        .await;
    assert_eq!(r.body, json!({"users": [], "hasNext": false}));

    for bad in ["?limit=0", "?limit=101", "?limit=x", "?lastUserId=a%23b"] {
        list(bad).await.assert_error(400, "1001");
    }
}

#[tokio::test]
async fn update_changes_only_given_fields() {
    let app = TestApp::new().await;
    let created = create(
        &app,
        json!({"userId": "bob", "password": "p", "username": "Bob", "profileImageUrl": "a.png", "data": {"k": "v"}}),
    )
    .await;
    let put = |body: Value| {
        app.call(
            users::update,
            app.request(Method::PUT, "/v1.4/api/users/bob", Some(body)),
        )
    };

    let r = put(json!({"username": "Robert"})).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let u = &r.body["user"];
    assert_eq!(u["username"], "Robert");
    assert_eq!(u["profileImageUrl"], "a.png");
    assert_eq!(u["data"], json!({"k": "v"}));
    assert_eq!(u["createdAt"], created.body["user"]["createdAt"]);
    assert!(u["updatedAt"].as_i64() >= created.body["user"]["updatedAt"].as_i64());

    let r = put(json!({"profileImageUrl": "b.png", "data": {}})).await;
    assert_eq!(r.body["user"]["profileImageUrl"], "b.png");
    assert_eq!(r.body["user"]["data"], json!({}));
    assert_eq!(r.body["user"]["username"], "Robert");

    // What PUT returned is what GET reads.
    let g = app
        .call(
            users::get,
            app.request(Method::GET, "/v1.4/api/users/bob", None),
        )
        .await;
    assert_eq!(g.body["user"], r.body["user"]);

    put(json!({"data": {"a": 5}}))
        .await
        .assert_error(400, "1011");
    put(json!({"username": 5})).await.assert_error(400, "1001");
    app.call(
        users::update,
        app.request(
            Method::PUT,
            "/v1.4/api/users/ghost",
            Some(json!({"username": "x"})),
        ),
    )
    .await
    .assert_error(404, "3003");
    // The failed update of a missing user did not create one.
    app.call(
        users::get,
        app.request(Method::GET, "/v1.4/api/users/ghost", None),
    )
    .await
    .assert_error(404, "3003");
}
