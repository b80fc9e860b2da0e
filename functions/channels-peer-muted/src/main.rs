//! GET /v1.4/channels/{channelId}/peer/muted (client API)
#[tokio::main]
async fn main() -> Result<(), shared::lambda::Error> {
    shared::lambda::serve_function("channels-peer-muted").await
}
