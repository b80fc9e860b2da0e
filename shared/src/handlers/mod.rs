//! HTTP adapters, one per endpoint: read the request, call the domain, shape the response.
//! Each function crate serves exactly one of these.

pub mod bots;
pub mod channels;
pub mod client;
pub mod member_state;
pub mod members;
pub mod messages;
pub mod sweeper;
pub mod users;
