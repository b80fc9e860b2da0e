//! PUT /v1.4/api/channels/{channelId}
#[tokio::main]
async fn main() -> Result<(), shared::lambda::Error> {
    shared::lambda::serve_function("channels-update").await
}
