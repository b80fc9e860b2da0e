//! `talkplus-admin`: provisioning against the table named by `TABLE_NAME`, local or deployed
//! (same environment as the functions: `TABLE_NAME`, `AWS_REGION`, credentials, and
//! `AWS_ENDPOINT_URL_DYNAMODB` for a local engine). Prints JSON on stdout.

use clap::{Parser, Subcommand};
use serde_json::json;
use shared::model::{App, now_ms};
use shared::secrets::{new_app_id, new_secret, secret_digest};
use shared::store::{Store, schema};

#[derive(Parser)]
#[command(
    name = "talkplus-admin",
    about = "Provision the table and the apps of a TalkPlus-compatible deployment"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Create the table (index and TTL included) unless it exists.
    CreateTable,
    /// Create an app and print its id and API key. The key is shown only here.
    CreateApp {
        #[arg(long, default_value = "")]
        name: String,
        /// Use this id instead of a new UUID.
        #[arg(long)]
        app_id: Option<String>,
        /// Use this key instead of a new random one (e.g. a fixed dev key).
        #[arg(long)]
        api_key: Option<String>,
    },
    /// Make sure an app with this id exists, is active, and accepts this key (for dev stacks).
    EnsureApp {
        #[arg(long)]
        app_id: String,
        #[arg(long)]
        api_key: String,
        #[arg(long, default_value = "")]
        name: String,
    },
    /// List every app (never their keys).
    ListApps,
    /// Give an app a new API key and print it; the old key stops working.
    RotateKey {
        #[arg(long)]
        app_id: String,
        #[arg(long)]
        api_key: Option<String>,
    },
    /// Deactivate an app: its requests get 403/1012.
    DeactivateApp {
        #[arg(long)]
        app_id: String,
    },
    /// Reactivate an app.
    ActivateApp {
        #[arg(long)]
        app_id: String,
    },
    /// Change an app's settings: rate limits in requests per second (0 = off), the admin
    /// API's per app and the client API's per user session.
    SetApp {
        #[arg(long)]
        app_id: String,
        #[arg(long)]
        admin_rate_limit: Option<u32>,
        #[arg(long)]
        client_rate_limit: Option<u32>,
    },
    /// Sweep the items of deleted channels and users (what the change stream's sweeper does on AWS).
    /// With --watch, keeps looking every second until stopped (make dev runs this).
    Sweep {
        #[arg(long)]
        watch: bool,
    },
}

/// Keys we accept from the command line: long enough to resist guessing, printable.
fn check_key(key: &str) -> Result<(), String> {
    if key.len() < 16 || !key.bytes().all(|b| b.is_ascii_graphic()) {
        return Err("an API key must be at least 16 printable ASCII characters".into());
    }
    Ok(())
}

fn check_app_id(id: &str) -> Result<(), String> {
    if id.is_empty() || id.len() > 64 || !shared::validate::is_uri_safe(id) {
        return Err(
            "an app id must be 1-64 characters of letters, digits, '-', '_', '.', '~'".into(),
        );
    }
    Ok(())
}

async fn run(cli: Cli) -> Result<serde_json::Value, String> {
    let table = shared::config::table_name()?;
    let store = Store::new(shared::config::dynamodb_client().await, table.clone());
    let now = now_ms();
    let err = |e: shared::Error| e.to_string();
    Ok(match cli.command {
        Command::CreateTable => {
            let status = schema::ensure_table(store.client(), &table)
                .await
                .map_err(err)?;
            json!({"table": table, "created": status == schema::TableStatus::Created})
        }
        Command::CreateApp {
            name,
            app_id,
            api_key,
        } => {
            let app_id = app_id.unwrap_or_else(new_app_id);
            check_app_id(&app_id)?;
            let api_key = api_key.unwrap_or_else(new_secret);
            check_key(&api_key)?;
            let app = App::new(app_id.clone(), name, now);
            store
                .create_app(&app, &secret_digest(&api_key))
                .await
                .map_err(err)?;
            json!({"appId": app_id, "apiKey": api_key})
        }
        Command::EnsureApp {
            app_id,
            api_key,
            name,
        } => {
            check_app_id(&app_id)?;
            check_key(&api_key)?;
            let digest = secret_digest(&api_key);
            let created = match store.app(&app_id).await.map_err(err)? {
                Some(existing) => {
                    if existing.api_key_digest != digest {
                        store
                            .set_api_key_digest(&app_id, &digest, now)
                            .await
                            .map_err(err)?;
                    }
                    if !existing.app.active {
                        store
                            .set_app_active(&app_id, true, now)
                            .await
                            .map_err(err)?;
                    }
                    false
                }
                None => {
                    let app = App::new(app_id.clone(), name, now);
                    store.create_app(&app, &digest).await.map_err(err)?;
                    true
                }
            };
            json!({"appId": app_id, "apiKey": api_key, "created": created})
        }
        Command::ListApps => {
            let apps = store.apps().await.map_err(err)?;
            let apps: Vec<_> = apps
                .into_iter()
                .map(|a| {
                    json!({
                        "appId": a.id,
                        "name": a.name,
                        "active": a.active,
                        "adminRateLimit": a.rate_limits.admin_per_second(),
                        "clientRateLimit": a.rate_limits.client_per_second(),
                        "createdAt": a.created_at,
                        "updatedAt": a.updated_at,
                    })
                })
                .collect();
            json!({"apps": apps})
        }
        Command::RotateKey { app_id, api_key } => {
            let api_key = api_key.unwrap_or_else(new_secret);
            check_key(&api_key)?;
            store
                .set_api_key_digest(&app_id, &secret_digest(&api_key), now)
                .await
                .map_err(err)?;
            json!({"appId": app_id, "apiKey": api_key})
        }
        Command::DeactivateApp { app_id } => {
            store
                .set_app_active(&app_id, false, now)
                .await
                .map_err(err)?;
            json!({"appId": app_id, "active": false})
        }
        Command::SetApp {
            app_id,
            admin_rate_limit,
            client_rate_limit,
        } => {
            if admin_rate_limit.is_none() && client_rate_limit.is_none() {
                return Err(
                    "nothing to set: give --admin-rate-limit and/or --client-rate-limit".into(),
                );
            }
            store
                .set_rate_limits(&app_id, admin_rate_limit, client_rate_limit, now)
                .await
                .map_err(err)?;
            let app = store
                .app(&app_id)
                .await
                .map_err(err)?
                .ok_or_else(|| format!("app {app_id} does not exist"))?
                .app;
            json!({
                "appId": app_id,
                "adminRateLimit": app.rate_limits.admin_per_second(),
                "clientRateLimit": app.rate_limits.client_per_second(),
            })
        }
        Command::Sweep { watch } => loop {
            let swept = shared::domain::cleanup::sweep_pending(
                &store,
                shared::domain::cleanup::WORKER_SWEEP,
            )
            .await;
            match (swept, watch) {
                (Ok(n), false) => break json!({"swept": n}),
                (Err(e), false) => return Err(err(e)),
                (Ok(_), true) => {}
                (Err(e), true) => eprintln!("talkplus-admin sweep: {e}"),
            }
            tokio::time::sleep(std::time::Duration::from_secs(1)).await;
        },
        Command::ActivateApp { app_id } => {
            store
                .set_app_active(&app_id, true, now)
                .await
                .map_err(err)?;
            json!({"appId": app_id, "active": true})
        }
    })
}

#[tokio::main]
async fn main() {
    match run(Cli::parse()).await {
        Ok(out) => println!("{out}"),
        Err(e) => {
            eprintln!("talkplus-admin: {e}");
            std::process::exit(1);
        }
    }
}
