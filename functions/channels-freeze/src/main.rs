//! POST /v1.4/api/channels/{channelId}/freeze
#[tokio::main]
async fn main() -> Result<(), shared::lambda::Error> {
    shared::lambda::serve_function("channels-freeze").await
}
