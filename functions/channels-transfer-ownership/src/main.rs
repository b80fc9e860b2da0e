//! POST /v1.4/channels/{channelId}/transfer/ownership (client API)
#[tokio::main]
async fn main() -> Result<(), shared::lambda::Error> {
    shared::lambda::serve_function("channels-transfer-ownership").await
}
