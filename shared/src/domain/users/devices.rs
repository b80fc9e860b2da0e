//! Push devices: `POST /users/{userId}/register/fcm` (admin and client) and the client's
//! `POST /users/register/pushkit` (iOS VoIP pushes); a device keeps one token of each kind.

use super::validate_user_id;
use crate::Error;
use crate::auth::AppId;
use crate::model::now_ms;
use crate::store::{Device, DeviceWrite, Devices, Store};
use crate::validate;
use crate::wire::{RegisterFcmRequest, RegisterPushKitRequest};

/// Devices a user may have. The admin API has no way to remove a device, and apps get a new
/// device id on reinstall, so a new device beyond the cap replaces the one registered
/// longest ago instead of being refused.
pub const MAX_DEVICES_PER_USER: usize = 20;
pub const MAX_DEVICE_ID_CHARS: usize = 256;
pub const MAX_FCM_TOKEN_CHARS: usize = 4096;
/// Reads and writes one registration makes before giving up on devices others keep changing.
const REGISTER_ATTEMPTS: u32 = 10;

fn required_nonempty(name: &'static str, v: Option<String>) -> Result<String, Error> {
    validate::required(name, v.filter(|s| !s.is_empty()))
}

/// A push token of one kind.
#[derive(Clone)]
pub enum PushToken {
    Fcm(String),
    PushKit(String),
}

/// What registering `token` for `device_id` does to the devices read: set it on the device
/// of that id (keeping its other token), add a new device, or add it in place of the one
/// registered longest ago.
pub fn plan_register(
    current: &Devices,
    device_id: &str,
    token: PushToken,
    now: i64,
) -> DeviceWrite {
    let known = current.devices.iter().find(|d| d.device_id == device_id);
    let mut device = known.cloned().unwrap_or_else(|| Device {
        device_id: device_id.to_owned(),
        fcm_token: String::new(),
        pushkit_token: String::new(),
        updated_at: now,
    });
    device.updated_at = now;
    match token {
        PushToken::Fcm(t) => device.fcm_token = t,
        PushToken::PushKit(t) => device.pushkit_token = t,
    }
    if let Some(known) = known {
        return DeviceWrite::Replace(device, known.updated_at);
    }
    let oldest = current
        .devices
        .iter()
        .min_by(|a, b| (a.updated_at, &a.device_id).cmp(&(b.updated_at, &b.device_id)));
    match oldest {
        Some(old) if current.devices.len() >= MAX_DEVICES_PER_USER => {
            DeviceWrite::Evict(device, old.device_id.clone())
        }
        _ => DeviceWrite::Add(device),
    }
}

pub async fn register_fcm(
    store: &Store,
    app: &AppId,
    user_id: &str,
    req: RegisterFcmRequest,
) -> Result<(), Error> {
    validate_user_id(user_id)?;
    let device_id = required_nonempty("deviceId", req.device_id)?;
    let fcm_token = required_nonempty("fcmToken", req.fcm_token)?;
    validate::max_chars("fcmToken", &fcm_token, MAX_FCM_TOKEN_CHARS)?;
    register(store, app, user_id, &device_id, PushToken::Fcm(fcm_token)).await
}

/// `POST /v1.4/users/register/pushkit`: the session's device gets the caller's PushKit token.
pub async fn register_pushkit(
    store: &Store,
    app: &AppId,
    user_id: &str,
    device_id: &str,
    req: RegisterPushKitRequest,
) -> Result<(), Error> {
    let token = required_nonempty("pushKitToken", req.push_kit_token)?;
    validate::max_chars("pushKitToken", &token, MAX_FCM_TOKEN_CHARS)?;
    register(store, app, user_id, device_id, PushToken::PushKit(token)).await
}

async fn register(
    store: &Store,
    app: &AppId,
    user_id: &str,
    device_id: &str,
    token: PushToken,
) -> Result<(), Error> {
    validate_user_id(user_id)?;
    validate::max_chars("deviceId", device_id, MAX_DEVICE_ID_CHARS)?;
    for attempt in 0..REGISTER_ATTEMPTS {
        let Some(current) = store.devices(app.as_str(), user_id).await? else {
            return Err(Error::UserNotFound(user_id.to_owned()));
        };
        let write = plan_register(&current, device_id, token.clone(), now_ms());
        if store
            .write_device(app.as_str(), user_id, &write, MAX_DEVICES_PER_USER)
            .await?
        {
            return Ok(());
        }
        // Decided again on a fresh read; concurrent registrations of one user are few.
        crate::store::retry::pause(attempt).await;
    }
    Err(Error::Unavailable(format!(
        "the devices of {user_id} kept changing; retry"
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn device(id: &str, at: i64) -> Device {
        Device {
            device_id: id.into(),
            fcm_token: format!("t-{id}"),
            pushkit_token: String::new(),
            updated_at: at,
        }
    }

    fn fcm(id: &str) -> PushToken {
        PushToken::Fcm(format!("t-{id}"))
    }

    #[test]
    fn same_id_replaces_new_id_adds_and_the_cap_evicts_the_oldest() {
        let mut current = Devices {
            devices: vec![device("a", 5), device("b", 1)],
        };
        assert_eq!(
            plan_register(&current, "a", fcm("a"), 9),
            DeviceWrite::Replace(device("a", 9), 5)
        );
        assert_eq!(
            plan_register(&current, "c", fcm("c"), 9),
            DeviceWrite::Add(device("c", 9))
        );
        current.devices = (0..MAX_DEVICES_PER_USER as i64)
            .map(|i| device(&format!("d{i:02}"), 100 - i))
            .collect();
        assert_eq!(
            plan_register(&current, "new", fcm("new"), 200),
            DeviceWrite::Evict(device("new", 200), "d19".into())
        );
        assert_eq!(
            plan_register(&current, "d03", fcm("d03"), 200),
            DeviceWrite::Replace(device("d03", 200), 97)
        );
    }

    #[test]
    fn a_pushkit_token_keeps_the_devices_fcm_token() {
        let current = Devices {
            devices: vec![device("a", 5)],
        };
        let DeviceWrite::Replace(d, seen) =
            plan_register(&current, "a", PushToken::PushKit("voip".into()), 9)
        else {
            panic!("not a replace")
        };
        assert_eq!(
            (d.fcm_token.as_str(), d.pushkit_token.as_str(), seen),
            ("t-a", "voip", 5)
        );
        let DeviceWrite::Add(d) = plan_register(&current, "b", PushToken::PushKit("v".into()), 9)
        else {
            panic!("not an add")
        };
        assert_eq!((d.fcm_token.as_str(), d.pushkit_token.as_str()), ("", "v"));
    }
}
