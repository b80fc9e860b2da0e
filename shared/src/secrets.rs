//! API keys, login tokens and passwords: what is generated, and what is stored instead of it.
//!
//! API keys and login tokens are 256 random bits, so a fast hash (SHA-256) is enough to keep
//! them out of the table: nobody can guess a preimage. Passwords are chosen by people, so
//! they get a salted, memory-hard hash (Argon2id); see `PASSWORD_PARAMS` for the cost.

use argon2::password_hash::{PasswordHasher, PasswordVerifier};
use argon2::{Algorithm, Argon2, Params, Version};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// Argon2id cost. OWASP lists equal-strength Argon2id settings from m=19 MiB, t=2 down to
/// m=7 MiB, t=5; this is the last one, the fastest and smallest of them (bench/README.md:
/// about 27 ms on one core here, an estimated 0.38 s on a 128 MB Lambda, against 45 ms and
/// 0.62 s for the first). Measured with `make bench`.
pub const PASSWORD_M_COST_KIB: u32 = 7 * 1024;
pub const PASSWORD_T_COST: u32 = 5;
pub const PASSWORD_P_COST: u32 = 1;

fn argon2(m_cost: u32, t_cost: u32) -> Argon2<'static> {
    // The parameters are compile-time constants inside Argon2's documented ranges.
    let params = Params::new(m_cost, t_cost, PASSWORD_P_COST, None).expect("valid argon2 params");
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

/// Hashes a password into a PHC string (`$argon2id$v=19$m=...,t=...,p=1$salt$hash`), with a
/// fresh random salt. The parameters travel in the string, so they can change later.
pub fn hash_password(password: &str) -> Result<String, crate::Error> {
    hash_password_with(password, PASSWORD_M_COST_KIB, PASSWORD_T_COST)
}

/// `hash_password` with explicit costs, for the benchmark.
pub fn hash_password_with(
    password: &str,
    m_cost: u32,
    t_cost: u32,
) -> Result<String, crate::Error> {
    argon2(m_cost, t_cost)
        .hash_password(password.as_bytes())
        .map(|h| h.to_string())
        .map_err(|e| crate::Error::Internal(format!("password hashing failed: {e}")))
}

/// The hash of a password no user has, at the current costs. A login of an unknown user is
/// verified against it, so it takes as long as a login with a wrong password: the answer's
/// timing does not tell which users exist. (Kept in step with the costs by a test.)
pub const UNKNOWN_USER_HASH: &str = "$argon2id$v=19$m=7168,t=5,p=1$RoL+udouD7yUQcmS4IfMNQ$ajZFL5ymjbnp1XH590AU/r1Sx2nad9jbwybQKxToxuk";

pub fn verify_password(password: &str, phc: &str) -> bool {
    // Costs come from the PHC string, not from the instance.
    argon2(PASSWORD_M_COST_KIB, PASSWORD_T_COST)
        .verify_password(password.as_bytes(), phc)
        .is_ok()
}

/// `n` random bytes as lowercase hex, from the OS generator.
pub fn random_hex(n: usize) -> String {
    let mut bytes = vec![0u8; n];
    getrandom::fill(&mut bytes).expect("the OS random number generator is available");
    hex(&bytes)
}

/// A new API key or login token: 32 random bytes, 64 hex characters.
pub fn new_secret() -> String {
    random_hex(32)
}

/// A new app id in the UUID v4 text form TalkPlus uses for app ids.
pub fn new_app_id() -> String {
    let mut b = [0u8; 16];
    getrandom::fill(&mut b).expect("the OS random number generator is available");
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let h = hex(&b);
    format!(
        "{}-{}-{}-{}-{}",
        &h[..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..]
    )
}

/// What is stored for an API key or a login token.
pub fn secret_digest(secret: &str) -> String {
    hex(&Sha256::digest(secret.as_bytes()))
}

/// Compares a presented secret with a stored digest in time independent of where they differ.
pub fn digest_matches(secret: &str, stored_digest: &str) -> bool {
    secret_digest(secret)
        .as_bytes()
        .ct_eq(stored_digest.as_bytes())
        .into()
}

/// Lowercase hex of `bytes`.
pub fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    bytes
        .iter()
        .fold(String::with_capacity(bytes.len() * 2), |mut s, b| {
            let _ = write!(s, "{b:02x}");
            s
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn password_hash_is_salted_argon2id_and_verifies() {
        let a = hash_password("correct horse").unwrap();
        let b = hash_password("correct horse").unwrap();
        assert!(a.starts_with("$argon2id$v=19$m=7168,t=5,p=1$"), "{a}");
        assert_ne!(a, b, "each hash has its own salt");
        assert!(!a.contains("correct horse"));
        assert!(verify_password("correct horse", &a));
        assert!(!verify_password("correct horsE", &a));
        assert!(!verify_password("correct horse", "not a phc string"));
    }

    #[test]
    fn secrets_are_random_hex_and_stored_as_digest() {
        let k1 = new_secret();
        let k2 = new_secret();
        assert_eq!(k1.len(), 64);
        assert!(k1.bytes().all(|b| b.is_ascii_hexdigit()));
        assert_ne!(k1, k2);
        let d = secret_digest(&k1);
        assert_ne!(d, k1);
        assert!(digest_matches(&k1, &d));
        assert!(!digest_matches(&k2, &d));
        assert!(!digest_matches(&k1, ""));
    }

    #[test]
    fn sha256_digest_is_the_standard_one() {
        assert_eq!(
            secret_digest("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[test]
    fn app_ids_look_like_uuid_v4() {
        let id = new_app_id();
        assert_eq!(id.len(), 36);
        assert_eq!(&id[14..15], "4");
        assert!(crate::validate::is_uri_safe(&id));
        assert_ne!(id, new_app_id());
    }

    #[test]
    fn the_unknown_user_hash_costs_what_a_real_one_costs() {
        let real = hash_password("x").unwrap();
        let params = |phc: &str| phc.split('$').nth(3).unwrap().to_owned();
        assert_eq!(params(UNKNOWN_USER_HASH), params(&real));
        assert!(verify_password("talkplus-unknown-user", UNKNOWN_USER_HASH));
        assert!(!verify_password("x", UNKNOWN_USER_HASH));
    }
}
