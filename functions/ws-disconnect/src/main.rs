//! The WebSocket API's $disconnect: forgets the connection (shared::realtime::gateway).
#[tokio::main]
async fn main() -> Result<(), shared::lambda::Error> {
    shared::lambda::serve_webhook_worker("ws-disconnect").await
}
