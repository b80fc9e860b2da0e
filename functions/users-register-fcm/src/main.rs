//! POST /v1.4/api/users/{userId}/register/fcm
#[tokio::main]
async fn main() -> Result<(), shared::lambda::Error> {
    shared::lambda::serve(shared::handlers::users::register_fcm).await
}
