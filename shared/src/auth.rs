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
    let app = match cache.get(app_id) {
        Some(app) => Some(app),
        None => {
            let found = store.app(app_id).await?;
            if let Some(app) = &found {
                cache.put(app.clone());
            }
            found
        }
    };
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
                created_at: 0,
                updated_at: 0,
            },
            api_key_digest: "d".into(),
            signing_key: None,
            webhook: Default::default(),
        }
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
