//! POST /v1.4/api/channels/{channelId}/members/ban
#[tokio::main]
async fn main() -> Result<(), shared::lambda::Error> {
    shared::lambda::serve_function("channels-members-ban").await
}
