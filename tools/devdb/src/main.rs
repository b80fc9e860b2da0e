//! `talkplus-devdb`: the local DynamoDB-compatible engine for `make dev`. Serves dynoxide on
//! loopback with its data in a file, so a dev stack keeps its data between runs.
//!
//! Usage: `talkplus-devdb [--port 8000] [--data .dev/dynamodb.sqlite | --memory]`

use std::net::{Ipv4Addr, SocketAddr};

fn usage() -> ! {
    eprintln!("usage: talkplus-devdb [--port N] [--data FILE | --memory]");
    std::process::exit(2)
}

#[tokio::main]
async fn main() {
    let mut port: u16 = 8000;
    let mut data: Option<String> = Some(".dev/dynamodb.sqlite".into());
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--port" => {
                port = args
                    .next()
                    .and_then(|p| p.parse().ok())
                    .unwrap_or_else(|| usage())
            }
            "--data" => data = Some(args.next().unwrap_or_else(|| usage())),
            "--memory" => data = None,
            _ => usage(),
        }
    }
    let db = match &data {
        Some(path) => {
            if let Some(dir) = std::path::Path::new(path).parent() {
                std::fs::create_dir_all(dir)
                    .unwrap_or_else(|e| fail(&format!("create {dir:?}: {e}")));
            }
            dynoxide::Database::new(path)
        }
        None => dynoxide::Database::memory(),
    }
    .unwrap_or_else(|e| fail(&format!("open database: {e}")));
    let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .unwrap_or_else(|e| fail(&format!("bind {addr}: {e}")));
    eprintln!(
        "talkplus-devdb: DynamoDB-compatible engine on http://{addr} ({})",
        data.as_deref().unwrap_or("in memory")
    );
    let shutdown = async {
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
            .unwrap_or_else(|e| fail(&format!("install SIGTERM handler: {e}")));
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = term.recv() => {}
        }
    };
    if let Err(e) = dynoxide::server::serve_with_shutdown(listener, db, shutdown).await {
        fail(&e);
    }
}

fn fail(msg: &str) -> ! {
    eprintln!("talkplus-devdb: {msg}");
    std::process::exit(1)
}
