//! GET /v1.4/api/channels/{channelId}/messages
#[tokio::main]
async fn main() -> Result<(), shared::lambda::Error> {
    shared::lambda::serve(shared::handlers::messages::list).await
}
