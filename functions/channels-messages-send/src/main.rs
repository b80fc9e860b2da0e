//! POST /v1.4/api/channels/{channelId}/messages/send
#[tokio::main]
async fn main() -> Result<(), shared::lambda::Error> {
    shared::lambda::serve(shared::handlers::messages::send).await
}
