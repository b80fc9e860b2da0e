//! DELETE /v1.4/api/bots/{botId}
#[tokio::main]
async fn main() -> Result<(), shared::lambda::Error> {
    shared::lambda::serve_function("bots-delete").await
}
