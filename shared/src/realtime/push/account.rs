//! An app's FCM service account: the key file checked and reduced to what is kept, and the
//! RS256 assertion traded for an access token (RFC 7523, Google's service account flow).

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use ring::signature::{RSA_PKCS1_SHA256, RsaKeyPair};
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::{DEFAULT_TOKEN_URI, MAX_ACCOUNT_BYTES, SCOPE};

/// What is kept of a service account's key file: what signing and sending need.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServiceAccount {
    pub project_id: String,
    pub client_email: String,
    pub private_key: String,
    #[serde(default)]
    pub token_uri: String,
}

impl std::fmt::Debug for ServiceAccount {
    // Never prints the private key.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "ServiceAccount({}, {})",
            self.project_id, self.client_email
        )
    }
}

impl ServiceAccount {
    /// A service account key file as Google's console gives it: checked (an RSA key that
    /// signs) and reduced to what is kept.
    pub fn parse(file: &str) -> Result<ServiceAccount, String> {
        #[derive(Deserialize)]
        struct KeyFile {
            #[serde(rename = "type")]
            kind: Option<String>,
            project_id: Option<String>,
            client_email: Option<String>,
            private_key: Option<String>,
            token_uri: Option<String>,
        }
        let f: KeyFile = serde_json::from_str(file)
            .map_err(|e| format!("not a service account key file (JSON): {e}"))?;
        if let Some(kind) = f.kind.as_deref().filter(|k| *k != "service_account") {
            return Err(format!("type is {kind:?}, not \"service_account\""));
        }
        let need = |name: &str, v: Option<String>| {
            v.filter(|v| !v.is_empty())
                .ok_or_else(|| format!("the key file has no {name}"))
        };
        let account = ServiceAccount {
            project_id: need("project_id", f.project_id)?,
            client_email: need("client_email", f.client_email)?,
            private_key: need("private_key", f.private_key)?,
            token_uri: f.token_uri.unwrap_or_default(),
        };
        if !crate::validate::is_uri_safe(&account.project_id) {
            return Err(format!(
                "project_id {:?} is not a project id",
                account.project_id
            ));
        }
        account.key_pair()?;
        let kept = account.to_json();
        if kept.len() > MAX_ACCOUNT_BYTES {
            return Err(format!(
                "the account takes {} bytes, more than the {MAX_ACCOUNT_BYTES} KMS seals",
                kept.len()
            ));
        }
        Ok(account)
    }

    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }

    /// Where access tokens come from (the audience of the assertion).
    pub fn token_uri(&self) -> &str {
        if self.token_uri.is_empty() {
            DEFAULT_TOKEN_URI
        } else {
            &self.token_uri
        }
    }

    pub fn key_pair(&self) -> Result<RsaKeyPair, String> {
        let der = pem_body(&self.private_key)?;
        RsaKeyPair::from_pkcs8(&der)
            .map_err(|e| format!("private_key is not an RSA key in PKCS#8 ({e})"))
    }

    /// The signed JWT traded for an access token (RFC 7523, Google's service account flow).
    pub fn assertion(&self, key: &RsaKeyPair, now_s: i64) -> Result<String, String> {
        let header = URL_SAFE_NO_PAD.encode(r#"{"alg":"RS256","typ":"JWT"}"#);
        let claims = URL_SAFE_NO_PAD.encode(
            json!({
                "iss": self.client_email,
                "scope": SCOPE,
                "aud": self.token_uri(),
                "iat": now_s,
                "exp": now_s + 3600,
            })
            .to_string(),
        );
        let signed = format!("{header}.{claims}");
        let mut signature = vec![0u8; key.public().modulus_len()];
        key.sign(
            &RSA_PKCS1_SHA256,
            &ring::rand::SystemRandom::new(),
            signed.as_bytes(),
            &mut signature,
        )
        .map_err(|_| "signing the assertion failed".to_owned())?;
        Ok(format!("{signed}.{}", URL_SAFE_NO_PAD.encode(signature)))
    }
}

/// The DER inside a PEM block.
fn pem_body(pem: &str) -> Result<Vec<u8>, String> {
    let body: String = pem
        .lines()
        .map(str::trim)
        .filter(|l| !l.starts_with("-----"))
        .collect();
    STANDARD
        .decode(body)
        .map_err(|_| "private_key is not a PEM block".to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_files_are_checked() {
        assert!(ServiceAccount::parse("{}").is_err());
        assert!(ServiceAccount::parse("nope").is_err());
        let wrong_type =
            r#"{"type":"authorized_user","project_id":"p","client_email":"e","private_key":"k"}"#;
        assert!(
            ServiceAccount::parse(wrong_type)
                .unwrap_err()
                .contains("service_account")
        );
        let bad_key = r#"{"type":"service_account","project_id":"p","client_email":"e","private_key":"-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n"}"#;
        assert!(
            ServiceAccount::parse(bad_key)
                .unwrap_err()
                .contains("PKCS#8")
        );
    }
}
