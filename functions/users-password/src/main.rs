//! PUT /v1.4/api/users/{userId}/password
#[tokio::main]
async fn main() -> Result<(), shared::lambda::Error> {
    shared::lambda::serve_function("users-password").await
}
