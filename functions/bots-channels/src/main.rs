//! GET /v1.4/api/bots/{botId}/channels
#[tokio::main]
async fn main() -> Result<(), shared::lambda::Error> {
    shared::lambda::serve_function("bots-channels").await
}
