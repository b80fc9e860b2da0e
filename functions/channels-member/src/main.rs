//! GET /v1.4/api/channels/{channelId}/members/{memberId}
#[tokio::main]
async fn main() -> Result<(), shared::lambda::Error> {
    shared::lambda::serve_function("channels-member").await
}
