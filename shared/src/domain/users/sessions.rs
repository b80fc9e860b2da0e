//! Client API sessions: login with a login token, anonymous login, logout.
//!
//! A login reads the user, decides, then opens the session in one transaction that checks
//! again what the read found (the same login token, active, the same password epoch) and
//! applies the login's profile fields: two round trips, and a login racing a password
//! change or a deactivation either opens a session the change then ends, or none.

use super::{validate_changes, validate_user_id};
use crate::Error;
use crate::auth::{AppId, Client, Session};
use crate::model::{User, UserChanges, now_ms};
use crate::secrets::digest_matches;
use crate::session::{Claims, issue, lifetime_seconds};
use crate::store::{LoginProof, NewSession, Store};
use crate::validate;
use crate::wire::ClientLoginRequest;

/// Reads and checks a login makes before giving up on a user that keeps changing.
const LOGIN_ATTEMPTS: usize = 3;
/// Bounds of the device fields a login records.
const MAX_DEVICE_ID_CHARS: usize = 256;
const MAX_DEVICE_TYPE_CHARS: usize = 16;

/// A new session: the user as stored after the login, and the session's id and token.
#[derive(Debug)]
pub struct LoggedIn {
    pub user: User,
    pub session_id: String,
    pub session_token: String,
}

/// What a login request asks, validated.
struct Login {
    user_id: String,
    changes: UserChanges,
    device_id: String,
    device_type: String,
}

fn read_login(req: &mut ClientLoginRequest) -> Result<Login, Error> {
    let user_id = validate::required("userId", req.user_id.take())?;
    validate_user_id(&user_id)?;
    let changes = validate_changes(
        req.username.take(),
        req.profile_image_url.take(),
        req.data.take(),
    )?;
    let device_id = req.device_id.take().unwrap_or_default();
    validate::max_chars("deviceId", &device_id, MAX_DEVICE_ID_CHARS)?;
    let device_type = req.device_type.take().unwrap_or_default();
    validate::max_chars("deviceType", &device_type, MAX_DEVICE_TYPE_CHARS)?;
    Ok(Login {
        user_id,
        changes,
        device_id,
        device_type,
    })
}

fn new_session(login: &Login, password_epoch: i64, now: i64) -> NewSession {
    NewSession {
        user_id: login.user_id.clone(),
        session_id: crate::secrets::random_hex(16),
        device_id: login.device_id.clone(),
        device_type: login.device_type.clone(),
        password_epoch,
        created_at: now,
        expires_at: now + lifetime_seconds() * 1000,
    }
}

fn logged_in(
    app: &AppId,
    client: &Client,
    mut user: User,
    session: &NewSession,
    changes: &UserChanges,
    now: i64,
) -> LoggedIn {
    if !changes.is_empty() {
        user.apply(changes, now);
    }
    let claims = Claims {
        app: app.as_str().to_owned(),
        sub: session.user_id.clone(),
        sid: session.session_id.clone(),
        iat: now / 1000,
        exp: session.expires_at / 1000,
        did: if session.device_id.is_empty() {
            session.session_id.clone()
        } else {
            session.device_id.clone()
        },
    };
    LoggedIn {
        user,
        session_id: session.session_id.clone(),
        session_token: issue(&client.session_key, &claims),
    }
}

/// Opens a session for the user as the login read it (`item`), if they still are so when
/// it commits (`proof`, the password epoch); `None` when they changed since the read.
async fn open(
    store: &Store,
    app: &AppId,
    client: &Client,
    login: &Login,
    item: crate::store::items::UserItem,
    proof: LoginProof,
    now: i64,
) -> Result<Option<LoggedIn>, Error> {
    if item.deactivated {
        return Err(Error::DeactivatedUser(login.user_id.clone()));
    }
    let session = new_session(login, item.password_epoch, now);
    if !store
        .open_session(app.as_str(), &session, &proof, &login.changes, now)
        .await?
    {
        return Ok(None);
    }
    let user = User::from(item);
    Ok(Some(logged_in(
        app,
        client,
        user,
        &session,
        &login.changes,
        now,
    )))
}

fn kept_changing() -> Error {
    Error::Unavailable("the user kept changing during the login; retry".into())
}

/// `POST /v1.4/users/login/token`: `3003` no such user, `3009` not the user's current login
/// token (from admin `users/create` or `users/login`), `3010` deactivated.
pub async fn login_with_token(
    store: &Store,
    app: &AppId,
    client: &Client,
    mut req: ClientLoginRequest,
) -> Result<LoggedIn, Error> {
    let login = read_login(&mut req)?;
    let token = validate::required("loginToken", req.login_token.take())?;
    for _ in 0..LOGIN_ATTEMPTS {
        let now = now_ms();
        let Some(item) = store.login_user(app.as_str(), &login.user_id).await? else {
            return Err(Error::UserNotFound(login.user_id));
        };
        if !digest_matches(&token, &item.login_token_digest) {
            return Err(Error::InvalidLoginToken);
        }
        let proof = LoginProof::Token(item.login_token_digest.clone());
        if let Some(done) = open(store, app, client, &login, item, proof, now).await? {
            return Ok(done);
        }
        tracing::debug!("the user changed during a login; checking again");
    }
    Err(kept_changing())
}

/// `POST /v1.4/users/login/anonymous`: only where the app allows it (`3006`); creates the user
/// if new. A user with a password (made by the admin API) is not open to it (`3009`).
pub async fn login_anonymous(
    store: &Store,
    app: &AppId,
    client: &Client,
    mut req: ClientLoginRequest,
) -> Result<LoggedIn, Error> {
    if !client.anonymous_login {
        return Err(Error::AnonymousLoginNotAllowed);
    }
    let login = read_login(&mut req)?;
    for _ in 0..LOGIN_ATTEMPTS {
        let now = now_ms();
        match store.login_user(app.as_str(), &login.user_id).await? {
            None => {
                let mut user = User::new(login.user_id.clone(), now);
                user.apply(&login.changes, now);
                let session = new_session(&login, 0, now);
                if store
                    .create_anonymous_user(app.as_str(), &user, &session)
                    .await?
                {
                    return Ok(logged_in(
                        app,
                        client,
                        user,
                        &session,
                        &UserChanges::default(),
                        now,
                    ));
                }
                // Taken meanwhile, or a deleted user's id still being swept.
                if store
                    .login_user(app.as_str(), &login.user_id)
                    .await?
                    .is_none()
                {
                    return Err(Error::UserIdTaken(login.user_id));
                }
            }
            Some(item) => {
                if !item.password_hash.is_empty() {
                    return Err(Error::InvalidLoginToken);
                }
                let proof = LoginProof::Anonymous;
                if let Some(done) = open(store, app, client, &login, item, proof, now).await? {
                    return Ok(done);
                }
            }
        }
        tracing::debug!("the user changed during a login; checking again");
    }
    Err(kept_changing())
}

/// `POST /v1.4/users/logout`: ends the caller's session.
pub async fn logout(store: &Store, app: &AppId, session: &Session) -> Result<(), Error> {
    store
        .end_session(app.as_str(), &session.user_id, &session.session_id)
        .await
}
