//! Every function by name: the table the deployed binary serves from (`lambda/`, one
//! `bootstrap` for all functions, told which one it is by `TALKPLUS_FUNCTION`), the
//! functions/ crates of `make dev` and the tests' `TestApp::call_function`. One build
//! of one binary instead of one per function: see docs/design.md, "One binary for all
//! functions".

use std::future::Future;
use std::pin::Pin;

use lambda_http::{Body, Response};

use crate::Error;
use crate::handlers::{bots, channels, members, messages, users};
use crate::lambda::Ctx;

/// The environment variable that names the function the binary serves (template.yaml
/// sets it on each function).
pub const FUNCTION_VAR: &str = "TALKPLUS_FUNCTION";

/// What a route's handler returns, boxed so that every handler has one type.
pub type Answer = Pin<Box<dyn Future<Output = Result<Response<Body>, Error>> + Send>>;

/// A route's handler.
pub type Handler = fn(Ctx) -> Answer;

/// What a function is.
#[derive(Clone, Copy)]
pub enum Function {
    /// An HTTP route: its handler, behind `lambda::handle`.
    Route(Handler),
    /// The change stream's sweeper of deleted channels and users.
    Sweeper,
    /// The change stream's webhook dispatcher.
    WebhooksDispatch,
    /// The webhook delivery queue's consumer.
    WebhooksDeliver,
}

impl std::fmt::Debug for Function {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Function::Route(_) => "Route",
            Function::Sweeper => "Sweeper",
            Function::WebhooksDispatch => "WebhooksDispatch",
            Function::WebhooksDeliver => "WebhooksDeliver",
        })
    }
}

macro_rules! route {
    ($name:literal, $handler:path) => {
        ($name, Function::Route(|ctx| Box::pin($handler(ctx))))
    };
}

/// Every function, by the name of its crate in functions/ (the layout test keeps the two
/// in agreement).
pub const FUNCTIONS: &[(&str, Function)] = &[
    route!("users-create", users::create),
    route!("users-get", users::get),
    route!("users-list", users::list),
    route!("users-update", users::update),
    route!("users-login", users::login),
    route!("users-password", users::password),
    route!("users-activate", users::activate),
    route!("users-deactivate", users::deactivate),
    route!("users-push-enable", users::push_enable),
    route!("users-push-disable", users::push_disable),
    route!("users-register-fcm", users::register_fcm),
    route!("users-delete", users::delete),
    route!("users-block", users::block),
    route!("users-unblock", users::unblock),
    route!("users-blocked", users::blocked),
    route!("users-channels", channels::user_channels),
    route!("channels-create", channels::create),
    route!("channels-get", channels::get),
    route!("channels-update", channels::update),
    route!("channels-delete", channels::delete),
    route!("channels-list", channels::list),
    route!("channels-freeze", channels::freeze),
    route!("channels-unfreeze", channels::unfreeze),
    route!("channels-members", members::list),
    route!("channels-member", members::get),
    route!("channels-members-add", members::add),
    route!("channels-members-remove", members::remove),
    route!("channels-members-ban", members::ban),
    route!("channels-members-unban", members::unban),
    route!("channels-members-banned", members::banned),
    route!("channels-members-mute", members::mute),
    route!("channels-members-unmute", members::unmute),
    route!("channels-members-muted", members::muted),
    route!("bots-create", bots::create),
    route!("bots-list", bots::list),
    route!("bots-get", bots::get),
    route!("bots-update", bots::update),
    route!("bots-delete", bots::delete),
    route!("bots-join", bots::join),
    route!("bots-leave", bots::leave),
    route!("bots-channels", bots::channels),
    route!("bots-send", messages::bot_send),
    route!("channels-messages-send", messages::send),
    route!("channels-messages", messages::list),
    route!("channels-messages-get", messages::get),
    route!("channels-message-get", messages::get_singular),
    route!("channels-messages-delete", messages::delete),
    ("sweeper", Function::Sweeper),
    ("webhooks-dispatch", Function::WebhooksDispatch),
    ("webhooks-deliver", Function::WebhooksDeliver),
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
