//! POST /v1.4/api/channels/{channelId}/hide and /v1.4/channels/{channelId}/hide
#[tokio::main]
async fn main() -> Result<(), shared::lambda::Error> {
    shared::lambda::serve_function("channels-hide").await
}
