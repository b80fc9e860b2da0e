//! The queue consumer: each job is signed with the app's API key and POSTed to where its
//! target points now. 2xx is done; 410 turns the app's webhook off; anything else (or no
//! answer within the timeout) is retried on the app's schedule, then dead-lettered.
//!
//! Destinations are checked where they are connected to: the URL must be `https` (plain
//! `http` only to loopback, and only where loopback is allowed: local development); every
//! address a name resolves to is checked, and the connection goes only to an address that
//! passed (the HTTP client's resolver filters), so a name that resolves to a private,
//! link-local or metadata address is refused, whatever it resolved to a moment before.
//! Redirects are not followed. Receivers' response bodies are never read, so never logged.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Mutex;
use std::time::Duration;

use reqwest::dns::{Addrs, Name, Resolve, Resolving};

use super::queue::{Queue, QueueMessage};
use super::{Job, Target, sign};
use crate::model::{AppCredentials, now_ms};
use crate::seal::Sealer;
use crate::store::Store;
use crate::validate::is_loopback_host;

pub const ALLOW_LOOPBACK_VAR: &str = "TALKPLUS_WEBHOOK_ALLOW_LOOPBACK";
pub const TIMEOUT_VAR: &str = "TALKPLUS_WEBHOOK_TIMEOUT_MS";
/// Short, so a slow receiver costs its own deliveries time, not everyone's.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(5);

/// Whether a delivery may connect to `ip`: public unicast only (loopback too when allowed).
pub fn allowed_ip(ip: IpAddr, allow_loopback: bool) -> bool {
    match ip {
        IpAddr::V4(v4) => allowed_v4(v4, allow_loopback),
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return allowed_v4(v4, allow_loopback);
            }
            if v6.is_loopback() {
                return allow_loopback;
            }
            let s = v6.segments();
            !(v6.is_unspecified()
                || v6.is_multicast()
                // fc00::/7 unique local (AWS's IPv6 metadata address fd00:ec2::254 among them)
                || (s[0] & 0xfe00) == 0xfc00
                // fe80::/10 link-local
                || (s[0] & 0xffc0) == 0xfe80
                // 64:ff9b::/96 NAT64 and 2001:db8::/32 documentation
                || (s[0] == 0x64 && s[1] == 0xff9b)
                || (s[0] == 0x2001 && s[1] == 0xdb8)
                || v6 == Ipv6Addr::UNSPECIFIED)
        }
    }
}

fn allowed_v4(ip: Ipv4Addr, allow_loopback: bool) -> bool {
    if ip.is_loopback() {
        return allow_loopback;
    }
    let o = ip.octets();
    !(ip.is_private()
        // 169.254.0.0/16: link-local, the instance metadata service (169.254.169.254) included
        || ip.is_link_local()
        || ip.is_unspecified()
        || ip.is_broadcast()
        || ip.is_multicast()
        || ip.is_documentation()
        || o[0] == 0
        // 100.64.0.0/10 shared address space
        || (o[0] == 100 && (o[1] & 0xc0) == 64)
        // 192.0.0.0/24 protocol assignments, 198.18.0.0/15 benchmarking, 240.0.0.0/4 reserved
        || (o[0] == 192 && o[1] == 0 && o[2] == 0)
        || (o[0] == 198 && (o[1] & 0xfe) == 18)
        || o[0] >= 240)
}

/// Resolves, then keeps only the addresses a delivery may connect to.
struct GuardedResolver {
    allow_loopback: bool,
}

impl Resolve for GuardedResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let allow_loopback = self.allow_loopback;
        let host = name.as_str().to_owned();
        Box::pin(async move {
            let ok = resolve_allowed(&host, allow_loopback).await?;
            if ok.is_empty() {
                return Err(format!("{host} resolves to no address a webhook may reach").into());
            }
            Ok(Box::new(ok.into_iter()) as Addrs)
        })
    }
}

async fn resolve_allowed(host: &str, allow_loopback: bool) -> std::io::Result<Vec<SocketAddr>> {
    Ok(tokio::net::lookup_host((host, 0))
        .await?
        .filter(|a| allowed_ip(a.ip(), allow_loopback))
        .collect())
}

/// What became of one attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Delivered,
    /// Worth another attempt (status or transport failure).
    Failed(String),
    /// The receiver answered 410 Gone.
    Gone {
        url: String,
    },
    /// Will never succeed as it is (the destination is refused, nothing to sign with).
    Refused(String),
    /// Nowhere to send any more (the webhook was turned off, the bot deleted or without
    /// callback): nothing to retry.
    Dropped(&'static str),
}

pub struct Deliverer {
    store: Store,
    queue: Queue,
    sealer: Option<Sealer>,
    http: reqwest::Client,
    allow_loopback: bool,
    /// Opened signing keys by (app, sealed key): each is opened once per warm container, and
    /// a rotated key (another sealed value) is opened afresh.
    keys: Mutex<HashMap<(String, String), String>>,
}

impl Deliverer {
    pub fn new(
        store: Store,
        queue: Queue,
        sealer: Option<Sealer>,
        allow_loopback: bool,
        timeout: Duration,
    ) -> Result<Deliverer, String> {
        let http = crate::config::reqwest_builder()?
            .redirect(reqwest::redirect::Policy::none())
            .no_proxy()
            .dns_resolver(GuardedResolver { allow_loopback })
            .connect_timeout(timeout.min(Duration::from_secs(2)))
            .timeout(timeout)
            .build()
            .map_err(|e| format!("webhook HTTP client: {e}"))?;
        Ok(Deliverer {
            store,
            queue,
            sealer,
            http,
            allow_loopback,
            keys: Mutex::new(HashMap::new()),
        })
    }

    /// Configured by the environment: the sealer (`crate::seal`), loopback
    /// (`TALKPLUS_WEBHOOK_ALLOW_LOOPBACK=1`, local development only) and the receiver timeout
    /// (`TALKPLUS_WEBHOOK_TIMEOUT_MS`).
    pub fn from_env(
        store: Store,
        queue: Queue,
        config: &aws_config::SdkConfig,
    ) -> Result<Deliverer, String> {
        let allow_loopback = std::env::var(ALLOW_LOOPBACK_VAR).is_ok_and(|v| v == "1");
        let timeout = std::env::var(TIMEOUT_VAR)
            .ok()
            .and_then(|v| v.parse().ok())
            .map(Duration::from_millis)
            .unwrap_or(DEFAULT_TIMEOUT);
        Deliverer::new(
            store,
            queue,
            Sealer::from_env(config),
            allow_loopback,
            timeout,
        )
    }

    /// Handles a batch as Lambda hands it over (in queue order) and returns the ids of the
    /// messages to hand back: each failed one (made visible again when its retry is due),
    /// and after it every later message of its group, untried, so the group keeps its order.
    pub async fn handle(&self, batch: &[QueueMessage]) -> Vec<String> {
        let mut apps: HashMap<String, Option<AppCredentials>> = HashMap::new();
        let mut held: Vec<&str> = Vec::new();
        let mut failed = Vec::new();
        for m in batch {
            if held.contains(&m.group.as_str()) {
                // Untried: back at once, behind the failed one (whose wait holds the group).
                if let Err(e) = self.queue.visible_after(&m.receipt_handle, 0).await {
                    tracing::warn!(error = %e, "could not hand a held delivery back");
                }
                failed.push(m.message_id.clone());
                continue;
            }
            match self.handle_one(m, &mut apps).await {
                Ok(true) => {}
                Ok(false) => {
                    held.push(&m.group);
                    failed.push(m.message_id.clone());
                }
                Err(e) => {
                    tracing::error!(error = %e, "webhook delivery could not be handled; retried");
                    held.push(&m.group);
                    failed.push(m.message_id.clone());
                }
            }
        }
        failed
    }

    /// `Ok(true)`: done with the message (delivered, dropped or dead-lettered).
    async fn handle_one(
        &self,
        m: &QueueMessage,
        apps: &mut HashMap<String, Option<AppCredentials>>,
    ) -> Result<bool, String> {
        // An unreadable body fails every time: the queue's redrive policy dead-letters it.
        let job: Job = serde_json::from_str(&m.body).map_err(|e| format!("job body: {e}"))?;
        let app = match apps.get(&job.app_id) {
            Some(a) => a.clone(),
            None => {
                let a = self
                    .store
                    .app(&job.app_id)
                    .await
                    .map_err(|e| e.to_string())?;
                apps.insert(job.app_id.clone(), a.clone());
                a
            }
        };
        let outcome = self.attempt(&job, app.as_ref()).await?;
        let log = |result: &str| {
            tracing::info!(
                webhook_id = %job.id, app_id = %job.app_id, event = %job.event,
                target = ?job.target, result, "webhook delivery"
            )
        };
        match outcome {
            Outcome::Delivered => log("delivered"),
            Outcome::Dropped(why) => log(why),
            Outcome::Gone { url } => {
                log("410 Gone");
                if job.target == Target::Webhook {
                    let off = self
                        .store
                        .turn_webhook_off(&job.app_id, &url, now_ms())
                        .await
                        .map_err(|e| e.to_string())?;
                    if off {
                        tracing::warn!(app_id = %job.app_id, "the receiver answered 410: webhook turned off");
                        apps.remove(&job.app_id);
                    }
                }
            }
            Outcome::Refused(why) => {
                log("refused");
                self.queue.dead_letter(&job, &m.group, &why).await?;
            }
            Outcome::Failed(why) => {
                let elapsed_s = (now_ms() - job.queued_at).max(0) as u64 / 1000;
                match job.retry.next_delay_s(elapsed_s) {
                    Some(delay) => {
                        tracing::info!(
                            webhook_id = %job.id, app_id = %job.app_id, reason = %why, retry_in_s = delay,
                            "webhook delivery failed"
                        );
                        self.queue.visible_after(&m.receipt_handle, delay).await?;
                        return Ok(false);
                    }
                    None => {
                        tracing::warn!(
                            webhook_id = %job.id, app_id = %job.app_id, reason = %why,
                            "webhook delivery exhausted its schedule: dead-lettered"
                        );
                        self.queue.dead_letter(&job, &m.group, &why).await?;
                    }
                }
            }
        }
        Ok(true)
    }

    /// One attempt at a job, to where its target points now.
    pub async fn attempt(
        &self,
        job: &Job,
        app: Option<&AppCredentials>,
    ) -> Result<Outcome, String> {
        let Some(app) = app.filter(|a| a.app.active) else {
            return Ok(Outcome::Dropped("app gone or deactivated"));
        };
        let url = match &job.target {
            Target::Webhook => match app.webhook.url_for(&job.event) {
                Some(u) => u.to_owned(),
                None => return Ok(Outcome::Dropped("webhook off or event not wanted")),
            },
            Target::Bot { bot_id } => {
                match self
                    .store
                    .bot(&job.app_id, bot_id)
                    .await
                    .map_err(|e| e.to_string())?
                {
                    Some(b) if !b.callback_url.is_empty() => b.callback_url,
                    _ => return Ok(Outcome::Dropped("bot gone or without callbackUrl")),
                }
            }
        };
        if let Err(why) = self.check_destination(&url).await {
            return Ok(Outcome::Refused(why));
        }
        let key = match self.signing_key(app).await {
            Ok(k) => k,
            Err(why) => return Ok(Outcome::Refused(why)),
        };
        let body = if job.body_parts == 0 {
            job.body.clone()
        } else {
            match self
                .store
                .webhook_body(&job.app_id, &job.id, job.body_parts)
                .await
                .map_err(|e| e.to_string())?
            {
                Some(b) => b,
                None => return Ok(Outcome::Refused("the stored body has expired".into())),
            }
        };
        let headers = sign::headers(&key, &job.id, now_ms() / 1000, body.as_bytes());
        let mut request = self
            .http
            .post(&url)
            .header("content-type", "application/json")
            .body(body);
        for (name, value) in headers {
            request = request.header(name, value);
        }
        Ok(match request.send().await {
            Ok(r) if r.status().is_success() => Outcome::Delivered,
            Ok(r) if r.status() == reqwest::StatusCode::GONE => Outcome::Gone { url },
            Ok(r) => Outcome::Failed(format!("HTTP {}", r.status().as_u16())),
            Err(e) if e.is_timeout() => Outcome::Failed("no answer within the timeout".into()),
            Err(_) => Outcome::Failed("could not connect".into()),
        })
    }

    /// Scheme and addresses; the resolver checks the addresses again at connection time.
    async fn check_destination(&self, url: &str) -> Result<(), String> {
        let parsed = reqwest::Url::parse(url).map_err(|_| "not a URL".to_owned())?;
        let host = parsed.host_str().ok_or("no host")?.to_owned();
        match parsed.scheme() {
            "https" => {}
            "http" if self.allow_loopback && is_loopback_host(&host) => {}
            other => return Err(format!("scheme {other} is not allowed")),
        }
        let literal = host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .parse::<IpAddr>();
        let reachable = match literal {
            Ok(ip) => allowed_ip(ip, self.allow_loopback),
            Err(_) => !resolve_allowed(&host, self.allow_loopback)
                .await
                .map_err(|_| format!("{host} does not resolve"))?
                .is_empty(),
        };
        if reachable {
            Ok(())
        } else {
            Err(format!(
                "{host}: private, link-local or metadata address refused"
            ))
        }
    }

    async fn signing_key(&self, app: &AppCredentials) -> Result<String, String> {
        let sealed = app.signing_key.as_deref().ok_or(
            "the app has no sealed signing key (rotate its key where a sealing key is configured)",
        )?;
        let cache_key = (app.app.id.clone(), sealed.to_owned());
        if let Some(k) = self
            .keys
            .lock()
            .map_err(|_| "key cache poisoned")?
            .get(&cache_key)
        {
            return Ok(k.clone());
        }
        let sealer = self
            .sealer
            .as_ref()
            .ok_or_else(|| crate::seal::SealError::NotConfigured.to_string())?;
        let key = sealer
            .open(&app.app.id, sealed)
            .await
            .map_err(|e| e.to_string())?;
        self.keys
            .lock()
            .map_err(|_| "key cache poisoned")?
            .insert(cache_key, key.clone());
        Ok(key)
    }
}

/// What a batch of deliveries needs, for `crate::lambda`.
pub fn lambda_messages(event: &serde_json::Value) -> Vec<QueueMessage> {
    event["Records"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|r| QueueMessage {
            message_id: r["messageId"].as_str().unwrap_or_default().to_owned(),
            receipt_handle: r["receiptHandle"].as_str().unwrap_or_default().to_owned(),
            body: r["body"].as_str().unwrap_or_default().to_owned(),
            group: r["attributes"]["MessageGroupId"]
                .as_str()
                .unwrap_or_default()
                .to_owned(),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_public_addresses_are_reachable() {
        let refused = [
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "127.0.0.1",
            "0.0.0.0",
            "100.64.0.1",
            "224.0.0.1",
            "255.255.255.255",
            "::1",
            "::",
            "fe80::1",
            "fd00:ec2::254",
            "::ffff:10.0.0.1",
            "::ffff:169.254.169.254",
        ];
        for ip in refused {
            assert!(!allowed_ip(ip.parse().unwrap(), false), "{ip}");
        }
        for ip in ["93.184.216.34", "8.8.8.8", "2606:4700:4700::1111"] {
            assert!(allowed_ip(ip.parse().unwrap(), false), "{ip}");
        }
        assert!(allowed_ip("127.0.0.1".parse().unwrap(), true));
        assert!(allowed_ip("::1".parse().unwrap(), true));
        assert!(!allowed_ip("169.254.169.254".parse().unwrap(), true));
    }

    #[test]
    fn lambda_sqs_records_are_read() {
        let event = serde_json::json!({"Records": [{
            "messageId": "m1", "receiptHandle": "r1", "body": "{}",
            "attributes": {"MessageGroupId": "g1"}
        }]});
        let got = lambda_messages(&event);
        assert_eq!(got.len(), 1);
        assert_eq!(
            (got[0].message_id.as_str(), got[0].group.as_str()),
            ("m1", "g1")
        );
    }
}
