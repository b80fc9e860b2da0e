//! The DynamoDB store: the only module that knows the SDK, the key layout and item shapes.

mod admin;
mod bots;
mod channels;
mod cleanup;
pub mod items;
mod jobs;
pub mod keys;
mod members;
mod messages;
pub mod realtime;
pub mod retry;
pub mod schema;
mod sessions;
mod users;
mod webhooks;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::operation::put_item::PutItemError;
use aws_sdk_dynamodb::types::{AttributeValue, ReturnValuesOnConditionCheckFailure};
use serde_dynamo::{from_item, to_item};

use crate::Error;
use crate::model::{App, AppCredentials, Page};
use crate::ratelimit::WriteGate;
use items::AppItem;
use retry::{applied, condition_failed, retrying, storage_error};

type Item = HashMap<String, AttributeValue>;

/// How long a deleted user's tombstone stays at least: longer than a request lives (8 s)
/// plus the index's lag, so the sweep's last look at the user's channel index sees every
/// membership a request that read the user before the delete could still write.
pub const DEFAULT_SWEEP_SETTLE: Duration = Duration::from_secs(10);

/// The attribute `put_new` marks its items with (see there).
const WRITE_ID: &str = "write_id";

/// A handle on the table. Cheap to clone: the SDK client is reference-counted.
#[derive(Clone, Debug)]
pub struct Store {
    client: Client,
    table: Arc<str>,
    abandon_after: Duration,
    sweep_settle: Duration,
    /// The rate-limit gate of the request this handle serves; every write passes it.
    gate: WriteGate,
}

pub use crate::model::MemberWrite;
pub use bots::{BotMove, MAX_BOTS_PER_CHANNEL};
pub use channels::{
    ChannelLookup, DEFAULT_ABANDON_AFTER, MAX_BATCH_GET_KEYS, MAX_TRANSACT_ACTIONS,
};
pub use cleanup::{ChannelFilter, SweepOutcome, Swept};
pub use jobs::{JobKind, JobState, MembershipEntry};
pub use members::{
    ChannelGuard, MemberStateChange, MemberStates, PeerMuteSide, PeerMuteWrite, Refusal,
};
pub use messages::{
    HistoryOrder, IdempotencyClaim, IdempotencyRecord, SendQuery, SendReads, SendRefusal,
    SenderGuard, Shown,
};
pub use sessions::{LoginProof, NewSession, SessionState};
pub use users::{BlockOutcome, Device, DeviceWrite, Devices, LoginRecord, OwnerBlocks};
pub use webhooks::{BODY_PART_BYTES, body_parts};

fn s(v: impl Into<String>) -> AttributeValue {
    AttributeValue::S(v.into())
}

fn n(v: i64) -> AttributeValue {
    AttributeValue::N(v.to_string())
}

fn encode<T: serde::Serialize>(value: &T) -> Result<Item, Error> {
    to_item(value).map_err(|e| Error::Internal(format!("encode item: {e}")))
}

fn decode<T: serde::de::DeserializeOwned>(item: Item) -> Result<T, Error> {
    from_item(item).map_err(|e| Error::Internal(format!("decode item: {e}")))
}

impl Store {
    pub fn new(client: Client, table: impl Into<Arc<str>>) -> Self {
        Store {
            client,
            table: table.into(),
            abandon_after: DEFAULT_ABANDON_AFTER,
            sweep_settle: DEFAULT_SWEEP_SETTLE,
            gate: WriteGate::open(),
        }
    }

    /// This store for one request: its writes wait for `gate` (see `ratelimit::WriteGate`).
    pub fn with_gate(&self, gate: WriteGate) -> Store {
        Store {
            gate,
            ..self.clone()
        }
    }

    /// Waits until this request may write; `TooManyRequests` if it may not.
    pub(crate) async fn may_write(&self) -> Result<(), Error> {
        self.gate.pass().await
    }

    /// How old a channel creation stuck between its two transactions must be before another
    /// creation of the same id clears it (see `create_channel`).
    pub fn with_abandon_after(mut self, after: Duration) -> Self {
        self.abandon_after = after;
        self
    }

    /// How long a deleted user's tombstone stays at least (see `domain::users::delete`).
    pub fn with_sweep_settle(mut self, settle: Duration) -> Self {
        self.sweep_settle = settle;
        self
    }

    pub fn sweep_settle(&self) -> Duration {
        self.sweep_settle
    }

    pub fn client(&self) -> &Client {
        &self.client
    }

    pub fn table(&self) -> &str {
        &self.table
    }

    // ---- apps ----

    /// Stores a new app; fails if the id exists.
    pub async fn create_app(&self, app: &App, api_key_digest: &str) -> Result<(), Error> {
        let item = encode(&AppItem {
            pk: keys::app_pk(&app.id),
            sk: keys::APP_SK.into(),
            gsi1pk: keys::APP_REGISTRY.into(),
            gsi1sk: app.id.clone(),
            entity: "app".into(),
            app_id: app.id.clone(),
            name: app.name.clone(),
            api_key_digest: api_key_digest.into(),
            active: app.active,
            admin_rate_limit: app.rate_limits.admin,
            client_rate_limit: app.rate_limits.client,
            anonymous_login: app.anonymous_login,
            signing_key: None,
            fcm_service_account: None,
            webhook_url: None,
            webhook_events: None,
            webhook_retry: None,
            created_at: app.created_at,
            updated_at: app.updated_at,
        })?;
        self.put_new("create app", item, || {
            Error::InvalidParam(format!("app {} already exists", app.id))
        })
        .await
    }

    /// Puts an item that must be new: `taken()` if an item with its key exists. One
    /// conditional write, so of two racing creates exactly one succeeds.
    ///
    /// The item carries a random `write_id`. When a put is applied but its reply is lost,
    /// the SDK sends it again and the condition fails on the item that very put wrote; the
    /// refusal returns the stored item, and a matching `write_id` tells our own write from
    /// another request's, so the retry answers success instead of "taken".
    async fn put_new(
        &self,
        what: &str,
        mut item: Item,
        taken: impl FnOnce() -> Error,
    ) -> Result<(), Error> {
        self.may_write().await?;
        let write_id = s(crate::secrets::random_hex(8));
        item.insert(WRITE_ID.to_owned(), write_id.clone());
        let put = retrying(|| {
            self.client
                .put_item()
                .table_name(self.table())
                .set_item(Some(item.clone()))
                .condition_expression("attribute_not_exists(pk)")
                .return_values_on_condition_check_failure(
                    ReturnValuesOnConditionCheckFailure::AllOld,
                )
                .send()
        })
        .await;
        match put {
            Ok(_) => Ok(()),
            Err(e) if condition_failed(&e) => {
                let ours = matches!(
                    e.as_service_error(),
                    Some(PutItemError::ConditionalCheckFailedException(c))
                        if c.item().and_then(|i| i.get(WRITE_ID)) == Some(&write_id)
                );
                if ours { Ok(()) } else { Err(taken()) }
            }
            Err(e) => Err(storage_error(what, e)),
        }
    }

    pub async fn app(&self, app_id: &str) -> Result<Option<AppCredentials>, Error> {
        let out = retrying(|| {
            self.client
                .get_item()
                .table_name(self.table())
                .key("pk", s(keys::app_pk(app_id)))
                .key("sk", s(keys::APP_SK))
                .send()
        })
        .await
        .map_err(|e| storage_error("get app", e))?;
        out.item
            .map(|item| decode::<AppItem>(item).map(AppCredentials::from))
            .transpose()
    }

    /// Every app, in id order (provisioning only; reads the registry index).
    pub async fn apps(&self) -> Result<Vec<App>, Error> {
        let mut apps = Vec::new();
        let mut start: Option<Item> = None;
        loop {
            let out = retrying(|| {
                self.client
                    .query()
                    .table_name(self.table())
                    .index_name(schema::GSI1)
                    .key_condition_expression("gsi1pk = :p")
                    .expression_attribute_values(":p", s(keys::APP_REGISTRY))
                    .set_exclusive_start_key(start.clone())
                    .send()
            })
            .await
            .map_err(|e| storage_error("list apps", e))?;
            for item in out.items.unwrap_or_default() {
                apps.push(AppCredentials::from(decode::<AppItem>(item)?).app);
            }
            start = out.last_evaluated_key;
            if start.is_none() {
                return Ok(apps);
            }
        }
    }

    /// Replaces an app's key digest; the old key stops working at once (modulo auth caches).
    pub async fn set_api_key_digest(
        &self,
        app_id: &str,
        digest: &str,
        now: i64,
    ) -> Result<(), Error> {
        self.update_app(app_id, &[("api_key_digest", s(digest))], now)
            .await
    }

    /// Stores the API key sealed for webhook signing (beside its digest).
    pub async fn set_signing_key(&self, app_id: &str, sealed: &str, now: i64) -> Result<(), Error> {
        self.update_app(app_id, &[("signing_key", s(sealed))], now)
            .await
    }

    /// Stores the app's FCM service account, sealed (`Some`), or removes it: no more pushes.
    pub async fn set_fcm_service_account(
        &self,
        app_id: &str,
        sealed: Option<&str>,
        now: i64,
    ) -> Result<(), Error> {
        match sealed {
            Some(sealed) => {
                self.update_app(app_id, &[("fcm_service_account", s(sealed))], now)
                    .await
            }
            None => {
                self.update_app_removing(app_id, &[], &["fcm_service_account"], now)
                    .await
            }
        }
    }

    /// Turns the app's webhook on (`Some(url)`) or off; `events` `None` is every event;
    /// `retry` `None` keeps the schedule.
    pub async fn set_webhook(
        &self,
        app_id: &str,
        url: Option<&str>,
        events: Option<&[String]>,
        retry: Option<crate::webhooks::RetrySchedule>,
        now: i64,
    ) -> Result<(), Error> {
        let mut sets = Vec::new();
        let mut removes = Vec::new();
        match url {
            Some(u) => sets.push(("webhook_url", s(u))),
            None => removes.push("webhook_url"),
        }
        match events {
            Some(e) => sets.push((
                "webhook_events",
                AttributeValue::L(e.iter().map(s).collect()),
            )),
            None => removes.push("webhook_events"),
        }
        if let Some(r) = retry {
            sets.push(("webhook_retry", s(r.as_str())));
        }
        self.update_app_removing(app_id, &sets, &removes, now).await
    }

    /// A receiver answered 410: the webhook goes off, unless it has been pointed elsewhere
    /// since (a condition on the URL the delivery went to). `true` if this turned it off.
    pub async fn turn_webhook_off(&self, app_id: &str, url: &str, now: i64) -> Result<bool, Error> {
        self.may_write().await?;
        let res = retrying(|| {
            self.client
                .update_item()
                .table_name(self.table())
                .key("pk", s(keys::app_pk(app_id)))
                .key("sk", s(keys::APP_SK))
                .update_expression("SET updated_at = :now REMOVE webhook_url")
                .condition_expression("webhook_url = :url")
                .expression_attribute_values(":now", AttributeValue::N(now.to_string()))
                .expression_attribute_values(":url", s(url))
                .send()
        })
        .await;
        applied(res, "turn webhook off")
    }

    pub async fn set_app_active(&self, app_id: &str, active: bool, now: i64) -> Result<(), Error> {
        self.update_app(app_id, &[("active", AttributeValue::Bool(active))], now)
            .await
    }

    /// Sets the limits given; `None` leaves one as it is.
    pub async fn set_rate_limits(
        &self,
        app_id: &str,
        admin: Option<u32>,
        client: Option<u32>,
        now: i64,
    ) -> Result<(), Error> {
        let n = |v: u32| AttributeValue::N(v.to_string());
        let sets: Vec<_> = [("admin_rate_limit", admin), ("client_rate_limit", client)]
            .into_iter()
            .filter_map(|(name, v)| v.map(|v| (name, n(v))))
            .collect();
        self.update_app(app_id, &sets, now).await
    }

    /// Turns the client API's anonymous login on or off.
    pub async fn set_anonymous_login(&self, app_id: &str, on: bool, now: i64) -> Result<(), Error> {
        self.update_app(
            app_id,
            &[("anonymous_login", AttributeValue::Bool(on))],
            now,
        )
        .await
    }

    /// Sets attributes of an existing app item (and `updated_at`).
    async fn update_app(
        &self,
        app_id: &str,
        sets: &[(&str, AttributeValue)],
        now: i64,
    ) -> Result<(), Error> {
        self.update_app_removing(app_id, sets, &[], now).await
    }

    /// Sets some attributes of an existing app item and removes others.
    async fn update_app_removing(
        &self,
        app_id: &str,
        sets: &[(&str, AttributeValue)],
        removes: &[&str],
        now: i64,
    ) -> Result<(), Error> {
        let mut expr = "SET updated_at = :now".to_owned();
        let mut values = HashMap::from([(":now".to_owned(), AttributeValue::N(now.to_string()))]);
        for (i, (name, v)) in sets.iter().enumerate() {
            expr.push_str(&format!(", {name} = :v{i}"));
            values.insert(format!(":v{i}"), v.clone());
        }
        if !removes.is_empty() {
            expr.push_str(&format!(" REMOVE {}", removes.join(", ")));
        }
        let res = retrying(|| {
            self.client
                .update_item()
                .table_name(self.table())
                .key("pk", s(keys::app_pk(app_id)))
                .key("sk", s(keys::APP_SK))
                .update_expression(&expr)
                .condition_expression("attribute_exists(pk)")
                .set_expression_attribute_values(Some(values.clone()))
                .send()
        })
        .await;
        match res {
            Ok(_) => Ok(()),
            Err(e) if condition_failed(&e) => {
                Err(Error::InvalidParam(format!("app {app_id} does not exist")))
            }
            Err(e) => Err(storage_error("update app", e)),
        }
    }

    /// Counts one request in the counter item `pk` unless it already holds `limit`;
    /// false when it does. One conditional write; the item expires at `expires_at` (s).
    pub async fn count_request(
        &self,
        pk: String,
        limit: u32,
        expires_at: i64,
    ) -> Result<bool, Error> {
        let res = retrying(|| {
            self.client
                .update_item()
                .table_name(self.table())
                .key("pk", s(pk.clone()))
                .key("sk", s(keys::RATE_SK))
                .update_expression("ADD #n :one SET #ttl = :ttl")
                .condition_expression("attribute_not_exists(#n) OR #n < :limit")
                .expression_attribute_names("#n", "n")
                .expression_attribute_names("#ttl", schema::TTL_ATTRIBUTE)
                .expression_attribute_values(":one", AttributeValue::N("1".into()))
                .expression_attribute_values(":limit", AttributeValue::N(limit.to_string()))
                .expression_attribute_values(":ttl", AttributeValue::N(expires_at.to_string()))
                .send()
        })
        .await;
        applied(res, "count request")
    }

    /// Up to `limit` items (those `keep` returns) of partition `pk`'s sort keys under `prefix`
    /// after `after`, strongly consistent, reading one more to tell `has_next`.
    pub(crate) async fn range_page<T>(
        &self,
        pk: String,
        prefix: &str,
        after: Option<&str>,
        limit: usize,
        keep: impl Fn(Item) -> Result<Option<T>, Error>,
    ) -> Result<Page<T>, Error> {
        let bounds = keys::range_after(prefix, after);
        self.sort_key_range(pk, bounds, true, limit, keep).await
    }

    /// Up to `limit` items (those `keep` returns) of partition `pk` with sort keys from `lo`
    /// to `hi` (inclusive), in sort key order or (`forward` false) against it, strongly
    /// consistent, reading one more to tell `has_next` and following DynamoDB's 1 MB pages.
    pub(crate) async fn sort_key_range<T>(
        &self,
        pk: String,
        bounds: (String, String),
        forward: bool,
        limit: usize,
        keep: impl Fn(Item) -> Result<Option<T>, Error>,
    ) -> Result<Page<T>, Error> {
        self.sort_key_range_where(pk, bounds, forward, limit, None, keep)
            .await
    }

    /// `sort_key_range` of the items that pass `filter` (an expression over attributes that
    /// are not reserved words, and its values), read in whole 1 MB pages.
    pub(crate) async fn sort_key_range_where<T>(
        &self,
        pk: String,
        (lo, hi): (String, String),
        forward: bool,
        limit: usize,
        filter: Option<(&str, HashMap<String, AttributeValue>)>,
        keep: impl Fn(Item) -> Result<Option<T>, Error>,
    ) -> Result<Page<T>, Error> {
        let want = limit.saturating_add(1);
        let mut values = HashMap::from([
            (":pk".to_owned(), s(&pk)),
            (":lo".to_owned(), s(&lo)),
            (":hi".to_owned(), s(&hi)),
        ]);
        let filter_expression = filter.map(|(expression, filter_values)| {
            values.extend(filter_values);
            expression.to_owned()
        });
        let mut items = Vec::with_capacity(want.min(1_000));
        let mut start: Option<Item> = None;
        loop {
            let out = retrying(|| {
                self.client
                    .query()
                    .table_name(self.table())
                    .key_condition_expression("pk = :pk AND sk BETWEEN :lo AND :hi")
                    .set_filter_expression(filter_expression.clone())
                    .set_expression_attribute_values(Some(values.clone()))
                    .scan_index_forward(forward)
                    .consistent_read(true)
                    // A filtered read takes whole pages (see `index_page_where`).
                    .set_limit(
                        filter_expression
                            .is_none()
                            .then(|| i32::try_from(want - items.len()).unwrap_or(i32::MAX)),
                    )
                    .set_exclusive_start_key(start.clone())
                    .send()
            })
            .await
            .map_err(|e| storage_error("read a partition range", e))?;
            for item in out.items.unwrap_or_default() {
                if let Some(v) = keep(item)? {
                    items.push(v);
                }
            }
            start = out.last_evaluated_key;
            if start.is_none() || items.len() >= want {
                let has_next = items.len() > limit;
                items.truncate(limit);
                return Ok(Page { items, has_next });
            }
        }
    }

    /// A page of at most `limit` items of index partition `gsi1pk` with `gsi1sk > after`,
    /// each read with `read`. It queries for one item more, which tells whether there is a
    /// next page, and follows DynamoDB's 1 MB pages as needed.
    pub(crate) async fn index_page<T>(
        &self,
        gsi1pk: String,
        after: Option<&str>,
        limit: usize,
        read: impl Fn(Item) -> Result<T, Error>,
    ) -> Result<Page<T>, Error> {
        self.index_page_where(gsi1pk, after, limit, None, read)
            .await
    }

    /// `index_page` of the items that pass `filter` (an expression and its values); the
    /// index is read on, page by page, until `limit` of them are found or it ends.
    pub(crate) async fn index_page_where<T>(
        &self,
        gsi1pk: String,
        after: Option<&str>,
        limit: usize,
        filter: Option<(String, HashMap<String, AttributeValue>)>,
        read: impl Fn(Item) -> Result<T, Error>,
    ) -> Result<Page<T>, Error> {
        // DynamoDB rejects an empty string in a key condition, so no cursor means no bound.
        let condition = match after {
            Some(_) => "gsi1pk = :p AND gsi1sk > :after",
            None => "gsi1pk = :p",
        };
        let mut values = HashMap::from([(":p".to_owned(), s(gsi1pk))]);
        if let Some(after) = after {
            values.insert(":after".to_owned(), s(after));
        }
        let filter_expression = filter.map(|(expr, filter_values)| {
            values.extend(filter_values);
            expr
        });
        // A filter may name attributes whose names are reserved words as `#name`.
        let names: Option<HashMap<String, String>> = filter_expression.as_ref().and_then(|e| {
            let names: HashMap<String, String> = e
                .split(|c: char| !(c.is_alphanumeric() || c == '_' || c == '#'))
                .filter_map(|w| w.strip_prefix('#'))
                .map(|n| (format!("#{n}"), n.to_owned()))
                .collect();
            (!names.is_empty()).then_some(names)
        });
        let want = limit + 1;
        let mut items = Vec::with_capacity(want);
        let mut start: Option<Item> = None;
        loop {
            // A filtered read takes whole pages: a small limit would mostly read items the
            // filter then drops, one round trip each.
            let remaining = match filter_expression {
                Some(_) => None,
                None => Some(i32::try_from(want - items.len()).unwrap_or(i32::MAX)),
            };
            let out = retrying(|| {
                self.client
                    .query()
                    .table_name(self.table())
                    .index_name(schema::GSI1)
                    .key_condition_expression(condition)
                    .set_filter_expression(filter_expression.clone())
                    .set_expression_attribute_names(names.clone())
                    .set_expression_attribute_values(Some(values.clone()))
                    .set_limit(remaining)
                    .set_exclusive_start_key(start.clone())
                    .send()
            })
            .await
            .map_err(|e| storage_error("query index", e))?;
            items.extend(out.items.unwrap_or_default());
            start = out.last_evaluated_key;
            if start.is_none() || items.len() >= want {
                let has_next = items.len() > limit;
                let items = items
                    .into_iter()
                    .take(limit)
                    .map(&read)
                    .collect::<Result<_, _>>()?;
                return Ok(Page { items, has_next });
            }
        }
    }
}

/// The parts of a conditional partial update: `SET updated_at = :updated_at` plus one
/// `SET #attr = :attr` per field given, every name through a placeholder (`name` and `data`
/// are reserved words).
#[derive(Debug, Clone)]
pub(crate) struct SetFields {
    pub expression: String,
    pub names: HashMap<String, String>,
    pub values: HashMap<String, AttributeValue>,
}

impl SetFields {
    pub(crate) fn new(now: i64, fields: Vec<(&str, AttributeValue)>) -> SetFields {
        let mut sets = vec!["#updated_at = :updated_at".to_owned()];
        let mut names = HashMap::from([("#updated_at".to_owned(), "updated_at".to_owned())]);
        let mut values =
            HashMap::from([(":updated_at".to_owned(), AttributeValue::N(now.to_string()))]);
        for (attribute, value) in fields {
            sets.push(format!("#{attribute} = :{attribute}"));
            names.insert(format!("#{attribute}"), attribute.to_owned());
            values.insert(format!(":{attribute}"), value);
        }
        SetFields {
            expression: format!("SET {}", sets.join(", ")),
            names,
            values,
        }
    }
}

pub(crate) fn string_map(map: &std::collections::BTreeMap<String, String>) -> AttributeValue {
    AttributeValue::M(map.iter().map(|(k, v)| (k.clone(), s(v))).collect())
}

impl From<AppItem> for AppCredentials {
    fn from(i: AppItem) -> Self {
        AppCredentials {
            app: App {
                id: i.app_id,
                name: i.name,
                active: i.active,
                rate_limits: crate::model::RateLimits {
                    admin: i.admin_rate_limit,
                    client: i.client_rate_limit,
                },
                anonymous_login: i.anonymous_login,
                created_at: i.created_at,
                updated_at: i.updated_at,
            },
            api_key_digest: i.api_key_digest,
            signing_key: i.signing_key,
            fcm_service_account: i.fcm_service_account,
            webhook: crate::webhooks::WebhookSettings {
                url: i.webhook_url,
                events: i.webhook_events.map(|e| e.into_iter().collect()),
                retry: i
                    .webhook_retry
                    .as_deref()
                    .and_then(crate::webhooks::RetrySchedule::parse)
                    .unwrap_or_default(),
            },
        }
    }
}
