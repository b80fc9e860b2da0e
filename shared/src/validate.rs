//! Input rules from CONTRACT.md ("Identifiers", field limits). Lengths count characters, not bytes.

use std::collections::BTreeMap;

use serde_json::Value;

use crate::Error;

/// User and bot ids: 1..=68 URI-safe characters (TalkPlus docs).
pub const MAX_USER_ID_CHARS: usize = 68;
pub const MAX_USERNAME_CHARS: usize = 128;
pub const MAX_URL_CHARS: usize = 2048;
/// Only to bound hashing cost: argon2 reads the whole password.
pub const MAX_PASSWORD_CHARS: usize = 1024;
/// `data` maps on users and channels.
pub const MAX_DATA_PAIRS: usize = 5;
pub const MAX_DATA_KEY_CHARS: usize = 128;
pub const MAX_DATA_VALUE_CHARS: usize = 1024;

/// Letters, digits and `-` `_` `.` `~`: the unreserved set of RFC 3986. Keys use `#` as a
/// separator, so an id can never reach into another item's key.
pub fn is_uri_safe(s: &str) -> bool {
    s.bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~'))
}

/// Checks an id field (user id, bot id, channel id) against the charset and a length bound.
pub fn id(field: &str, value: &str, max_chars: usize) -> Result<(), Error> {
    if value.is_empty() {
        return Err(Error::InvalidParam(format!("{field} must not be empty")));
    }
    if value.len() > max_chars {
        return Err(Error::InvalidParam(format!(
            "{field} must be at most {max_chars} characters"
        )));
    }
    if !is_uri_safe(value) {
        return Err(Error::InvalidParam(format!(
            "{field} may contain only letters, digits, '-', '_', '.' and '~'"
        )));
    }
    // URL clients remove dot segments (RFC 3986 5.2.4), so such an id could never be
    // addressed in a path like /users/{userId}.
    if value == "." || value == ".." {
        return Err(Error::InvalidParam(format!("{field} must not be . or ..")));
    }
    Ok(())
}

pub fn max_chars(field: &str, value: &str, max: usize) -> Result<(), Error> {
    // Byte length bounds the char count from above, so most values skip the count.
    if value.len() > max && value.chars().count() > max {
        return Err(Error::InvalidParam(format!(
            "{field} must be at most {max} characters"
        )));
    }
    Ok(())
}

/// A `data` field: an object of at most 5 string pairs, key <= 128 and value <= 1024
/// characters. Anything else is `1011` InvalidMetaData.
pub fn data_map(field: &str, value: &Value) -> Result<BTreeMap<String, String>, Error> {
    data_map_of(field, value, MAX_DATA_PAIRS)
}

/// `data_map` with room for `max_pairs` pairs (messages take 10).
pub fn data_map_of(
    field: &str,
    value: &Value,
    max_pairs: usize,
) -> Result<BTreeMap<String, String>, Error> {
    let bad = |why: String| Error::InvalidMetaData(format!("{field}: {why}"));
    let Value::Object(map) = value else {
        return Err(bad("must be an object of string values".into()));
    };
    if map.len() > max_pairs {
        return Err(bad(format!("at most {max_pairs} key-value pairs")));
    }
    map.iter()
        .map(|(k, v)| {
            let Value::String(v) = v else {
                return Err(bad(format!("value of {k:?} must be a string")));
            };
            // DynamoDB refuses an empty attribute name, and the map is stored as one.
            if k.is_empty() {
                return Err(bad("keys must not be empty".into()));
            }
            if k.chars().count() > MAX_DATA_KEY_CHARS {
                return Err(bad(format!(
                    "keys must be at most {MAX_DATA_KEY_CHARS} characters"
                )));
            }
            if v.chars().count() > MAX_DATA_VALUE_CHARS {
                return Err(bad(format!(
                    "values must be at most {MAX_DATA_VALUE_CHARS} characters"
                )));
            }
            Ok((k.clone(), v.clone()))
        })
        .collect()
}

/// What the URL fields' rules look at in an absolute URL `scheme://authority/...`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UrlParts<'a> {
    /// As written (rules compare it as they need).
    pub scheme: &'a str,
    /// The authority carries credentials (`user:pw@`).
    pub credentials: bool,
    /// Without port and IPv6 brackets; never empty.
    pub host: &'a str,
}

/// Splits an absolute URL; `None` if it has whitespace or control characters, no `://`, or
/// no host.
pub fn url_parts(url: &str) -> Option<UrlParts<'_>> {
    if url.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return None;
    }
    let (scheme, rest) = url.split_once("://")?;
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    let (credentials, host_port) = match authority.rsplit_once('@') {
        Some((_, host_port)) => (true, host_port),
        None => (false, authority),
    };
    let host = match host_port.strip_prefix('[') {
        Some(bracketed) => bracketed.split(']').next().unwrap_or_default(),
        None => host_port.split(':').next().unwrap_or_default(),
    };
    (!scheme.is_empty() && !host.is_empty()).then_some(UrlParts {
        scheme,
        credentials,
        host,
    })
}

/// A host that is this machine: `localhost` or a loopback address (IPv6 in brackets or not).
pub fn is_loopback_host(host: &str) -> bool {
    let host = host.trim_start_matches('[').trim_end_matches(']');
    host.eq_ignore_ascii_case("localhost")
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// Where callbacks may go (a bot's `callbackUrl`, an app's webhook): an absolute `https` URL,
/// or `http` to a loopback host for local development; never with credentials, which would
/// be sent to whoever the host is.
pub fn is_callback_url(url: &str) -> bool {
    let Some(p) = url_parts(url) else {
        return false;
    };
    !p.credentials && (p.scheme == "https" || (p.scheme == "http" && is_loopback_host(p.host)))
}

/// A required field: absent and `null` are both `1002`.
pub fn required<T>(field: &'static str, value: Option<T>) -> Result<T, Error> {
    value.ok_or(Error::MissingParam(field))
}

/// The `limit` query parameter of list endpoints: absent is the default; anything but an
/// integer in range (an empty `limit=` included) is `1001`.
pub fn limit(raw: Option<&str>, default: usize, max: usize) -> Result<usize, Error> {
    match raw {
        None => Ok(default),
        Some(s) => match s.parse::<usize>() {
            Ok(n) if (1..=max).contains(&n) => Ok(n),
            _ => Err(Error::InvalidParam(format!(
                "limit must be an integer from 1 to {max}"
            ))),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn loopback_hosts_are_this_machine_only() {
        for host in [
            "localhost",
            "LOCALHOST",
            "127.0.0.1",
            "127.0.0.2",
            "::1",
            "[::1]",
        ] {
            assert!(is_loopback_host(host), "{host}");
        }
        for host in [
            "example.com",
            "localhost.evil.com",
            "127.0.0.1.nip.io",
            "10.0.0.1",
            "",
        ] {
            assert!(!is_loopback_host(host), "{host}");
        }
    }

    #[test]
    fn ids_follow_the_uri_safe_rule_and_length() {
        assert!(id("userId", "a-b_c.d~E9", 68).is_ok());
        assert!(id("userId", &"x".repeat(68), 68).is_ok());
        for bad in [
            "", "a b", "a#b", "a/b", "é", "a%20", ".", "..", "a\u{0}", "a\n",
        ] {
            assert!(
                matches!(id("userId", bad, 68), Err(Error::InvalidParam(_))),
                "{bad:?}"
            );
        }
        assert!(id("userId", &"x".repeat(69), 68).is_err());
    }

    #[test]
    fn max_chars_counts_characters_not_bytes() {
        let korean = "가".repeat(128); // 384 bytes
        assert!(max_chars("username", &korean, 128).is_ok());
        assert!(max_chars("username", &format!("{korean}x"), 128).is_err());
    }

    #[test]
    fn data_rules_give_1011() {
        let ok = json!({"a": "1", "b": "2", "c": "3", "d": "4", "e": "5"});
        assert_eq!(data_map("data", &ok).unwrap().len(), 5);
        let cases = [
            json!({"a": "1", "b": "2", "c": "3", "d": "4", "e": "5", "f": "6"}),
            json!({"a": 1}),
            json!({"a": null}),
            json!({"a": {"b": "c"}}),
            json!(["a"]),
            json!("a"),
            json!({ "k".repeat(129): "v" }),
            json!({"k": "v".repeat(1025)}),
            json!({"": "x"}),
        ];
        for case in cases {
            let err = data_map("data", &case).unwrap_err();
            assert_eq!(err.spec().code, "1011", "{case}");
        }
        assert!(data_map("data", &json!({ "k".repeat(128): "v".repeat(1024) })).is_ok());
    }

    #[test]
    fn url_parts_find_the_host() {
        fn host(u: &str) -> Option<(&str, bool, &str)> {
            url_parts(u).map(|p| (p.scheme, p.credentials, p.host))
        }
        assert_eq!(
            host("https://a.b:8443/x?y#z"),
            Some(("https", false, "a.b"))
        );
        assert_eq!(host("HTTP://[::1]:80/"), Some(("HTTP", false, "::1")));
        assert_eq!(host("https://u:pw@h/"), Some(("https", true, "h")));
        for bad in [
            "https://",
            "https:///p",
            "https://u@",
            "https://:80",
            "/p",
            "h/p",
            "https://a b",
        ] {
            assert_eq!(host(bad), None, "{bad}");
        }
    }

    #[test]
    fn limit_defaults_and_bounds() {
        assert_eq!(limit(None, 50, 100).unwrap(), 50);
        assert_eq!(limit(Some("100"), 50, 100).unwrap(), 100);
        for bad in ["0", "101", "-1", "ten", "1.5", "", " 5"] {
            assert!(limit(Some(bad), 50, 100).is_err(), "{bad}");
        }
    }
}

#[cfg(test)]
mod properties {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn id_accepts_exactly_the_documented_set(s in "\\PC{0,80}|[A-Za-z0-9._~-]{0,80}") {
            let expected = !s.is_empty()
                && s.len() <= MAX_USER_ID_CHARS
                && s.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_.~".contains(&b))
                && s != "." && s != "..";
            match id("userId", &s, MAX_USER_ID_CHARS) {
                Ok(()) => prop_assert!(expected, "accepted {s:?}"),
                Err(e) => {
                    prop_assert!(!expected, "refused {s:?}");
                    prop_assert_eq!(e.spec().code, "1001");
                }
            }
        }

        #[test]
        fn data_map_keeps_valid_maps_and_refuses_the_rest(
            pairs in proptest::collection::btree_map("\\PC{0,130}", "\\PC{0,20}", 0..8)
        ) {
            let value = serde_json::to_value(&pairs).unwrap();
            let valid = pairs.len() <= MAX_DATA_PAIRS
                && pairs.keys().all(|k| !k.is_empty() && k.chars().count() <= MAX_DATA_KEY_CHARS);
            match data_map("data", &value) {
                Ok(map) => {
                    prop_assert!(valid);
                    prop_assert_eq!(map, pairs);
                }
                Err(e) => {
                    prop_assert!(!valid);
                    prop_assert_eq!(e.spec().code, "1011");
                }
            }
        }

        #[test]
        fn limit_is_default_in_range_or_1001(raw in proptest::option::of("\\PC{0,6}|[0-9]{1,4}")) {
            match limit(raw.as_deref(), 20, 50) {
                Ok(n) => prop_assert!((1..=50).contains(&n)),
                Err(e) => prop_assert_eq!(e.spec().code, "1001"),
            }
        }
    }
}
