//! Store behaviour that the endpoints rely on, against a real engine.

use shared::model::{App, now_ms};
use shared::store::schema::{self, TableStatus};
use talkplus_tests::{TestApp, client, store};

#[tokio::test]
async fn ensure_table_is_idempotent_and_concurrent_safe() {
    let name = format!("ensure-{}", shared::secrets::random_hex(4));
    let c = client();
    let (a, b) = tokio::join!(
        schema::ensure_table(&c, &name),
        schema::ensure_table(&c, &name)
    );
    let mut statuses = [a.unwrap(), b.unwrap()];
    statuses.sort_by_key(|s| *s == TableStatus::Created);
    assert_eq!(
        statuses,
        [TableStatus::AlreadyExisted, TableStatus::Created]
    );
    assert_eq!(
        schema::ensure_table(&c, &name).await.unwrap(),
        TableStatus::AlreadyExisted
    );

    let desc = c.describe_table().table_name(&name).send().await.unwrap();
    let t = desc.table().unwrap();
    let gsi = &t.global_secondary_indexes()[0];
    assert_eq!(gsi.index_name(), Some(schema::GSI1));
    let ttl = c
        .describe_time_to_live()
        .table_name(&name)
        .send()
        .await
        .unwrap();
    assert_eq!(
        ttl.time_to_live_description()
            .and_then(|d| d.attribute_name()),
        Some(schema::TTL_ATTRIBUTE)
    );
    c.delete_table().table_name(&name).send().await.unwrap();
}

#[tokio::test]
async fn apps_are_created_once_and_listed_without_keys() {
    let s = store().await;
    let now = now_ms();
    let id = shared::secrets::new_app_id();
    let app = App::new(id.clone(), "listed", now);
    s.create_app(&app, "digest-1").await.unwrap();
    let again = s.create_app(&app, "digest-2").await.unwrap_err();
    assert_eq!(again.spec().code, "1001");
    assert_eq!(
        s.app(&id).await.unwrap().unwrap().api_key_digest,
        "digest-1"
    );
    let apps = s.apps().await.unwrap();
    assert!(apps.iter().any(|a| a == &app), "{apps:?}");
    assert!(s.set_api_key_digest("no-such-app", "d", now).await.is_err());
    assert!(s.app("no-such-app").await.unwrap().is_none());
}

#[tokio::test]
async fn users_page_across_more_than_one_query_page() {
    // 120 users with full-size data maps: more than the largest page, walked by cursor.
    let app = TestApp::new().await;
    let data: std::collections::BTreeMap<String, String> = (0..5)
        .map(|i| (format!("k{i}"), "v".repeat(1024)))
        .collect();
    let now = now_ms();
    for i in 0..120 {
        let user = shared::model::User {
            data: data.clone(),
            ..shared::model::User::new(format!("user{i:03}"), now)
        };
        let secrets = shared::model::UserSecrets {
            password_hash: "h".into(),
            login_token_digest: "d".into(),
        };
        app.store()
            .create_user(&app.app_id, &user, &secrets)
            .await
            .unwrap();
    }
    let mut seen = Vec::new();
    let mut after: Option<String> = None;
    loop {
        let page = app
            .store()
            .users_after(&app.app_id, after.as_deref(), 100)
            .await
            .unwrap();
        seen.extend(page.items.iter().map(|u| u.id.clone()));
        after = page.items.last().map(|u| u.id.clone());
        if !page.has_next {
            break;
        }
    }
    let expected: Vec<_> = (0..120).map(|i| format!("user{i:03}")).collect();
    assert_eq!(seen, expected);
}

#[tokio::test]
async fn a_batch_read_that_names_a_key_twice_reads_it_once() {
    // 110 users named twice each and a few missing ids: 225 keys, repeats inside one
    // 100-key batch and across batches. BatchGetItem refuses a request with a repeated key.
    let app = TestApp::new().await;
    let now = now_ms();
    let secrets = shared::model::UserSecrets {
        password_hash: "h".into(),
        login_token_digest: "d".into(),
    };
    let made: Vec<String> = (0..110).map(|i| format!("b{i:03}")).collect();
    for id in &made {
        let user = shared::model::User::new(id.clone(), now);
        app.store()
            .create_user(&app.app_id, &user, &secrets)
            .await
            .unwrap();
    }
    let mut asked: Vec<String> = made
        .iter()
        .flat_map(|id| [id.clone(), id.clone()])
        .collect();
    asked.extend((0..5).map(|i| format!("missing{i}")));
    let found = app.store().users_by_id(&app.app_id, &asked).await.unwrap();
    let mut ids: Vec<String> = found.into_keys().collect();
    ids.sort();
    assert_eq!(ids, made);
}

#[tokio::test]
async fn a_watch_is_renewed_only_when_due_and_an_ended_one_is_not_listed() {
    let app = TestApp::new().await;
    let s = app.store();
    let a = app.app_id.as_str();
    let now = now_ms() / 1000;
    // First read: written; a read soon after: not (the watch is fresh); once due: renewed.
    assert!(
        s.watch_channel(a, "c", "u1", now + 900, now + 600)
            .await
            .unwrap()
    );
    assert!(
        !s.watch_channel(a, "c", "u1", now + 901, now + 601)
            .await
            .unwrap()
    );
    assert!(
        s.watch_channel(a, "c", "u1", now + 1_300, now + 1_000)
            .await
            .unwrap()
    );
    // A watch that has ended stays until the TTL sweep but is no one's any more.
    assert!(
        s.watch_channel(a, "c", "u0", now - 1, now - 300)
            .await
            .unwrap()
    );
    for i in 2..5 {
        let u = format!("u{i}");
        assert!(
            s.watch_channel(a, "c", &u, now + 900, now + 600)
                .await
                .unwrap()
        );
    }
    assert!(
        s.watch_channel(a, "other", "u9", now + 900, now + 600)
            .await
            .unwrap()
    );
    let first = s.watchers_page(a, "c", None, 2, now).await.unwrap();
    assert_eq!(first.items, ["u1", "u2"]);
    assert!(first.has_next);
    let rest = s.watchers_page(a, "c", Some("u2"), 2, now).await.unwrap();
    assert_eq!(rest.items, ["u3", "u4"]);
    assert!(!rest.has_next);
    let later = s
        .watchers_page(a, "c", None, 10, now + 1_000)
        .await
        .unwrap();
    assert_eq!(later.items, ["u1"], "only the renewed watch is still on");
}
