//! Changes to every channel of a user (`markread/all`, `hide/all`): the reads and writes they
//! are made of, and the job item that carries one on when it outgrows its request.
//!
//! A job is an item in the user's partition (`JOB#{kind}`) listed in the sweeper's index
//! (`#CLEANUP`), holding where the work got to (`after`, a channel id) and a `token` that
//! every hand-off replaces: a run writes only while the token is the one it read, so a newer
//! request's job (which replaces the item outright) stops an older run instead of racing it.

use std::collections::HashMap;

use aws_sdk_dynamodb::types::AttributeValue;

use super::channels::item_key;
use super::items::{ChannelItem, MembershipItem};
use super::retry::{applied, condition_failed, retrying, storage_error};
use super::{Store, decode, keys, s};
use crate::Error;
use crate::model::Page;

/// Which change a job makes to each of the user's channels.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JobKind {
    /// `POST /v1.4/channels/markread/all`
    MarkReadAll,
    /// `POST /v1.4/channels/hide/all`
    HideAll,
}

impl JobKind {
    pub fn as_str(self) -> &'static str {
        match self {
            JobKind::MarkReadAll => "MARKREAD_ALL",
            JobKind::HideAll => "HIDE_ALL",
        }
    }

    pub fn parse(s: &str) -> Option<JobKind> {
        match s {
            "MARKREAD_ALL" => Some(JobKind::MarkReadAll),
            "HIDE_ALL" => Some(JobKind::HideAll),
            _ => None,
        }
    }
}

/// A user's membership as the reverse index shows it (eventually consistent).
#[derive(Debug, Clone)]
pub struct MembershipEntry {
    pub channel_id: String,
    /// The membership's sort key (`MEMBER#` or, in a super channel, `SUPERMEMBER#`).
    pub sk: String,
    pub read_count: i64,
    pub sent_since_read: i64,
    pub hidden: bool,
}

impl MembershipEntry {
    pub fn is_super(&self) -> bool {
        self.sk.starts_with(keys::SUPER_MEMBER_PREFIX)
    }
}

/// Where a job got to, and the token its next write must still find.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobState {
    pub after: Option<String>,
    pub token: String,
}

impl Store {
    /// A page of the user's memberships, in channel id order after `after`.
    pub async fn user_memberships_page(
        &self,
        app_id: &str,
        user_id: &str,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Page<MembershipEntry>, Error> {
        self.index_page(
            keys::user_channels_index(app_id, user_id),
            after,
            limit,
            |i| {
                let sk = item_key(&i, "sk")?;
                let m = decode::<MembershipItem>(i)?;
                Ok(MembershipEntry {
                    channel_id: m.channel_id,
                    sk,
                    read_count: m.read_count,
                    sent_since_read: m.sent_since_read,
                    hidden: m.hidden,
                })
            },
        )
        .await
    }

    /// The message counts (`message_count`) of the live, finished channels among `ids`, by id.
    pub async fn message_counts(
        &self,
        app_id: &str,
        ids: impl Iterator<Item = &str>,
    ) -> Result<HashMap<String, i64>, Error> {
        let wanted = ids
            .map(|id| (keys::channel_pk(app_id, id), keys::CHANNEL_SK.to_owned()))
            .collect();
        let mut counts = HashMap::new();
        for item in self.get_many(wanted).await? {
            let channel = decode::<ChannelItem>(item)?;
            if channel.deleted_at.is_none() && channel.pending_token.is_none() {
                counts.insert(channel.channel_id, channel.message_count);
            }
        }
        Ok(counts)
    }

    /// The job of this kind for the user, if one is waiting (a strongly consistent read).
    pub async fn job(
        &self,
        app_id: &str,
        user_id: &str,
        kind: JobKind,
    ) -> Result<Option<JobState>, Error> {
        let out = retrying(|| {
            self.client
                .get_item()
                .table_name(self.table())
                .key("pk", s(keys::user_pk(app_id, user_id)))
                .key("sk", s(keys::job_sk(kind.as_str())))
                .consistent_read(true)
                .send()
        })
        .await
        .map_err(|e| storage_error("read job", e))?;
        Ok(out.item.map(|i| JobState {
            after: match i.get("after") {
                Some(AttributeValue::S(v)) if !v.is_empty() => Some(v.clone()),
                _ => None,
            },
            token: match i.get("token") {
                Some(AttributeValue::S(v)) => v.clone(),
                _ => String::new(),
            },
        }))
    }

    /// Leaves the rest of a job (the channels after `after`) to the sweeper, under a new
    /// token. `expected`: the token the job must still have (a run handing on); `None`: a
    /// request, whose job replaces any older one. False if the token changed meanwhile.
    pub async fn hand_on_job(
        &self,
        app_id: &str,
        user_id: &str,
        kind: JobKind,
        after: &str,
        expected: Option<&str>,
    ) -> Result<bool, Error> {
        self.may_write().await?;
        let token = crate::secrets::random_hex(8);
        let res = retrying(|| {
            let put = self
                .client
                .put_item()
                .table_name(self.table())
                .item("pk", s(keys::user_pk(app_id, user_id)))
                .item("sk", s(keys::job_sk(kind.as_str())))
                .item("entity", s("job"))
                .item("gsi1pk", s(keys::CLEANUP_INDEX))
                .item("gsi1sk", s(keys::job_entry(app_id, user_id, kind.as_str())))
                .item("after", s(after))
                .item("token", s(&token));
            match expected {
                Some(t) => put
                    .condition_expression("#token = :seen")
                    .expression_attribute_names("#token", "token")
                    .expression_attribute_values(":seen", s(t)),
                None => put,
            }
            .send()
        })
        .await;
        applied(res, "hand on job")
    }

    /// Removes a finished job, unless a newer one replaced it (its token changed).
    pub async fn end_job(
        &self,
        app_id: &str,
        user_id: &str,
        kind: JobKind,
        token: &str,
    ) -> Result<(), Error> {
        self.may_write().await?;
        let res = retrying(|| {
            self.client
                .delete_item()
                .table_name(self.table())
                .key("pk", s(keys::user_pk(app_id, user_id)))
                .key("sk", s(keys::job_sk(kind.as_str())))
                .condition_expression("#token = :seen")
                .expression_attribute_names("#token", "token")
                .expression_attribute_values(":seen", s(token))
                .send()
        })
        .await;
        match res {
            Ok(_) => Ok(()),
            Err(e) if condition_failed(&e) => Ok(()),
            Err(e) => Err(storage_error("end job", e)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_round_trip_through_their_keys() {
        for k in [JobKind::MarkReadAll, JobKind::HideAll] {
            assert_eq!(JobKind::parse(k.as_str()), Some(k));
        }
        assert_eq!(JobKind::parse("OTHER"), None);
    }
}
