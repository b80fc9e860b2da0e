//! The deployed `bootstrap` of every route and the sweeper in template.yaml: one release
//! build serves them all, each told which it is by `TALKPLUS_FUNCTION` (shared::functions).
// Under the release profile (fat LTO, opt-level "s") the handlers' futures nest deeper than
// rustc's default query depth of 128: the webhook workers' realtime chunk consumer passed it
// first ("queries overflow the depth limit"); both binaries get the same room. Debug builds
// and clippy never hit it, so `make test` ends with a release build of both.
#![recursion_limit = "256"]
#[tokio::main]
async fn main() -> Result<(), shared::lambda::Error> {
    shared::lambda::serve_function(&shared::lambda::configured_function()?).await
}
