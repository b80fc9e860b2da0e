//! GET /v1.4/api/channels/{channelId}/message/{messageId}
#[tokio::main]
async fn main() -> Result<(), shared::lambda::Error> {
    shared::lambda::serve_function("channels-message-get").await
}
