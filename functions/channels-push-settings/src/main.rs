//! POST /v1.4/api/channels/{channelId}/push/settings and GET/POST the client path
#[tokio::main]
async fn main() -> Result<(), shared::lambda::Error> {
    shared::lambda::serve_function("channels-push-settings").await
}
