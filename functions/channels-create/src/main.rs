//! POST /v1.4/api/channels/create
#[tokio::main]
async fn main() -> Result<(), shared::lambda::Error> {
    shared::lambda::serve_function("channels-create").await
}
