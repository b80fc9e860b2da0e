//! POST /v1.4/api/channels/{channelId}/unfreeze
#[tokio::main]
async fn main() -> Result<(), shared::lambda::Error> {
    shared::lambda::serve(shared::handlers::channels::unfreeze).await
}
