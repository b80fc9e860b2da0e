//! PUT /v1.4/api/users/{userId}/password
#[tokio::main]
async fn main() -> Result<(), shared::lambda::Error> {
    shared::lambda::serve(shared::handlers::users::password).await
}
