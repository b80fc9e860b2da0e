//! Every key the table holds. Each partition key starts with the app id, so a request that is
//! authenticated for one app cannot name an item of another. Ids never contain `#` (see
//! `validate::is_uri_safe`), so `#` separates the parts unambiguously.
//!
//! | item       | pk                       | sk       | gsi1pk              | gsi1sk     |
//! |------------|--------------------------|----------|---------------------|------------|
//! | app        | `{app}#APP`              | `APP`    | `#APPS`             | `{app}`    |
//! | user       | `{app}#USER#{userId}`    | `USER`   | `{app}#USERS`       | `{userId}` |
//!
//! The one key that does not start with an app id is the app registry's index entry
//! (`#APPS`), which only the provisioning tool reads; no API path can reach it.

pub const APP_SK: &str = "APP";
pub const APP_REGISTRY: &str = "#APPS";
pub const USER_SK: &str = "USER";

pub fn app_pk(app_id: &str) -> String {
    format!("{app_id}#APP")
}

pub fn user_pk(app_id: &str, user_id: &str) -> String {
    format!("{app_id}#USER#{user_id}")
}

/// Index partition that lists an app's users in id order.
pub fn users_index(app_id: &str) -> String {
    format!("{app_id}#USERS")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_request_addressable_key_starts_with_the_app_id() {
        for key in [app_pk("a1"), user_pk("a1", "u"), users_index("a1")] {
            assert!(key.starts_with("a1#"), "{key}");
        }
    }
}
