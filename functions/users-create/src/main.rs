//! POST /v1.4/api/users/create
#[tokio::main]
async fn main() -> Result<(), shared::lambda::Error> {
    shared::lambda::serve_function("users-create").await
}
