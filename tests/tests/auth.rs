//! App authentication and what the table holds, against a real engine.

use lambda_http::http::Method;
use serde_json::json;
use shared::handlers::users;
use shared::model::now_ms;
use shared::secrets::{new_secret, secret_digest};
use talkplus_tests::TestApp;

#[tokio::test]
async fn every_kind_of_bad_credential_gets_the_same_401() {
    let app = TestApp::new().await;
    let good_id = app.app_id.clone();
    let good_key = app.api_key.clone();
    let cases = [
        ("", ""),
        (good_id.as_str(), ""),
        ("", good_key.as_str()),
        (good_id.as_str(), "wrong-key"),
        ("00000000-0000-4000-8000-000000000000", good_key.as_str()),
        ("bad#id", good_key.as_str()),
        (&*"a".repeat(65), good_key.as_str()),
    ];
    let mut bodies = Vec::new();
    for (id, key) in cases {
        let req = app.request_as(id, key, Method::GET, "/v1.4/api/users/u", None);
        let r = app.call(users::get, req).await;
        r.assert_error(401, "1006");
        assert_eq!(r.body["message"], "Unauthorized");
        let mut body = r.body.clone();
        body.as_object_mut().unwrap().remove("requestId");
        bodies.push(body);
    }
    assert!(bodies.windows(2).all(|w| w[0] == w[1]), "{bodies:?}");
    assert_eq!(
        bodies[0],
        json!({"error": true, "code": "1006", "message": "Unauthorized"})
    );
}

#[tokio::test]
async fn error_bodies_carry_the_lambda_request_id() {
    let app = TestApp::new().await;
    let req = app.request_as("", "", Method::GET, "/v1.4/api/users/u", None);
    let rid = lambda_http::RequestExt::lambda_context_ref(&req)
        .unwrap()
        .request_id
        .clone();
    let r = app.call(users::get, req).await;
    assert_eq!(r.body["requestId"], rid);
}

#[tokio::test]
async fn deactivated_app_is_403_only_with_the_right_key() {
    let app = TestApp::new().await;
    app.store()
        .set_app_active(&app.app_id, false, now_ms())
        .await
        .unwrap();
    let r = app
        .call(
            users::get,
            app.request(Method::GET, "/v1.4/api/users/u", None),
        )
        .await;
    r.assert_error(403, "1012");
    let req = app.request_as(&app.app_id, "wrong", Method::GET, "/v1.4/api/users/u", None);
    app.call(users::get, req).await.assert_error(401, "1006");

    app.store()
        .set_app_active(&app.app_id, true, now_ms())
        .await
        .unwrap();
    let r = app
        .call(
            users::get,
            app.request(Method::GET, "/v1.4/api/users/u", None),
        )
        .await;
    r.assert_error(404, "3003");
}

#[tokio::test]
async fn a_rotated_key_replaces_the_old_one() {
    let app = TestApp::new().await;
    let new_key = new_secret();
    app.store()
        .set_api_key_digest(&app.app_id, &secret_digest(&new_key), now_ms())
        .await
        .unwrap();
    let old = app
        .call(
            users::get,
            app.request(Method::GET, "/v1.4/api/users/u", None),
        )
        .await;
    old.assert_error(401, "1006");
    let req = app.request_as(
        &app.app_id,
        &new_key,
        Method::GET,
        "/v1.4/api/users/u",
        None,
    );
    app.call(users::get, req).await.assert_error(404, "3003");
}

#[tokio::test]
async fn apps_cannot_see_each_others_users() {
    let a = TestApp::new().await;
    let b = TestApp::new().await;
    let r = a
        .call(
            users::create,
            a.request(
                Method::POST,
                "/v1.4/api/users/create",
                Some(json!({"userId": "shared-name", "password": "p"})),
            ),
        )
        .await;
    assert_eq!(r.status, 200);
    b.call(
        users::get,
        b.request(Method::GET, "/v1.4/api/users/shared-name", None),
    )
    .await
    .assert_error(404, "3003");
    // b may take the same id: ids are per app.
    let r = b
        .call(
            users::create,
            b.request(
                Method::POST,
                "/v1.4/api/users/create",
                Some(json!({"userId": "shared-name", "password": "p"})),
            ),
        )
        .await;
    assert_eq!(r.status, 200);
    // a's key does not open b.
    let req = b.request_as(
        &b.app_id,
        &a.api_key,
        Method::GET,
        "/v1.4/api/users/shared-name",
        None,
    );
    b.call(users::get, req).await.assert_error(401, "1006");
}

#[tokio::test]
async fn the_table_holds_no_key_password_or_token_in_clear() {
    let app = TestApp::new().await;
    let password = "hunter2-but-longer";
    let r = app
        .call(
            users::create,
            app.request(
                Method::POST,
                "/v1.4/api/users/create",
                Some(json!({"userId": "secretive", "password": password})),
            ),
        )
        .await;
    assert_eq!(r.status, 200);
    let token = r.body["loginToken"].as_str().unwrap().to_owned();

    // Every item of this app: scan (test-only) for keys starting with the app id.
    let out = app
        .store()
        .client()
        .scan()
        .table_name(app.store().table())
        .filter_expression("begins_with(pk, :app)")
        .expression_attribute_values(
            ":app",
            aws_sdk_dynamodb::types::AttributeValue::S(format!("{}#", app.app_id)),
        )
        .send()
        .await
        .unwrap();
    let items = out.items.unwrap_or_default();
    assert_eq!(items.len(), 2, "the app item and the user item");
    let dump = format!("{items:?}");
    for secret in [password, token.as_str(), app.api_key.as_str()] {
        assert!(!dump.contains(secret), "found a secret in clear");
    }
    assert!(
        dump.contains("$argon2id$"),
        "password stored as an argon2id hash"
    );
    assert!(
        dump.contains(&secret_digest(&token)),
        "token stored as its digest"
    );
    assert!(
        dump.contains(&secret_digest(&app.api_key)),
        "key stored as its digest"
    );
}
