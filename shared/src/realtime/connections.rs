//! API Gateway's `@connections` API: a frame to one connection, or the connection closed.
//! On AWS the WebSocket API's stage URL (`TALKPLUS_WS_CALLBACK_URL`, set by template.yaml);
//! in `make dev` the dev gateway's, which serves the same API.

use aws_sdk_apigatewaymanagement::Client;
use aws_sdk_apigatewaymanagement::primitives::Blob;

/// Where the `@connections` API is: `https://{api}.execute-api.{region}.amazonaws.com/{stage}`.
pub const CALLBACK_URL_VAR: &str = "TALKPLUS_WS_CALLBACK_URL";

/// What a post found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Posted {
    Sent,
    /// 410: the connection is gone (its `$disconnect` may never have run).
    Gone,
}

#[derive(Clone, Debug)]
pub struct Connections {
    client: Client,
}

impl Connections {
    pub fn new(config: &aws_config::SdkConfig, callback_url: &str) -> Connections {
        let conf = aws_sdk_apigatewaymanagement::config::Builder::from(config)
            .endpoint_url(callback_url.trim_end_matches('/'))
            .build();
        Connections {
            client: Client::from_conf(conf),
        }
    }

    /// From `TALKPLUS_WS_CALLBACK_URL`; `None` where it is not set (no realtime).
    pub fn from_env(config: &aws_config::SdkConfig) -> Option<Connections> {
        let url = std::env::var(CALLBACK_URL_VAR)
            .ok()
            .filter(|u| !u.is_empty())?;
        Some(Connections::new(config, &url))
    }

    /// Sends one text frame.
    pub async fn post(&self, connection_id: &str, frame: &str) -> Result<Posted, String> {
        let res = self
            .client
            .post_to_connection()
            .connection_id(connection_id)
            .data(Blob::new(frame.as_bytes()))
            .send()
            .await;
        match res {
            Ok(_) => Ok(Posted::Sent),
            Err(e) if e.as_service_error().is_some_and(|s| s.is_gone_exception()) => {
                Ok(Posted::Gone)
            }
            Err(e) => Err(format!(
                "post to connection: {}",
                aws_sdk_apigatewaymanagement::error::DisplayErrorContext(e)
            )),
        }
    }

    /// Closes the connection (its `$disconnect` follows).
    pub async fn close(&self, connection_id: &str) -> Result<(), String> {
        let res = self
            .client
            .delete_connection()
            .connection_id(connection_id)
            .send()
            .await;
        match res {
            Ok(_) => Ok(()),
            Err(e) if e.as_service_error().is_some_and(|s| s.is_gone_exception()) => Ok(()),
            Err(e) => Err(format!(
                "close connection: {}",
                aws_sdk_apigatewaymanagement::error::DisplayErrorContext(e)
            )),
        }
    }
}
