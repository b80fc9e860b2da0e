//! A client of the client API that speaks it as the TalkPlus SDKs do
//! (../shared/reference/client-protocol.md): `app-id` on every request, `Authorization:
//! Bearer <sessionToken>` after login and an empty `Authorization` on the logins, the extra
//! body fields the JS SDK adds (`channelId`, `sessionRefreshTargets`), queries built without
//! encoding and with the JS SDK's stray `&`. It insists on what the SDKs insist on: a
//! success is HTTP 200 with a JSON object (`{}` when there is nothing to say), a failure is
//! HTTP 500 with the TalkPlus error body.
//!
//! Requests travel in process (the function the router names, on the test's engine) or over
//! HTTP to `make dev`'s stack, so the same scenario runs on both engines and end to end.

use std::collections::HashMap;

use lambda_http::http::Method;
use lambda_http::{Body, Context, RequestExt};
use serde_json::{Value, json};

use crate::{Reply, TestApp, layout};

/// A request body as the SDKs send one: JSON, or a multipart form (an upload).
pub enum Payload {
    None,
    Json(Value),
    Form {
        content_type: String,
        bytes: Vec<u8>,
    },
}

impl From<Option<Value>> for Payload {
    fn from(v: Option<Value>) -> Payload {
        v.map_or(Payload::None, Payload::Json)
    }
}

/// A file part of a multipart form.
pub struct FilePart<'a> {
    pub name: &'a str,
    pub content_type: &'a str,
    pub bytes: &'a [u8],
}

/// A `multipart/form-data` body as a browser's `FormData` builds it (what the JS SDK sends
/// for an upload): each field a part, then the `file` part. Its content type and bytes.
pub fn multipart(fields: &[(&str, &str)], file: Option<&FilePart<'_>>) -> Payload {
    let boundary = format!("----TalkPlusFormBoundary{}", shared::secrets::random_hex(8));
    let mut bytes = Vec::new();
    for (name, value) in fields {
        bytes.extend_from_slice(
            format!(
                "--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n"
            )
            .as_bytes(),
        );
    }
    if let Some(f) = file {
        bytes.extend_from_slice(
            format!(
                "--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{}\"\r\n\
                 Content-Type: {}\r\n\r\n",
                f.name, f.content_type
            )
            .as_bytes(),
        );
        bytes.extend_from_slice(f.bytes);
        bytes.extend_from_slice(b"\r\n");
    }
    bytes.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
    Payload::Form {
        content_type: format!("multipart/form-data; boundary={boundary}"),
        bytes,
    }
}

/// Where requests go.
pub enum Transport<'a> {
    /// Through `shared::functions` in this process, with this app's services.
    InProcess(&'a TestApp),
    /// Over HTTP to a running stack (`make dev`).
    Http(&'a crate::stack::Stack),
}

impl Transport<'_> {
    pub fn app_id(&self) -> &str {
        match self {
            Transport::InProcess(app) => &app.app_id,
            Transport::Http(stack) => &stack.app_id,
        }
    }

    /// An admin API call (`/v1.4/api/{path}`) with the app's key: how a test's "app server"
    /// makes users and login tokens.
    pub async fn admin(&self, method: Method, path: &str, body: Option<Value>) -> Reply {
        match self {
            Transport::InProcess(app) => {
                let full = format!("/v1.4/api/{path}");
                let (route, _) = layout::route(method.as_str(), &full)
                    .unwrap_or_else(|| panic!("no route for {method} {full}"));
                app.route(&route.function, method, &full, body).await
            }
            Transport::Http(stack) => {
                let m = reqwest::Method::from_bytes(method.as_str().as_bytes()).unwrap();
                let (status, body) = stack.send(m, path, body).await;
                Reply {
                    status: status.as_u16(),
                    body,
                }
            }
        }
    }

    /// A client API request as the SDK sends it: `path` relative to `/v1.4/`, `query` already
    /// built the SDK's way, `authorization` the header's value ("" on logins).
    async fn send(
        &self,
        method: Method,
        path: &str,
        query: &str,
        authorization: &str,
        body: Payload,
    ) -> Reply {
        let full = format!("/v1.4/{path}");
        match self {
            Transport::InProcess(app) => {
                let (route, params) = layout::route(method.as_str(), &full)
                    .unwrap_or_else(|| panic!("no route for {method} {full}"));
                let uri = if query.is_empty() {
                    full.clone()
                } else {
                    format!("{full}?{query}")
                };
                let mut builder = lambda_http::http::Request::builder()
                    .method(method)
                    .uri(uri)
                    .header("app-id", self.app_id())
                    .header("authorization", authorization);
                let body = match body {
                    Payload::Json(v) => {
                        builder = builder.header("content-type", "application/json");
                        Body::Text(v.to_string())
                    }
                    // API Gateway hands a binary body over as bytes (base64 on the wire).
                    Payload::Form {
                        content_type,
                        bytes,
                    } => {
                        builder = builder.header("content-type", content_type);
                        Body::Binary(bytes)
                    }
                    Payload::None => Body::Empty,
                };
                // As API Gateway parses a query: pairs split on `&`, empty ones skipped.
                let mut pairs: HashMap<String, Vec<String>> = HashMap::new();
                for pair in query.split('&').filter(|p| !p.is_empty()) {
                    let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
                    pairs.entry(k.to_owned()).or_default().push(v.to_owned());
                }
                let mut context = Context::default();
                context.request_id = format!("client-{}", shared::secrets::random_hex(4));
                let req = builder
                    .body(body)
                    .expect("valid request")
                    .with_path_parameters(params)
                    .with_query_string_parameters(pairs)
                    .with_lambda_context(context);
                app.call_function(&route.function, req).await
            }
            Transport::Http(stack) => {
                let url = if query.is_empty() {
                    format!("{}{full}", stack.base)
                } else {
                    format!("{}{full}?{query}", stack.base)
                };
                let m = reqwest::Method::from_bytes(method.as_str().as_bytes()).unwrap();
                let mut req = stack
                    .http()
                    .request(m, url)
                    .header("app-id", self.app_id())
                    .header("authorization", authorization);
                match body {
                    Payload::Json(b) => req = req.json(&b),
                    Payload::Form {
                        content_type,
                        bytes,
                    } => req = req.header("content-type", content_type).body(bytes),
                    Payload::None => {}
                }
                let resp = req.send().await.expect("the stack answers");
                let status = resp.status().as_u16();
                Reply {
                    status,
                    body: resp.json().await.expect("a JSON body"),
                }
            }
        }
    }
}

/// One logged-in SDK client.
pub struct SdkClient<'a> {
    transport: &'a Transport<'a>,
    pub user_id: String,
    pub session_id: String,
    pub session_token: String,
}

/// The SDK's view of an answer: the body of a 200, or the code of a 500.
pub type Answer = Result<Value, String>;

/// Reads an answer as the JS SDK does: only 200 is success (its body a JSON object), only
/// 500 hands the app the TalkPlus code; any other status would lose the code.
#[track_caller]
pub fn as_sdk(reply: Reply) -> Answer {
    match reply.status {
        200 => {
            assert!(
                reply.body.is_object(),
                "200 with a JSON object: {}",
                reply.body
            );
            Ok(reply.body)
        }
        500 => {
            assert_eq!(reply.body["error"], true, "{}", reply.body);
            let code = reply.body["code"].as_str().expect("code is a string");
            assert!(
                code.len() == 4 && code.bytes().all(|b| b.is_ascii_digit()),
                "{code}"
            );
            assert!(
                reply.body["message"]
                    .as_str()
                    .is_some_and(|m| !m.is_empty())
            );
            Err(code.to_owned())
        }
        other => panic!(
            "the client API answered {other}; the SDKs read only 200 and 500: {}",
            reply.body
        ),
    }
}

/// The body fields the JS SDK adds to a login.
fn login_body(user_id: &str, extra: Value) -> Value {
    let mut body = json!({
        "userId": user_id,
        "deviceId": format!("device-{user_id}"),
        "deviceType": "web",
        "sdkVersion": "1.4.0",
        "translationTargetLanguage": "",
        // ~650 bytes the server does not need.
        "sessionRefreshTargets": vec!["refresh-target"; 40],
    });
    if let (Some(b), Some(e)) = (body.as_object_mut(), extra.as_object()) {
        b.extend(e.clone());
    }
    body
}

impl<'a> SdkClient<'a> {
    /// `users/login/token`, with the empty `Authorization` the SDKs send.
    pub async fn login_with_token(
        transport: &'a Transport<'a>,
        user_id: &str,
        login_token: &str,
        profile: Value,
    ) -> Result<(SdkClient<'a>, Value), String> {
        let mut extra = profile;
        extra["loginToken"] = json!(login_token);
        let body = login_body(user_id, extra);
        let reply = transport
            .send(
                Method::POST,
                "users/login/token",
                "",
                "",
                Payload::Json(body),
            )
            .await;
        Self::logged_in(transport, user_id, as_sdk(reply)?)
    }

    /// `users/login/anonymous`.
    pub async fn login_anonymous(
        transport: &'a Transport<'a>,
        user_id: &str,
    ) -> Result<(SdkClient<'a>, Value), String> {
        let body = login_body(user_id, json!({"username": format!("guest {user_id}")}));
        let reply = transport
            .send(
                Method::POST,
                "users/login/anonymous",
                "",
                "",
                Payload::Json(body),
            )
            .await;
        Self::logged_in(transport, user_id, as_sdk(reply)?)
    }

    #[track_caller]
    fn logged_in(
        transport: &'a Transport<'a>,
        user_id: &str,
        body: Value,
    ) -> Result<(SdkClient<'a>, Value), String> {
        let token = body["sessionToken"]
            .as_str()
            .expect("sessionToken")
            .to_owned();
        let session_id = body["sessionId"].as_str().expect("sessionId").to_owned();
        assert_eq!(body["user"]["id"], user_id, "{body}");
        // A JWT whose payload has `exp` in seconds, more than 7 days away (the Unity and iOS
        // SDKs then keep the session instead of logging in again).
        let parts: Vec<&str> = token.split('.').collect();
        assert_eq!(parts.len(), 3, "{token}");
        use base64::Engine;
        let payload: Value = serde_json::from_slice(
            &base64::engine::general_purpose::URL_SAFE_NO_PAD
                .decode(parts[1])
                .expect("base64url payload"),
        )
        .expect("JSON payload");
        let exp = payload["exp"].as_i64().expect("exp");
        assert!(
            exp > shared::model::now_ms() / 1000 + 7 * 86_400,
            "{payload}"
        );
        Ok((
            SdkClient {
                transport,
                user_id: user_id.to_owned(),
                session_id,
                session_token: token,
            },
            body,
        ))
    }

    fn authorization(&self) -> String {
        format!("Bearer {}", self.session_token)
    }

    /// A request of this session; `body` gets the `channelId` the JS SDK adds to bodies of
    /// channel paths.
    pub async fn call(&self, method: Method, path: &str, body: Option<Value>) -> Answer {
        self.call_query(method, path, "", body).await
    }

    /// `call` with a query built the SDK's way.
    pub async fn call_query(
        &self,
        method: Method,
        path: &str,
        query: &str,
        body: Option<Value>,
    ) -> Answer {
        let body = body.map(|mut b| {
            if let (Some(id), Some(obj)) = (
                path.strip_prefix("channels/")
                    .and_then(|p| p.split('/').next()),
                b.as_object_mut(),
            ) {
                obj.entry("channelId").or_insert(json!(id));
            }
            b
        });
        as_sdk(
            self.transport
                .send(method, path, query, &self.authorization(), body.into())
                .await,
        )
    }

    /// An upload as the SDKs send one: a multipart form (`multipart`).
    pub async fn call_form(&self, method: Method, path: &str, form: Payload) -> Answer {
        as_sdk(
            self.transport
                .send(method, path, "", &self.authorization(), form)
                .await,
        )
    }

    /// A request with another `Authorization` value (tests of refused tokens).
    pub async fn call_with_token(&self, method: Method, path: &str, authorization: &str) -> Answer {
        as_sdk(
            self.transport
                .send(method, path, "", authorization, Payload::None)
                .await,
        )
    }
}

fn unique(prefix: &str) -> String {
    format!("{prefix}-{}", shared::secrets::random_hex(5))
}

/// A user made by the app's server (admin `users/create`) and its login token.
pub async fn provision_user(t: &Transport<'_>, prefix: &str) -> (String, String) {
    let id = unique(prefix);
    let r = t
        .admin(
            Method::POST,
            "users/create",
            Some(json!({"userId": id, "password": format!("pw-{id}")})),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    (id, r.body["loginToken"].as_str().unwrap().to_owned())
}

/// New users of the app (ids from `prefixes`), each logged in with their login token.
pub async fn logged_in_users<'a>(t: &'a Transport<'a>, prefixes: &[&str]) -> Vec<SdkClient<'a>> {
    let mut clients = Vec::new();
    for prefix in prefixes {
        let (id, token) = provision_user(t, prefix).await;
        let (client, _) = SdkClient::login_with_token(t, &id, &token, json!({}))
            .await
            .expect("a new user logs in");
        clients.push(client);
    }
    clients
}

#[track_caller]
fn code(answer: Answer, want: &str) {
    assert_eq!(answer.err().as_deref(), Some(want), "expected {want}");
}

/// What an app does through the SDK, every path of this server's client API: log in, make a
/// channel, invite, send, read, delete, the owner's rules enforced on others, join rules,
/// leave, log out. Runs in process (both engines) and over HTTP (`make dev`).
pub async fn walkthrough(t: &Transport<'_>) {
    let (alice_id, alice_token) = provision_user(t, "alice").await;
    let (bob_id, bob_token) = provision_user(t, "bob").await;
    let (carol_id, carol_token) = provision_user(t, "carol").await;

    // Login: a wrong token, then the right one with profile fields (which update the user).
    code(
        SdkClient::login_with_token(t, &alice_id, "not-the-token", json!({}))
            .await
            .map(|(_, b)| b),
        "3009",
    );
    let (alice, answer) = SdkClient::login_with_token(
        t,
        &alice_id,
        &alice_token,
        json!({"username": "Alice", "profileImageUrl": "https://img.example/a.png", "data": {"team": "red"}}),
    )
    .await
    .expect("alice logs in");
    assert_eq!(answer["user"]["username"], "Alice");
    assert_eq!(answer["user"]["data"]["team"], "red");
    let (bob, _) = SdkClient::login_with_token(t, &bob_id, &bob_token, json!({}))
        .await
        .expect("bob logs in");
    let (carol, _) = SdkClient::login_with_token(t, &carol_id, &carol_token, json!({}))
        .await
        .expect("carol logs in");

    // The profile through the client API.
    let me = alice
        .call(
            Method::PUT,
            "users/update",
            Some(json!({"username": "Alice A."})),
        )
        .await
        .unwrap();
    assert_eq!(me["user"]["username"], "Alice A.");

    // A private channel of alice's: she is its owner whatever `ownerId` says.
    let channel_id = unique("chat");
    let created = alice
        .call(
            Method::POST,
            "channels/create",
            Some(json!({"channelId": channel_id, "name": "Chat", "type": "private", "ownerId": bob_id, "members": [alice_id]})),
        )
        .await
        .unwrap();
    assert_eq!(created["channel"]["ownerId"], alice_id);
    let path = format!("channels/{channel_id}");

    // Not a member: bob can neither read nor add to it; a private channel cannot be joined.
    code(bob.call(Method::GET, &path, None).await, "2005");
    code(
        bob.call(
            Method::POST,
            &format!("{path}/members/add"),
            Some(json!({"members": [bob_id]})),
        )
        .await,
        "2005",
    );
    code(
        bob.call(Method::POST, &format!("{path}/join"), Some(json!({})))
            .await,
        "2011",
    );

    // Alice invites bob; any member may add, so bob invites carol.
    let after = alice
        .call(
            Method::POST,
            &format!("{path}/members/add"),
            Some(json!({"members": [bob_id]})),
        )
        .await
        .unwrap();
    assert_eq!(after["channel"]["memberCount"], 2);
    let after = bob
        .call(
            Method::POST,
            &format!("{path}/members/add"),
            Some(json!({"members": [carol_id]})),
        )
        .await
        .unwrap();
    assert_eq!(after["channel"]["memberCount"], 3);
    let got = bob.call(Method::GET, &path, None).await.unwrap();
    assert_eq!(got["channel"]["id"], channel_id);

    // Messages: sent as the caller whatever `senderId` says; admin types are not theirs.
    let sent = bob
        .call(
            Method::POST,
            &format!("{path}/messages/send"),
            Some(json!({"type": "text", "text": "hi all", "senderId": alice_id, "data": {}})),
        )
        .await
        .unwrap();
    assert_eq!(sent["message"]["userId"], bob_id);
    let bob_message = sent["message"]["id"].as_str().unwrap().to_owned();
    code(
        bob.call(
            Method::POST,
            &format!("{path}/messages/send"),
            Some(json!({"type": "admin", "text": "I am the admin"})),
        )
        .await,
        "1001",
    );
    let sent = carol
        .call(
            Method::POST,
            &format!("{path}/messages/send"),
            Some(json!({"text": "hello"})),
        )
        .await
        .unwrap();
    let carol_message = sent["message"]["id"].as_str().unwrap().to_owned();
    let page = alice
        .call_query(
            Method::GET,
            &format!("{path}/messages"),
            "limit=10&&order=latest",
            None,
        )
        .await
        .unwrap();
    let ids: Vec<&str> = page["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, [carol_message.as_str(), bob_message.as_str()]);
    let one = carol
        .call(Method::GET, &format!("{path}/messages/{bob_message}"), None)
        .await
        .unwrap();
    assert_eq!(one["message"]["text"], "hi all");
    // Files: the messages with a `fileUrl` only.
    let with_file = alice
        .call(
            Method::POST,
            &format!("{path}/messages/send"),
            Some(json!({"text": "the plan", "fileUrl": "https://files.example/plan.pdf"})),
        )
        .await
        .unwrap();
    let files = bob
        .call_query(
            Method::GET,
            &format!("{path}/messages/files"),
            "limit=10",
            None,
        )
        .await
        .unwrap();
    let file_ids: Vec<&str> = files["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["id"].as_str().unwrap())
        .collect();
    assert_eq!(file_ids, [with_file["message"]["id"].as_str().unwrap()]);

    // Reactions: a member's own, in both delete forms the SDK versions use; a set per
    // reaction, so adding twice changes nothing.
    let reacted_path = format!("{path}/messages/{carol_message}/reactions");
    let r = bob
        .call(
            Method::POST,
            &reacted_path,
            Some(json!({"reaction": "like"})),
        )
        .await
        .unwrap();
    assert_eq!(r["message"]["reactions"], json!({"like": [bob_id]}));
    bob.call(
        Method::POST,
        &reacted_path,
        Some(json!({"reaction": "like"})),
    )
    .await
    .unwrap();
    alice
        .call(
            Method::POST,
            &reacted_path,
            Some(json!({"reaction": "like"})),
        )
        .await
        .unwrap();
    let r = carol
        .call(Method::POST, &reacted_path, Some(json!({"reaction": "😀"})))
        .await
        .unwrap();
    let mut likers = vec![alice_id.clone(), bob_id.clone()];
    likers.sort();
    assert_eq!(
        r["message"]["reactions"],
        json!({"like": likers, "😀": [carol_id]})
    );
    let r = alice
        .call(Method::DELETE, &format!("{reacted_path}/like"), None)
        .await
        .unwrap();
    assert_eq!(r["message"]["reactions"]["like"], json!([bob_id]));
    let r = carol
        .call(
            Method::DELETE,
            &format!("{reacted_path}/%F0%9F%98%80"),
            None,
        )
        .await
        .unwrap();
    assert_eq!(r["message"]["reactions"], json!({"like": [bob_id]}));
    let r = bob
        .call(
            Method::DELETE,
            &reacted_path,
            Some(json!({"reaction": "like"})),
        )
        .await
        .unwrap();
    assert_eq!(r["message"]["reactions"], json!({}));
    bob.call(
        Method::POST,
        &reacted_path,
        Some(json!({"reaction": "wow"})),
    )
    .await
    .unwrap();
    let listed = alice.call(Method::GET, &reacted_path, None).await.unwrap();
    assert_eq!(listed["reactions"], json!({"wow": [bob_id]}));

    // Edits: the sender's own message only; reactions cleared when asked.
    code(
        bob.call(
            Method::PUT,
            &format!("{path}/messages/{carol_message}"),
            Some(json!({"text": "not mine"})),
        )
        .await,
        "1006",
    );
    let edited = carol
        .call(
            Method::PUT,
            &format!("{path}/messages/{carol_message}"),
            Some(
                json!({"text": "hello, edited", "data": {"edited": "yes"}, "clearReactions": true}),
            ),
        )
        .await
        .unwrap();
    assert_eq!(edited["message"]["text"], "hello, edited");
    assert_eq!(edited["message"]["data"], json!({"edited": "yes"}));
    assert_eq!(edited["message"]["reactions"], json!({}));
    let again = bob
        .call(
            Method::GET,
            &format!("{path}/messages/{carol_message}"),
            None,
        )
        .await
        .unwrap();
    assert_eq!(again["message"]["text"], "hello, edited");
    code(
        carol
            .call(
                Method::PUT,
                &format!("{path}/messages/{carol_message}"),
                Some(json!({"text": "", "data": {}})),
            )
            .await,
        "4002",
    );

    // Deleting: one's own message, or any as the owner; not another member's.
    code(
        carol
            .call(
                Method::DELETE,
                &format!("{path}/messages/{bob_message}"),
                None,
            )
            .await,
        "2031",
    );
    let deleted = carol
        .call(
            Method::DELETE,
            &format!("{path}/messages/{carol_message}"),
            None,
        )
        .await
        .unwrap();
    assert_eq!(deleted, json!({}), "200 with {{}}");
    alice
        .call(
            Method::DELETE,
            &format!("{path}/messages/{bob_message}"),
            None,
        )
        .await
        .unwrap();
    code(
        alice
            .call(Method::GET, &format!("{path}/messages/{bob_message}"), None)
            .await,
        "4003",
    );

    // The owner's operations refused to a member.
    code(
        bob.call(Method::PUT, &path, Some(json!({"name": "mine now"})))
            .await,
        "2006",
    );
    code(
        bob.call(Method::POST, &format!("{path}/freeze"), Some(json!({})))
            .await,
        "2031",
    );
    code(
        bob.call(
            Method::POST,
            &format!("{path}/members/remove"),
            Some(json!({"members": [carol_id]})),
        )
        .await,
        "2031",
    );
    code(
        bob.call(
            Method::POST,
            &format!("{path}/members/ban"),
            Some(json!({"members": [carol_id]})),
        )
        .await,
        "2031",
    );
    code(
        bob.call(
            Method::POST,
            &format!("{path}/members/mute"),
            Some(json!({"members": [carol_id], "expireInMinutes": 0})),
        )
        .await,
        "2031",
    );
    code(
        bob.call(
            Method::POST,
            &format!("{path}/transfer/ownership"),
            Some(json!({"userId": bob_id})),
        )
        .await,
        "2031",
    );
    code(bob.call(Method::DELETE, &path, None).await, "2031");
    // ... and done by the owner.
    let renamed = alice
        .call(Method::PUT, &path, Some(json!({"name": "Our chat"})))
        .await
        .unwrap();
    assert_eq!(renamed["channel"]["name"], "Our chat");
    let muted = alice
        .call(
            Method::POST,
            &format!("{path}/members/mute"),
            Some(json!({"members": [carol_id], "expireInMinutes": 5})),
        )
        .await
        .unwrap();
    assert_eq!(
        muted["channel"]["mutedUsers"].as_array().map(Vec::len),
        Some(1)
    );
    code(
        carol
            .call(
                Method::POST,
                &format!("{path}/messages/send"),
                Some(json!({"text": "muted?"})),
            )
            .await,
        "2027",
    );

    // A public channel: anyone may read and join; a banned user may not join again.
    let lobby = unique("lobby");
    let lobby_path = format!("channels/{lobby}");
    alice
        .call(
            Method::POST,
            "channels/create",
            Some(json!({"channelId": lobby, "type": "public", "members": []})),
        )
        .await
        .unwrap();
    let seen = carol.call(Method::GET, &lobby_path, None).await.unwrap();
    assert_eq!(seen["channel"]["memberCount"], 1);
    let joined = carol
        .call(Method::POST, &format!("{lobby_path}/join"), Some(json!({})))
        .await
        .unwrap();
    assert_eq!(joined["channel"]["memberCount"], 2);
    code(
        carol
            .call(Method::POST, &format!("{lobby_path}/join"), Some(json!({})))
            .await,
        "2008",
    );
    alice
        .call(
            Method::POST,
            &format!("{lobby_path}/members/ban"),
            Some(json!({"members": [carol_id]})),
        )
        .await
        .unwrap();
    code(
        carol
            .call(Method::POST, &format!("{lobby_path}/join"), Some(json!({})))
            .await,
        "2018",
    );
    code(
        carol
            .call(
                Method::POST,
                &format!("{lobby_path}/join/invitation"),
                Some(json!({"invitationCode": "x"})),
            )
            .await,
        "2015",
    );

    // An invitationOnly channel: its code, and only its code.
    let club = unique("club");
    let club_path = format!("channels/{club}");
    alice
        .call(
            Method::POST,
            "channels/create",
            Some(json!({"channelId": club, "type": "invitationOnly", "invitationCode": "open-sesame", "members": []})),
        )
        .await
        .unwrap();
    code(
        bob.call(Method::POST, &format!("{club_path}/join"), Some(json!({})))
            .await,
        "2014",
    );
    code(
        bob.call(
            Method::POST,
            &format!("{club_path}/join/invitation"),
            Some(json!({"invitationCode": "wrong"})),
        )
        .await,
        "2014",
    );
    bob.call(
        Method::POST,
        &format!("{club_path}/join/invitation"),
        Some(json!({"invitationCode": "open-sesame"})),
    )
    .await
    .unwrap();

    // The caller's channels, and the app's public ones.
    let mine = bob
        .call_query(Method::GET, "channels", "type=default&limit=20&", None)
        .await
        .unwrap();
    let mut ids: Vec<&str> = mine["channels"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["id"].as_str().unwrap())
        .collect();
    ids.sort_unstable();
    let mut want = vec![channel_id.as_str(), club.as_str()];
    want.sort_unstable();
    assert_eq!(ids, want);
    let public = bob
        .call_query(Method::GET, "channels", "type=public&limit=50", None)
        .await
        .unwrap();
    assert!(
        public["channels"]
            .as_array()
            .unwrap()
            .iter()
            .all(|c| c["type"] == "public")
    );

    // Leaving: a non-member cannot; the last member may take the channel with them.
    code(
        carol
            .call(Method::POST, &format!("{club_path}/leave"), Some(json!({})))
            .await,
        "2005",
    );
    assert_eq!(
        bob.call(Method::POST, &format!("{club_path}/leave"), Some(json!({})))
            .await
            .unwrap(),
        json!({})
    );
    alice
        .call(
            Method::POST,
            &format!("{club_path}/leave"),
            Some(json!({"deleteChannelIfEmpty": true})),
        )
        .await
        .unwrap();
    code(alice.call(Method::GET, &club_path, None).await, "2003");

    // Ownership moves to a member; the old owner is refused what was theirs.
    let moved = alice
        .call(
            Method::POST,
            &format!("{path}/transfer/ownership"),
            Some(json!({"userId": bob_id})),
        )
        .await
        .unwrap();
    assert_eq!(moved["channel"]["ownerId"], bob_id);
    code(
        alice
            .call(Method::POST, &format!("{path}/freeze"), Some(json!({})))
            .await,
        "2031",
    );
    assert_eq!(
        bob.call(Method::POST, &format!("{path}/freeze"), Some(json!({})))
            .await
            .unwrap(),
        json!({})
    );

    // Unread counts: the messages after the caller's read mark that others sent (`hidden`
    // types are not unread); a new member's mark is where the channel was when they joined.
    let news = unique("news");
    let news_path = format!("channels/{news}");
    alice
        .call(
            Method::POST,
            "channels/create",
            Some(json!({"channelId": news, "type": "public", "members": [bob_id]})),
        )
        .await
        .unwrap();
    let send = |who: &'static str, kind: &'static str| {
        let client = if who == "alice" { &alice } else { &bob };
        let path = format!("{news_path}/messages/send");
        async move {
            client
                .call(
                    Method::POST,
                    &path,
                    Some(json!({"type": kind, "text": "news"})),
                )
                .await
                .unwrap()
        }
    };
    send("bob", "text").await;
    send("bob", "custom").await;
    send("bob", "hidden").await;
    send("alice", "text").await;
    let unread = |c: &Value| (c["unreadCount"].as_i64(), c["lastReadAt"].as_i64());
    let seen = alice.call(Method::GET, &news_path, None).await.unwrap();
    assert_eq!(unread(&seen["channel"]), (Some(2), Some(0)));
    let seen = bob.call(Method::GET, &news_path, None).await.unwrap();
    assert_eq!(unread(&seen["channel"]), (Some(1), Some(0)));
    let listed = alice
        .call_query(Method::GET, "channels", "type=default", None)
        .await
        .unwrap();
    let entry = listed["channels"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["id"] == news.as_str())
        .expect("listed")
        .clone();
    assert_eq!(entry["unreadCount"], 2);
    // The total over the caller's channels is the sum of the list's counts (the index behind
    // it is eventually consistent: asked again until it agrees, at most a few seconds).
    let sum: i64 = listed["channels"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["unreadCount"].as_i64().unwrap())
        .sum();
    let mut total = -1;
    for _ in 0..50 {
        total = alice
            .call(Method::GET, "channels/unread/count", None)
            .await
            .unwrap()["count"]
            .as_i64()
            .unwrap();
        if total == sum {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(total, sum, "unread/count vs the list's counts");
    assert!(total >= 2);
    let marked = alice
        .call(
            Method::POST,
            &format!("{news_path}/markread"),
            Some(json!({})),
        )
        .await
        .unwrap();
    assert_eq!(marked["channel"]["unreadCount"], 0);
    assert!(marked["channel"]["lastReadAt"].as_i64().unwrap() > 0);
    let joined = carol
        .call(Method::POST, &format!("{news_path}/join"), Some(json!({})))
        .await
        .unwrap();
    assert_eq!(
        joined["channel"]["unreadCount"], 0,
        "history before joining is not unread"
    );
    send("bob", "text").await;
    let seen = alice.call(Method::GET, &news_path, None).await.unwrap();
    assert_eq!(seen["channel"]["unreadCount"], 1);
    let seen = carol.call(Method::GET, &news_path, None).await.unwrap();
    assert_eq!(seen["channel"]["unreadCount"], 1);
    code(
        carol
            .call(
                Method::POST,
                &format!("{lobby_path}/markread"),
                Some(json!({})),
            )
            .await,
        "2005",
    );
    // markread/all: every channel of the caller read in one call; others' counts stay.
    assert!(unread_total(&alice).await > 0);
    assert_eq!(
        alice
            .call(Method::POST, "channels/markread/all", Some(json!({})))
            .await
            .unwrap(),
        json!({})
    );
    assert_eq!(unread_total(&alice).await, 0);
    let seen = alice.call(Method::GET, &news_path, None).await.unwrap();
    assert_eq!(seen["channel"]["unreadCount"], 0);
    let seen = carol.call(Method::GET, &news_path, None).await.unwrap();
    assert_eq!(seen["channel"]["unreadCount"], 1);

    // The caller's own view: hidden channels leave the default list for `type=hidden`; push
    // settings, private tag and data are the caller's alone; member info every member sees.
    let ids_of = |v: &Value| -> Vec<String> {
        v["channels"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["id"].as_str().unwrap().to_owned())
            .collect()
    };
    assert_eq!(
        bob.call(Method::POST, &format!("{news_path}/hide"), Some(json!({})))
            .await
            .unwrap(),
        json!({})
    );
    let default = bob
        .call_query(Method::GET, "channels", "type=default", None)
        .await
        .unwrap();
    assert!(!ids_of(&default).contains(&news), "{default}");
    let hidden = bob
        .call_query(Method::GET, "channels", "type=hidden", None)
        .await
        .unwrap();
    assert_eq!(ids_of(&hidden), std::slice::from_ref(&news));
    bob.call(Method::POST, &format!("{news_path}/show"), Some(json!({})))
        .await
        .unwrap();
    let default = bob
        .call_query(Method::GET, "channels", "type=default", None)
        .await
        .unwrap();
    assert!(ids_of(&default).contains(&news));
    let off = bob
        .call(
            Method::POST,
            &format!("{news_path}/push/disable"),
            Some(json!({})),
        )
        .await
        .unwrap();
    assert_eq!(off["channel"]["pushNotificationDisabled"], true);
    let sounds = bob
        .call(
            Method::POST,
            &format!("{news_path}/push/settings"),
            Some(json!({"pushNotificationSoundAos": "ding.mp3", "pushNotificationSoundIos": "ding.caf"})),
        )
        .await
        .unwrap();
    assert_eq!(sounds["channel"]["pushNotificationSoundAOS"], "ding.mp3");
    let read_back = bob
        .call(Method::GET, &format!("{news_path}/push/settings"), None)
        .await
        .unwrap();
    assert_eq!(read_back["channel"]["pushNotificationSoundIOS"], "ding.caf");
    assert_eq!(read_back["channel"]["pushNotificationDisabled"], true);
    let tagged = bob
        .call(
            Method::POST,
            &format!("{news_path}/privateTag"),
            Some(json!({"privateTag": "work"})),
        )
        .await
        .unwrap();
    assert_eq!(tagged["channel"]["privateTag"], "work");
    let private = bob
        .call(
            Method::POST,
            &format!("{news_path}/privateData"),
            Some(json!({"privateData": {"pinned": "yes"}})),
        )
        .await
        .unwrap();
    assert_eq!(private["channel"]["privateData"], json!({"pinned": "yes"}));
    code(
        bob.call(
            Method::POST,
            &format!("{news_path}/privateTag"),
            Some(json!({"privateTag": "x".repeat(129)})),
        )
        .await,
        "1014",
    );
    code(
        bob.call(
            Method::POST,
            &format!("{news_path}/privateData"),
            Some(json!({"privateData": "flat"})),
        )
        .await,
        "1013",
    );
    // Alice's view of the same channel has none of Bob's.
    let theirs = alice.call(Method::GET, &news_path, None).await.unwrap();
    assert_eq!(theirs["channel"]["privateTag"], "");
    assert_eq!(theirs["channel"]["pushNotificationDisabled"], false);
    let info = bob
        .call(
            Method::POST,
            &format!("{news_path}/memberInfo"),
            Some(json!({"memberInfo": {"role": "editor"}})),
        )
        .await
        .unwrap();
    assert_eq!(info["member"]["memberInfo"], json!({"role": "editor"}));
    let seen = alice
        .call(Method::GET, &format!("{news_path}/members/{bob_id}"), None)
        .await
        .unwrap();
    assert_eq!(seen["member"]["memberInfo"], json!({"role": "editor"}));
    code(
        bob.call(Method::POST, &format!("{lobby_path}/hide"), Some(json!({})))
            .await,
        "2005",
    );
    code(
        bob.call(
            Method::POST,
            &format!("{news_path}/memberInfo"),
            Some(json!({"memberInfo": [1]})),
        )
        .await,
        "1015",
    );

    // The list's filters, in the forms the SDKs send them.
    let only = |q: &'static str| {
        let bob = &bob;
        async move {
            ids_of(
                &bob.call_query(Method::GET, "channels", q, None)
                    .await
                    .unwrap(),
            )
        }
    };
    assert_eq!(
        only("type=default&privateTag=work").await,
        std::slice::from_ref(&news)
    );
    let mut both = vec![channel_id.clone(), news.clone()];
    both.sort();
    let with_alice_and_carol = format!("members={alice_id}&members={carol_id}&&limit=20");
    let mut listed = ids_of(
        &bob.call_query(Method::GET, "channels", &with_alice_and_carol, None)
            .await
            .unwrap(),
    );
    listed.sort();
    assert_eq!(listed, both);
    let comma = format!("members={alice_id},{carol_id}&limit=20");
    let mut listed = ids_of(
        &bob.call_query(Method::GET, "channels", &comma, None)
            .await
            .unwrap(),
    );
    listed.sort();
    assert_eq!(listed, both);
    assert_eq!(
        only("filter=name&query=OUR").await,
        std::slice::from_ref(&channel_id)
    );
    assert_eq!(
        only("isFrozen=true").await,
        std::slice::from_ref(&channel_id)
    );
    let unread_now = only("hasUnread=true").await;
    let no_unread = only("hasUnread=false").await;
    assert_eq!(
        unread_now.len() + no_unread.len(),
        2,
        "{unread_now:?} {no_unread:?}"
    );
    code(
        bob.call_query(Method::GET, "channels", "hasUnread=maybe", None)
            .await,
        "1001",
    );

    // hide/all: every channel of the caller leaves the default list for `type=hidden`.
    let before = ids_of(
        &bob.call_query(Method::GET, "channels", "type=default", None)
            .await
            .unwrap(),
    );
    assert!(before.len() >= 2, "{before:?}");
    assert_eq!(
        bob.call(Method::POST, "channels/hide/all", Some(json!({})))
            .await
            .unwrap(),
        json!({})
    );
    let default = bob
        .call_query(Method::GET, "channels", "type=default", None)
        .await
        .unwrap();
    assert_eq!(ids_of(&default), Vec::<String>::new(), "{default}");
    let hidden = ids_of(
        &bob.call_query(Method::GET, "channels", "type=hidden", None)
            .await
            .unwrap(),
    );
    assert_eq!(hidden, before);

    // Peer mute: a member mutes another for a time; the muted one cannot send until it is
    // lifted.
    let muted = bob
        .call(
            Method::POST,
            &format!("{news_path}/peer/mute"),
            Some(json!({"members": [carol_id], "expireInMinutes": 10})),
        )
        .await
        .unwrap();
    assert_eq!(muted["members"][0]["id"], carol_id.as_str());
    assert!(muted["members"][0]["muteExpiresAt"].as_i64().unwrap() > 0);
    let listed = bob
        .call(Method::GET, &format!("{news_path}/peer/muted"), None)
        .await
        .unwrap();
    assert_eq!(listed["members"][0]["id"], carol_id.as_str(), "{listed}");
    assert_eq!(listed["hasNext"], false);
    code(
        carol
            .call(
                Method::POST,
                &format!("{news_path}/messages/send"),
                Some(json!({"text": "shh"})),
            )
            .await,
        "2027",
    );
    let lifted = bob
        .call(
            Method::POST,
            &format!("{news_path}/peer/unmute"),
            Some(json!({"members": [carol_id]})),
        )
        .await
        .unwrap();
    assert_eq!(lifted["members"][0]["muteExpiresAt"], 0);
    carol
        .call(
            Method::POST,
            &format!("{news_path}/messages/send"),
            Some(json!({"text": "back"})),
        )
        .await
        .unwrap();

    // Blocks through the client API.
    alice
        .call(
            Method::POST,
            "users/block",
            Some(json!({"userId": carol_id})),
        )
        .await
        .unwrap();
    let blocked = alice
        .call(Method::GET, "users/blocked", None)
        .await
        .unwrap();
    assert_eq!(blocked["users"][0]["id"], carol_id);

    // Logout ends the session; the token is refused from then on.
    assert_eq!(
        carol
            .call(Method::POST, "users/logout", Some(json!({})))
            .await
            .unwrap(),
        json!({})
    );
    // (Asked of a function that never saw the session: one that did trusts it for up to
    // `AUTH_CACHE_SECONDS`, as `make dev`'s functions do.)
    code(carol.call(Method::GET, "users/blocked", None).await, "3001");

    // No token, and tokens that are not this app's sessions.
    code(alice.call_with_token(Method::GET, &path, "").await, "1007");
    code(
        alice
            .call_with_token(Method::GET, &path, "Bearer nonsense")
            .await,
        "3002",
    );
    let forged = {
        let mut parts: Vec<String> = alice.session_token.split('.').map(str::to_owned).collect();
        parts[2] = parts[2].chars().rev().collect();
        format!("Bearer {}", parts.join("."))
    };
    code(
        alice.call_with_token(Method::GET, &path, &forged).await,
        "3002",
    );
}

/// The caller's `unread/count`.
async fn unread_total(c: &SdkClient<'_>) -> i64 {
    c.call(Method::GET, "channels/unread/count", None)
        .await
        .unwrap()["count"]
        .as_i64()
        .unwrap()
}

/// Uploads as the SDKs send them: a multipart form whose `file` is stored and becomes the
/// message's `fileUrl` or the user's `profileImageUrl`, the other fields read as the JSON
/// body's (`data` a JSON string, arrays comma-joined); the URL serves the bytes. A multipart
/// body on an operation that takes no file is `1001`, and a refused upload sends nothing.
pub async fn uploads(t: &Transport<'_>) {
    let clients = logged_in_users(t, &["uma", "vic"]).await;
    let (uma, vic) = (&clients[0], &clients[1]);
    let channel = unique("files");
    uma.call(
        Method::POST,
        "channels/create",
        Some(json!({"channelId": channel, "type": "private", "members": [vic.user_id]})),
    )
    .await
    .unwrap();
    let send_path = format!("channels/{channel}/messages/send");
    // Every byte value, as an image's bytes would have.
    let png: Vec<u8> = (0..=255u8).cycle().take(70_000).collect();
    let file = FilePart {
        name: "cat photo.png",
        content_type: "image/png",
        bytes: &png,
    };
    let sent = uma
        .call_form(
            Method::POST,
            &send_path,
            multipart(
                &[
                    ("type", "text"),
                    ("text", ""),
                    ("data", r#"{"kind":"photo"}"#),
                    ("mentions", &vic.user_id),
                ],
                Some(&file),
            ),
        )
        .await
        .unwrap();
    let message = &sent["message"];
    let url = message["fileUrl"].as_str().unwrap().to_owned();
    assert!(url.ends_with("/cat_photo.png"), "{url}");
    assert!(url.contains(&format!("/{}/", t.app_id())), "{url}");
    assert_eq!(message["data"], json!({"kind": "photo"}));
    assert_eq!(message["mentions"], json!([vic.user_id]));
    assert_eq!(message["text"], "");
    let (status, content_type, got) = fetch(&url).await;
    assert_eq!(status, 200);
    assert_eq!(content_type, "image/png");
    assert_eq!(got, png);
    let files = vic
        .call(
            Method::GET,
            &format!("channels/{channel}/messages/files"),
            None,
        )
        .await
        .unwrap();
    assert_eq!(files["messages"][0]["fileUrl"], url.as_str());

    // The profile image, with the other fields of the update.
    let updated = uma
        .call_form(
            Method::PUT,
            "users/update",
            multipart(
                &[("username", "Uma"), ("data", r#"{"city":"Seoul"}"#)],
                Some(&FilePart {
                    name: "me.jpg",
                    content_type: "image/jpeg",
                    bytes: b"\xff\xd8\xff\xe0jpeg",
                }),
            ),
        )
        .await
        .unwrap();
    let user = &updated["user"];
    assert_eq!(user["username"], "Uma");
    assert_eq!(user["data"], json!({"city": "Seoul"}));
    let image = user["profileImageUrl"].as_str().unwrap();
    assert!(image.ends_with("/me.jpg"), "{image}");
    assert_eq!(fetch(image).await.2, b"\xff\xd8\xff\xe0jpeg");

    // A form on an operation that takes no file; a form whose `data` is not JSON.
    let refused = uma
        .call_form(
            Method::POST,
            "channels/create",
            multipart(&[("channelId", "x"), ("type", "public")], None),
        )
        .await
        .err();
    assert_eq!(refused.as_deref(), Some("1001"));
    let refused = uma
        .call_form(
            Method::POST,
            &send_path,
            multipart(&[("data", "{not json")], Some(&file)),
        )
        .await
        .err();
    assert_eq!(refused.as_deref(), Some("1001"));
    // Text that looks like JSON is text.
    let sent = uma
        .call_form(
            Method::POST,
            &send_path,
            multipart(&[("text", "{not json}"), ("data", "")], None),
        )
        .await
        .unwrap();
    assert_eq!(sent["message"]["text"], "{not json}");
    assert_eq!(sent["message"]["data"], json!({}));
    let history = vic
        .call(Method::GET, &format!("channels/{channel}/messages"), None)
        .await
        .unwrap();
    assert_eq!(history["messages"].as_array().unwrap().len(), 2);
}

/// A GET of a file's URL: status, content type, bytes.
pub async fn fetch(url: &str) -> (u16, String, Vec<u8>) {
    let http = shared::config::reqwest_builder()
        .and_then(|b| b.build().map_err(|e| e.to_string()))
        .expect("HTTP client");
    let resp = http
        .get(url)
        .send()
        .await
        .expect("the file's server answers");
    let status = resp.status().as_u16();
    let content_type = resp
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    (status, content_type, resp.bytes().await.unwrap().to_vec())
}
