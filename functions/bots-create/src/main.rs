//! POST /v1.4/api/bots/create
#[tokio::main]
async fn main() -> Result<(), shared::lambda::Error> {
    shared::lambda::serve_function("bots-create").await
}
