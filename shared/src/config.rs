//! Building the SDK client, once per cold start.

use std::time::Duration;

use aws_config::BehaviorVersion;
use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_smithy_http_client::tls::{Provider, TlsContext, TrustStore, rustls_provider::CryptoMode};
use aws_smithy_runtime_api::client::http::SharedHttpClient;

/// The table every function reads and writes.
pub const TABLE_NAME_VAR: &str = "TABLE_NAME";

/// The AWS configuration every client is built from (DynamoDB, and for webhooks SQS and
/// KMS), loaded once per process: region, credentials and `AWS_ENDPOINT_URL_<SERVICE>` (e.g.
/// `AWS_ENDPOINT_URL_DYNAMODB` for a local engine) from the environment.
pub async fn aws_config() -> aws_config::SdkConfig {
    aws_config::defaults(BehaviorVersion::latest())
        .http_client(http_client())
        .timeout_config(timeouts())
        .retry_config(retries())
        .load()
        .await
}

/// `native` makes the AWS clients trust the system's root certificates rather than only
/// Amazon Trust Services' (for an endpoint behind another CA, such as a proxy or an emulator
/// on https).
pub const TLS_ROOTS_VAR: &str = "TALKPLUS_TLS_ROOTS";

/// The roots every AWS service endpoint's certificate chains to.
const AMAZON_TRUST_SERVICES: &[u8] = include_bytes!("tls/amazon-trust-services.pem");

/// rustls with ring instead of the SDK's default aws-lc: the same TLS, a much shorter build
/// and a smaller binary. Plain http (local engines) goes through it too.
///
/// It trusts Amazon Trust Services' six roots, not the system's store: reading and parsing
/// the system's certificates (a bundle, and on Debian a directory of ~300 files) was most of
/// a function's init beyond a bare runtime's (docs/design.md, "The AWS clients trust
/// Amazon's roots, not the system's store").
pub fn http_client() -> SharedHttpClient {
    let native = std::env::var(TLS_ROOTS_VAR).is_ok_and(|v| v == "native");
    let trust = if native {
        TrustStore::default()
    } else {
        TrustStore::empty().with_pem_certificate(AMAZON_TRUST_SERVICES)
    };
    let builder =
        aws_smithy_http_client::Builder::new().tls_provider(Provider::Rustls(CryptoMode::Ring));
    match TlsContext::builder().with_trust_store(trust).build() {
        Ok(context) => builder.tls_context(context).build_https(),
        // Building the context cannot fail today (it only stores the roots); were it to,
        // the SDK's default roots are the safe fallback.
        Err(_) => builder.build_https(),
    }
}

/// Attempts are short so that the SDK's retries plus the store's (`store::retry`) fit the
/// function timeout (10 s in template.yaml) with room left to answer 503.
pub fn timeouts() -> TimeoutConfig {
    TimeoutConfig::builder()
        .connect_timeout(Duration::from_secs(1))
        .operation_attempt_timeout(Duration::from_secs(2))
        .operation_timeout(Duration::from_secs(4))
        .build()
}

/// The SDK's standard mode: throttling and transient network errors, three attempts.
pub fn retries() -> RetryConfig {
    RetryConfig::standard().with_max_attempts(3)
}

/// `TABLE_NAME` from the environment.
pub fn table_name() -> Result<String, String> {
    std::env::var(TABLE_NAME_VAR).map_err(|_| format!("{TABLE_NAME_VAR} is not set"))
}

/// An HTTP client builder (webhook deliveries, local tooling) with rustls over ring and the
/// system's roots, as the SDK clients: the build has no default TLS provider to fall back on.
pub fn reqwest_builder() -> Result<reqwest::ClientBuilder, String> {
    let mut roots = rustls::RootCertStore::empty();
    roots.add_parsable_certificates(rustls_native_certs::load_native_certs().certs);
    let tls = rustls::ClientConfig::builder_with_provider(std::sync::Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .map_err(|e| e.to_string())?
    .with_root_certificates(roots)
    .with_no_client_auth();
    Ok(reqwest::Client::builder().tls_backend_preconfigured(tls))
}
