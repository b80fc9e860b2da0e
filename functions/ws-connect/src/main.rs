//! The WebSocket API's $connect: keeps the connection until its first frame authenticates it (shared::realtime::gateway).
#[tokio::main]
async fn main() -> Result<(), shared::lambda::Error> {
    shared::lambda::serve_webhook_worker("ws-connect").await
}
