//! Domain logic: plain functions over typed requests and the store.

pub mod bots;
pub mod channels;
pub mod cleanup;
pub mod message_changes;
pub mod messages;
pub mod users;

/// Who asks for an operation: the app's server (the admin API, which may do anything) or a
/// user's session (the client API, held to the client rules of client-protocol.md §3).
/// One domain function serves both; its write checks a user's permission again, so a
/// permission lost meanwhile (an ownership transfer, a removal) refuses the write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Actor<'a> {
    Admin,
    User(&'a str),
}
