//! POST /v1.4/api/users/{userId}/unblock
#[tokio::main]
async fn main() -> Result<(), shared::lambda::Error> {
    shared::lambda::serve_function("users-unblock").await
}
