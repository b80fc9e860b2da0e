//! API Gateway's WebSocket API on loopback, for `make dev` and the tests: serves
//! `/v1.4/users/ws/notifications`, hands each connect, frame and disconnect to the code the
//! `ws-connect`, `ws-default` and `ws-disconnect` functions run (`shared::realtime::gateway`,
//! with the event API Gateway would send), and offers the `@connections` API (POST a frame,
//! DELETE to close, GET) that the functions and the fan-out call. Pings are answered by the
//! WebSocket layer, as API Gateway does.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::Bytes;
use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use futures::{SinkExt, StreamExt};
use shared::lambda::Services;
use shared::realtime::connections::Connections;
use shared::realtime::gateway::{self, WsEvent};
use tokio::sync::mpsc;

/// What the `@connections` API asks of a connection.
enum Out {
    Frame(String),
    Close,
}

struct Gateway {
    services: Services,
    connections: Connections,
    open: Mutex<HashMap<String, (mpsc::UnboundedSender<Out>, i64)>>,
}

/// Serves on `listener` until the task is dropped. `connections` is the `@connections` client
/// the functions' code is given: this gateway's own URL (or, in tests, one that counts).
pub async fn serve(
    listener: tokio::net::TcpListener,
    services: Services,
    connections: Connections,
) -> std::io::Result<()> {
    let state = Arc::new(Gateway {
        services,
        connections,
        open: Mutex::default(),
    });
    let app = Router::new()
        .route(shared::realtime::PATH, get(upgrade))
        .route(
            "/@connections/{id}",
            get(info).post(post_frame).delete(close),
        )
        .with_state(state);
    axum::serve(listener, app).await
}

async fn call(state: &Gateway, event: WsEvent) -> u16 {
    let answer = gateway::handle(
        &state.services,
        &state.connections,
        &event.to_lambda_event(),
    )
    .await;
    answer["statusCode"].as_u64().unwrap_or(500) as u16
}

async fn upgrade(
    State(state): State<Arc<Gateway>>,
    Query(query): Query<HashMap<String, String>>,
    ws: WebSocketUpgrade,
) -> Response {
    let id = shared::secrets::random_hex(10);
    let status = call(
        &state,
        WsEvent {
            route_key: "$connect".into(),
            connection_id: id.clone(),
            body: None,
            timestamp: query.get("timestamp").cloned(),
        },
    )
    .await;
    if status != 200 {
        // As API Gateway: a `$connect` that does not answer 200 refuses the handshake.
        return StatusCode::from_u16(status)
            .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
            .into_response();
    }
    ws.on_upgrade(move |socket| connection(state, id, socket))
}

async fn connection(state: Arc<Gateway>, id: String, socket: WebSocket) {
    let (mut sink, mut stream) = socket.split();
    let (tx, mut rx) = mpsc::unbounded_channel();
    if let Ok(mut open) = state.open.lock() {
        open.insert(id.clone(), (tx, shared::model::now_ms()));
    }
    let writer = tokio::spawn(async move {
        while let Some(out) = rx.recv().await {
            match out {
                Out::Frame(text) => {
                    if sink.send(Message::Text(text.into())).await.is_err() {
                        break;
                    }
                }
                Out::Close => {
                    let _ = sink.send(Message::Close(None)).await;
                    break;
                }
            }
        }
    });
    while let Some(Ok(msg)) = stream.next().await {
        let body = match msg {
            Message::Text(t) => t.to_string(),
            Message::Binary(b) => String::from_utf8_lossy(&b).into_owned(),
            Message::Close(_) => break,
            // Pings are answered by the WebSocket layer; pongs need nothing.
            Message::Ping(_) | Message::Pong(_) => continue,
        };
        call(
            &state,
            WsEvent {
                route_key: "$default".into(),
                connection_id: id.clone(),
                body: Some(body),
                timestamp: None,
            },
        )
        .await;
    }
    if let Ok(mut open) = state.open.lock() {
        open.remove(&id);
    }
    writer.abort();
    call(
        &state,
        WsEvent {
            route_key: "$disconnect".into(),
            connection_id: id,
            body: None,
            timestamp: None,
        },
    )
    .await;
}

/// 410 with the error type the SDK reads (`GoneException`).
fn gone() -> Response {
    let mut headers = HeaderMap::new();
    headers.insert(
        "x-amzn-errortype",
        HeaderValue::from_static("GoneException"),
    );
    headers.insert("content-type", HeaderValue::from_static("application/json"));
    (
        StatusCode::GONE,
        headers,
        r#"{"message":"the connection is gone"}"#,
    )
        .into_response()
}

fn sender(state: &Gateway, id: &str) -> Option<(mpsc::UnboundedSender<Out>, i64)> {
    state.open.lock().ok()?.get(id).cloned()
}

async fn post_frame(
    State(state): State<Arc<Gateway>>,
    Path(id): Path<String>,
    body: Bytes,
) -> Response {
    let text = String::from_utf8_lossy(&body).into_owned();
    match sender(&state, &id) {
        Some((tx, _)) if tx.send(Out::Frame(text)).is_ok() => StatusCode::OK.into_response(),
        _ => gone(),
    }
}

async fn close(State(state): State<Arc<Gateway>>, Path(id): Path<String>) -> Response {
    match sender(&state, &id) {
        Some((tx, _)) => {
            let _ = tx.send(Out::Close);
            StatusCode::NO_CONTENT.into_response()
        }
        None => gone(),
    }
}

async fn info(State(state): State<Arc<Gateway>>, Path(id): Path<String>) -> Response {
    match sender(&state, &id) {
        Some((_, at)) => (
            StatusCode::OK,
            [("content-type", "application/json")],
            serde_json::json!({"connectedAt": at / 1000, "identity": {}}).to_string(),
        )
            .into_response(),
        None => gone(),
    }
}
