//! Sealing an app's API key for webhook signing. The table keeps the key's digest for
//! authentication; signing needs the key itself, so the key is also stored encrypted:
//! - on AWS with the KMS key template.yaml creates (`TALKPLUS_KMS_KEY_ID`): `kms:` + the
//!   ciphertext blob, the app id bound as encryption context;
//! - locally with a development key from the environment (`TALKPLUS_DEV_SEAL_KEY`, any
//!   string; its SHA-256 is the key): `dev:` + nonce and ChaCha20-Poly1305 ciphertext, the
//!   app id bound as associated data.
//!
//! Either way a sealed key copied onto another app's item does not open. The deliverer opens
//! each app's key once per warm container (`webhooks::deliver::Keys`).

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{ChaCha20Poly1305, Key, Nonce};
use sha2::{Digest, Sha256};

pub const KMS_KEY_VAR: &str = "TALKPLUS_KMS_KEY_ID";
pub const DEV_KEY_VAR: &str = "TALKPLUS_DEV_SEAL_KEY";
const CONTEXT_KEY: &str = "talkplus-app";

#[derive(Debug, thiserror::Error)]
pub enum SealError {
    #[error(
        "no sealing key: set {KMS_KEY_VAR} (a KMS key, on AWS) or {DEV_KEY_VAR} (local development)"
    )]
    NotConfigured,
    #[error("the sealed key was sealed with {0}, which is not configured here")]
    OtherSealer(&'static str),
    #[error("the sealed key does not open (wrong key or app)")]
    Corrupt,
    #[error("KMS: {0}")]
    Kms(String),
}

#[derive(Clone)]
pub enum Sealer {
    Kms {
        client: aws_sdk_kms::Client,
        key_id: String,
    },
    Dev {
        key: [u8; 32],
    },
}

impl std::fmt::Debug for Sealer {
    // Never prints the development key.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Sealer::Kms { key_id, .. } => write!(f, "Sealer::Kms({key_id})"),
            Sealer::Dev { .. } => write!(f, "Sealer::Dev"),
        }
    }
}

impl Sealer {
    /// The sealer the environment configures: KMS when `TALKPLUS_KMS_KEY_ID` is set, else the
    /// development key, else none.
    pub fn from_env(config: &aws_config::SdkConfig) -> Option<Sealer> {
        if let Some(key_id) = std::env::var(KMS_KEY_VAR).ok().filter(|v| !v.is_empty()) {
            return Some(Sealer::Kms {
                client: aws_sdk_kms::Client::new(config),
                key_id,
            });
        }
        std::env::var(DEV_KEY_VAR)
            .ok()
            .filter(|v| !v.is_empty())
            .map(|v| Sealer::dev(&v))
    }

    pub fn dev(secret: &str) -> Sealer {
        Sealer::Dev {
            key: Sha256::digest(secret.as_bytes()).into(),
        }
    }

    pub async fn seal(&self, app_id: &str, api_key: &str) -> Result<String, SealError> {
        match self {
            Sealer::Kms { client, key_id } => {
                let out = client
                    .encrypt()
                    .key_id(key_id)
                    .plaintext(api_key.as_bytes().to_vec().into())
                    .encryption_context(CONTEXT_KEY, app_id)
                    .send()
                    .await
                    .map_err(|e| {
                        SealError::Kms(aws_sdk_kms::error::DisplayErrorContext(e).to_string())
                    })?;
                let blob = out.ciphertext_blob.ok_or(SealError::Corrupt)?;
                Ok(format!("kms:{}", STANDARD.encode(blob.as_ref())))
            }
            Sealer::Dev { key } => {
                let mut nonce = [0u8; 12];
                getrandom::fill(&mut nonce).map_err(|_| SealError::Corrupt)?;
                let cipher = ChaCha20Poly1305::new(Key::from_slice(key));
                let sealed = cipher
                    .encrypt(
                        Nonce::from_slice(&nonce),
                        Payload {
                            msg: api_key.as_bytes(),
                            aad: app_id.as_bytes(),
                        },
                    )
                    .map_err(|_| SealError::Corrupt)?;
                let mut out = nonce.to_vec();
                out.extend_from_slice(&sealed);
                Ok(format!("dev:{}", STANDARD.encode(out)))
            }
        }
    }

    pub async fn open(&self, app_id: &str, sealed: &str) -> Result<String, SealError> {
        let (scheme, body) = sealed.split_once(':').ok_or(SealError::Corrupt)?;
        let bytes = STANDARD.decode(body).map_err(|_| SealError::Corrupt)?;
        let plain = match (self, scheme) {
            (Sealer::Kms { client, key_id }, "kms") => client
                .decrypt()
                .key_id(key_id)
                .ciphertext_blob(bytes.into())
                .encryption_context(CONTEXT_KEY, app_id)
                .send()
                .await
                .map_err(|e| {
                    SealError::Kms(aws_sdk_kms::error::DisplayErrorContext(e).to_string())
                })?
                .plaintext
                .ok_or(SealError::Corrupt)?
                .into_inner(),
            (Sealer::Dev { key }, "dev") => {
                if bytes.len() < 12 {
                    return Err(SealError::Corrupt);
                }
                let (nonce, sealed) = bytes.split_at(12);
                ChaCha20Poly1305::new(Key::from_slice(key))
                    .decrypt(
                        Nonce::from_slice(nonce),
                        Payload {
                            msg: sealed,
                            aad: app_id.as_bytes(),
                        },
                    )
                    .map_err(|_| SealError::Corrupt)?
            }
            (_, "kms") => return Err(SealError::OtherSealer("KMS")),
            (_, "dev") => return Err(SealError::OtherSealer("the development key")),
            _ => return Err(SealError::Corrupt),
        };
        String::from_utf8(plain).map_err(|_| SealError::Corrupt)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_dev_sealed_key_opens_only_for_its_app_and_key() {
        let sealer = Sealer::dev("local secret");
        let sealed = sealer.seal("app-1", "api-key-0123456789").await.unwrap();
        assert!(sealed.starts_with("dev:"));
        assert!(!sealed.contains("api-key"));
        assert_eq!(
            sealer.open("app-1", &sealed).await.unwrap(),
            "api-key-0123456789"
        );
        assert!(matches!(
            sealer.open("app-2", &sealed).await,
            Err(SealError::Corrupt)
        ));
        assert!(matches!(
            Sealer::dev("other").open("app-1", &sealed).await,
            Err(SealError::Corrupt)
        ));
        // Two seals of one key differ (fresh nonce), both open.
        let again = sealer.seal("app-1", "api-key-0123456789").await.unwrap();
        assert_ne!(sealed, again);
        assert!(matches!(
            sealer.open("app-1", "kms:AAAA").await,
            Err(SealError::OtherSealer(_))
        ));
        assert!(matches!(
            sealer.open("app-1", "garbage").await,
            Err(SealError::Corrupt)
        ));
    }
}
