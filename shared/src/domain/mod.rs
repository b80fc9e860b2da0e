//! Domain logic: plain functions over typed requests and the store.

pub mod channels;
pub mod users;
