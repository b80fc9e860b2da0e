//! HTTP adapters, one per endpoint: read the request, call the domain, shape the response.
//! Each function crate serves exactly one of these.

/// Documents a client route served by a handler the admin API shares.
macro_rules! client_route {
    ($(#[$doc:meta])* $name:ident => $target:path, $method:ident $path:literal, $op:literal,
     ok: ($ok:ty, $ok_text:literal), errors: $errors:literal
     $(, body: $body:ty)? $(, params: ($($param:path),*))?) => {
        $(#[$doc])*
        #[utoipa::path(
            $method,
            path = $path,
            operation_id = $op,
            tag = "client",
            $(request_body = $body,)?
            $(params($($param),*),)?
            responses(
                (status = 200, description = $ok_text, body = $ok),
                (status = 500, description = $errors, body = ErrorBody),
            )
        )]
        pub async fn $name(ctx: Ctx) -> Result<Response<Body>, Error> {
            $target(ctx).await
        }
    };
}

pub mod bots;
pub mod channels;
pub mod client;
pub mod member_state;
pub mod members;
pub mod messages;
pub mod peer_mute;
pub mod sweeper;
pub mod users;
