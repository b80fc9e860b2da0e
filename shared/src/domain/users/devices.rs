//! Push devices (FCM): `POST /users/{userId}/register/fcm`.

use super::validate_user_id;
use crate::Error;
use crate::auth::AppId;
use crate::model::now_ms;
use crate::store::{Device, DeviceWrite, Devices, Store};
use crate::validate;
use crate::wire::RegisterFcmRequest;

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

/// What registering `device` does to the devices read: replace the same id's token, add a
/// new device, or add it in place of the one registered longest ago.
pub fn plan_register(current: &Devices, device: Device) -> DeviceWrite {
    if current
        .devices
        .iter()
        .any(|d| d.device_id == device.device_id)
    {
        return DeviceWrite::Replace(device);
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
    validate::max_chars("deviceId", &device_id, MAX_DEVICE_ID_CHARS)?;
    validate::max_chars("fcmToken", &fcm_token, MAX_FCM_TOKEN_CHARS)?;
    for attempt in 0..REGISTER_ATTEMPTS {
        let Some(current) = store.devices(app.as_str(), user_id).await? else {
            return Err(Error::UserNotFound(user_id.to_owned()));
        };
        let write = plan_register(
            &current,
            Device {
                device_id: device_id.clone(),
                fcm_token: fcm_token.clone(),
                updated_at: now_ms(),
            },
        );
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
            updated_at: at,
        }
    }

    #[test]
    fn same_id_replaces_new_id_adds_and_the_cap_evicts_the_oldest() {
        let mut current = Devices {
            devices: vec![device("a", 5), device("b", 1)],
        };
        assert_eq!(
            plan_register(&current, device("a", 9)),
            DeviceWrite::Replace(device("a", 9))
        );
        assert_eq!(
            plan_register(&current, device("c", 9)),
            DeviceWrite::Add(device("c", 9))
        );
        current.devices = (0..MAX_DEVICES_PER_USER as i64)
            .map(|i| device(&format!("d{i:02}"), 100 - i))
            .collect();
        assert_eq!(
            plan_register(&current, device("new", 200)),
            DeviceWrite::Evict(device("new", 200), "d19".into())
        );
        assert_eq!(
            plan_register(&current, device("d03", 200)),
            DeviceWrite::Replace(device("d03", 200))
        );
    }
}
