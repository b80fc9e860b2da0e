//! POST /v1.4/api/channels/{channelId}/messages/send
#[tokio::main]
async fn main() -> Result<(), shared::lambda::Error> {
    shared::lambda::serve_function("channels-messages-send").await
}
