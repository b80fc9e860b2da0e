//! Push notifications to users with no live connection (client-protocol.md §4, "Push"), over
//! FCM's HTTP v1 API with the app's own service account.
//!
//! - The service account (`talkplus-admin set-app --fcm-service-account FILE`) is kept in
//!   the app item sealed as the signing key is (`crate::seal`: KMS on AWS); the dispatcher
//!   opens it once per warm container and keeps its OAuth access token until shortly
//!   before it expires (an RS256-signed assertion traded at the account's `token_uri`).
//! - A push carries only data: `talkplus`, the JSON string `{"uid","type","notificationLink"}`.
//!   The SDK fetches the link (`GET /v1.4/notifications/{at}-{uid}`, the client API) and
//!   gets the event as the WebSocket frame had it; the event is the one kept for replay,
//!   so pushes go only for events that are kept.
//! - A token FCM reports unregistered is removed from its device.
//!
//! FCM's and OAuth's endpoints are configurable (`TALKPLUS_FCM_URL`,
//! `TALKPLUS_FCM_OAUTH_URL`) so that tests and `make dev` can use a fake server.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::StreamExt;
use ring::signature::RsaKeyPair;
use serde_json::{Value, json};

use crate::model::now_ms;
use crate::seal::Sealer;
use crate::store::{Device, Store};

mod account;
pub use account::ServiceAccount;

/// FCM's base URL (`https://fcm.googleapis.com` unless set).
pub const FCM_URL_VAR: &str = "TALKPLUS_FCM_URL";
/// Where access tokens are asked for, in place of each service account's `token_uri`.
pub const OAUTH_URL_VAR: &str = "TALKPLUS_FCM_OAUTH_URL";
/// The client API's public base URL, for the notification links (no trailing slash).
pub const PUBLIC_URL_VAR: &str = "TALKPLUS_PUBLIC_API_URL";
pub const DEFAULT_FCM_URL: &str = "https://fcm.googleapis.com";
pub const DEFAULT_TOKEN_URI: &str = "https://oauth2.googleapis.com/token";
pub const SCOPE: &str = "https://www.googleapis.com/auth/firebase.messaging";
/// The client route the links point at.
pub const NOTIFICATION_PATH: &str = "/v1.4/notifications";
/// KMS encrypts at most 4,096 bytes: the account as kept must fit.
pub const MAX_ACCOUNT_BYTES: usize = 4_096;
/// FCM requests at once, per event.
const SEND_CONCURRENCY: usize = 32;
/// Users whose devices are read at once, per event.
const DEVICE_READS: usize = 16;
/// An access token is renewed this long before it expires.
const TOKEN_MARGIN_MS: i64 = 60_000;

/// The notification link of the event `uid` kept at `at_ms`.
pub fn link(base: &str, at_ms: i64, uid: &str) -> String {
    format!(
        "{}{NOTIFICATION_PATH}/{at_ms}-{uid}",
        base.trim_end_matches('/')
    )
}

/// A link's id back into (at, uid); `None` unless it is one.
pub fn parse_notification_id(id: &str) -> Option<(i64, &str)> {
    let (at, uid) = id.split_once('-')?;
    let well_formed = !at.is_empty()
        && at.len() <= 13
        && at.bytes().all(|b| b.is_ascii_digit())
        && !uid.is_empty()
        && uid.len() <= 64
        && uid.bytes().all(|b| b.is_ascii_hexdigit());
    if !well_formed {
        return None;
    }
    Some((at.parse().ok()?, uid))
}

/// `GET /v1.4/notifications/{id}`: the event a push notification points at, if the caller
/// was one of its receivers and it is still kept (`REPLAY_TTL_S`).
pub async fn notification(
    store: &Store,
    app_id: &str,
    user_id: &str,
    id: &str,
) -> Result<crate::wire::Notification, crate::Error> {
    let (at, uid) = parse_notification_id(id).ok_or_else(|| {
        crate::Error::InvalidParam("notificationId: not a notification link's id".into())
    })?;
    let gone = || crate::Error::MessageNotFound(format!("notification {id}"));
    let frame = store
        .notification(app_id, user_id, at, uid, now_ms() / 1000)
        .await?
        .ok_or_else(gone)?;
    let mut frame: Value = serde_json::from_str(&frame).map_err(|_| gone())?;
    let event = frame
        .get("type")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned();
    Ok(crate::wire::Notification {
        event,
        data: frame
            .get_mut("data")
            .map(Value::take)
            .unwrap_or(Value::Null),
    })
}

/// Whether FCM's answer says the token is no longer registered (the app was uninstalled,
/// the token expired): `UNREGISTERED` in the error's details, or a 404.
pub fn unregistered(status: u16, body: &str) -> bool {
    if status == 404 {
        return true;
    }
    let Ok(v) = serde_json::from_str::<Value>(body) else {
        return false;
    };
    v.pointer("/error/details")
        .and_then(Value::as_array)
        .is_some_and(|details| {
            details
                .iter()
                .any(|d| d.get("errorCode").and_then(Value::as_str) == Some("UNREGISTERED"))
        })
}

/// The FCM v1 message of one push: data only (the SDK builds the notification from the
/// link), delivered at once on Android, as a background update on iOS.
pub fn message(token: &str, talkplus: &str) -> Value {
    json!({
        "message": {
            "token": token,
            "data": {"talkplus": talkplus},
            "android": {"priority": "high"},
            "apns": {
                "headers": {"apns-push-type": "background", "apns-priority": "5"},
                "payload": {"aps": {"content-available": 1}},
            },
        }
    })
}

struct Opened {
    account: ServiceAccount,
    key: RsaKeyPair,
}

/// FCM, for the dispatcher's fan-out.
pub struct Push {
    sealer: Sealer,
    http: reqwest::Client,
    fcm_url: String,
    oauth_url: Option<String>,
    link_base: String,
    /// Opened accounts by (app, sealed account): a replaced account is opened afresh.
    accounts: Mutex<HashMap<(String, String), Arc<Opened>>>,
    /// Access tokens by (app, sealed account), with when they expire (ms).
    tokens: Mutex<HashMap<(String, String), (String, i64)>>,
}

impl std::fmt::Debug for Push {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Push({}, links {})", self.fcm_url, self.link_base)
    }
}

enum Sent {
    Accepted,
    Unregistered,
    /// FCM refused the access token (401, 403).
    Unauthorized,
    Failed,
}

impl Push {
    pub fn new(
        sealer: Sealer,
        fcm_url: &str,
        oauth_url: Option<String>,
        link_base: &str,
    ) -> Result<Push, String> {
        let http = crate::config::reqwest_builder()?
            .redirect(reqwest::redirect::Policy::none())
            .connect_timeout(Duration::from_secs(2))
            .timeout(Duration::from_secs(5))
            .build()
            .map_err(|e| format!("FCM HTTP client: {e}"))?;
        Ok(Push {
            sealer,
            http,
            fcm_url: fcm_url.trim_end_matches('/').to_owned(),
            oauth_url,
            link_base: link_base.trim_end_matches('/').to_owned(),
            accounts: Mutex::new(HashMap::new()),
            tokens: Mutex::new(HashMap::new()),
        })
    }

    /// As the environment configures it: a sealer (to open the accounts) and the client
    /// API's public URL (for the links) are needed; without either there are no pushes.
    pub fn from_env(config: &aws_config::SdkConfig) -> Option<Push> {
        let var = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
        let link_base = var(PUBLIC_URL_VAR)?;
        let sealer = Sealer::from_env(config)?;
        let fcm = var(FCM_URL_VAR).unwrap_or_else(|| DEFAULT_FCM_URL.to_owned());
        match Push::new(sealer, &fcm, var(OAUTH_URL_VAR), &link_base) {
            Ok(p) => Some(p),
            Err(e) => {
                tracing::error!(error = %e, "push notifications are off");
                None
            }
        }
    }

    /// Pushes the event `uid` (kept at `at_ms`) to the FCM devices of `users`, with the app's
    /// sealed service account `sealed`; returns how many FCM accepted. Failures are logged, never the batch's: the WebSocket posts are
    /// done, and a push is a best effort as FCM's own delivery is.
    #[allow(clippy::too_many_arguments)]
    pub async fn notify(
        &self,
        store: &Store,
        app_id: &str,
        sealed: &str,
        users: &[&str],
        uid: &str,
        at_ms: i64,
        event: &str,
    ) -> usize {
        let pushed = async {
            // Futures built first, then run (rust-lang/rust#102211, as in the fan-out). The
            // receivers are live users: the fan-out read their profiles.
            let reads: Vec<_> = users
                .iter()
                .map(|u| store.device_range(app_id, u))
                .collect();
            let found: Vec<_> = futures::stream::iter(reads)
                .buffered(DEVICE_READS)
                .collect()
                .await;
            let mut devices: Vec<(&str, Device)> = Vec::new();
            for (user, found) in users.iter().zip(found) {
                match found {
                    Ok(d) => devices.extend(
                        d.into_iter()
                            .filter(|d| !d.fcm_token.is_empty())
                            .map(|d| (*user, d)),
                    ),
                    Err(e) => tracing::warn!(user_id = user, error = %e, "push: devices not read"),
                }
            }
            if devices.is_empty() {
                return Ok(0);
            }
            let cache_key = (app_id.to_owned(), sealed.to_owned());
            let opened = self.opened(&cache_key).await?;
            let token = self.access_token(&cache_key, &opened).await?;
            let talkplus = json!({
                "uid": uid,
                "type": event,
                "notificationLink": link(&self.link_base, at_ms, uid),
            })
            .to_string();
            let url = format!(
                "{}/v1/projects/{}/messages:send",
                self.fcm_url, opened.account.project_id
            );
            let sends: Vec<_> = devices
                .iter()
                .map(|(user, device)| {
                    self.send_one(store, app_id, user, device, &url, &token, &talkplus)
                })
                .collect();
            let sent: Vec<Sent> = futures::stream::iter(sends)
                .buffer_unordered(SEND_CONCURRENCY)
                .collect()
                .await;
            if sent.iter().any(|s| matches!(s, Sent::Unauthorized)) {
                // Revoked or expired early: the next event asks for a new one.
                self.tokens
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .remove(&cache_key);
            }
            Ok::<_, String>(sent.iter().filter(|s| matches!(s, Sent::Accepted)).count())
        };
        match pushed.await {
            Ok(n) => n,
            Err(e) => {
                tracing::warn!(app_id, uid, error = %e, "push notifications failed");
                0
            }
        }
    }

    #[allow(clippy::too_many_arguments)]
    async fn send_one(
        &self,
        store: &Store,
        app_id: &str,
        user_id: &str,
        device: &Device,
        url: &str,
        token: &str,
        talkplus: &str,
    ) -> Sent {
        let res = self
            .http
            .post(url)
            .bearer_auth(token)
            .json(&message(&device.fcm_token, talkplus))
            .send()
            .await;
        let res = match res {
            Ok(r) => r,
            Err(e) => {
                tracing::warn!(user_id, error = %e, "push: FCM not reached");
                return Sent::Failed;
            }
        };
        let status = res.status().as_u16();
        if res.status().is_success() {
            return Sent::Accepted;
        }
        let body = res.text().await.unwrap_or_default();
        if unregistered(status, &body) {
            if let Err(e) = store.forget_fcm_token(app_id, user_id, device).await {
                tracing::warn!(user_id, error = %e, "push: unregistered token not removed");
            }
            return Sent::Unregistered;
        }
        tracing::warn!(user_id, status, body = %body.chars().take(300).collect::<String>(), "push: FCM refused");
        if matches!(status, 401 | 403) {
            Sent::Unauthorized
        } else {
            Sent::Failed
        }
    }

    async fn opened(&self, key: &(String, String)) -> Result<Arc<Opened>, String> {
        if let Some(o) = self
            .accounts
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(key)
        {
            return Ok(o.clone());
        }
        let plain = self
            .sealer
            .open(&key.0, &key.1)
            .await
            .map_err(|e| format!("the FCM service account does not open: {e}"))?;
        let account: ServiceAccount = serde_json::from_str(&plain)
            .map_err(|e| format!("the FCM service account kept is not one: {e}"))?;
        let key_pair = account.key_pair()?;
        let opened = Arc::new(Opened {
            account,
            key: key_pair,
        });
        self.accounts
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(key.clone(), opened.clone());
        Ok(opened)
    }

    async fn access_token(
        &self,
        key: &(String, String),
        opened: &Opened,
    ) -> Result<String, String> {
        let now = now_ms();
        if let Some((token, expires)) = self
            .tokens
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(key)
            && *expires > now + TOKEN_MARGIN_MS
        {
            return Ok(token.clone());
        }
        let assertion = opened.account.assertion(&opened.key, now / 1000)?;
        let url = self
            .oauth_url
            .as_deref()
            .unwrap_or_else(|| opened.account.token_uri());
        let res = self
            .http
            .post(url)
            .header("content-type", "application/x-www-form-urlencoded")
            // The assertion is base64url and dots: nothing to escape.
            .body(format!(
                "grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Ajwt-bearer&assertion={assertion}"
            ))
            .send()
            .await
            .map_err(|e| format!("OAuth token endpoint not reached: {e}"))?;
        let status = res.status();
        let body: Value = res
            .json()
            .await
            .map_err(|e| format!("OAuth token endpoint answered {status}, not JSON: {e}"))?;
        let token = body
            .get("access_token")
            .and_then(Value::as_str)
            .filter(|_| status.is_success())
            .ok_or_else(|| format!("OAuth token endpoint answered {status}: {body}"))?
            .to_owned();
        let expires_in = body
            .get("expires_in")
            .and_then(Value::as_i64)
            .unwrap_or(3600);
        self.tokens
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(key.clone(), (token.clone(), now + expires_in * 1000));
        Ok(token)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn links_and_their_ids() {
        let l = link("https://api.example.com/", 1_700_000_000_123, "abc123");
        assert_eq!(
            l,
            "https://api.example.com/v1.4/notifications/1700000000123-abc123"
        );
        let id = l.rsplit('/').next().unwrap_or_default();
        assert_eq!(
            parse_notification_id(id),
            Some((1_700_000_000_123, "abc123"))
        );
        for bad in [
            "",
            "-",
            "12-",
            "-ab",
            "x1-ab",
            "1-zz",
            "12345678901234-ab",
            "1-a-b",
        ] {
            assert_eq!(parse_notification_id(bad), None, "{bad}");
        }
    }

    #[test]
    fn unregistered_tokens_are_told_apart() {
        let gone = r#"{"error":{"code":400,"status":"INVALID_ARGUMENT","details":[{"@type":"type.googleapis.com/google.firebase.fcm.v1.FcmError","errorCode":"UNREGISTERED"}]}}"#;
        assert!(unregistered(400, gone));
        assert!(unregistered(404, "{}"));
        let quota = r#"{"error":{"code":429,"status":"RESOURCE_EXHAUSTED","details":[{"errorCode":"QUOTA_EXCEEDED"}]}}"#;
        assert!(!unregistered(429, quota));
        assert!(!unregistered(500, "not json"));
    }

    #[test]
    fn messages_carry_only_data() {
        let m = message("tok", r#"{"uid":"u"}"#);
        assert_eq!(m["message"]["token"], "tok");
        assert_eq!(m["message"]["data"]["talkplus"], r#"{"uid":"u"}"#);
        assert!(m["message"].get("notification").is_none());
    }
}
