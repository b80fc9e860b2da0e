//! GET /v1.4/api/channels/{channelId}/message/{messageId}
#[tokio::main]
async fn main() -> Result<(), shared::lambda::Error> {
    shared::lambda::serve(shared::handlers::messages::get_singular).await
}
