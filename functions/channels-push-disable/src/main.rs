//! POST /v1.4/api/channels/{channelId}/push/disable and the client path
#[tokio::main]
async fn main() -> Result<(), shared::lambda::Error> {
    shared::lambda::serve_function("channels-push-disable").await
}
