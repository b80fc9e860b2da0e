//! POST /v1.4/api/users/create
#[tokio::main]
async fn main() -> Result<(), shared::lambda::Error> {
    shared::lambda::serve(shared::handlers::users::create).await
}
