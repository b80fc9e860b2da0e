//! GET /v1.4/notifications/{notificationId} (client API): a push notification's link
#[tokio::main]
async fn main() -> Result<(), shared::lambda::Error> {
    shared::lambda::serve_function("notifications-get").await
}
