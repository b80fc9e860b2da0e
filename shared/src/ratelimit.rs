//! Rate limits (`1010` TooManyRequests): a fixed one-second window counted in the table, so
//! the limit holds across every function and warm container of an app.
//!
//! Each request is one conditional `UpdateItem` (`ADD n 1` if `n < limit`) on the counter
//! item of its window, which expires by TTL a minute later. One item takes about 1,000
//! writes a second before its partition throttles, so a limit above `SHARD_CAPACITY` is
//! spread over several counter items, each with its share of the limit, and a request
//! counts on one of them at random.

use std::sync::Arc;

use tokio::sync::Mutex;
use tokio::task::JoinHandle;

use crate::Error;
use crate::auth::AppId;
use crate::store::{Store, keys};

/// Admin API requests per second per app when the app sets no limit of its own.
pub const DEFAULT_ADMIN_RATE_LIMIT: u32 = 200;
/// Client API requests per second per user session when the app sets no limit.
pub const DEFAULT_CLIENT_RATE_LIMIT: u32 = 20;
/// Writes a second one counter item is given: half a partition's 1,000 write units, so a
/// counter never throttles before its limit is reached.
pub const SHARD_CAPACITY: u32 = 500;
/// Seconds a counter item outlives its window before TTL removes it.
const COUNTER_TTL_SECONDS: i64 = 60;

/// What a limit counts: the admin API of the app, or one client session.
#[derive(Debug, Clone, Copy)]
pub enum Scope<'a> {
    Admin,
    Session(&'a str),
    /// The client API's logins of one app (before there is a session to count on), held to
    /// the admin API's per-app limit.
    Logins,
}

impl Scope<'_> {
    fn key(&self) -> String {
        match self {
            Scope::Admin => "admin".to_owned(),
            Scope::Session(id) => format!("session:{id}"),
            Scope::Logins => "logins".to_owned(),
        }
    }
}

/// Counter items a limit is spread over.
pub fn shards(limit: u32) -> u32 {
    limit.div_ceil(SHARD_CAPACITY).max(1)
}

/// Each shard's share; the shares add up to the limit or at most `shards - 1` over it.
pub fn per_shard(limit: u32) -> u32 {
    limit.div_ceil(shards(limit))
}

fn random_below(n: u32) -> u32 {
    let mut b = [0u8; 4];
    let _ = getrandom::fill(&mut b);
    u32::from_le_bytes(b) % n.max(1)
}

/// Counts one request of `scope` against `limit` (at least 1) requests a second.
/// `TooManyRequests` when the window is full. A storage failure of the counter lets the
/// request through (and is logged): the limiter protects the service, it must not be the
/// thing that takes it down.
async fn count(
    store: &Store,
    app: &AppId,
    scope: &str,
    limit: u32,
    now_ms: i64,
) -> Result<(), Error> {
    let window = now_ms.div_euclid(1000);
    let pk = keys::rate_pk(app.as_str(), scope, window, random_below(shards(limit)));
    match store
        .count_request(pk, per_shard(limit), window + COUNTER_TTL_SECONDS)
        .await
    {
        Ok(true) => Ok(()),
        Ok(false) => Err(Error::TooManyRequests { limit }),
        Err(e) => {
            tracing::warn!(error = %e, "rate limit counter unavailable; request let through");
            Ok(())
        }
    }
}

/// Holds a request's writes until its count is decided, and only its writes: the count
/// runs on a task of its own from the start of the request, so everything the handler reads
/// before its first write (a channel create's member lookup, a join's channel query) runs
/// beside it and costs no extra round trip. The store passes every write through the gate
/// of the request it serves (`Store::with_gate`); the pipeline checks it once more at the
/// end, so a refused request answers 429 even if it never wrote.
#[derive(Clone, Debug, Default)]
pub struct WriteGate(Option<Arc<Mutex<GateState>>>);

#[derive(Debug)]
enum GateState {
    Counting(JoinHandle<Result<(), Error>>),
    /// `Some(limit)` when refused.
    Decided(Option<u32>),
}

impl WriteGate {
    /// A gate that never holds anything (no limit, or no request: tools and tests).
    pub fn open() -> WriteGate {
        WriteGate(None)
    }

    /// Starts counting one request of `scope` against `limit` (0: an open gate).
    pub fn start(store: Store, app: AppId, scope: Scope<'_>, limit: u32, now_ms: i64) -> WriteGate {
        if limit == 0 {
            return WriteGate::open();
        }
        let scope = scope.key();
        let task = tokio::spawn(async move { count(&store, &app, &scope, limit, now_ms).await });
        WriteGate(Some(Arc::new(Mutex::new(GateState::Counting(task)))))
    }

    /// Waits for the count; `TooManyRequests` if the request was refused.
    pub async fn pass(&self) -> Result<(), Error> {
        let Some(state) = &self.0 else {
            return Ok(());
        };
        let mut state = state.lock().await;
        if let GateState::Counting(task) = &mut *state {
            let refused = match task.await {
                Ok(Err(Error::TooManyRequests { limit })) => Some(limit),
                Ok(_) => None,
                Err(e) => {
                    tracing::warn!(error = %e, "rate limit count did not finish; request let through");
                    None
                }
            };
            *state = GateState::Decided(refused);
        }
        match &*state {
            GateState::Decided(Some(limit)) => Err(Error::TooManyRequests { limit: *limit }),
            _ => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shards_keep_each_counter_under_its_capacity_and_add_up_to_the_limit() {
        for limit in [
            1,
            2,
            20,
            200,
            499,
            500,
            501,
            1000,
            1001,
            5000,
            12_345,
            u32::MAX / 2,
        ] {
            let (k, each) = (shards(limit), per_shard(limit));
            assert!(each <= SHARD_CAPACITY, "{limit}");
            let total = u64::from(k) * u64::from(each);
            assert!(total >= u64::from(limit), "{limit}");
            assert!(total < u64::from(limit) + u64::from(k), "{limit}");
        }
        assert_eq!((shards(200), per_shard(200)), (1, 200));
        assert_eq!((shards(1000), per_shard(1000)), (2, 500));
    }

    #[test]
    fn random_shards_stay_in_range() {
        for _ in 0..1000 {
            assert!(random_below(3) < 3);
        }
        assert_eq!(random_below(1), 0);
        assert_eq!(random_below(0), 0);
    }
}
