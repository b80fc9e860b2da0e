//! `talkplus-devdb`: the local DynamoDB-compatible engine for `make dev`. Serves dynoxide on
//! loopback with its data in a file, so a dev stack keeps its data between runs.
//!
//! Usage: `talkplus-devdb [--port 8000] [--data .dev/dynamodb.sqlite | --memory]`
//!
//! The table's change stream (the webhook pipeline reads it) is kept by dynoxide in a SQLite
//! table it neither indexes nor trims: each write looks up the stream's last sequence number
//! by scanning every record, so a dev stack would slow down with every change it ever made.
//! This binary opens a second connection to the file, indexes the records by table and
//! sequence number (the expression dynoxide's queries use), and drops records older than
//! DynamoDB Streams' 24 hours. `--memory` is therefore a temporary file, removed on exit.

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
    let temporary = data.is_none().then(|| {
        std::env::temp_dir()
            .join(format!("talkplus-devdb-{}.sqlite", std::process::id()))
            .to_string_lossy()
            .into_owned()
    });
    let path = data
        .clone()
        .or_else(|| temporary.clone())
        .unwrap_or_default();
    if let Some(dir) = std::path::Path::new(&path).parent() {
        std::fs::create_dir_all(dir).unwrap_or_else(|e| fail(&format!("create {dir:?}: {e}")));
    }
    if let Some(t) = &temporary {
        remove_database(t);
    }
    let db =
        dynoxide::Database::new(&path).unwrap_or_else(|e| fail(&format!("open database: {e}")));
    let stream =
        StreamRecords::open(&path).unwrap_or_else(|e| fail(&format!("index the stream: {e}")));
    let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .unwrap_or_else(|e| fail(&format!("bind {addr}: {e}")));
    eprintln!(
        "talkplus-devdb: DynamoDB-compatible engine on http://{addr} ({})",
        data.as_deref().unwrap_or("temporary, removed on exit")
    );
    let shutdown = async {
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
            .unwrap_or_else(|e| fail(&format!("install SIGTERM handler: {e}")));
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = term.recv() => {}
        }
    };
    let trim = tokio::spawn(async move {
        loop {
            if let Err(e) = stream.trim() {
                eprintln!("talkplus-devdb: trimming the stream: {e}");
            }
            tokio::time::sleep(std::time::Duration::from_secs(600)).await;
        }
    });
    let served = dynoxide::server::serve_with_shutdown(listener, db, shutdown).await;
    trim.abort();
    if let Some(t) = &temporary {
        remove_database(t);
    }
    if let Err(e) = served {
        fail(&e);
    }
}

/// The second connection to the data file (see the top of this file).
struct StreamRecords(std::sync::Mutex<rusqlite::Connection>);

/// DynamoDB Streams keeps a record 24 hours.
const STREAM_RETENTION_S: i64 = 24 * 3600;

impl StreamRecords {
    fn open(path: &str) -> rusqlite::Result<StreamRecords> {
        let conn = rusqlite::Connection::open(path)?;
        conn.busy_timeout(std::time::Duration::from_secs(5))?;
        conn.execute_batch(
            "CREATE INDEX IF NOT EXISTS talkplus_stream_sequence
             ON _stream_records(table_name, CAST(sequence_number AS INTEGER));
             CREATE INDEX IF NOT EXISTS talkplus_stream_age ON _stream_records(created_at);",
        )?;
        Ok(StreamRecords(std::sync::Mutex::new(conn)))
    }

    /// Drops records past the retention, a bounded batch at a time (dynoxide's writes wait
    /// for the lock meanwhile).
    fn trim(&self) -> rusqlite::Result<usize> {
        let conn = self.0.lock().unwrap_or_else(|p| p.into_inner());
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs() as i64)
            .unwrap_or_default();
        let mut total = 0;
        loop {
            let n = conn.execute(
                "DELETE FROM _stream_records WHERE id IN
                 (SELECT id FROM _stream_records WHERE created_at < ?1 LIMIT 1000)",
                [now - STREAM_RETENTION_S],
            )?;
            total += n;
            if n < 1000 {
                return Ok(total);
            }
        }
    }
}

fn remove_database(path: &str) {
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{path}{suffix}"));
    }
}

fn fail(msg: &str) -> ! {
    eprintln!("talkplus-devdb: {msg}");
    std::process::exit(1)
}
