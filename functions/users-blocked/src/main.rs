//! GET /v1.4/api/users/{userId}/blocked
#[tokio::main]
async fn main() -> Result<(), shared::lambda::Error> {
    shared::lambda::serve_function("users-blocked").await
}
