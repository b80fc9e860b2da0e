//! POST /v1.4/api/users/login
#[tokio::main]
async fn main() -> Result<(), shared::lambda::Error> {
    shared::lambda::serve_function("users-login").await
}
