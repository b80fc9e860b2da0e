//! POST /v1.4/api/bots/{botId}/channels/{channelId}/leave
#[tokio::main]
async fn main() -> Result<(), shared::lambda::Error> {
    shared::lambda::serve_function("bots-leave").await
}
