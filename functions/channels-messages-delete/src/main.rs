//! DELETE /v1.4/api/channels/{channelId}/messages/{messageId}
#[tokio::main]
async fn main() -> Result<(), shared::lambda::Error> {
    shared::lambda::serve_function("channels-messages-delete").await
}
