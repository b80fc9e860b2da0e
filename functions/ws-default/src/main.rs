//! The WebSocket API's $default: the first frame authenticates the connection and replays missed events (shared::realtime::gateway).
#[tokio::main]
async fn main() -> Result<(), shared::lambda::Error> {
    shared::lambda::serve_webhook_worker("ws-default").await
}
