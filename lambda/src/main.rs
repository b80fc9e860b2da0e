//! The deployed `bootstrap` of every route and the sweeper in template.yaml: one release
//! build serves them all, each told which it is by `TALKPLUS_FUNCTION` (shared::functions).
#[tokio::main]
async fn main() -> Result<(), shared::lambda::Error> {
    shared::lambda::serve_function(&shared::lambda::configured_function()?).await
}
