//! GET /v1.4/api/channels/{channelId}/members/muted
#[tokio::main]
async fn main() -> Result<(), shared::lambda::Error> {
    shared::lambda::serve_function("channels-members-muted").await
}
