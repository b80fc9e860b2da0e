//! The WebSocket API's functions: `$connect` keeps the connection (not authenticated yet),
//! `$default` takes the client's first frame as its authentication and replays what the
//! client missed, `$disconnect` forgets the connection. The SDKs send no headers: the first
//! text frame `{"appId","sessionId","sessionToken"}` is the authentication, checked as the
//! client API checks a session token.

use lambda_http::http::{HeaderMap, HeaderValue};
use serde::Deserialize;
use serde_json::{Value, json};

use super::connections::{Connections, Posted};
use super::{CONNECTION_TTL_S, REPLAY_LIMIT};
use crate::Error;
use crate::lambda::Services;
use crate::model::now_ms;

/// One event of the WebSocket API, as API Gateway hands it to a function.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WsEvent {
    pub route_key: String,
    pub connection_id: String,
    pub body: Option<String>,
    /// `?timestamp=` of the connect.
    pub timestamp: Option<String>,
}

impl WsEvent {
    /// From the Lambda event (`requestContext.routeKey`, `requestContext.connectionId`, ...).
    pub fn parse(event: &Value) -> Option<WsEvent> {
        let ctx = &event["requestContext"];
        let body = match (event["body"].as_str(), event["isBase64Encoded"].as_bool()) {
            (Some(b), Some(true)) => {
                use base64::Engine;
                let bytes = base64::engine::general_purpose::STANDARD.decode(b).ok()?;
                Some(String::from_utf8_lossy(&bytes).into_owned())
            }
            (b, _) => b.map(str::to_owned),
        };
        Some(WsEvent {
            route_key: ctx["routeKey"].as_str()?.to_owned(),
            connection_id: ctx["connectionId"].as_str()?.to_owned(),
            body,
            timestamp: event["queryStringParameters"]["timestamp"]
                .as_str()
                .map(str::to_owned),
        })
    }

    /// The event as API Gateway sends it (what the dev gateway hands the functions).
    pub fn to_lambda_event(&self) -> Value {
        let event_type = match self.route_key.as_str() {
            "$connect" => "CONNECT",
            "$disconnect" => "DISCONNECT",
            _ => "MESSAGE",
        };
        let mut e = json!({
            "requestContext": {
                "routeKey": self.route_key,
                "eventType": event_type,
                "connectionId": self.connection_id,
            },
            "isBase64Encoded": false,
        });
        if let Some(b) = &self.body {
            e["body"] = json!(b);
        }
        if let Some(t) = &self.timestamp {
            e["queryStringParameters"] = json!({ "timestamp": t });
        }
        e
    }
}

/// The client's first frame.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct AuthFrame {
    app_id: String,
    #[serde(default)]
    session_id: String,
    session_token: String,
}

/// What a `$default` frame did (for logs and tests).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Connected,
    Disconnected,
    /// The first frame authenticated the connection; this many missed events replayed.
    Authenticated {
        replayed: usize,
    },
    /// A frame the protocol gives no answer to (before authentication, or after it).
    Ignored,
    /// The connection was closed: a bad auth frame, or it was gone.
    Closed(String),
}

/// Runs one WebSocket API event; the answer API Gateway wants (`{"statusCode": N}`: a
/// `$connect` answered with anything but 200 refuses the connection). Never fails.
pub async fn handle(services: &Services, connections: &Connections, event: &Value) -> Value {
    let Some(event) = WsEvent::parse(event) else {
        tracing::warn!("not a WebSocket API event");
        return json!({"statusCode": 400});
    };
    match run(services, connections, &event).await {
        Ok(outcome) => {
            tracing::debug!(route = %event.route_key, ?outcome, "websocket event");
            json!({"statusCode": 200})
        }
        Err(e) => {
            tracing::error!(route = %event.route_key, error = %e, "websocket event failed");
            if event.route_key == "$default" {
                // The client reconnects and authenticates again.
                let _ = connections.close(&event.connection_id).await;
            }
            json!({"statusCode": 500})
        }
    }
}

pub async fn run(
    services: &Services,
    connections: &Connections,
    event: &WsEvent,
) -> Result<Outcome, Error> {
    let store = &services.store;
    let id = &event.connection_id;
    match event.route_key.as_str() {
        "$connect" => {
            let since = event
                .timestamp
                .as_deref()
                .and_then(|t| t.parse::<i64>().ok());
            let now = now_ms();
            store
                .open_connection(id, since, now, now / 1000 + CONNECTION_TTL_S)
                .await?;
            Ok(Outcome::Connected)
        }
        "$disconnect" => {
            store.close_connection(id).await?;
            Ok(Outcome::Disconnected)
        }
        _ => first_frame(services, connections, event).await,
    }
}

async fn first_frame(
    services: &Services,
    connections: &Connections,
    event: &WsEvent,
) -> Result<Outcome, Error> {
    let store = &services.store;
    let id = &event.connection_id;
    let Some(conn) = store.connection(id).await? else {
        close(connections, id).await?;
        return Ok(Outcome::Closed("no such connection".into()));
    };
    if conn.app_id.is_some() {
        return Ok(Outcome::Ignored);
    }
    let body = event.body.as_deref().unwrap_or("");
    let frame: Value = match serde_json::from_str(body) {
        Ok(v @ Value::Object(_)) => v,
        // Not an auth frame (a ping text, the SDK's keepalive): nothing, as the protocol says.
        _ => return Ok(Outcome::Ignored),
    };
    if frame.get("sessionToken").is_none() && frame.get("appId").is_none() {
        return Ok(Outcome::Ignored);
    }
    let refuse = |why: String| async move {
        close(connections, id).await?;
        Ok::<_, Error>(Outcome::Closed(why))
    };
    let auth: AuthFrame = match serde_json::from_value(frame) {
        Ok(a) => a,
        Err(e) => return refuse(format!("auth frame: {e}")).await,
    };
    let mut headers = HeaderMap::new();
    for (name, value) in [
        ("app-id", auth.app_id.clone()),
        ("authorization", format!("Bearer {}", auth.session_token)),
    ] {
        match HeaderValue::from_str(&value) {
            Ok(v) => {
                headers.insert(name, v);
            }
            Err(_) => return refuse(format!("{name} is not a header value")).await,
        }
    }
    let authenticated =
        crate::auth::authenticate_client(store, &services.apps, &services.client, &headers, false)
            .await;
    let session = match authenticated {
        Ok((_, _, client)) => client.session.ok_or(Error::LoginRequired)?,
        Err(e) if e.is_server_fault() => return Err(e),
        Err(e) => return refuse(e.to_string()).await,
    };
    if !auth.session_id.is_empty() && auth.session_id != session.session_id {
        return refuse("sessionId is not the token's session".into()).await;
    }
    let expires = now_ms() / 1000 + CONNECTION_TTL_S;
    let listed = store
        .authenticate_connection(
            id,
            &auth.app_id,
            &session.user_id,
            &session.session_id,
            expires,
        )
        .await?;
    if !listed {
        // Gone meanwhile, or a second auth frame racing the first.
        return Ok(Outcome::Ignored);
    }
    let mut replayed = 0;
    if let Some(since) = conn.since {
        let frames = store
            .missed_events(
                &auth.app_id,
                &session.user_id,
                since,
                REPLAY_LIMIT,
                now_ms() / 1000,
            )
            .await?;
        for f in frames {
            match connections.post(id, &f).await.map_err(Error::Unavailable)? {
                Posted::Sent => replayed += 1,
                Posted::Gone => {
                    store.close_connection(id).await?;
                    break;
                }
            }
        }
    }
    Ok(Outcome::Authenticated { replayed })
}

async fn close(connections: &Connections, id: &str) -> Result<(), Error> {
    connections.close(id).await.map_err(Error::Unavailable)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_round_trip_through_the_lambda_shape() {
        let e = WsEvent {
            route_key: "$connect".into(),
            connection_id: "abc=".into(),
            body: None,
            timestamp: Some("1700000000000".into()),
        };
        assert_eq!(WsEvent::parse(&e.to_lambda_event()), Some(e));
        let m = WsEvent {
            route_key: "$default".into(),
            connection_id: "x".into(),
            body: Some("{\"appId\":\"a\"}".into()),
            timestamp: None,
        };
        assert_eq!(WsEvent::parse(&m.to_lambda_event()), Some(m));
        let encoded = json!({
            "requestContext": {"routeKey": "$default", "connectionId": "x"},
            "body": "aGk=", "isBase64Encoded": true
        });
        assert_eq!(
            WsEvent::parse(&encoded).unwrap().body.as_deref(),
            Some("hi")
        );
        assert_eq!(WsEvent::parse(&json!({"body": "x"})), None);
    }
}
