//! GET /v1.4/channels/unread/count (client API)
#[tokio::main]
async fn main() -> Result<(), shared::lambda::Error> {
    shared::lambda::serve_function("channels-unread-count").await
}
