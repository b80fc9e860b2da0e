//! POST /v1.4/api/channels/{channelId}/show and /v1.4/channels/{channelId}/show
#[tokio::main]
async fn main() -> Result<(), shared::lambda::Error> {
    shared::lambda::serve_function("channels-show").await
}
