//! POST /v1.4/api/users/{userId}/activate
#[tokio::main]
async fn main() -> Result<(), shared::lambda::Error> {
    shared::lambda::serve_function("users-activate").await
}
