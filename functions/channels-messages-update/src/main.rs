//! PUT /v1.4/channels/{channelId}/messages/{messageId} (client API)
#[tokio::main]
async fn main() -> Result<(), shared::lambda::Error> {
    shared::lambda::serve_function("channels-messages-update").await
}
