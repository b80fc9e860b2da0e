//! The Lambda entry point every function crate calls, and the request pipeline
//! (authenticate, run the handler, turn any error into the TalkPlus error body).

use std::future::Future;
use std::time::Duration;

use lambda_http::http::Method;
use lambda_http::{Body, Request, RequestExt, Response, service_fn};

use crate::auth::{self, AppCache, AppId};
use crate::http::error_response;
use crate::model::now_ms;
use crate::ratelimit::{self, Scope};
use crate::store::Store;

/// What `main` may fail with: only configuration problems at cold start.
pub type Error = lambda_http::Error;

/// Seconds a warm function trusts an app item it read (default 30; 0 disables the cache).
pub const AUTH_CACHE_SECONDS_VAR: &str = "AUTH_CACHE_SECONDS";

/// A request gives up (503) after this long: template.yaml's function timeout is 10 s, and
/// the answer must leave before the runtime kills the invocation.
pub const REQUEST_DEADLINE: Duration = Duration::from_secs(8);

/// Everything built once per cold start and shared by the requests of one function.
#[derive(Clone, Debug)]
pub struct Services {
    pub store: Store,
    pub apps: AppCache,
}

impl Services {
    pub fn new(store: Store, auth_cache_ttl: Duration) -> Self {
        Services {
            store,
            apps: AppCache::new(auth_cache_ttl),
        }
    }

    /// From the environment: `TABLE_NAME`, `AUTH_CACHE_SECONDS`, and the AWS variables.
    pub async fn from_env() -> Result<Self, Error> {
        let table = crate::config::table_name()?;
        let ttl = match std::env::var(AUTH_CACHE_SECONDS_VAR) {
            Ok(v) => Duration::from_secs(
                v.parse()
                    .map_err(|_| format!("{AUTH_CACHE_SECONDS_VAR} must be a whole number"))?,
            ),
            Err(_) => auth::DEFAULT_CACHE_TTL,
        };
        let client = crate::config::dynamodb_client().await;
        Ok(Services::new(Store::new(client, table), ttl))
    }
}

/// What a handler gets: the store, the authenticated app, and the request.
pub struct Ctx {
    pub store: Store,
    pub app: AppId,
    pub req: Request,
}

/// Runs one request through authentication and `handler`. Never fails: every outcome,
/// including a storage failure, is an HTTP response.
pub async fn handle<F, Fut>(services: &Services, req: Request, handler: F) -> Response<Body>
where
    F: FnOnce(Ctx) -> Fut,
    Fut: Future<Output = Result<Response<Body>, crate::Error>>,
{
    let request_id = req
        .lambda_context_ref()
        .map(|c| c.request_id.clone())
        .unwrap_or_default();
    let work = async {
        let (app, limits) =
            auth::authenticate(&services.store, &services.apps, req.headers()).await?;
        let admit = ratelimit::admit(
            &services.store,
            &app,
            Scope::Admin,
            limits.admin_per_second(),
            now_ms(),
        );
        let safe = matches!(*req.method(), Method::GET | Method::HEAD);
        let ctx = Ctx {
            store: services.store.clone(),
            app: app.clone(),
            req,
        };
        if safe {
            // A read has no effect to hold back, so it runs beside the counter and costs no
            // extra round trip; a limited read's result is dropped.
            let (admitted, outcome) = tokio::join!(admit, handler(ctx));
            admitted.and(outcome)
        } else {
            admit.await?;
            handler(ctx).await
        }
    };
    // Every request answers inside the function's timeout, whatever storage does. Dropping
    // the work midway is the same as a crash there, which every operation is built to
    // survive (transactions are atomic; multi-step writes are repaired by the next call).
    let outcome = match tokio::time::timeout(REQUEST_DEADLINE, work).await {
        Ok(outcome) => outcome,
        Err(_) => Err(crate::Error::Unavailable(format!(
            "request deadline of {REQUEST_DEADLINE:?} passed"
        ))),
    };
    match outcome {
        Ok(resp) => resp,
        Err(err) => {
            let spec = err.spec();
            if err.is_server_fault() {
                tracing::error!(code = spec.code, status = spec.status, error = %err, "request failed");
            } else {
                tracing::info!(code = spec.code, status = spec.status, message = %err, "request rejected");
            }
            error_response(&err, &request_id)
        }
    }
}

/// `main` of every function crate: logging, the client (once per cold start), then the loop.
pub async fn serve<F, Fut>(handler: F) -> Result<(), Error>
where
    F: Fn(Ctx) -> Fut + Clone + Send + Sync + 'static,
    Fut: Future<Output = Result<Response<Body>, crate::Error>> + Send,
{
    // JSON when Lambda's log format is JSON (template.yaml sets it), plain text locally.
    lambda_http::tracing::init_default_subscriber();
    let services = Services::from_env().await?;
    lambda_http::run(service_fn(move |req: Request| {
        let services = services.clone();
        let handler = handler.clone();
        async move { Ok::<_, Error>(handle(&services, req, handler).await) }
    }))
    .await
}
