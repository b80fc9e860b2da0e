//! Client API sessions: one item per session in the user's partition (so a deleted user's
//! sweep removes them), written by a login together with the check of what the login
//! proved, and read at most once per auth-cache period by a warm function.

use aws_sdk_dynamodb::types::{AttributeValue, ConditionCheck, TransactWriteItem, Update};

use super::channels::{action_error, put};
use super::items::{SessionItem, UserItem};
use super::retry::{retrying, storage_error};
use super::users::LIVE_USER;
use super::{SetFields, Store, decode, encode, keys, n, s};
use crate::Error;
use crate::model::{User, UserChanges, UserSecrets};

/// What a login proved about the user, checked again by its write.
#[derive(Debug, Clone)]
pub enum LoginProof {
    /// The user's current login token (its digest).
    Token(String),
    /// Anonymous login: the user is one anonymous login created (no password).
    Anonymous,
}

/// A session to open.
#[derive(Debug, Clone)]
pub struct NewSession {
    pub user_id: String,
    pub session_id: String,
    pub device_id: String,
    pub device_type: String,
    /// The user's password epoch read by the login (a password change since ends it).
    pub password_epoch: i64,
    pub created_at: i64,
    /// Milliseconds.
    pub expires_at: i64,
}

/// What decides whether a session is still good, read in one round.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionState {
    /// The live user: deactivated, and the current password epoch.
    pub user: Option<(bool, i64)>,
    /// The session item: its user and the epoch it was opened at.
    pub session: Option<(String, i64)>,
}

/// The login's condition on the user item.
fn proof_condition(
    proof: &LoginProof,
    epoch: i64,
) -> (String, Vec<(&'static str, AttributeValue)>) {
    let mut cond = format!(
        "{LIVE_USER} AND deactivated <> :true AND (attribute_not_exists(password_epoch) OR password_epoch = :epoch)"
    );
    let mut values = vec![(":true", AttributeValue::Bool(true)), (":epoch", n(epoch))];
    match proof {
        LoginProof::Token(digest) => {
            cond.push_str(" AND login_token_digest = :digest");
            values.push((":digest", s(digest)));
        }
        LoginProof::Anonymous => {
            cond.push_str(" AND password_hash = :none");
            values.push((":none", s("")));
        }
    }
    (cond, values)
}

impl Store {
    /// The user item a login reads first (`None` if there is no live user).
    pub async fn login_user(&self, app_id: &str, user_id: &str) -> Result<Option<UserItem>, Error> {
        Ok(self
            .user_item(app_id, user_id)
            .await?
            .filter(|i| i.deleted_at.is_none()))
    }

    /// Opens `session` if the user still is as the login read it (live, active, same password
    /// epoch, and `proof`), applying the login's profile `changes` in the same transaction.
    /// False when the user changed since: nothing is written.
    pub async fn open_session(
        &self,
        app_id: &str,
        session: &NewSession,
        proof: &LoginProof,
        changes: &UserChanges,
        now: i64,
    ) -> Result<bool, Error> {
        let table = self.table();
        let (cond, values) = proof_condition(proof, session.password_epoch);
        let pk = s(keys::user_pk(app_id, &session.user_id));
        let user_action = if changes.is_empty() {
            let check = ConditionCheck::builder()
                .table_name(table)
                .key("pk", pk)
                .key("sk", s(keys::USER_SK))
                .condition_expression(cond)
                .set_expression_attribute_values(Some(
                    values.into_iter().map(|(k, v)| (k.to_owned(), v)).collect(),
                ))
                .build()
                .map_err(|e| action_error("condition check", e))?;
            TransactWriteItem::builder().condition_check(check).build()
        } else {
            let SetFields {
                expression,
                names,
                values: mut set_values,
            } = SetFields::new(now, changes.fields());
            set_values.extend(values.into_iter().map(|(k, v)| (k.to_owned(), v)));
            let update = Update::builder()
                .table_name(table)
                .key("pk", pk)
                .key("sk", s(keys::USER_SK))
                .update_expression(expression)
                .condition_expression(cond)
                .set_expression_attribute_names(Some(names))
                .set_expression_attribute_values(Some(set_values))
                .build()
                .map_err(|e| action_error("update", e))?;
            TransactWriteItem::builder().update(update).build()
        };
        let item = encode(&SessionItem::new(app_id, session))?;
        let actions = vec![
            user_action,
            put(table, item, Some("attribute_not_exists(pk)"))?,
        ];
        self.transact_applied("open session", actions).await
    }

    /// Creates an anonymous user (no password, no login token) with a first session, all or
    /// nothing; false if the user id was taken meanwhile.
    pub async fn create_anonymous_user(
        &self,
        app_id: &str,
        user: &User,
        session: &NewSession,
    ) -> Result<bool, Error> {
        let secrets = UserSecrets {
            password_hash: String::new(),
            login_token_digest: String::new(),
        };
        let actions = vec![
            put(
                self.table(),
                encode(&UserItem::new(app_id, user, &secrets))?,
                Some("attribute_not_exists(pk)"),
            )?,
            put(
                self.table(),
                encode(&SessionItem::new(app_id, session))?,
                Some("attribute_not_exists(pk)"),
            )?,
        ];
        self.transact_applied("create anonymous user", actions)
            .await
    }

    /// The user and the session, strongly consistent, in one round.
    pub async fn session_state(
        &self,
        app_id: &str,
        user_id: &str,
        session_id: &str,
    ) -> Result<SessionState, Error> {
        let pk = keys::user_pk(app_id, user_id);
        let items = self
            .get_many(vec![
                (pk.clone(), keys::USER_SK.to_owned()),
                (pk, keys::session_sk(session_id)),
            ])
            .await?;
        let mut state = SessionState {
            user: None,
            session: None,
        };
        for item in items {
            match item.get("sk") {
                Some(AttributeValue::S(sk)) if sk == keys::USER_SK => {
                    let user = decode::<UserItem>(item)?;
                    if user.deleted_at.is_none() {
                        state.user = Some((user.deactivated, user.password_epoch));
                    }
                }
                Some(_) => {
                    let session = decode::<SessionItem>(item)?;
                    state.session = Some((session.user_id, session.password_epoch));
                }
                None => {}
            }
        }
        Ok(state)
    }

    /// Ends a session (logout); ending one that is gone is not an error.
    pub async fn end_session(
        &self,
        app_id: &str,
        user_id: &str,
        session_id: &str,
    ) -> Result<(), Error> {
        self.may_write().await?;
        retrying(|| {
            self.client
                .delete_item()
                .table_name(self.table())
                .key("pk", s(keys::user_pk(app_id, user_id)))
                .key("sk", s(keys::session_sk(session_id)))
                .send()
        })
        .await
        .map_err(|e| storage_error("end session", e))?;
        Ok(())
    }
}
