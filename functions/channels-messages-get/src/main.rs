//! GET /v1.4/api/channels/{channelId}/messages/{messageId}
#[tokio::main]
async fn main() -> Result<(), shared::lambda::Error> {
    shared::lambda::serve(shared::handlers::messages::get).await
}
