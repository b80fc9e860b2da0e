//! POST /v1.4/api/channels/{channelId}/members/unmute
#[tokio::main]
async fn main() -> Result<(), shared::lambda::Error> {
    shared::lambda::serve(shared::handlers::members::unmute).await
}
