//! WebSocket connections and the realtime replay feed (docs/design.md, "Realtime").
//!
//! - A connection is an item of its own under the id API Gateway gives it, written at
//!   `$connect` (with the `?timestamp=` to replay from) and completed by the client's first
//!   frame with its app, user and session; `$disconnect` deletes it.
//! - A user's live connections are attributes of one item in their partition (`WS`), one per
//!   connection (`c#{connectionId}` = when it expires, seconds), so the fan-out finds the
//!   connections of a channel's 100 members in one BatchGetItem. Its `ttl` is the newest
//!   connection's expiry; an attribute past its time (a `$disconnect` that never ran) is
//!   skipped on read and removed when a post finds it gone.
//! - An event kept for replay is stored once (`{app}#EVENT#{uid}`) and listed in each
//!   receiver's feed (`{app}#FEED#{userId}`, sorted by time), both with a TTL.
//! - A public channel's watchers (users who read it without being members) are items of the
//!   channel's own watch partition (`{app}#WATCH#{chId}`), each expiring
//!   `domain::channels::client::WATCH_S` after the read that renewed it.

use std::collections::HashMap;

use aws_sdk_dynamodb::types::{
    AttributeValue, PutRequest, ReturnValue, TransactWriteItem, Update, WriteRequest,
};
use serde::{Deserialize, Serialize};

use super::channels::action_error;
use super::cleanup::MAX_BATCH_WRITE;
use super::retry::{applied, condition_failed, retrying, storage_error};
use super::schema::TTL_ATTRIBUTE as TTL;
use super::{Store, decode, encode, keys, n, s};
use crate::Error;
use crate::model::Page;

/// A connection's item.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConnectionItem {
    pub pk: String,
    pub sk: String,
    pub entity: String,
    pub connection_id: String,
    pub connected_at: i64,
    /// `?timestamp=` of the connect: replay what came after it once authenticated.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub since: Option<i64>,
    /// Set by the first frame's authentication.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub app_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session_id: Option<String>,
    pub ttl: i64,
}

/// An event as kept for replay.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct EventItem {
    pk: String,
    sk: String,
    entity: String,
    frame: String,
    ttl: i64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct FeedItem {
    pk: String,
    sk: String,
    entity: String,
    uid: String,
    ttl: i64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct WatcherItem {
    user_id: String,
    ttl: i64,
}

/// The attribute of the user's `WS` item that holds one connection.
fn connection_attr(connection_id: &str) -> String {
    format!("c#{connection_id}")
}

impl Store {
    /// `$connect`: the connection, not authenticated yet, alive until `expires_s`.
    pub async fn open_connection(
        &self,
        connection_id: &str,
        since: Option<i64>,
        now_ms: i64,
        expires_s: i64,
    ) -> Result<(), Error> {
        let item = ConnectionItem {
            pk: keys::connection_pk(connection_id),
            sk: keys::CONNECTION_SK.to_owned(),
            entity: "connection".into(),
            connection_id: connection_id.to_owned(),
            connected_at: now_ms,
            since,
            app_id: None,
            user_id: None,
            session_id: None,
            ttl: expires_s,
        };
        let item = encode(&item)?;
        retrying(|| {
            self.client
                .put_item()
                .table_name(self.table())
                .set_item(Some(item.clone()))
                .send()
        })
        .await
        .map_err(|e| storage_error("open connection", e))?;
        Ok(())
    }

    /// The connection `connection_id`, if it is open.
    pub async fn connection(&self, connection_id: &str) -> Result<Option<ConnectionItem>, Error> {
        let out = retrying(|| {
            self.client
                .get_item()
                .table_name(self.table())
                .key("pk", s(keys::connection_pk(connection_id)))
                .key("sk", s(keys::CONNECTION_SK))
                .consistent_read(true)
                .send()
        })
        .await
        .map_err(|e| storage_error("read connection", e))?;
        out.item.map(decode).transpose()
    }

    /// The first frame's authentication: the connection becomes the user's, and is listed
    /// among the user's live connections, in one transaction. False when the connection is
    /// gone or was authenticated already (a later auth frame changes nothing).
    pub async fn authenticate_connection(
        &self,
        connection_id: &str,
        app_id: &str,
        user_id: &str,
        session_id: &str,
        expires_s: i64,
    ) -> Result<bool, Error> {
        let conn = Update::builder()
            .table_name(self.table())
            .key("pk", s(keys::connection_pk(connection_id)))
            .key("sk", s(keys::CONNECTION_SK))
            .update_expression("SET app_id = :app, user_id = :user, session_id = :session")
            .condition_expression("attribute_exists(pk) AND attribute_not_exists(app_id)")
            .expression_attribute_values(":app", s(app_id))
            .expression_attribute_values(":user", s(user_id))
            .expression_attribute_values(":session", s(session_id))
            .build()
            .map_err(|e| action_error("authenticate connection", e))?;
        let listed = Update::builder()
            .table_name(self.table())
            .key("pk", s(keys::user_pk(app_id, user_id)))
            .key("sk", s(keys::CONNECTIONS_SK))
            .update_expression("SET #c = :exp, #ttl = :exp, entity = :entity")
            .expression_attribute_names("#c", connection_attr(connection_id))
            .expression_attribute_names("#ttl", TTL)
            .expression_attribute_values(":exp", n(expires_s))
            .expression_attribute_values(":entity", s("connections"))
            .build()
            .map_err(|e| action_error("list connection", e))?;
        self.transact_applied(
            "authenticate connection",
            vec![
                TransactWriteItem::builder().update(conn).build(),
                TransactWriteItem::builder().update(listed).build(),
            ],
        )
        .await
    }

    /// `$disconnect`, or a refused first frame: the connection item and its entry among
    /// its user's connections. Two writes: an entry left by a crash between them points to a
    /// connection that is gone, which the next post finds (and removes).
    pub async fn close_connection(&self, connection_id: &str) -> Result<(), Error> {
        if let Some(ConnectionItem {
            app_id: Some(app_id),
            user_id: Some(user_id),
            ..
        }) = self.delete_connection_item(connection_id).await?
        {
            self.forget_connection(&app_id, &user_id, connection_id)
                .await?;
        }
        Ok(())
    }

    /// A post found `connection_id` of `user_id` gone: its entry and its item go, side by
    /// side (its item may have expired already, so the entry is not found through it).
    pub async fn gone_connection(
        &self,
        app_id: &str,
        user_id: &str,
        connection_id: &str,
    ) -> Result<(), Error> {
        futures::future::try_join(
            self.forget_connection(app_id, user_id, connection_id),
            self.delete_connection_item(connection_id),
        )
        .await?;
        Ok(())
    }

    /// Deletes a connection's item; returns it as it was.
    async fn delete_connection_item(
        &self,
        connection_id: &str,
    ) -> Result<Option<ConnectionItem>, Error> {
        let out = retrying(|| {
            self.client
                .delete_item()
                .table_name(self.table())
                .key("pk", s(keys::connection_pk(connection_id)))
                .key("sk", s(keys::CONNECTION_SK))
                .return_values(ReturnValue::AllOld)
                .send()
        })
        .await
        .map_err(|e| storage_error("close connection", e))?;
        out.attributes.map(decode).transpose()
    }

    /// Removes `connection_id` from `user_id`'s live connections.
    pub async fn forget_connection(
        &self,
        app_id: &str,
        user_id: &str,
        connection_id: &str,
    ) -> Result<(), Error> {
        let res = retrying(|| {
            self.client
                .update_item()
                .table_name(self.table())
                .key("pk", s(keys::user_pk(app_id, user_id)))
                .key("sk", s(keys::CONNECTIONS_SK))
                .update_expression("REMOVE #c")
                .condition_expression("attribute_exists(pk)")
                .expression_attribute_names("#c", connection_attr(connection_id))
                .send()
        })
        .await;
        match res {
            Ok(_) => Ok(()),
            Err(e) if condition_failed(&e) => Ok(()),
            Err(e) => Err(storage_error("forget connection", e)),
        }
    }

    /// The live connections of each of `users` (those with none are left out): one
    /// BatchGetItem per 100 users, side by side.
    pub async fn connections_of(
        &self,
        app_id: &str,
        users: &[String],
        now_s: i64,
    ) -> Result<HashMap<String, Vec<String>>, Error> {
        let keys = users
            .iter()
            .map(|u| (keys::user_pk(app_id, u), keys::CONNECTIONS_SK.to_owned()))
            .collect();
        let prefix = format!("{app_id}#USER#");
        let mut out = HashMap::new();
        for item in self.get_many(keys).await? {
            let Some(AttributeValue::S(pk)) = item.get("pk") else {
                continue;
            };
            let Some(user) = pk.strip_prefix(&prefix) else {
                continue;
            };
            let live: Vec<String> = item
                .iter()
                .filter_map(|(k, v)| {
                    let id = k.strip_prefix("c#")?;
                    let AttributeValue::N(exp) = v else {
                        return None;
                    };
                    (exp.parse::<i64>().ok()? > now_s).then(|| id.to_owned())
                })
                .collect();
            if !live.is_empty() {
                out.insert(user.to_owned(), live);
            }
        }
        Ok(out)
    }

    /// Takes `posts` from a super channel's budget of `per_second` posts in the second
    /// `second`: true when they fit (or the second had nothing taken yet: a chunk larger than
    /// the budget takes a second of its own). One conditional write on a counter of the
    /// channel and second, which expires a minute later.
    pub async fn take_post_budget(
        &self,
        app_id: &str,
        channel_id: &str,
        second: i64,
        posts: usize,
        per_second: u32,
    ) -> Result<bool, Error> {
        let posts = posts as i64;
        let room = i64::from(per_second) - posts;
        let res = retrying(|| {
            self.client
                .update_item()
                .table_name(self.table())
                .key("pk", s(keys::post_budget_pk(app_id, channel_id, second)))
                .key("sk", s(keys::RATE_SK))
                .update_expression("ADD #n :k SET #ttl = :ttl")
                .condition_expression("attribute_not_exists(#n) OR #n <= :room")
                .expression_attribute_names("#n", "posts")
                .expression_attribute_names("#ttl", TTL)
                .expression_attribute_values(":k", n(posts))
                .expression_attribute_values(":room", n(room))
                .expression_attribute_values(":ttl", n(second + 60))
                .send()
        })
        .await;
        applied(res, "take post budget")
    }

    /// `user` watches the channel until `until_s`. Renewed only when the watch would end
    /// before `renew_s`, so a reader paging through the history writes once in a while, not
    /// on every page; true when it was written.
    pub async fn watch_channel(
        &self,
        app_id: &str,
        channel_id: &str,
        user_id: &str,
        until_s: i64,
        renew_s: i64,
    ) -> Result<bool, Error> {
        let res = retrying(|| {
            self.client
                .update_item()
                .table_name(self.table())
                .key("pk", s(keys::watchers_pk(app_id, channel_id)))
                .key("sk", s(keys::watcher_sk(user_id)))
                .update_expression("SET #u = :u, #ttl = :ttl")
                .condition_expression("attribute_not_exists(#ttl) OR #ttl < :renew")
                .expression_attribute_names("#u", "user_id")
                .expression_attribute_names("#ttl", TTL)
                .expression_attribute_values(":u", s(user_id))
                .expression_attribute_values(":ttl", n(until_s))
                .expression_attribute_values(":renew", n(renew_s))
                .send()
        })
        .await;
        applied(res, "watch channel")
    }

    /// A page of the channel's watchers whose watch has not ended by `now_s`, in user id
    /// order after `after`.
    pub async fn watchers_page(
        &self,
        app_id: &str,
        channel_id: &str,
        after: Option<&str>,
        limit: usize,
        now_s: i64,
    ) -> Result<Page<String>, Error> {
        self.range_page(
            keys::watchers_pk(app_id, channel_id),
            keys::WATCHER_PREFIX,
            after,
            limit,
            |item| {
                let w: WatcherItem = decode(item)?;
                Ok((w.ttl > now_s).then_some(w.user_id))
            },
        )
        .await
    }

    /// Keeps `frame` for replay to `receivers` until `expires_s`: the event once, an entry in
    /// each receiver's feed (BatchWriteItem calls of 25, side by side).
    pub async fn keep_event(
        &self,
        app_id: &str,
        uid: &str,
        at_ms: i64,
        frame: &str,
        receivers: &[String],
        expires_s: i64,
    ) -> Result<(), Error> {
        let event = encode(&EventItem {
            pk: keys::event_pk(app_id, uid),
            sk: keys::EVENT_SK.to_owned(),
            entity: "event".into(),
            frame: frame.to_owned(),
            ttl: expires_s,
        })?;
        let mut puts = vec![event];
        for user in receivers {
            puts.push(encode(&FeedItem {
                pk: keys::feed_pk(app_id, user),
                sk: keys::feed_sk(at_ms, uid),
                entity: "feed".into(),
                uid: uid.to_owned(),
                ttl: expires_s,
            })?);
        }
        let requests = puts
            .into_iter()
            .map(|item| {
                let put = PutRequest::builder()
                    .set_item(Some(item))
                    .build()
                    .map_err(|e| Error::Internal(format!("build put request: {e}")))?;
                Ok(WriteRequest::builder().put_request(put).build())
            })
            .collect::<Result<Vec<_>, Error>>()?;
        futures::future::try_join_all(
            requests
                .chunks(MAX_BATCH_WRITE)
                .map(|chunk| self.write_batch("keep event", chunk.to_vec())),
        )
        .await?;
        Ok(())
    }

    /// The frames kept for `user_id` from `since_ms` on (that time included), oldest first,
    /// at most `limit`: the feed's entries (one Query), then their events (BatchGetItem).
    pub async fn missed_events(
        &self,
        app_id: &str,
        user_id: &str,
        since_ms: i64,
        limit: i32,
        now_s: i64,
    ) -> Result<Vec<String>, Error> {
        let out = retrying(|| {
            self.client
                .query()
                .table_name(self.table())
                .key_condition_expression("pk = :pk AND sk >= :from")
                .expression_attribute_values(":pk", s(keys::feed_pk(app_id, user_id)))
                .expression_attribute_values(":from", s(keys::feed_sk(since_ms.max(0), "")))
                // Strongly consistent, as the fan-out's read of connections is: of the two
                // reads, one sees the other side's write (docs/design.md, "Realtime").
                .consistent_read(true)
                .limit(limit)
                .send()
        })
        .await
        .map_err(|e| storage_error("read replay feed", e))?;
        let mut uids = Vec::new();
        for item in out.items.unwrap_or_default() {
            let entry: FeedItem = decode(item)?;
            if entry.ttl > now_s && !uids.contains(&entry.uid) {
                uids.push(entry.uid);
            }
        }
        let keys = uids
            .iter()
            .map(|u| (keys::event_pk(app_id, u), keys::EVENT_SK.to_owned()))
            .collect();
        let mut frames: HashMap<String, String> = HashMap::new();
        for item in self.get_many(keys).await? {
            let event: EventItem = decode(item)?;
            if event.ttl > now_s
                && let Some(uid) = event.pk.rsplit('#').next()
            {
                frames.insert(uid.to_owned(), event.frame);
            }
        }
        Ok(uids.into_iter().filter_map(|u| frames.remove(&u)).collect())
    }

    /// The frame of the event `uid` kept at `at_ms` if `user_id` was among its receivers
    /// (the push notification's link): the feed entry and the event in one BatchGetItem.
    pub async fn notification(
        &self,
        app_id: &str,
        user_id: &str,
        at_ms: i64,
        uid: &str,
        now_s: i64,
    ) -> Result<Option<String>, Error> {
        let keys = vec![
            (keys::feed_pk(app_id, user_id), keys::feed_sk(at_ms, uid)),
            (keys::event_pk(app_id, uid), keys::EVENT_SK.to_owned()),
        ];
        let (mut listed, mut frame) = (false, None);
        for item in self.get_many(keys).await? {
            let entity = item.get("entity").and_then(|v| v.as_s().ok()).cloned();
            match entity.as_deref() {
                Some("feed") => {
                    let entry: FeedItem = decode(item)?;
                    listed = entry.ttl > now_s;
                }
                Some("event") => {
                    let event: EventItem = decode(item)?;
                    frame = Some(event.frame).filter(|_| event.ttl > now_s);
                }
                _ => {}
            }
        }
        Ok(frame.filter(|_| listed))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn feed_keys_sort_by_time() {
        let a = keys::feed_sk(999, "z");
        let b = keys::feed_sk(1_000, "a");
        assert!(a < b, "{a} < {b}");
        // The replay's lower bound includes every event of that very millisecond.
        assert!(keys::feed_sk(1_000, "") <= b);
        assert!(keys::feed_sk(1_001, "") > b);
        assert_eq!(connection_attr("abc"), "c#abc");
    }
}
