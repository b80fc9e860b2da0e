//! DELETE /v1.4/channels/{channelId}/messages/{messageId}/reactions[/{reaction}] (client API)
#[tokio::main]
async fn main() -> Result<(), shared::lambda::Error> {
    shared::lambda::serve_function("channels-messages-unreact").await
}
