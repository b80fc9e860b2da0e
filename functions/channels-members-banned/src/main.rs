//! GET /v1.4/api/channels/{channelId}/members/banned
#[tokio::main]
async fn main() -> Result<(), shared::lambda::Error> {
    shared::lambda::serve_function("channels-members-banned").await
}
