//! Session tokens of the client API: JWTs (HS256) naming app, user and session, checked
//! without a read of the table (see docs/design.md, "Sessions").
//!
//! The HMAC key is derived from the app's API key (`session_key`), which the table keeps
//! sealed (`crate::seal`, as for webhook signing) and a warm function opens once. Whoever
//! holds the API key can already act as any user through the admin API, so deriving from it
//! gives nothing away, and rotating the key (`talkplus-admin rotate-key`) ends every
//! session of the app.
//!
//! Hand-written rather than a JWT crate: one algorithm, fixed header, four claims; the
//! crates that do JWT bring RSA and ECDSA backends for a 60-line HMAC check.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;

use crate::Error;

type HmacSha256 = Hmac<Sha256>;

/// How long a session lasts unless `SESSION_DAYS` says otherwise. The Unity and iOS SDKs skip
/// the login while `exp` is more than 7 days away, so a session must outlast 7 days.
pub const DEFAULT_SESSION_DAYS: i64 = 30;
pub const SESSION_DAYS_VAR: &str = "SESSION_DAYS";
/// Tokens longer than this are not read (a JWT of ours is ~300 bytes).
const MAX_TOKEN_LEN: usize = 2048;
/// `{"alg":"HS256","typ":"JWT"}`: the one header we issue and accept.
const HEADER: &str = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9";

/// What a session token says.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claims {
    /// The app.
    pub app: String,
    /// The user.
    pub sub: String,
    /// The session (its item in the user's partition).
    pub sid: String,
    /// Issued and expiry, Unix seconds.
    pub iat: i64,
    pub exp: i64,
    /// The device the session was opened on (its `deviceId`, else the session id): where
    /// `users/register/fcm` files the device's push token.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub did: String,
}

/// Session lifetime in seconds: `SESSION_DAYS` (1..=365) or 30 days.
pub fn lifetime_seconds() -> i64 {
    std::env::var(SESSION_DAYS_VAR)
        .ok()
        .and_then(|v| v.parse::<i64>().ok())
        .filter(|d| (1..=365).contains(d))
        .unwrap_or(DEFAULT_SESSION_DAYS)
        * 86_400
}

/// The HMAC key of an app's sessions, from its API key.
pub fn session_key(api_key: &str) -> [u8; 32] {
    let mut mac = <HmacSha256 as Mac>::new_from_slice(api_key.as_bytes())
        .expect("HMAC takes keys of any length");
    mac.update(b"talkplus-session-v1");
    mac.finalize().into_bytes().into()
}

fn mac(key: &[u8; 32], signed: &str) -> HmacSha256 {
    let mut mac = <HmacSha256 as Mac>::new_from_slice(key).expect("HMAC takes keys of any length");
    mac.update(signed.as_bytes());
    mac
}

/// The token for `claims`.
pub fn issue(key: &[u8; 32], claims: &Claims) -> String {
    let payload = URL_SAFE_NO_PAD.encode(serde_json::to_vec(claims).unwrap_or_default());
    let signed = format!("{HEADER}.{payload}");
    let signature = URL_SAFE_NO_PAD.encode(mac(key, &signed).finalize().into_bytes());
    format!("{signed}.{signature}")
}

/// The claims of `token` if `key` signed it and it has not expired at `now_s`.
pub fn verify(key: &[u8; 32], token: &str, now_s: i64) -> Result<Claims, Error> {
    let claims = read_unverified(token)?;
    let (signed, signature) = token
        .rsplit_once('.')
        .ok_or(Error::SessionTokenInvalid("not a JWT"))?;
    let signature = URL_SAFE_NO_PAD
        .decode(signature)
        .map_err(|_| Error::SessionTokenInvalid("not a JWT"))?;
    mac(key, signed)
        .verify_slice(&signature)
        .map_err(|_| Error::SessionTokenInvalid("the signature does not match"))?;
    if claims.exp <= now_s {
        return Err(Error::SessionTokenInvalid("the session has expired"));
    }
    Ok(claims)
}

/// The claims of a well-formed token, before its signature is checked (to find the key).
pub fn read_unverified(token: &str) -> Result<Claims, Error> {
    let bad = || Error::SessionTokenInvalid("not a session token of this server");
    if token.len() > MAX_TOKEN_LEN {
        return Err(bad());
    }
    let mut parts = token.split('.');
    let (Some(header), Some(payload), Some(_), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(bad());
    };
    if header != HEADER {
        return Err(bad());
    }
    let payload = URL_SAFE_NO_PAD.decode(payload).map_err(|_| bad())?;
    serde_json::from_slice(&payload).map_err(|_| bad())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn claims(exp: i64) -> Claims {
        Claims {
            app: "app".into(),
            sub: "alice".into(),
            sid: "s1".into(),
            iat: 100,
            exp,
            did: "device-1".into(),
        }
    }

    #[test]
    fn header_constant_is_the_encoded_header() {
        assert_eq!(
            URL_SAFE_NO_PAD.encode(br#"{"alg":"HS256","typ":"JWT"}"#),
            HEADER
        );
    }

    #[test]
    fn issued_tokens_verify_until_they_expire() {
        let key = session_key("api-key");
        let token = issue(&key, &claims(1_000));
        assert_eq!(token.split('.').count(), 3);
        assert_eq!(verify(&key, &token, 999).unwrap(), claims(1_000));
        assert!(matches!(
            verify(&key, &token, 1_000),
            Err(Error::SessionTokenInvalid(_))
        ));
    }

    #[test]
    fn another_key_or_a_changed_payload_does_not_verify() {
        let key = session_key("api-key");
        let token = issue(&key, &claims(1_000));
        assert!(verify(&session_key("other-key"), &token, 1).is_err());
        let forged = issue(&session_key("other"), &claims(1_000));
        assert!(verify(&key, &forged, 1).is_err());
        // Same signature, payload naming another user.
        let parts: Vec<&str> = token.split('.').collect();
        let mut other = claims(1_000);
        other.sub = "mallory".into();
        let payload = URL_SAFE_NO_PAD.encode(serde_json::to_vec(&other).unwrap());
        let tampered = format!("{}.{payload}.{}", parts[0], parts[2]);
        assert!(verify(&key, &tampered, 1).is_err());
        // alg "none" and other headers are refused before any signature check.
        let none = format!(
            "{}.{}.",
            URL_SAFE_NO_PAD.encode(br#"{"alg":"none","typ":"JWT"}"#),
            parts[1]
        );
        assert!(verify(&key, &none, 1).is_err());
        for junk in ["", "a.b", "a.b.c.d", &"x".repeat(3000)] {
            assert!(verify(&key, junk, 1).is_err(), "{junk}");
        }
    }
}
