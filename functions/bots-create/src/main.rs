//! POST /v1.4/api/bots/create
#[tokio::main]
async fn main() -> Result<(), shared::lambda::Error> {
    shared::lambda::serve(shared::handlers::bots::create).await
}
