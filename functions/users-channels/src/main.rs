//! GET /v1.4/api/users/{userId}/channels
#[tokio::main]
async fn main() -> Result<(), shared::lambda::Error> {
    shared::lambda::serve_function("users-channels").await
}
