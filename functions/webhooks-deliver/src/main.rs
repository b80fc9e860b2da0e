//! The delivery queue: signs and POSTs webhooks and bot callbacks, retries, dead-letters (shared::webhooks).
#[tokio::main]
async fn main() -> Result<(), shared::lambda::Error> {
    shared::lambda::serve_webhook_worker("webhooks-deliver").await
}
