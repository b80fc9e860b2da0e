//! DynamoDB round trips per operation, counted with an SDK interceptor (`CallLog`). A cold
//! function reads the app item to authenticate; a warm one has it cached (AUTH_CACHE_SECONDS).

use std::time::Duration;

use lambda_http::http::Method;
use serde_json::json;
use shared::handlers::users;
use talkplus_tests::TestApp;

#[tokio::test]
async fn users_endpoints_make_one_call_each_when_warm() {
    let app = TestApp::with_auth_cache(Duration::from_secs(60)).await;

    // Cold: authentication reads the app, then the operation's one call.
    let r = app
        .call(
            users::create,
            app.request(
                Method::POST,
                "/v1.4/api/users/create",
                Some(json!({"userId": "rt", "password": "p"})),
            ),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(app.calls.take(), ["GetItem", "PutItem"]);

    // Warm: the app item is cached.
    let r = app
        .call(
            users::get,
            app.request(Method::GET, "/v1.4/api/users/rt", None),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(app.calls.take(), ["GetItem"]);

    let r = app
        .call(
            users::list,
            app.request(Method::GET, "/v1.4/api/users?limit=10", None),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(app.calls.take(), ["Query"]);

    let r = app
        .call(
            users::update,
            app.request(
                Method::PUT,
                "/v1.4/api/users/rt",
                Some(json!({"username": "x"})),
            ),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(app.calls.take(), ["UpdateItem"]);

    let r = app
        .call(
            users::create,
            app.request(
                Method::POST,
                "/v1.4/api/users/create",
                Some(json!({"userId": "rt", "password": "p"})),
            ),
        )
        .await;
    r.assert_error(409, "3004");
    assert_eq!(
        app.calls.take(),
        ["PutItem"],
        "a taken id costs the one conditional write"
    );

    // Rejected before any storage call: bad input and bad credentials.
    let r = app
        .call(
            users::create,
            app.request(
                Method::POST,
                "/v1.4/api/users/create",
                Some(json!({"userId": "bad id"})),
            ),
        )
        .await;
    r.assert_error(400, "1001");
    assert!(app.calls.take().is_empty());
}
