//! The deployed `bootstrap` of the webhook workers (dispatch from the change stream, delivery
//! from the queue), told which by `TALKPLUS_FUNCTION`. Apart from the routes' binary: only
//! these need the SQS and KMS clients and an HTTP client.
// Under the release profile (fat LTO, opt-level "s") the handlers' futures nest deeper than
// rustc's default query depth of 128: the webhook workers' realtime chunk consumer passed it
// first ("queries overflow the depth limit"); both binaries get the same room. Debug builds
// and clippy never hit it, so `make test` ends with a release build of both.
#![recursion_limit = "256"]
#[tokio::main]
async fn main() -> Result<(), shared::lambda::Error> {
    shared::lambda::serve_webhook_worker(&shared::lambda::configured_function()?).await
}
