//! POST /v1.4/api/users/{userId}/register/fcm
#[tokio::main]
async fn main() -> Result<(), shared::lambda::Error> {
    shared::lambda::serve_function("users-register-fcm").await
}
