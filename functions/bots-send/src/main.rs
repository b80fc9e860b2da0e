//! POST /v1.4/api/bots/{botId}/channels/{channelId}/send
#[tokio::main]
async fn main() -> Result<(), shared::lambda::Error> {
    shared::lambda::serve(shared::handlers::messages::bot_send).await
}
