//! Domain logic: plain functions over typed requests and the store.

pub mod bots;
pub mod channels;
pub mod cleanup;
pub mod messages;
pub mod users;
