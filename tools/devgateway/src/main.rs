//! `make dev`'s WebSocket gateway on 127.0.0.1:$WS_PORT (default 9001): see the library.

#[tokio::main]
async fn main() {
    shared::lambda::init_logging();
    let port = std::env::var("WS_PORT").unwrap_or_else(|_| "9001".into());
    let config = shared::config::aws_config().await;
    let services = match shared::lambda::Services::from_config(&config) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("talkplus-devgateway: {e}");
            std::process::exit(1);
        }
    };
    let own = format!("http://127.0.0.1:{port}");
    let connections = shared::realtime::connections::Connections::from_env(&config)
        .unwrap_or_else(|| shared::realtime::connections::Connections::new(&config, &own));
    let listener =
        match tokio::net::TcpListener::bind(("127.0.0.1", port.parse().unwrap_or(9001))).await {
            Ok(l) => l,
            Err(e) => {
                eprintln!("talkplus-devgateway: bind 127.0.0.1:{port}: {e}");
                std::process::exit(1);
            }
        };
    eprintln!(
        "talkplus-devgateway: ws://127.0.0.1:{port}{}",
        shared::realtime::PATH
    );
    tokio::select! {
        r = devgateway::serve(listener, services, connections) => {
            if let Err(e) = r {
                eprintln!("talkplus-devgateway: {e}");
                std::process::exit(1);
            }
        }
        _ = tokio::signal::ctrl_c() => {}
    }
}
