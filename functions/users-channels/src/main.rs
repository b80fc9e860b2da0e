//! GET /v1.4/api/users/{userId}/channels
#[tokio::main]
async fn main() -> Result<(), shared::lambda::Error> {
    shared::lambda::serve(shared::handlers::channels::user_channels).await
}
