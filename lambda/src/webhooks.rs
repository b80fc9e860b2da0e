//! The deployed `bootstrap` of the webhook workers (dispatch from the change stream, delivery
//! from the queue), told which by `TALKPLUS_FUNCTION`. Apart from the routes' binary: only
//! these need the SQS and KMS clients and an HTTP client.
#[tokio::main]
async fn main() -> Result<(), shared::lambda::Error> {
    shared::lambda::serve_webhook_worker(&shared::lambda::configured_function()?).await
}
