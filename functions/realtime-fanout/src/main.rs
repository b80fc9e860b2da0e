//! The realtime chunk queue: a super channel's fan-out, page by page, under its send-rate cap (shared::realtime::chunks).
#[tokio::main]
async fn main() -> Result<(), shared::lambda::Error> {
    shared::lambda::serve_webhook_worker("realtime-fanout").await
}
