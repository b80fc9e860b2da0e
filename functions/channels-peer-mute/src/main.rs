//! POST /v1.4/channels/{channelId}/peer/mute and /peer/unmute (client API)
#[tokio::main]
async fn main() -> Result<(), shared::lambda::Error> {
    shared::lambda::serve_function("channels-peer-mute").await
}
