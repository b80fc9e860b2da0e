//! Login and password change: the only paths that run the password hash.

use super::{CreatedUser, new_password, validate_user_id};
use crate::Error;
use crate::auth::AppId;
use crate::model::{User, UserSecrets, now_ms};
use crate::secrets::{
    UNKNOWN_USER_HASH, hash_password, new_secret, secret_digest, verify_password,
};
use crate::store::Store;
use crate::validate::{self, MAX_PASSWORD_CHARS};
use crate::wire::{LoginRequest, PasswordRequest};

/// Reads and checks a login makes before giving up on a password that keeps changing.
const LOGIN_ATTEMPTS: usize = 3;

/// Argon2 takes tens of milliseconds of CPU; both run off the async worker threads.
pub(super) async fn hash(password: String) -> Result<String, Error> {
    tokio::task::spawn_blocking(move || hash_password(&password))
        .await
        .map_err(|e| Error::Internal(format!("hashing task: {e}")))?
}

async fn verify(password: String, phc: String) -> Result<bool, Error> {
    tokio::task::spawn_blocking(move || verify_password(&password, &phc))
        .await
        .map_err(|e| Error::Internal(format!("hashing task: {e}")))
}

/// `POST /users/login`: the user and a new login token, which replaces the previous one.
/// `3003` unknown, `3008` wrong password, `3010` deactivated (told only with the right
/// password). An unknown user's login verifies against a dummy hash, so it takes as long as
/// a wrong password.
pub async fn login(store: &Store, app: &AppId, req: LoginRequest) -> Result<CreatedUser, Error> {
    let user_id = validate::required("userId", req.user_id)?;
    validate_user_id(&user_id)?;
    let password = validate::required("password", req.password)?;
    validate::max_chars("password", &password, MAX_PASSWORD_CHARS)?;
    for _ in 0..LOGIN_ATTEMPTS {
        let record = store.login_record(app.as_str(), &user_id).await?;
        let phc = record
            .as_ref()
            .map_or(UNKNOWN_USER_HASH, |r| r.password_hash.as_str())
            .to_owned();
        let matches = verify(password.clone(), phc).await?;
        let Some(record) = record else {
            return Err(Error::UserNotFound(user_id));
        };
        if !matches {
            return Err(Error::WrongPassword);
        }
        if record.user.deactivated {
            return Err(Error::DeactivatedUser(user_id));
        }
        let login_token = new_secret();
        let issued = store
            .issue_login_token(
                app.as_str(),
                &user_id,
                &secret_digest(&login_token),
                &record.password_hash,
                now_ms(),
            )
            .await?;
        match issued {
            Some(user) => return Ok(CreatedUser { user, login_token }),
            // The password changed (or the user went) since the check: check again.
            None => tracing::debug!("password changed during a login; checking again"),
        }
    }
    Err(Error::Unavailable(format!(
        "the password of {user_id} kept changing; retry"
    )))
}

/// `PUT /users/{userId}/password`: a new hash, and a new login token nobody is given, so the
/// tokens issued before stop working.
pub async fn set_password(
    store: &Store,
    app: &AppId,
    user_id: &str,
    req: PasswordRequest,
) -> Result<User, Error> {
    validate_user_id(user_id)?;
    let password = new_password(req.password)?;
    let secrets = UserSecrets {
        password_hash: hash(password).await?,
        login_token_digest: secret_digest(&new_secret()),
    };
    store
        .set_password(app.as_str(), user_id, &secrets, now_ms())
        .await
}
