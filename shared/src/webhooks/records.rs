//! What a batch of change-stream records means, as webhook events. Pure: the images alone
//! decide; whether an event is still worth sending (its channel swept meanwhile, a removal
//! that was a ban) is decided by `dispatch`, which reads the channel anyway.

use std::collections::HashMap;

use serde::Deserialize;
use serde_dynamo::{AttributeValue, Item};

use crate::store::items::{BanItem, BlockItem, ChannelItem, MembershipItem, MessageItem};
use crate::store::keys;

/// One record as Lambda delivers it (and as `local` builds it from GetRecords).
#[derive(Debug, Clone)]
pub struct StreamRecord {
    pub event_id: String,
    pub event_name: String,
    pub keys: Item,
    pub new_image: Option<Item>,
    pub old_image: Option<Item>,
}

#[derive(Deserialize)]
struct LambdaRecord {
    #[serde(rename = "eventID", default)]
    event_id: String,
    #[serde(rename = "eventName", default)]
    event_name: String,
    dynamodb: LambdaImages,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct LambdaImages {
    #[serde(default)]
    keys: HashMap<String, AttributeValue>,
    #[serde(default)]
    new_image: Option<HashMap<String, AttributeValue>>,
    #[serde(default)]
    old_image: Option<HashMap<String, AttributeValue>>,
}

/// The records of a Lambda DynamoDB Streams event (`{"Records": [...]}`).
pub fn lambda_records(event: &serde_json::Value) -> Result<Vec<StreamRecord>, String> {
    let records = event["Records"].as_array().cloned().unwrap_or_default();
    records
        .into_iter()
        .map(|r| {
            let r: LambdaRecord = serde_json::from_value(r).map_err(|e| e.to_string())?;
            Ok(StreamRecord {
                event_id: r.event_id,
                event_name: r.event_name,
                keys: r.dynamodb.keys.into(),
                new_image: r.dynamodb.new_image.map(Into::into),
                old_image: r.dynamodb.old_image.map(Into::into),
            })
        })
        .collect()
}

/// What an event is about.
#[derive(Debug, Clone)]
pub enum Subject {
    /// `channel_added`, `channel_changed`; `channel_removed` carries the channel as it was.
    Channel {
        channel_id: String,
        removed: Option<Box<ChannelItem>>,
    },
    /// `member_added`, `member_left`, `member_muted`, `member_unmuted`: the memberships as
    /// changed (as they were, for `member_left`).
    Members {
        channel_id: String,
        members: Vec<MembershipItem>,
    },
    /// `member_banned`, `member_unbanned`.
    Bans {
        channel_id: String,
        bans: Vec<BanItem>,
    },
    /// `message`, `message_deleted` (as it was).
    Message {
        channel_id: String,
        message: Box<MessageItem>,
    },
    /// `user_blocked`, `user_unblocked`.
    Block { user_id: String, target_id: String },
}

impl Subject {
    /// The channel the change is about (none for a block).
    pub fn channel_id(&self) -> Option<&str> {
        match self {
            Subject::Channel { channel_id, .. }
            | Subject::Members { channel_id, .. }
            | Subject::Bans { channel_id, .. }
            | Subject::Message { channel_id, .. } => Some(channel_id),
            Subject::Block { .. } => None,
        }
    }
}

#[derive(Debug, Clone)]
pub struct Change {
    pub event: &'static str,
    pub app_id: String,
    pub subject: Subject,
    /// The stream's id of the (first) record: the delivery ids derive from it, so a batch
    /// the stream hands over again makes deliveries with the same ids.
    pub source: String,
    /// The time the change carries, when it has one (merging members of one request).
    at: Option<i64>,
}

impl Change {
    /// Deliveries of one scope go in order (a queue message group): a channel, or for blocks
    /// the blocking user.
    pub fn scope(&self) -> String {
        match &self.subject {
            Subject::Channel { channel_id, .. }
            | Subject::Members { channel_id, .. }
            | Subject::Bans { channel_id, .. }
            | Subject::Message { channel_id, .. } => format!("{}#C#{channel_id}", self.app_id),
            Subject::Block { user_id, .. } => format!("{}#U#{user_id}", self.app_id),
        }
    }
}

fn decode<T: serde::de::DeserializeOwned>(image: &Option<Item>) -> Option<T> {
    serde_dynamo::from_item(image.clone()?).ok()
}

/// An item that is only ever written and deleted (a ban, a message, a block): `(true, item)`
/// when it came, `(false, item as it was)` when it went.
fn came_or_went<T: serde::de::DeserializeOwned>(r: &StreamRecord) -> Option<(bool, T)> {
    match (&r.old_image, &r.new_image) {
        (None, Some(_)) => Some((true, decode(&r.new_image)?)),
        (Some(_), None) => Some((false, decode(&r.old_image)?)),
        _ => None,
    }
}

fn key(keys: &Item, name: &str) -> Option<String> {
    match keys.get(name)? {
        AttributeValue::S(s) => Some(s.clone()),
        _ => None,
    }
}

/// The channel fields an app sees: a write that changes none of them (a member count, a bot
/// count, bookkeeping) is not `channel_changed`.
fn visible(c: &ChannelItem) -> impl PartialEq + '_ {
    (
        (&c.name, &c.owner_id, &c.image_url, &c.invitation_code),
        (c.is_frozen, c.hide_messages_before_join),
        (&c.category, &c.subcategory, &c.data, c.max_member_count),
        &c.channel_type,
    )
}

fn channel_change(r: &StreamRecord) -> Option<(&'static str, Option<Box<ChannelItem>>)> {
    let new: Option<ChannelItem> = decode(&r.new_image);
    let old: Option<ChannelItem> = decode(&r.old_image);
    // A channel exists for readers once it has no pending creation and no tombstone.
    let live = |c: &ChannelItem| c.pending_token.is_none() && c.deleted_at.is_none();
    match (old, new) {
        (None, Some(n)) if live(&n) => Some(("channel_added", None)),
        (Some(o), Some(n)) if live(&o) && n.deleted_at.is_some() => {
            Some(("channel_removed", Some(Box::new(o))))
        }
        (Some(o), Some(n)) if !live(&o) && o.deleted_at.is_none() && live(&n) => {
            Some(("channel_added", None))
        }
        (Some(o), Some(n)) if live(&o) && live(&n) && visible(&o) != visible(&n) => {
            Some(("channel_changed", None))
        }
        _ => None,
    }
}

/// A message came (`message`), went (`message_deleted`, as it was), was edited
/// (`message_updated`: text or data) or reacted to (`reaction_updated`). The last two are
/// realtime events only: TalkPlus's webhooks have no such event.
fn message_change(r: &StreamRecord) -> Option<(&'static str, MessageItem)> {
    if let Some((came, m)) = came_or_went::<MessageItem>(r) {
        return Some((if came { "message" } else { "message_deleted" }, m));
    }
    let old: MessageItem = decode(&r.old_image)?;
    let new: MessageItem = decode(&r.new_image)?;
    if (&old.text, &old.data) != (&new.text, &new.data) {
        Some(("message_updated", new))
    } else if old.reactions != new.reactions {
        Some(("reaction_updated", new))
    } else {
        None
    }
}

fn membership_change(r: &StreamRecord) -> Option<(&'static str, MembershipItem, Option<i64>)> {
    let new: Option<MembershipItem> = decode(&r.new_image);
    let old: Option<MembershipItem> = decode(&r.old_image);
    match (old, new) {
        (None, Some(n)) => {
            let at = n.created_at;
            Some(("member_added", n, Some(at)))
        }
        (Some(o), None) => Some(("member_left", o, None)),
        (Some(o), Some(n)) => match (o.mute_expires_at, n.mute_expires_at) {
            (None, Some(_)) => {
                let at = n.updated_at;
                Some(("member_muted", n, Some(at)))
            }
            (Some(a), Some(b)) if a != b => {
                let at = n.updated_at;
                Some(("member_muted", n, Some(at)))
            }
            (Some(_), None) => {
                let at = n.updated_at;
                Some(("member_unmuted", n, Some(at)))
            }
            _ => None,
        },
        (None, None) => None,
    }
}

/// The events of a batch, in stream order. Consecutive member changes of one kind in one
/// channel made at the same moment (one request adding, muting or banning several users)
/// become one event listing them all; removals carry no time and merge when consecutive.
pub fn changes(records: &[StreamRecord]) -> Vec<Change> {
    let mut out: Vec<Change> = Vec::new();
    for r in records {
        let (Some(pk), Some(sk)) = (key(&r.keys, "pk"), key(&r.keys, "sk")) else {
            continue;
        };
        let Some((app_id, rest)) = pk.split_once('#') else {
            continue;
        };
        let app_id = app_id.to_owned();
        let change = |event, subject, at| Change {
            event,
            app_id: app_id.clone(),
            subject,
            source: r.event_id.clone(),
            at,
        };
        let found = if rest.starts_with("CHANNEL#") {
            if sk == keys::CHANNEL_SK {
                channel_change(r).and_then(|(event, removed)| {
                    let c: ChannelItem = decode(&r.new_image).or_else(|| decode(&r.old_image))?;
                    Some(change(
                        event,
                        Subject::Channel {
                            channel_id: c.channel_id,
                            removed,
                        },
                        None,
                    ))
                })
            } else if sk.starts_with(keys::MEMBER_PREFIX)
                || sk.starts_with(keys::SUPER_MEMBER_PREFIX)
            {
                membership_change(r).map(|(event, m, at)| {
                    change(
                        event,
                        Subject::Members {
                            channel_id: m.channel_id.clone(),
                            members: vec![m],
                        },
                        at,
                    )
                })
            } else if sk.starts_with(keys::BAN_PREFIX) {
                came_or_went::<BanItem>(r).map(|(came, b)| {
                    let at = came.then_some(b.created_at);
                    let event = if came {
                        "member_banned"
                    } else {
                        "member_unbanned"
                    };
                    let bans = Subject::Bans {
                        channel_id: b.channel_id.clone(),
                        bans: vec![b],
                    };
                    change(event, bans, at)
                })
            } else {
                None
            }
        } else if rest.starts_with("MSG#") && sk.starts_with(keys::MESSAGE_PREFIX) {
            message_change(r).map(|(event, m)| {
                let message = Subject::Message {
                    channel_id: m.channel_id.clone(),
                    message: Box::new(m),
                };
                change(event, message, None)
            })
        } else if rest.starts_with("USER#") && sk.starts_with(keys::BLOCK_PREFIX) {
            came_or_went::<BlockItem>(r).map(|(came, b)| {
                let event = if came {
                    "user_blocked"
                } else {
                    "user_unblocked"
                };
                let block = Subject::Block {
                    user_id: b.user_id,
                    target_id: b.target_id,
                };
                change(event, block, None)
            })
        } else {
            None
        };
        let Some(c) = found else { continue };
        if let Some(last) = out.last_mut()
            && merge(last, &c)
        {
            continue;
        }
        out.push(c);
    }
    drop_bans_from_left(&mut out);
    out
}

/// A ban removes the membership in the same transaction: those users did not leave, they
/// were banned. The two changes are next to each other in the stream (one partition, one
/// transaction); `dispatch` also checks for a ban in force, should a batch split them.
fn drop_bans_from_left(changes: &mut Vec<Change>) {
    let banned_near = |i: usize, changes: &[Change]| -> Vec<(String, String, String)> {
        [i.checked_sub(1), Some(i + 1)]
            .into_iter()
            .flatten()
            .filter_map(|j| changes.get(j))
            .filter(|c| c.event == "member_banned")
            .flat_map(|c| match &c.subject {
                Subject::Bans { channel_id, bans } => bans
                    .iter()
                    .map(|b| (c.app_id.clone(), channel_id.clone(), b.user_id.clone()))
                    .collect(),
                _ => Vec::new(),
            })
            .collect()
    };
    for i in 0..changes.len() {
        if changes[i].event != "member_left" {
            continue;
        }
        let near = banned_near(i, changes);
        let app_id = changes[i].app_id.clone();
        if let Subject::Members {
            channel_id,
            members,
        } = &mut changes[i].subject
        {
            members.retain(|m| {
                !near.contains(&(app_id.clone(), channel_id.clone(), m.user_id.clone()))
            });
        }
    }
    changes
        .retain(|c| !matches!(&c.subject, Subject::Members { members, .. } if members.is_empty()));
}

/// Folds `next` into `last` when they are one request's change to several users.
fn merge(last: &mut Change, next: &Change) -> bool {
    if last.event != next.event || last.app_id != next.app_id || last.at != next.at {
        return false;
    }
    match (&mut last.subject, &next.subject) {
        (
            Subject::Members {
                channel_id,
                members,
            },
            Subject::Members {
                channel_id: c,
                members: more,
            },
        ) if channel_id == c => {
            members.extend(more.iter().cloned());
            true
        }
        (
            Subject::Bans { channel_id, bans },
            Subject::Bans {
                channel_id: c,
                bans: more,
            },
        ) if channel_id == c => {
            bans.extend(more.iter().cloned());
            true
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn channel(extra: serde_json::Value) -> serde_json::Value {
        let mut c = json!({
            "pk": {"S": "app-1#CHANNEL#c-1"}, "sk": {"S": "CHANNEL"}, "entity": {"S": "channel"},
            "channel_id": {"S": "c-1"}, "channel_type": {"S": "public"}, "name": {"S": "n"},
            "owner_id": {"S": ""}, "image_url": {"S": ""}, "invitation_code": {"S": ""},
            "is_frozen": {"BOOL": false}, "hide_messages_before_join": {"BOOL": false},
            "category": {"S": ""}, "subcategory": {"S": ""}, "data": {"M": {}},
            "member_count": {"N": "1"}, "max_member_count": {"N": "100"},
            "created_at": {"N": "1"}, "updated_at": {"N": "1"}
        });
        for (k, v) in extra.as_object().unwrap() {
            c[k] = v.clone();
        }
        c
    }

    fn member(user: &str, extra: serde_json::Value) -> serde_json::Value {
        let mut m = json!({
            "pk": {"S": "app-1#CHANNEL#c-1"}, "sk": {"S": format!("MEMBER#{user}")},
            "gsi1pk": {"S": "x"}, "gsi1sk": {"S": "x"}, "entity": {"S": "membership"},
            "channel_id": {"S": "c-1"}, "user_id": {"S": user}, "member_info": {"M": {}},
            "last_read_at": {"N": "0"}, "last_sent_at": {"N": "0"},
            "created_at": {"N": "7"}, "updated_at": {"N": "7"}
        });
        for (k, v) in extra.as_object().unwrap() {
            m[k] = v.clone();
        }
        m
    }

    fn record(
        id: &str,
        old: Option<serde_json::Value>,
        new: Option<serde_json::Value>,
    ) -> serde_json::Value {
        let image = new.clone().or(old.clone()).unwrap();
        let mut d = json!({"Keys": {"pk": image["pk"], "sk": image["sk"]}});
        if let Some(o) = old {
            d["OldImage"] = o;
        }
        if let Some(n) = new {
            d["NewImage"] = n;
        }
        json!({"eventID": id, "eventName": "X", "dynamodb": d})
    }

    fn events(records: Vec<serde_json::Value>) -> Vec<Change> {
        changes(&lambda_records(&json!({"Records": records})).unwrap())
    }

    #[test]
    fn channel_lifecycle() {
        let pending = channel(json!({"pending_token": {"S": "t"}}));
        let live = channel(json!({}));
        let renamed = channel(json!({"name": {"S": "other"}, "updated_at": {"N": "2"}}));
        let counted = channel(json!({"member_count": {"N": "2"}}));
        let deleted = channel(json!({"deleted_at": {"N": "3"}}));
        let got = events(vec![
            record("1", None, Some(pending.clone())),
            record("2", Some(pending.clone()), Some(live.clone())),
            record("3", Some(live.clone()), Some(counted)),
            record("4", Some(live.clone()), Some(renamed)),
            record("5", Some(live.clone()), Some(deleted.clone())),
            record("6", Some(deleted), None),
            record("7", None, Some(live.clone())),
            // An abandoned two-part creation is cleared: nothing was ever visible.
            record("8", Some(pending), None),
        ]);
        let names: Vec<_> = got.iter().map(|c| (c.event, c.source.as_str())).collect();
        assert_eq!(
            names,
            [
                ("channel_added", "2"),
                ("channel_changed", "4"),
                ("channel_removed", "5"),
                ("channel_added", "7")
            ]
        );
        assert!(matches!(
            &got[2].subject,
            Subject::Channel { removed: Some(c), .. } if c.name == "n" && c.deleted_at.is_none()
        ));
        assert_eq!(got[0].scope(), "app-1#C#c-1");
    }

    #[test]
    fn member_changes_merge_per_request() {
        let got = events(vec![
            record("1", None, Some(member("u1", json!({})))),
            record("2", None, Some(member("u2", json!({})))),
            // Another request a moment later.
            record(
                "3",
                None,
                Some(member("u3", json!({"created_at": {"N": "9"}}))),
            ),
            record("4", Some(member("u1", json!({}))), None),
            record("5", Some(member("u2", json!({}))), None),
            record(
                "6",
                Some(member("u3", json!({}))),
                Some(member(
                    "u3",
                    json!({"mute_expires_at": {"N": "0"}, "updated_at": {"N": "8"}}),
                )),
            ),
            record(
                "7",
                Some(member("u3", json!({"mute_expires_at": {"N": "0"}}))),
                Some(member("u3", json!({"updated_at": {"N": "9"}}))),
            ),
            // A read mark or a send: no event.
            record(
                "8",
                Some(member("u3", json!({}))),
                Some(member("u3", json!({"last_sent_at": {"N": "5"}}))),
            ),
        ]);
        let summary: Vec<_> = got
            .iter()
            .map(|c| match &c.subject {
                Subject::Members { members, .. } => (
                    c.event,
                    members
                        .iter()
                        .map(|m| m.user_id.clone())
                        .collect::<Vec<_>>(),
                ),
                other => panic!("{other:?}"),
            })
            .collect();
        assert_eq!(
            summary,
            [
                ("member_added", vec!["u1".to_owned(), "u2".to_owned()]),
                ("member_added", vec!["u3".to_owned()]),
                ("member_left", vec!["u1".to_owned(), "u2".to_owned()]),
                ("member_muted", vec!["u3".to_owned()]),
                ("member_unmuted", vec!["u3".to_owned()]),
            ]
        );
    }

    #[test]
    fn messages_bans_and_blocks() {
        let msg = json!({
            "pk": {"S": "app-1#MSG#c-1"}, "sk": {"S": "MSG#01J"}, "entity": {"S": "message"},
            "message_id": {"S": "01J"}, "channel_id": {"S": "c-1"}, "user_id": {"S": "u1"},
            "message_type": {"S": "text"}, "text": {"S": "hi"}, "data": {"M": {}},
            "file_url": {"S": ""}, "mentions": {"L": []}, "created_at": {"N": "5"}
        });
        let ban = json!({
            "pk": {"S": "app-1#CHANNEL#c-1"}, "sk": {"S": "BAN#u2"}, "entity": {"S": "ban"},
            "channel_id": {"S": "c-1"}, "user_id": {"S": "u2"}, "created_at": {"N": "5"}
        });
        let block = json!({
            "pk": {"S": "app-1#USER#u1"}, "sk": {"S": "BLOCK#u2"}, "gsi1pk": {"S": "x"},
            "gsi1sk": {"S": "x"}, "entity": {"S": "block"}, "user_id": {"S": "u1"},
            "target_id": {"S": "u2"}, "created_at": {"N": "5"}
        });
        let app = json!({"pk": {"S": "app-1#APP"}, "sk": {"S": "APP"}});
        // A ban: the membership goes in the same transaction; that is no member_left.
        let banned = events(vec![
            record("b1", Some(member("u2", json!({}))), None),
            record("b2", None, Some(ban.clone())),
            record("b3", Some(member("u3", json!({}))), None),
        ]);
        let names: Vec<_> = banned.iter().map(|c| c.event).collect();
        assert_eq!(names, ["member_banned", "member_left"]);
        assert!(
            matches!(&banned[1].subject, Subject::Members { members, .. } if members[0].user_id == "u3")
        );
        let got = events(vec![
            record("1", None, Some(msg.clone())),
            record("2", Some(msg.clone()), None),
            record("3", None, Some(ban.clone())),
            record("4", Some(ban), None),
            record("5", None, Some(block.clone())),
            record("6", Some(block), None),
            record("7", None, Some(app)),
        ]);
        let names: Vec<_> = got.iter().map(|c| c.event).collect();
        assert_eq!(
            names,
            [
                "message",
                "message_deleted",
                "member_banned",
                "member_unbanned",
                "user_blocked",
                "user_unblocked"
            ]
        );
        assert_eq!(got[4].scope(), "app-1#U#u1");
        // An edit and a reaction are realtime events; a write that changes neither is none.
        let edited = {
            let mut m = msg.clone();
            m["text"] = json!({"S": "hi, edited"});
            m
        };
        let reacted = {
            let mut m = edited.clone();
            m["reactions"] = json!({"M": {"like": {"L": [{"S": "u2"}]}}});
            m
        };
        let updates = events(vec![
            record("u1", Some(msg.clone()), Some(edited.clone())),
            record("u2", Some(edited.clone()), Some(reacted)),
            record("u3", Some(edited.clone()), Some(edited)),
        ]);
        let names: Vec<_> = updates.iter().map(|c| c.event).collect();
        assert_eq!(names, ["message_updated", "reaction_updated"]);
        assert!(names.iter().all(|n| !crate::webhooks::EVENTS.contains(n)));
        assert!(
            matches!(&got[0].subject, Subject::Message { message, .. } if message.text == "hi")
        );
    }
}
