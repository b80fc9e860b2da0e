//! The models crate every function uses: domain types, validation, error codes, auth, the
//! DynamoDB store, and the handler for each endpoint.

pub mod auth;
pub mod config;
pub mod domain;
pub mod error;
pub mod files;
pub mod functions;
pub mod handlers;
pub mod http;
pub mod lambda;
pub mod model;
pub mod openapi;
pub mod ratelimit;
pub mod realtime;
pub mod seal;
pub mod secrets;
pub mod session;
pub mod store;
pub mod validate;
pub mod webhooks;
pub mod wire;

pub use error::Error;
