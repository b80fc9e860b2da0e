//! POST /v1.4/channels/{channelId}/memberInfo (client API)
#[tokio::main]
async fn main() -> Result<(), shared::lambda::Error> {
    shared::lambda::serve_function("channels-member-info").await
}
