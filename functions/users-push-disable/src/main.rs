//! POST /v1.4/api/users/{userId}/push/disable
#[tokio::main]
async fn main() -> Result<(), shared::lambda::Error> {
    shared::lambda::serve_function("users-push-disable").await
}
