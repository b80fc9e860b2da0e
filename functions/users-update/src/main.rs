//! PUT /v1.4/api/users/{userId}
#[tokio::main]
async fn main() -> Result<(), shared::lambda::Error> {
    shared::lambda::serve_function("users-update").await
}
