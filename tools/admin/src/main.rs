//! `talkplus-admin`: provisioning against the table named by `TABLE_NAME`, local or deployed
//! (same environment as the functions: `TABLE_NAME`, `AWS_REGION`, credentials, and
//! `AWS_ENDPOINT_URL_DYNAMODB` for a local engine). Prints JSON on stdout.

use clap::{Parser, Subcommand};
use serde_json::json;
use shared::model::{App, now_ms};
use shared::seal::Sealer;
use shared::secrets::{new_app_id, new_secret, secret_digest};
use shared::store::{Store, schema};
use shared::webhooks::{self, RetrySchedule};

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
    /// API's per app and the client API's per user session; whether the client API's
    /// anonymous login may log in (and create) users without a login token; the FCM
    /// service account that sends its push notifications (kept sealed, as the API key).
    SetApp {
        #[arg(long)]
        app_id: String,
        #[arg(long)]
        admin_rate_limit: Option<u32>,
        #[arg(long)]
        client_rate_limit: Option<u32>,
        #[arg(long)]
        anonymous_login: Option<bool>,
        /// A service account key file (JSON) of the app's Firebase project, with the
        /// Firebase Cloud Messaging API enabled.
        #[arg(long, value_name = "FILE", conflicts_with = "no_fcm")]
        fcm_service_account: Option<std::path::PathBuf>,
        /// Forget the FCM service account: no more push notifications.
        #[arg(long)]
        no_fcm: bool,
    },
    /// Set an app's webhook: where events go, which ones (default: all), and the retry
    /// schedule (default: keep the current one, `standard` at first); or turn it off.
    SetWebhook {
        #[arg(long)]
        app_id: String,
        /// https, or http to loopback for local development.
        #[arg(long, required_unless_present = "off", conflicts_with = "off")]
        url: Option<String>,
        /// Comma-separated events; without it, every event.
        #[arg(long, value_delimiter = ',', conflicts_with = "off")]
        events: Option<Vec<String>>,
        /// standard (Standard Webhooks' schedule, about 27 hours) or talkplus (one retry after 5 s).
        #[arg(long)]
        retry: Option<String>,
        #[arg(long)]
        off: bool,
    },
    /// Run the webhook pipeline against a local engine and SQS endpoint (what the dispatcher
    /// and deliverer functions do on AWS): the table's stream into the delivery queue, the
    /// queue to the receivers. Runs until stopped (make dev runs this).
    Webhooks {
        /// The queues' name (`NAME.fifo` and `NAME-dead.fifo`), created unless they exist.
        #[arg(long, default_value = "talkplus-webhooks")]
        queue_name: String,
        /// Where to keep the stream position between runs; without it, only changes made
        /// while running are sent.
        #[arg(long)]
        checkpoint: Option<String>,
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

/// The app, or a clear message that there is none.
async fn existing_app(
    store: &Store,
    app_id: &str,
) -> Result<shared::model::AppCredentials, String> {
    store
        .app(app_id)
        .await
        .map_err(|e| e.to_string())?
        .ok_or_else(|| format!("app {app_id} does not exist"))
}

/// Seals the app's key for webhook signing where a sealing key is configured; says so on
/// stderr where none is (the app works, but its webhooks can't be signed).
async fn seal_key(
    store: &Store,
    config: &aws_config::SdkConfig,
    app_id: &str,
    api_key: &str,
    now: i64,
) -> Result<bool, String> {
    let Some(sealer) = Sealer::from_env(config) else {
        eprintln!(
            "talkplus-admin: note: {} (the key is not kept for webhook signing)",
            shared::seal::SealError::NotConfigured
        );
        return Ok(false);
    };
    let sealed = sealer
        .seal(app_id, api_key)
        .await
        .map_err(|e| e.to_string())?;
    store
        .set_signing_key(app_id, &sealed, now)
        .await
        .map_err(|e| e.to_string())?;
    Ok(true)
}

async fn run(cli: Cli) -> Result<serde_json::Value, String> {
    let table = shared::config::table_name()?;
    let config = shared::config::aws_config().await;
    let store = Store::new(aws_sdk_dynamodb::Client::new(&config), table.clone());
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
            seal_key(&store, &config, &app_id, &api_key, now).await?;
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
            seal_key(&store, &config, &app_id, &api_key, now).await?;
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
            // Webhooks are signed with the new key from now on.
            seal_key(&store, &config, &app_id, &api_key, now).await?;
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
            anonymous_login,
            fcm_service_account,
            no_fcm,
        } => {
            if admin_rate_limit.is_none()
                && client_rate_limit.is_none()
                && anonymous_login.is_none()
                && fcm_service_account.is_none()
                && !no_fcm
            {
                return Err("nothing to set: give --admin-rate-limit, --client-rate-limit, --anonymous-login, --fcm-service-account and/or --no-fcm".into());
            }
            existing_app(&store, &app_id).await?;
            // Checked and sealed before anything is written.
            let fcm = match &fcm_service_account {
                Some(file) => {
                    let text = std::fs::read_to_string(file)
                        .map_err(|e| format!("{}: {e}", file.display()))?;
                    let account = shared::realtime::push::ServiceAccount::parse(&text)
                        .map_err(|e| format!("{}: {e}", file.display()))?;
                    let sealer = Sealer::from_env(&config).ok_or_else(|| {
                        format!(
                            "{} (the service account is kept sealed)",
                            shared::seal::SealError::NotConfigured
                        )
                    })?;
                    let sealed = sealer
                        .seal(&app_id, &account.to_json())
                        .await
                        .map_err(|e| e.to_string())?;
                    Some((account, sealed))
                }
                None => None,
            };
            if admin_rate_limit.is_some() || client_rate_limit.is_some() {
                store
                    .set_rate_limits(&app_id, admin_rate_limit, client_rate_limit, now)
                    .await
                    .map_err(err)?;
            }
            if let Some(on) = anonymous_login {
                store
                    .set_anonymous_login(&app_id, on, now)
                    .await
                    .map_err(err)?;
            }
            if let Some((_, sealed)) = &fcm {
                store
                    .set_fcm_service_account(&app_id, Some(sealed), now)
                    .await
                    .map_err(err)?;
            } else if no_fcm {
                store
                    .set_fcm_service_account(&app_id, None, now)
                    .await
                    .map_err(err)?;
            }
            let kept = existing_app(&store, &app_id).await?;
            let app = kept.app;
            json!({
                "appId": app_id,
                "adminRateLimit": app.rate_limits.admin_per_second(),
                "clientRateLimit": app.rate_limits.client_per_second(),
                "anonymousLogin": app.anonymous_login,
                "fcm": kept.fcm_service_account.is_some(),
                "fcmProject": fcm.map(|(a, _)| a.project_id),
            })
        }
        Command::SetWebhook {
            app_id,
            url,
            events,
            retry,
            off,
        } => {
            let retry = retry
                .map(|r| {
                    RetrySchedule::parse(&r)
                        .ok_or_else(|| format!("--retry {r:?}: standard or talkplus"))
                })
                .transpose()?;
            if let Some(events) = &events {
                if events.is_empty() {
                    return Err("--events needs at least one event".into());
                }
                for e in events {
                    if !webhooks::EVENTS.contains(&e.as_str()) {
                        return Err(format!(
                            "--events: unknown event {e:?}; events are {}",
                            webhooks::EVENTS.join(",")
                        ));
                    }
                }
            }
            let app = existing_app(&store, &app_id).await?;
            if let Some(url) = &url {
                webhooks::check_url(url)?;
                if app.signing_key.is_none() {
                    return Err(format!(
                        "app {app_id}'s API key is not kept for signing: run rotate-key with {} or {} set, then set the webhook",
                        shared::seal::KMS_KEY_VAR,
                        shared::seal::DEV_KEY_VAR
                    ));
                }
            }
            let url = if off { None } else { url };
            store
                .set_webhook(&app_id, url.as_deref(), events.as_deref(), retry, now)
                .await
                .map_err(err)?;
            let set = existing_app(&store, &app_id).await?.webhook;
            json!({
                "appId": app_id,
                "url": set.url,
                "events": set.events.map(|e| e.into_iter().collect::<Vec<_>>()),
                "retry": set.retry.as_str(),
            })
        }
        Command::Webhooks {
            queue_name,
            checkpoint,
        } => {
            run_webhooks(store, &config, &table, &queue_name, checkpoint.as_deref()).await?;
            json!({})
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

/// The local webhook pipeline: two loops, as the two event source mappings on AWS.
async fn run_webhooks(
    store: Store,
    config: &aws_config::SdkConfig,
    table: &str,
    queue_name: &str,
    checkpoint: Option<&str>,
) -> Result<(), String> {
    use shared::webhooks::{deliver::Deliverer, local, queue::Queue};
    // Each delivery's outcome, as the functions log it on AWS.
    shared::lambda::init_logging();
    let queue = Queue::ensure(aws_sdk_sqs::Client::new(config), queue_name).await?;
    let start = match checkpoint.and_then(|f| std::fs::read_to_string(f).ok()) {
        Some(saved) => local::Start::After(
            serde_json::from_str(&saved).map_err(|e| format!("checkpoint {checkpoint:?}: {e}"))?,
        ),
        None => local::Start::Latest,
    };
    let mut poller = local::StreamPoller::from_env(table, start).await?;
    let deliverer = Deliverer::from_env(store.clone(), queue.clone(), config)?;
    // The WebSocket's fan-out, to the dev gateway's @connections API (make dev sets it), and
    // its chunk queue for super channels (on the same SQS endpoint), with its consumer.
    let connections = shared::realtime::connections::Connections::from_env(config);
    let chunker = match &connections {
        Some(c) => {
            let queue = shared::realtime::chunks::ChunkQueue::ensure(
                aws_sdk_sqs::Client::new(config),
                &format!("{queue_name}-realtime"),
            )
            .await?;
            Some(shared::realtime::chunks::Chunker::new(
                store.clone(),
                c.clone(),
                queue,
            ))
        }
        None => None,
    };
    let chunks = chunker.as_ref().map(|c| c.queue.clone());
    // Push to users with no connection: FCM (or the fake TALKPLUS_FCM_URL names), with links
    // to TALKPLUS_PUBLIC_API_URL (make dev sets it).
    let push = shared::realtime::push::Push::from_env(config);
    eprintln!(
        "talkplus-admin webhooks: stream of {table} -> {} -> receivers",
        queue.url()
    );
    let stream = async {
        loop {
            let records = poller.fetch().await?;
            if records.is_empty() {
                tokio::time::sleep(poller.idle_wait()).await;
                continue;
            }
            match webhooks::on_changes(
                &store,
                &queue,
                connections.as_ref(),
                chunks.as_ref(),
                push.as_ref(),
                &records,
            )
            .await
            {
                Ok(_) => {
                    poller.commit().await?;
                    if let Some(file) = checkpoint {
                        let saved = serde_json::to_string(&poller.checkpoint())
                            .map_err(|e| e.to_string())?;
                        std::fs::write(file, saved).map_err(|e| format!("{file}: {e}"))?;
                    }
                }
                Err(e) => {
                    eprintln!("talkplus-admin webhooks: dispatch failed, retrying the batch: {e}");
                    tokio::time::sleep(std::time::Duration::from_secs(1)).await;
                }
            }
        }
        #[allow(unreachable_code)]
        Ok::<(), String>(())
    };
    let deliveries = async {
        loop {
            if let Err(e) = local::pump(&queue, &deliverer, 1).await {
                eprintln!("talkplus-admin webhooks: {e}");
                tokio::time::sleep(std::time::Duration::from_secs(1)).await;
            }
        }
        #[allow(unreachable_code)]
        Ok::<(), String>(())
    };
    let super_channels = async {
        let Some(chunker) = &chunker else {
            return std::future::pending::<Result<(), String>>().await;
        };
        loop {
            if let Err(e) = chunker.pump(1).await {
                eprintln!("talkplus-admin webhooks: {e}");
                tokio::time::sleep(std::time::Duration::from_secs(1)).await;
            }
        }
    };
    tokio::try_join!(stream, deliveries, super_channels)?;
    Ok(())
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
