//! App authentication: `app-id` + `api-key` on every request.
//!
//! Whatever is wrong (a header missing, an unknown app, a wrong key) the answer is the same
//! 401/`1006`, and the key is compared as a SHA-256 digest in constant time. A deactivated
//! app gets 403/`1012`, but only with the right key, so the answer reveals nothing to a
//! caller who does not hold one.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use lambda_http::http::HeaderMap;

use crate::Error;
use crate::model::{AppCredentials, RateLimits};
use crate::secrets::digest_matches;
use crate::store::Store;

/// An app id whose key was checked. Handlers receive one; nothing else creates it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppId(String);

impl AppId {
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// An app id read from the table itself (the change stream), not from a request.
    pub(crate) fn stored(id: &str) -> AppId {
        AppId(id.to_owned())
    }

    /// An app id without authentication, for unit tests of domain rules.
    #[cfg(test)]
    pub fn for_tests(id: &str) -> AppId {
        AppId(id.to_owned())
    }
}

/// App ids are ours (UUIDs) but arrive in a header, so bound them before they reach a key.
const MAX_APP_ID_LEN: usize = 64;
/// Default time a warm function trusts an app item it has read.
pub const DEFAULT_CACHE_TTL: Duration = Duration::from_secs(30);

/// Remembers app items for a short time so a warm function does not read the app on every
/// request. A rotated key or a deactivation takes effect within the TTL.
#[derive(Clone, Debug)]
pub struct AppCache {
    ttl: Duration,
    entries: Arc<Mutex<HashMap<String, (Instant, AppCredentials)>>>,
}

impl AppCache {
    pub fn new(ttl: Duration) -> Self {
        AppCache {
            ttl,
            entries: Arc::default(),
        }
    }

    pub fn ttl(&self) -> Duration {
        self.ttl
    }

    fn get(&self, app_id: &str) -> Option<AppCredentials> {
        let entries = self.entries.lock().ok()?;
        entries
            .get(app_id)
            .filter(|(at, _)| at.elapsed() < self.ttl)
            .map(|(_, app)| app.clone())
    }

    fn put(&self, app: AppCredentials) {
        if self.ttl.is_zero() {
            return;
        }
        if let Ok(mut entries) = self.entries.lock() {
            // One function serves few apps; the bound only stops growth from many unknown ids.
            if entries.len() > 1024 {
                entries.clear();
            }
            entries.insert(app.app.id.clone(), (Instant::now(), app));
        }
    }
}

fn header<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .filter(|v| !v.is_empty())
}

/// The app item of `app_id` (from the cache when fresh); `None` for an unknown or malformed id.
async fn app_item(
    store: &Store,
    cache: &AppCache,
    app_id: &str,
) -> Result<Option<AppCredentials>, Error> {
    if app_id.len() > MAX_APP_ID_LEN || !crate::validate::is_uri_safe(app_id) {
        return Ok(None);
    }
    Ok(match cache.get(app_id) {
        Some(app) => Some(app),
        None => {
            let found = store.app(app_id).await?;
            if let Some(app) = &found {
                cache.put(app.clone());
            }
            found
        }
    })
}

/// Checks the request's `app-id` and `api-key` headers; gives the app and its rate limits.
pub async fn authenticate(
    store: &Store,
    cache: &AppCache,
    headers: &HeaderMap,
) -> Result<(AppId, RateLimits), Error> {
    let (Some(app_id), Some(api_key)) = (header(headers, "app-id"), header(headers, "api-key"))
    else {
        return Err(Error::Unauthorized);
    };
    if app_id.len() > MAX_APP_ID_LEN || !crate::validate::is_uri_safe(app_id) {
        return Err(Error::Unauthorized);
    }
    let app = app_item(store, cache, app_id).await?;
    // Hash and compare even for an unknown app, so timing does not tell the two apart.
    let (digest, active, limits) = match &app {
        Some(a) => (a.api_key_digest.as_str(), a.app.active, a.app.rate_limits),
        None => ("", false, RateLimits::default()),
    };
    if !digest_matches(api_key, digest) || app.is_none() {
        return Err(Error::Unauthorized);
    }
    if !active {
        return Err(Error::DeactivatedApp);
    }
    Ok((AppId(app_id.to_owned()), limits))
}

/// Whose client API request this is: a session checked by `authenticate_client`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    pub user_id: String,
    pub session_id: String,
    /// The device it was opened on (see `session::Claims::did`).
    pub device_id: String,
}

/// What a client API request knows about its app and caller.
#[derive(Debug, Clone)]
pub struct Client {
    /// The caller; `None` on the login paths, which come before a session.
    pub session: Option<Session>,
    /// The HMAC key of the app's session tokens.
    pub session_key: [u8; 32],
    /// The app allows anonymous login.
    pub anonymous_login: bool,
}

/// A map keyed by app id and one more string, shared by a warm function's requests.
type ByAppAnd<V> = Arc<Mutex<HashMap<(String, String), V>>>;

/// The client API's state of a warm function: the apps' opened session keys, and the
/// sessions found good, each trusted for the auth cache's TTL. So a warm function reads a
/// session at most once per TTL; a logout, password change, deactivation or delete is seen
/// by every function within that bound (docs/design.md, "Sessions").
#[derive(Clone, Debug)]
pub struct ClientAuth {
    sealer: Option<crate::seal::Sealer>,
    ttl: Duration,
    /// Opened keys by (app, sealed key): a rotated key is another sealed value.
    keys: ByAppAnd<[u8; 32]>,
    /// (app, session) → when it was found good, and its user.
    sessions: ByAppAnd<(Instant, String)>,
}

impl ClientAuth {
    pub fn new(sealer: Option<crate::seal::Sealer>, ttl: Duration) -> Self {
        ClientAuth {
            sealer,
            ttl,
            keys: Arc::default(),
            sessions: Arc::default(),
        }
    }

    /// The session key of `app`, opened once per warm function.
    async fn session_key(&self, app: &AppCredentials) -> Result<[u8; 32], Error> {
        let sealed = app.signing_key.as_deref().ok_or_else(|| {
            Error::Internal(format!(
                "app {} has no sealed key: run talkplus-admin rotate-key where a sealing key is configured",
                app.app.id
            ))
        })?;
        let cache_key = (app.app.id.clone(), sealed.to_owned());
        if let Some(key) = self
            .keys
            .lock()
            .ok()
            .and_then(|k| k.get(&cache_key).copied())
        {
            return Ok(key);
        }
        let sealer = self
            .sealer
            .as_ref()
            .ok_or_else(|| Error::Internal(crate::seal::SealError::NotConfigured.to_string()))?;
        let api_key = sealer
            .open(&app.app.id, sealed)
            .await
            .map_err(|e| Error::Internal(format!("open the session key: {e}")))?;
        let key = crate::session::session_key(&api_key);
        if let Ok(mut keys) = self.keys.lock() {
            if keys.len() > 1024 {
                keys.clear();
            }
            keys.insert(cache_key, key);
        }
        Ok(key)
    }

    fn trusted(&self, app_id: &str, session_id: &str) -> Option<String> {
        let sessions = self.sessions.lock().ok()?;
        sessions
            .get(&(app_id.to_owned(), session_id.to_owned()))
            .filter(|(at, _)| at.elapsed() < self.ttl)
            .map(|(_, user)| user.clone())
    }

    fn trust(&self, app_id: &str, session: &Session) {
        if self.ttl.is_zero() {
            return;
        }
        if let Ok(mut sessions) = self.sessions.lock() {
            if sessions.len() > 10_000 {
                sessions.clear();
            }
            sessions.insert(
                (app_id.to_owned(), session.session_id.clone()),
                (Instant::now(), session.user_id.clone()),
            );
        }
    }

    /// Forgets a session this function trusted (its logout).
    pub fn forget(&self, app_id: &str, session_id: &str) {
        if let Ok(mut sessions) = self.sessions.lock() {
            sessions.remove(&(app_id.to_owned(), session_id.to_owned()));
        }
    }
}

/// The bearer token of `Authorization`; an empty header (the SDKs' logins send one) is none.
fn bearer(headers: &HeaderMap) -> Option<&str> {
    let value = header(headers, "authorization")?.trim();
    let token = match value.get(..6) {
        Some(scheme) if scheme.eq_ignore_ascii_case("bearer") => value[6..].trim(),
        _ => value,
    };
    (!token.is_empty()).then_some(token)
}

/// Authenticates a client API request: the `app-id` header (an unknown app `1006`, a
/// deactivated one `1012`) and, unless `login`, the session token of `Authorization`
/// (`1007` none, `3002` not a good token of this app, `3001` an ended session, `3010` a
/// deactivated user).
pub async fn authenticate_client(
    store: &Store,
    apps: &AppCache,
    client: &ClientAuth,
    headers: &HeaderMap,
    login: bool,
) -> Result<(AppId, RateLimits, Client), Error> {
    let app_id = header(headers, "app-id").ok_or(Error::Unauthorized)?;
    let app = app_item(store, apps, app_id)
        .await?
        .ok_or(Error::Unauthorized)?;
    if !app.app.active {
        return Err(Error::DeactivatedApp);
    }
    let session_key = client.session_key(&app).await?;
    let limits = app.app.rate_limits;
    let mut found = Client {
        session: None,
        session_key,
        anonymous_login: app.app.anonymous_login,
    };
    if login {
        return Ok((AppId(app_id.to_owned()), limits, found));
    }
    let token = bearer(headers).ok_or(Error::LoginRequired)?;
    let claims = crate::session::verify(&session_key, token, crate::model::now_ms() / 1000)?;
    if claims.app != app_id {
        return Err(Error::SessionTokenInvalid("the token is another app's"));
    }
    let device_id = if claims.did.is_empty() {
        claims.sid.clone()
    } else {
        claims.did
    };
    let session = Session {
        user_id: claims.sub,
        session_id: claims.sid,
        device_id,
    };
    if client.trusted(app_id, &session.session_id).as_deref() != Some(&session.user_id) {
        let state = store
            .session_state(app_id, &session.user_id, &session.session_id)
            .await?;
        match (state.user, state.session) {
            (Some((true, _)), _) => return Err(Error::DeactivatedUser(session.user_id)),
            (Some((false, epoch)), Some((user, opened_at)))
                if user == session.user_id && opened_at == epoch => {}
            _ => return Err(Error::SessionNotFound),
        }
        client.trust(app_id, &session);
    }
    found.session = Some(session);
    Ok((AppId(app_id.to_owned()), limits, found))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::App;

    fn creds(id: &str) -> AppCredentials {
        AppCredentials {
            app: App {
                id: id.into(),
                name: String::new(),
                active: true,
                rate_limits: RateLimits::default(),
                anonymous_login: false,
                created_at: 0,
                updated_at: 0,
            },
            api_key_digest: "d".into(),
            signing_key: None,
            fcm_service_account: None,
            webhook: Default::default(),
        }
    }

    #[test]
    fn bearer_reads_the_token_and_treats_empty_as_absent() {
        let mut h = HeaderMap::new();
        assert_eq!(bearer(&h), None);
        h.insert("authorization", "".parse().unwrap());
        assert_eq!(bearer(&h), None);
        h.insert("authorization", "Bearer ".parse().unwrap());
        assert_eq!(bearer(&h), None);
        h.insert("authorization", "Bearer a.b.c".parse().unwrap());
        assert_eq!(bearer(&h), Some("a.b.c"));
        h.insert("authorization", "bearer  a.b.c ".parse().unwrap());
        assert_eq!(bearer(&h), Some("a.b.c"));
        h.insert("authorization", "a.b.c".parse().unwrap());
        assert_eq!(bearer(&h), Some("a.b.c"));
    }

    #[test]
    fn cache_expires_and_zero_ttl_caches_nothing() {
        let cache = AppCache::new(Duration::from_millis(30));
        cache.put(creds("a"));
        assert!(cache.get("a").is_some());
        assert!(cache.get("b").is_none());
        std::thread::sleep(Duration::from_millis(40));
        assert!(cache.get("a").is_none());

        let off = AppCache::new(Duration::ZERO);
        off.put(creds("a"));
        assert!(off.get("a").is_none());
    }
}
