//! GET /v1.4/api/users/{userId}/blocked
#[tokio::main]
async fn main() -> Result<(), shared::lambda::Error> {
    shared::lambda::serve(shared::handlers::users::blocked).await
}
