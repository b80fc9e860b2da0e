//! POST /v1.4/api/bots/{botId}/channels/{channelId}/join
#[tokio::main]
async fn main() -> Result<(), shared::lambda::Error> {
    shared::lambda::serve_function("bots-join").await
}
