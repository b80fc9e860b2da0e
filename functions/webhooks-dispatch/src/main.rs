//! The table's change stream: each change's webhook and bot deliveries onto the delivery queue (shared::webhooks).
#[tokio::main]
async fn main() -> Result<(), shared::lambda::Error> {
    shared::lambda::serve_webhook_worker("webhooks-dispatch").await
}
