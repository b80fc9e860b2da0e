//! Realtime: the SDKs' WebSocket (client-protocol.md §4; docs/design.md, "Realtime").
//!
//! - `gateway`: the WebSocket API's three functions (`$connect`, `$disconnect`, `$default`:
//!   the first frame's authentication and the replay of missed events);
//! - `fanout`: from the change stream, each event to the connections of the users who should
//!   see it, and kept for replay;
//! - `chunks`: a super channel's fan-out, page by page over a queue, under a send-rate cap;
//! - `connections`: API Gateway's `@connections` API (the dev gateway serves the same API
//!   locally).

mod audience;
pub mod chunks;
pub mod connections;
pub mod fanout;
pub mod gateway;
pub mod push;

use serde::Serialize;
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

/// The WebSocket's path, on its own host (as TalkPlus's `ws.api.talkplus.io`).
pub const PATH: &str = "/v1.4/users/ws/notifications";

/// How long a connection's items live: past API Gateway's 2-hour connection limit, so an item
/// outlives its connection even when `$disconnect` never runs.
pub const CONNECTION_TTL_S: i64 = 3 * 3600;

/// How long an event is kept for replay.
pub const REPLAY_TTL_S: i64 = 6 * 3600;

/// Events of channels with at most this many receivers are kept for replay; a super
/// channel's are not (100,000 feed writes per message).
pub const REPLAY_MAX_RECEIVERS: usize = 100;

/// The most events one reconnect replays (the oldest first; the SDK reloads a channel's
/// messages when it opens it anyway).
pub const REPLAY_LIMIT: i32 = 1_000;

/// A stored frame larger than this is not kept for replay (an item is at most 400 KB).
pub const MAX_KEPT_FRAME_BYTES: usize = 350 * 1024;

/// The SDK's name of a change-stream event (`message_deleted` → `messageDeleted`).
pub fn event_name(change_event: &str) -> Option<&'static str> {
    Some(match change_event {
        "message" => "message",
        "message_deleted" => "messageDeleted",
        "message_updated" => "messageUpdated",
        "reaction_updated" => "reactionUpdated",
        "channel_added" => "channelAdded",
        "channel_changed" => "channelChanged",
        "channel_removed" => "channelRemoved",
        "member_added" => "memberAdded",
        "member_left" => "memberLeft",
        "member_muted" => "memberMuted",
        "member_unmuted" => "memberUnmuted",
        "member_banned" => "memberBanned",
        "member_unbanned" => "memberUnbanned",
        _ => return None,
    })
}

/// An event's `uid`: the same for the same change and event, so a stream batch handed over
/// again sends frames the SDKs drop as repeats.
pub fn event_uid(source: &str, event: &str) -> String {
    let digest = Sha256::digest(format!("{source}\0{event}").as_bytes());
    crate::secrets::hex(&digest)[..24].to_owned()
}

/// The mark on a public channel's events as its watchers get them.
pub const PUBLIC_MARK: &str = "isPublicChannelEvent";

/// One server frame: `type` at the top (Unity, iOS) and inside `data` (JS), and in `data`
/// `isPublicChannelEvent: true` when `marked` (a watcher's copy). Serialized from borrowed
/// parts: the members' frame and the watchers' share one `data` (20–30 KB for a channel
/// event), which is not copied to add the mark.
pub fn frame(
    uid: &str,
    event: &str,
    timestamp: i64,
    data: &Map<String, Value>,
    marked: bool,
) -> String {
    #[derive(Serialize)]
    struct Frame<'a> {
        uid: &'a str,
        #[serde(rename = "type")]
        event: &'a str,
        timestamp: i64,
        data: Data<'a>,
    }
    struct Data<'a> {
        event: &'a str,
        fields: &'a Map<String, Value>,
        marked: bool,
    }
    impl Serialize for Data<'_> {
        fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
            use serde::ser::SerializeMap;
            let mut map = s.serialize_map(None)?;
            for (k, v) in self.fields {
                if k != "type" && k != PUBLIC_MARK {
                    map.serialize_entry(k, v)?;
                }
            }
            map.serialize_entry("type", self.event)?;
            if self.marked {
                map.serialize_entry(PUBLIC_MARK, &true)?;
            }
            map.end()
        }
    }
    let frame = Frame {
        uid,
        event,
        timestamp,
        data: Data {
            event,
            fields: data,
            marked,
        },
    };
    // Strings, numbers and JSON values under string keys: serializing cannot fail.
    serde_json::to_string(&frame).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn frames_carry_the_type_twice_and_a_stable_uid() {
        let uid = event_uid("stream-1", "message");
        assert_eq!(uid.len(), 24);
        assert_eq!(uid, event_uid("stream-1", "message"));
        assert_ne!(uid, event_uid("stream-1", "channelAdded"));
        let data = json!({"channel": {"id": "c"}, "type": "stale"});
        let data = data.as_object().unwrap();
        let f: Value = serde_json::from_str(&frame(&uid, "message", 5, data, false)).unwrap();
        assert_eq!(f["type"], "message");
        assert_eq!(f["data"]["type"], "message");
        assert_eq!(f["data"]["channel"]["id"], "c");
        assert_eq!(f["data"].get(PUBLIC_MARK), None);
        assert_eq!(f["timestamp"], 5);
        assert_eq!(f["uid"], uid.as_str());
        // A watcher's copy: the same frame and the mark.
        let mut marked: Value =
            serde_json::from_str(&frame(&uid, "message", 5, data, true)).unwrap();
        assert_eq!(marked["data"][PUBLIC_MARK], true);
        marked["data"].as_object_mut().unwrap().remove(PUBLIC_MARK);
        assert_eq!(marked, f);
        assert_eq!(event_name("member_unbanned"), Some("memberUnbanned"));
        assert_eq!(event_name("user_blocked"), None);
    }
}
