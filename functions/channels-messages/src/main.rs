//! GET /v1.4/api/channels/{channelId}/messages
#[tokio::main]
async fn main() -> Result<(), shared::lambda::Error> {
    shared::lambda::serve_function("channels-messages").await
}
