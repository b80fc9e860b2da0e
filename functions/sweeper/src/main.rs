//! The table's change stream: sweeps the items of deleted channels and users (shared::handlers::sweeper).
#[tokio::main]
async fn main() -> Result<(), shared::lambda::Error> {
    shared::lambda::serve_function("sweeper").await
}
