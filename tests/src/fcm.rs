//! A fake of FCM's HTTP v1 API and Google's OAuth token endpoint, on loopback: it checks the
//! service account's RS256 assertion against the account's public key, hands out access
//! tokens, refuses sends without one, records what it accepts, and answers `UNREGISTERED`
//! for tokens starting with `gone-`.
//!
//! `tests/fixtures/fcm-test-service-account.json` is a key made for these tests only (no
//! Google project has it).

use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ring::signature::{RSA_PKCS1_2048_8192_SHA256, UnparsedPublicKey};
use serde_json::{Value, json};
use shared::realtime::push::{SCOPE, ServiceAccount};

/// The tests' service account key file.
pub fn test_account_file() -> String {
    std::fs::read_to_string(test_account_path()).expect("read the test service account")
}

pub fn test_account_path() -> String {
    concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/fixtures/fcm-test-service-account.json"
    )
    .to_owned()
}

/// A push FCM accepted.
#[derive(Debug, Clone)]
pub struct Pushed {
    pub project: String,
    pub token: String,
    /// The `talkplus` data field, parsed.
    pub talkplus: Value,
}

#[derive(Default)]
struct State {
    public_key: Vec<u8>,
    account: Option<ServiceAccount>,
    issued: Vec<String>,
    pushed: Vec<Pushed>,
    unregistered: Vec<String>,
    refused_assertions: usize,
}

#[derive(Clone)]
pub struct FakeFcm {
    /// `http://127.0.0.1:{port}`: FCM's base URL.
    pub url: String,
    state: Arc<Mutex<State>>,
}

impl FakeFcm {
    /// On a free port.
    pub async fn start(account: &ServiceAccount) -> FakeFcm {
        FakeFcm::start_on(account, 0).await
    }

    pub async fn start_on(account: &ServiceAccount, port: u16) -> FakeFcm {
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
            .await
            .expect("bind the fake FCM");
        let url = format!("http://{}", listener.local_addr().expect("address"));
        let key = account.key_pair().expect("the test account's key");
        let state = Arc::new(Mutex::new(State {
            public_key: key.public().as_ref().to_vec(),
            account: Some(account.clone()),
            ..State::default()
        }));
        let served = state.clone();
        let app = axum::Router::new().fallback(
            move |method: Method, uri: Uri, headers: HeaderMap, body: Bytes| {
                let state = served.clone();
                async move { handle(&state, &method, &uri, &headers, &body) }
            },
        );
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        FakeFcm { url, state }
    }

    /// Where access tokens are asked for.
    pub fn oauth_url(&self) -> String {
        format!("{}/token", self.url)
    }

    pub fn pushed(&self) -> Vec<Pushed> {
        self.state.lock().unwrap().pushed.clone()
    }

    /// Tokens answered `UNREGISTERED`.
    pub fn unregistered(&self) -> Vec<String> {
        self.state.lock().unwrap().unregistered.clone()
    }

    /// Access tokens handed out.
    pub fn tokens_issued(&self) -> usize {
        self.state.lock().unwrap().issued.len()
    }

    pub fn refused_assertions(&self) -> usize {
        self.state.lock().unwrap().refused_assertions
    }
}

fn answer(status: StatusCode, body: Value) -> Response {
    (
        status,
        [("content-type", "application/json")],
        body.to_string(),
    )
        .into_response()
}

fn handle(
    state: &Mutex<State>,
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
    body: &[u8],
) -> Response {
    let mut st = state.lock().unwrap();
    let path = uri.path();
    if method == Method::POST && path == "/token" {
        let form = String::from_utf8_lossy(body);
        let field = |name: &str| {
            form.split('&')
                .find_map(|kv| kv.strip_prefix(&format!("{name}=")))
                .unwrap_or_default()
                .to_owned()
        };
        let grant = field("grant_type");
        let assertion = field("assertion");
        let verified = grant == "urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Ajwt-bearer"
            && verify(&st, &assertion);
        if !verified {
            st.refused_assertions += 1;
            return answer(StatusCode::BAD_REQUEST, json!({"error": "invalid_grant"}));
        }
        let token = format!("fake-access-{}", st.issued.len() + 1);
        st.issued.push(token.clone());
        return answer(
            StatusCode::OK,
            json!({"access_token": token, "expires_in": 3599, "token_type": "Bearer"}),
        );
    }
    let project = path
        .strip_prefix("/v1/projects/")
        .and_then(|p| p.strip_suffix("/messages:send"));
    let (Some(project), true) = (project, method == Method::POST) else {
        return answer(
            StatusCode::NOT_FOUND,
            json!({"error": {"code": 404, "status": "NOT_FOUND", "message": "no such method"}}),
        );
    };
    let bearer = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or_default();
    let known_project = st.account.as_ref().map(|a| a.project_id.as_str()) == Some(project);
    if !st.issued.iter().any(|t| t == bearer) || !known_project {
        return answer(
            StatusCode::UNAUTHORIZED,
            json!({"error": {"code": 401, "status": "UNAUTHENTICATED"}}),
        );
    }
    let Ok(sent) = serde_json::from_slice::<Value>(body) else {
        return answer(
            StatusCode::BAD_REQUEST,
            json!({"error": {"code": 400, "status": "INVALID_ARGUMENT"}}),
        );
    };
    let token = sent["message"]["token"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    if token.starts_with("gone-") {
        st.unregistered.push(token);
        return answer(
            StatusCode::NOT_FOUND,
            json!({"error": {"code": 404, "status": "NOT_FOUND", "message": "Requested entity was not found.",
                "details": [{"@type": "type.googleapis.com/google.firebase.fcm.v1.FcmError", "errorCode": "UNREGISTERED"}]}}),
        );
    }
    let talkplus = sent["message"]["data"]["talkplus"]
        .as_str()
        .and_then(|s| serde_json::from_str(s).ok())
        .unwrap_or(Value::Null);
    st.pushed.push(Pushed {
        project: project.to_owned(),
        token,
        talkplus,
    });
    let n = st.pushed.len();
    answer(
        StatusCode::OK,
        json!({"name": format!("projects/{project}/messages/{n}")}),
    )
}

/// The assertion is the account's: signed by its key, for FCM's scope, addressed to its
/// token URI, not expired.
fn verify(st: &State, jwt: &str) -> bool {
    let Some(account) = &st.account else {
        return false;
    };
    let parts: Vec<&str> = jwt.split('.').collect();
    let [header, claims, signature] = parts[..] else {
        return false;
    };
    let Ok(signature) = URL_SAFE_NO_PAD.decode(signature) else {
        return false;
    };
    let key = UnparsedPublicKey::new(&RSA_PKCS1_2048_8192_SHA256, &st.public_key);
    if key
        .verify(format!("{header}.{claims}").as_bytes(), &signature)
        .is_err()
    {
        return false;
    }
    let decode = |p: &str| -> Value {
        URL_SAFE_NO_PAD
            .decode(p)
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok())
            .unwrap_or(Value::Null)
    };
    let (header, claims) = (decode(header), decode(claims));
    let now = shared::model::now_ms() / 1000;
    header["alg"] == "RS256"
        && claims["iss"] == account.client_email.as_str()
        && claims["scope"] == SCOPE
        && claims["aud"] == account.token_uri()
        && claims["exp"].as_i64().is_some_and(|e| e > now)
        && claims["iat"].as_i64().is_some_and(|i| i <= now + 60)
}
