//! Every function by name: the table the deployed binary serves from (`lambda/`, one
//! `bootstrap` for all functions, told which one it is by `TALKPLUS_FUNCTION`), the
//! functions/ crates of `make dev` and the tests' `TestApp::call_function`. One build
//! of one binary instead of one per function: see docs/design.md, "One binary for all
//! functions".

use std::future::Future;
use std::pin::Pin;

use lambda_http::{Body, Response};

use crate::Error;
use crate::handlers::{bots, channels, client, member_state, members, messages, peer_mute, users};
use crate::lambda::Ctx;

/// The environment variable that names the function the binary serves (template.yaml
/// sets it on each function).
pub const FUNCTION_VAR: &str = "TALKPLUS_FUNCTION";

/// What a route's handler returns, boxed so that every handler has one type.
pub type Answer = Pin<Box<dyn Future<Output = Result<Response<Body>, Error>> + Send>>;

/// A route's handler.
pub type Handler = fn(Ctx) -> Answer;

/// What a function is.
#[derive(Clone, Copy, Debug)]
pub enum Function {
    /// An HTTP operation: its handler on the admin API, on the client API, or both (one
    /// function serves an operation's routes on both APIs; `lambda::Api` tells them apart).
    Route {
        admin: Option<Handler>,
        client: Option<Handler>,
    },
    /// The change stream's sweeper of deleted channels and users.
    Sweeper,
    /// The change stream's webhook dispatcher.
    WebhooksDispatch,
    /// The webhook delivery queue's consumer.
    WebhooksDeliver,
    /// The realtime chunk queue's consumer: a super channel's fan-out, page by page.
    RealtimeFanout,
    /// A route of the WebSocket API (`$connect`, `$disconnect`, `$default`: one code, the
    /// event names its route; `realtime::gateway`).
    WebSocket,
}

/// The handler of `admin` or `client` a request is for: the client API's when the request
/// came through it (`Ctx::client`).
pub fn pick(admin: Option<Handler>, client: Option<Handler>, ctx: Ctx) -> Answer {
    let handler = if ctx.client.is_some() { client } else { admin };
    match handler {
        Some(handler) => handler(ctx),
        None => Box::pin(async {
            Err(Error::Internal(
                "this function has no handler for the API the request came through".into(),
            ))
        }),
    }
}

macro_rules! route {
    ($name:literal, $admin:path) => {
        (
            $name,
            Function::Route {
                admin: Some(|ctx| Box::pin($admin(ctx))),
                client: None,
            },
        )
    };
    ($name:literal, $admin:path, client: $client:path) => {
        (
            $name,
            Function::Route {
                admin: Some(|ctx| Box::pin($admin(ctx))),
                client: Some(|ctx| Box::pin($client(ctx))),
            },
        )
    };
    ($name:literal, client: $client:path) => {
        (
            $name,
            Function::Route {
                admin: None,
                client: Some(|ctx| Box::pin($client(ctx))),
            },
        )
    };
}

/// Every function, by the name of its crate in functions/ (the layout test keeps the two
/// in agreement).
pub const FUNCTIONS: &[(&str, Function)] = &[
    route!("users-create", users::create),
    route!("users-get", users::get),
    route!("users-list", users::list),
    route!("users-update", users::update, client: client::user_update),
    route!("users-login", users::login),
    route!("users-password", users::password),
    route!("users-activate", users::activate),
    route!("users-deactivate", users::deactivate),
    route!("users-push-enable", users::push_enable, client: client::push_enable),
    route!("users-push-disable", users::push_disable, client: client::push_disable),
    route!("users-register-fcm", users::register_fcm, client: client::register_fcm),
    route!("users-delete", users::delete, client: client::user_delete),
    route!("users-block", users::block, client: client::block),
    route!("users-unblock", users::unblock, client: client::unblock),
    route!("users-blocked", users::blocked, client: client::blocked),
    route!("users-channels", channels::user_channels, client: client::channel_list),
    route!("channels-create", channels::create, client: client::channel_create),
    route!("channels-get", channels::get, client: client::channel_get),
    route!("channels-update", channels::update, client: client::channel_update),
    route!("channels-delete", channels::delete, client: client::channel_delete),
    route!("channels-list", channels::list),
    route!("channels-freeze", channels::freeze, client: client::freeze),
    route!("channels-unfreeze", channels::unfreeze, client: client::unfreeze),
    route!("channels-members", members::list, client: client::member_list),
    route!("channels-member", members::get, client: client::member_get),
    route!("channels-members-add", members::add, client: client::member_add),
    route!("channels-members-remove", members::remove, client: client::member_remove),
    route!("channels-members-ban", members::ban, client: client::member_ban),
    route!("channels-members-unban", members::unban, client: client::member_unban),
    route!("channels-members-banned", members::banned, client: client::banned),
    route!("channels-members-mute", members::mute, client: client::member_mute),
    route!("channels-members-unmute", members::unmute, client: client::member_unmute),
    route!("channels-members-muted", members::muted, client: client::muted),
    route!("bots-create", bots::create),
    route!("bots-list", bots::list),
    route!("bots-get", bots::get),
    route!("bots-update", bots::update),
    route!("bots-delete", bots::delete),
    route!("bots-join", bots::join),
    route!("bots-leave", bots::leave),
    route!("bots-channels", bots::channels),
    route!("bots-send", messages::bot_send),
    route!("channels-messages-send", messages::send, client: client::message_send),
    route!("channels-messages", messages::list, client: client::message_list),
    route!("channels-messages-get", messages::get, client: client::message_get),
    route!("channels-message-get", messages::get_singular),
    route!("channels-messages-delete", messages::delete, client: client::message_delete),
    route!("users-login-token", client: client::login_token),
    route!("users-login-anonymous", client: client::login_anonymous),
    route!("users-logout", client: client::logout),
    route!("channels-join", client: client::join),
    route!("channels-leave", client: client::leave),
    route!("channels-transfer-ownership", client: client::transfer_ownership),
    route!("channels-markread", client: client::mark_read),
    route!("channels-messages-update", client: client::message_update),
    route!("channels-messages-react", client: client::react),
    route!("channels-messages-unreact", client: client::unreact),
    route!("channels-messages-reactions", client: client::reactions),
    route!("channels-hide", member_state::hide, client: member_state::client_hide),
    route!("channels-show", member_state::show, client: member_state::client_show),
    route!("channels-push-enable", member_state::push_enable, client: member_state::client_push_enable),
    route!("channels-push-disable", member_state::push_disable, client: member_state::client_push_disable),
    route!("channels-push-settings", member_state::push_settings, client: member_state::client_push_settings),
    route!("channels-private-tag", client: member_state::set_private_tag),
    route!("channels-private-data", client: member_state::set_private_data),
    route!("channels-member-info", client: member_state::set_member_info),
    route!("channels-unread-count", client: client::unread_count),
    route!("channels-peer-mute", client: peer_mute::mute),
    route!("channels-peer-muted", client: peer_mute::muted),
    route!("notifications-get", client: client::notification),
    ("sweeper", Function::Sweeper),
    ("webhooks-dispatch", Function::WebhooksDispatch),
    ("webhooks-deliver", Function::WebhooksDeliver),
    ("realtime-fanout", Function::RealtimeFanout),
    ("ws-connect", Function::WebSocket),
    ("ws-disconnect", Function::WebSocket),
    ("ws-default", Function::WebSocket),
];

/// The function called `name`.
pub fn find(name: &str) -> Option<Function> {
    FUNCTIONS
        .iter()
        .find(|(n, _)| *n == name)
        .map(|(_, function)| *function)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_and_found() {
        let mut names: Vec<&str> = FUNCTIONS.iter().map(|(n, _)| *n).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), FUNCTIONS.len());
        for name in names {
            assert!(find(name).is_some(), "{name}");
        }
        assert!(find("nope").is_none());
    }
}
