//! POST /v1.4/users/login/anonymous (client API)
#[tokio::main]
async fn main() -> Result<(), shared::lambda::Error> {
    shared::lambda::serve_function("users-login-anonymous").await
}
