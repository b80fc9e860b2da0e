//! POST /v1.4/api/bots/{botId}/channels/{channelId}/send
#[tokio::main]
async fn main() -> Result<(), shared::lambda::Error> {
    shared::lambda::serve_function("bots-send").await
}
