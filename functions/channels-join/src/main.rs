//! POST /v1.4/channels/{channelId}/join and /join/invitation (client API)
#[tokio::main]
async fn main() -> Result<(), shared::lambda::Error> {
    shared::lambda::serve_function("channels-join").await
}
