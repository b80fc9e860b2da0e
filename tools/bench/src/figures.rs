//! Figures behind earlier choices: password hashing, login timing, super-channel changes
//! at 10 and 100,000 members, message send rates.
//!
//! Password hashing: Argon2id at OWASP's equal-strength settings, timed here, and the time
//! estimated for a 128 MB Lambda. Lambda gives a function CPU in proportion to its memory,
//! one full vCPU at 1,769 MB, so 128 MB gets 128/1769 of one: about 13.8x the single-core
//! time measured here (an estimate that assumes this core is as fast as Lambda's).
//!
//! Login (`users/login`): the median time of a login through the function pipeline for a
//! known user with the right password, with a wrong one, and for an unknown user. The Argon2id
//! verification dominates all three, and the unknown user's (against a dummy hash) must cost
//! the same as the others: the timing tells nothing about which users exist.
//!
//! Super channel changes: bot join and leave, and member add, mute, unmute, remove, ban,
//! unban on a super channel of 10 members and of 100,000 (seeded straight into the
//! in-process engine), through the same pipeline as a function; median latency and DynamoDB
//! calls per change. The promise is that the two columns are the same.
//!
//! Message sends: the rate of sends into one channel from 50 concurrent senders, and into
//! 100 channels from the same 50 clients, in one run; and a single sender's median latency.
//! The in-process engine has no partition limits (DynamoDB's ~1,000 write units a second per
//! partition is the real ceiling of one channel; see docs/design.md), so these figures are
//! our own cost per send and whether senders into one channel hold each other up.

use std::time::{Duration, Instant};

use lambda_http::http::Method;
use serde_json::json;
use talkplus_tests::TestApp;

use crate::{Report, Scale, median, scale};

use shared::secrets::{PASSWORD_M_COST_KIB, PASSWORD_T_COST, hash_password_with, verify_password};

const LAMBDA_FULL_VCPU_MB: f64 = 1769.0;
const LAMBDA_MB: f64 = 128.0;

pub async fn logins(report: &mut Report) {
    let app = TestApp::with_auth_cache(Duration::from_secs(600)).await;
    let r = app
        .call_function(
            "users-create",
            app.request(
                Method::POST,
                "/v1.4/api/users/create",
                Some(json!({"userId": "bench", "password": "right-password"})),
            ),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let cases = [
        ("known user, right password", "bench", "right-password", 200),
        ("known user, wrong password", "bench", "wrong-password", 401),
        ("unknown user", "nobody", "right-password", 404),
    ];
    let mut times: Vec<Vec<Duration>> = vec![Vec::new(); cases.len()];
    // Interleaved, so the three see the same machine load.
    for _ in 0..scale().login_runs {
        for (i, (_, user, password, status)) in cases.iter().enumerate() {
            let started = Instant::now();
            let r = app
                .call_function(
                    "users-login",
                    app.request(
                        Method::POST,
                        "/v1.4/api/users/login",
                        Some(json!({"userId": user, "password": password})),
                    ),
                )
                .await;
            times[i].push(started.elapsed());
            assert_eq!(r.status, *status, "{}", r.body);
        }
    }
    report.line("");
    report.line("| login (in-process engine) | median (ms) |");
    report.line("|---|---|");
    for (((name, ..), t), key) in cases.iter().zip(times).zip(["right", "wrong", "unknown"]) {
        let med = median(t).as_secs_f64() * 1000.0;
        report.line(format!("| {name} | {med:.1} |"));
        report.set(&format!("login_ms.{key}"), med);
    }
}

/// (median ms, DynamoDB calls) of each change on a super channel of `size` members.
async fn changes_at(size: usize) -> Vec<(&'static str, f64, usize)> {
    let app = TestApp::with_auth_cache(Duration::from_secs(600)).await;
    app.add_users(&["owner", "x"]).await;
    let create = app
        .call_function(
            "channels-create",
            app.request(
                Method::POST,
                "/v1.4/api/channels/create",
                Some(json!({"channelId": "s", "type": "super_public", "ownerId": "owner", "members": []})),
            ),
        )
        .await;
    assert_eq!(create.status, 200, "{}", create.body);
    app.seed_members("s", shared::model::ChannelType::SuperPublic, size)
        .await;
    let bot = app
        .call_function(
            "bots-create",
            app.request(
                Method::POST,
                "/v1.4/api/bots/create",
                Some(json!({"id": "bot", "name": "Bot", "type": "cs"})),
            ),
        )
        .await;
    assert_eq!(bot.status, 200, "{}", bot.body);
    let ops = [
        "bot join",
        "bot leave",
        "add",
        "mute",
        "unmute",
        "remove",
        "ban",
        "unban",
    ];
    let mut times: Vec<Vec<Duration>> = vec![Vec::new(); ops.len()];
    let mut calls = vec![0; ops.len()];
    for _ in 0..scale().change_runs {
        // Bot join, leave; add x, mute, unmute, remove; then add, ban, unban (ban needs a
        // member).
        for (i, op) in ops.iter().enumerate() {
            if *op == "ban" {
                let r = app
                    .call_function(
                        "channels-members-add",
                        app.request(
                            Method::POST,
                            "/v1.4/api/channels/s/members/add",
                            Some(json!({"members": ["x"]})),
                        ),
                    )
                    .await;
                assert_eq!(r.status, 200, "{}", r.body);
            }
            let (function, path, body) = match op.strip_prefix("bot ") {
                Some(verb) => (
                    format!("bots-{verb}"),
                    format!("/v1.4/api/bots/bot/channels/s/{verb}"),
                    None,
                ),
                None => (
                    format!("channels-members-{op}"),
                    format!("/v1.4/api/channels/s/members/{op}"),
                    Some(json!({"members": ["x"]})),
                ),
            };
            app.calls.take();
            let started = Instant::now();
            let r = app
                .call_function(&function, app.request(Method::POST, &path, body))
                .await;
            times[i].push(started.elapsed());
            assert_eq!(r.status, 200, "{op}: {}", r.body);
            calls[i] = app.calls.take().len();
        }
    }
    ops.iter()
        .zip(times)
        .zip(calls)
        .map(|((op, t), c)| (*op, median(t).as_secs_f64() * 1000.0, c))
        .collect()
}

pub async fn super_channel_changes(report: &mut Report) {
    let [small_n, large_n] = scale().sizes;
    report.line("");
    report.line(format!(
        "| super channel change | {small_n} members: median (ms) | calls | {large_n} members: median (ms) | calls | large / small |"
    ));
    report.line("|---|---|---|---|---|---|");
    report.set("super_channel.sizes", vec![small_n, large_n]);
    let small = changes_at(small_n).await;
    let large = changes_at(large_n).await;
    for ((op, ms_small, calls_small), (_, ms_large, calls_large)) in small.into_iter().zip(large) {
        let ratio = ms_large / ms_small;
        report.line(format!(
            "| {op} | {ms_small:.1} | {calls_small} | {ms_large:.1} | {calls_large} | {ratio:.2} |"
        ));
        let key = op.replace(' ', "_");
        report.set(&format!("super_channel.{key}.small_ms"), ms_small);
        report.set(&format!("super_channel.{key}.large_ms"), ms_large);
        report.set(&format!("super_channel.{key}.small_calls"), calls_small);
        report.set(&format!("super_channel.{key}.large_calls"), calls_large);
        report.set(&format!("super_channel.{key}.ratio"), ratio);
        if op == "bot join" {
            report.set("super_channel_join_ratio", ratio);
        }
    }
}

pub fn passwords(report: &mut Report) {
    let settings = [(19 * 1024, 2), (12 * 1024, 3), (9 * 1024, 4), (7 * 1024, 5)];
    report.line("");
    report.line(
        "| Argon2id m (MiB) | t | median hash, this machine (ms) | est. 128 MB Lambda (ms) | chosen |",
    );
    report.line("|---|---|---|---|---|");
    for (m, t) in settings {
        // One warm-up, then timed runs.
        let _ = hash_password_with("warm up", m, t);
        let times: Vec<Duration> = (0..scale().runs)
            .map(|i| {
                let start = Instant::now();
                let phc = hash_password_with(&format!("password {i}"), m, t).expect("hash");
                let took = start.elapsed();
                assert!(phc.starts_with("$argon2id$"));
                took
            })
            .collect();
        let med = median(times).as_secs_f64() * 1000.0;
        let lambda = med * LAMBDA_FULL_VCPU_MB / LAMBDA_MB;
        let chosen = if (m, t) == (PASSWORD_M_COST_KIB, PASSWORD_T_COST) {
            "yes"
        } else {
            ""
        };
        report.line(format!(
            "| {} | {t} | {med:.1} | {lambda:.0} | {chosen} |",
            m / 1024
        ));
        if chosen == "yes" {
            report.set("password_hash_ms", med);
        }
    }
    let phc = hash_password_with("check", PASSWORD_M_COST_KIB, PASSWORD_T_COST).expect("hash");
    assert!(verify_password("check", &phc));
}

/// One message from `sender` into `channel`; panics unless it is sent.
async fn send_one(app: &TestApp, channel: &str, sender: &str) {
    let r = app
        .call_function(
            "channels-messages-send",
            app.request(
                Method::POST,
                &format!("/v1.4/api/channels/{channel}/messages/send"),
                Some(json!({"senderId": sender, "text": "a message of some ordinary length"})),
            ),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
}

/// Sends per second with `senders` clients each sending `sends_each` messages (see
/// `Scale`), client `i` into `channel_of(i)`.
async fn send_rate(app: &TestApp, channel_of: impl Fn(usize) -> String) -> f64 {
    let started = Instant::now();
    let Scale {
        senders,
        sends_each,
        ..
    } = scale();
    futures::future::join_all((0..senders).map(|i| {
        let channel = channel_of(i);
        async move {
            for _ in 0..sends_each {
                send_one(app, &channel, &format!("s{i:02}")).await;
            }
        }
    }))
    .await;
    (senders * sends_each) as f64 / started.elapsed().as_secs_f64()
}

pub async fn sends(report: &mut Report) {
    let app = TestApp::with_auth_cache(Duration::from_secs(600)).await;
    let Scale {
        senders: clients,
        channels,
        change_runs,
        ..
    } = scale();
    let senders: Vec<String> = (0..clients).map(|i| format!("s{i:02}")).collect();
    app.add_users(&senders).await;
    let create = |channel: String, members: Vec<String>| {
        app.create_channel(json!({"channelId": channel, "type": "public", "members": members}))
    };
    create("one".into(), senders.clone()).await;
    for c in 0..channels {
        // Client i sends into channel i % channels: channel c holds client c % clients.
        let members = senders.iter().skip(c % clients).take(1).cloned().collect();
        create(format!("many{c:03}"), members).await;
    }
    // A single sender's latency, and the calls it makes.
    let mut times = Vec::new();
    for _ in 0..change_runs * 2 {
        app.calls.take();
        let started = Instant::now();
        send_one(&app, "one", "s00").await;
        times.push(started.elapsed());
    }
    let calls = app.calls.take().len();
    // Interleaved runs, so both see the same machine load.
    let (mut one, mut many) = (Vec::new(), Vec::new());
    for _ in 0..3 {
        one.push(send_rate(&app, |_| "one".to_owned()).await);
        many.push(send_rate(&app, |i| format!("many{:03}", i % channels)).await);
    }
    let med = |mut v: Vec<f64>| {
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    let (latency, one, many) = (median(times).as_secs_f64() * 1000.0, med(one), med(many));
    report.line("");
    report.line("| message send (in-process engine) | figure |");
    report.line("|---|---|");
    report.line(format!(
        "| one sender, median latency (ms) | {latency:.1} |"
    ));
    report.line(format!("| DynamoDB calls per send | {calls} |"));
    report.line(format!(
        "| {clients} senders into one channel (sends/s, median of 3) | {one:.0} |"
    ));
    report.line(format!(
        "| {clients} senders into {channels} channels (sends/s, median of 3) | {many:.0} |"
    ));
    report.set("sends.latency_ms", latency);
    report.set("sends.calls", calls);
    report.set("sends.one_channel_per_s", one);
    report.set("sends.many_channels_per_s", many);
    report.set("sends.senders", clients);
    report.set("sends.channels", channels);
}
