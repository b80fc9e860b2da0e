//! POST /v1.4/api/users/{userId}/push/enable
#[tokio::main]
async fn main() -> Result<(), shared::lambda::Error> {
    shared::lambda::serve_function("users-push-enable").await
}
