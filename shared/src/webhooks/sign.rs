//! The signatures on each delivery, both keyed with the app's API key:
//! - TalkPlus's `x-talkplus-signature`: base64 (standard alphabet) of HMAC-SHA256 over the raw
//!   body, so receivers written for TalkPlus verify our deliveries unchanged;
//! - Standard Webhooks' `webhook-signature`: `v1,` + base64 of HMAC-SHA256 over
//!   `{webhook-id}.{webhook-timestamp}.{body}`, the key's raw bytes as the secret.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, Mac};
use sha2::Sha256;

fn hmac_b64(key: &str, parts: &[&[u8]]) -> String {
    // HMAC takes a key of any length.
    let mut mac = Hmac::<Sha256>::new_from_slice(key.as_bytes()).expect("HMAC accepts any key");
    for p in parts {
        mac.update(p);
    }
    STANDARD.encode(mac.finalize().into_bytes())
}

pub fn talkplus_signature(api_key: &str, body: &[u8]) -> String {
    hmac_b64(api_key, &[body])
}

pub fn standard_signature(api_key: &str, id: &str, timestamp_s: i64, body: &[u8]) -> String {
    let ts = timestamp_s.to_string();
    format!(
        "v1,{}",
        hmac_b64(api_key, &[id.as_bytes(), b".", ts.as_bytes(), b".", body])
    )
}

/// The headers of one attempt (besides `content-type`).
pub fn headers(
    api_key: &str,
    id: &str,
    timestamp_s: i64,
    body: &[u8],
) -> Vec<(&'static str, String)> {
    vec![
        ("user-agent", "TalkPlus".to_owned()),
        ("x-talkplus-signature", talkplus_signature(api_key, body)),
        ("webhook-id", id.to_owned()),
        ("webhook-timestamp", timestamp_s.to_string()),
        (
            "webhook-signature",
            standard_signature(api_key, id, timestamp_s, body),
        ),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn talkplus_signature_is_base64_hmac_sha256_of_the_body() {
        // RFC 4231 test case 2: key "Jefe", data "what do ya want for nothing?".
        assert_eq!(
            talkplus_signature("Jefe", b"what do ya want for nothing?"),
            "W9zBRr9gdU5qBCQmCJV1x1oAPwidJzmDnexYuWTsOEM="
        );
    }

    #[test]
    fn standard_signature_covers_id_timestamp_and_body() {
        let sig = standard_signature("Jefe", "msg_1", 1_700_000_000, b"{}");
        assert_eq!(
            sig,
            format!("v1,{}", talkplus_signature("Jefe", b"msg_1.1700000000.{}"))
        );
        assert_ne!(
            sig,
            standard_signature("Jefe", "msg_2", 1_700_000_000, b"{}")
        );
        assert_ne!(
            sig,
            standard_signature("Jefe", "msg_1", 1_700_000_001, b"{}")
        );
        let h = headers("Jefe", "msg_1", 1_700_000_000, b"{}");
        assert!(h.contains(&("user-agent", "TalkPlus".to_owned())));
        assert!(h.contains(&("webhook-signature", sig)));
    }
}
