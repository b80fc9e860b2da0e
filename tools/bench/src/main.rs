//! `talkplus-bench` (`make bench`): the figures behind the project's speed and size claims,
//! written to bench/results.json and BENCHMARKS.md with the machine, commit and date.
//! Medians throughout, and every comparison measured side by side in the same run: these
//! machines are shared and noisy.
//!
//! - Cold starts (`cold`): each release bootstrap under a Runtime API emulator
//!   (`runtime`), to init and to its first answer, against a hello-world `lambda_http`.
//! - Warm overhead, round trips and capacity (`overhead`, `record`): each operation through
//!   the function pipeline, and the same DynamoDB calls sent directly.
//! - Sizes and builds (`footprint`), scaling and older figures (`figures`).
//!
//! `--realtime` runs only the WebSocket figures (`realtime`) and prints them.
//!
//! `--smoke` runs every path at a small scale in the dev profile (part of `make test`, so the
//! bench cannot rot); its output goes to target/bench-smoke/, and it checks that every key
//! results.json promises is there.

mod cold;
mod figures;
mod footprint;
mod overhead;
mod realtime;
mod record;
mod runtime;

use std::collections::BTreeMap;
use std::time::Duration;

use serde_json::Value;

/// How much the bench does: the full figures, or (`--smoke`) a run small enough for
/// `make test` that takes every code path.
#[derive(Debug, Clone, Copy)]
pub struct Scale {
    pub release: bool,
    pub runs: usize,
    pub login_runs: usize,
    pub change_runs: usize,
    pub sizes: [usize; 2],
    pub senders: usize,
    pub sends_each: usize,
    pub channels: usize,
    /// Runs of each operation for the warm figures.
    pub op_runs: usize,
    /// Starts of each function (and as many of the hello world) for the cold figures.
    pub cold_runs: usize,
    /// The functions whose cold start is measured; all of functions/ when `None`.
    pub cold_functions: Option<&'static [&'static str]>,
}

const FULL: Scale = Scale {
    release: true,
    runs: 15,
    login_runs: 25,
    change_runs: 20,
    sizes: [10, 100_000],
    senders: 50,
    sends_each: 20,
    channels: 100,
    op_runs: 101,
    cold_runs: 21,
    cold_functions: None,
};

const SMOKE: Scale = Scale {
    release: false,
    runs: 2,
    login_runs: 2,
    change_runs: 2,
    sizes: [10, 1_000],
    senders: 4,
    sends_each: 2,
    channels: 8,
    op_runs: 3,
    cold_runs: 2,
    cold_functions: Some(&["bots-join", "channels-get"]),
};

static SCALE: std::sync::OnceLock<Scale> = std::sync::OnceLock::new();

pub fn scale() -> Scale {
    *SCALE.get().unwrap_or(&FULL)
}

pub fn median(v: Vec<Duration>) -> Duration {
    percentile(&v, 50)
}

/// The `p`th percentile (nearest rank) of `v`.
pub fn percentile(v: &[Duration], p: usize) -> Duration {
    assert!(!v.is_empty(), "a percentile of no samples");
    let mut sorted = v.to_vec();
    sorted.sort();
    let rank = (p * sorted.len()).div_ceil(100).clamp(1, sorted.len());
    sorted[rank - 1]
}

pub fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// The run's Markdown (printed as it goes) and results.json.
#[derive(Default)]
pub struct Report {
    markdown: String,
    json: BTreeMap<String, Value>,
}

impl Report {
    pub fn line(&mut self, line: impl AsRef<str>) {
        println!("{}", line.as_ref());
        self.markdown.push_str(line.as_ref());
        self.markdown.push('\n');
    }

    /// Sets `path` (dot-separated) in results.json.
    pub fn set(&mut self, path: &str, value: impl Into<Value>) {
        self.json.insert(path.to_owned(), value.into());
    }

    fn json(&self) -> Value {
        let mut root = Value::Object(Default::default());
        for (path, value) in &self.json {
            let mut node = &mut root;
            for part in path.split('.') {
                node = node
                    .as_object_mut()
                    .expect("results.json paths do not overlap")
                    .entry(part)
                    .or_insert_with(|| Value::Object(Default::default()));
            }
            *node = value.clone();
        }
        root
    }
}

/// Keys results.json must carry (issue 13); the smoke run fails without them.
const REQUIRED: &[&str] = &[
    "cold_start.init_ratio",
    "cold_start.first_response_ratio",
    "cold_start.init_p50_ms",
    "cold_start.hello_init_p50_ms",
    "cold_start.first_p50_ms",
    "cold_start.hello_first_p50_ms",
    "overhead_ratio.create_channel_2",
    "overhead_ratio.create_channel_10",
    "overhead_ratio.create_channel_100",
    "overhead_ratio.view_channel",
    "overhead_ratio.bot_join",
    "overhead_ratio.bot_leave",
    "overhead_ratio.send_message",
    "overhead_ratio.client_send_message",
    "overhead_ratio.client_channels_20",
    "round_trips.client_send_message",
    "round_trips.client_markread",
    "round_trips.client_channels_20",
    "round_trips.client_unread_count",
    "round_trips.create_channel_2",
    "round_trips.bot_join",
    "round_trips.bot_leave",
    "round_trips.send_message",
    "read_units.user_channels_20x100",
    "read_units.view_channel",
    "super_channel_join_ratio",
    "binary_bytes_arm64.channels-create",
    "build.release_all_s",
    "build.target_bytes_after_test",
    "template.resources",
    "realtime.one_channel.p50_ms",
    "realtime.one_channel.p99_ms",
    "realtime.spread.p99_ms",
    "realtime.super_channel.slowest_ms",
];

fn git(args: &[&str]) -> String {
    std::process::Command::new("git")
        .args(args)
        .current_dir(footprint::root())
        .output()
        .ok()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
        .unwrap_or_default()
}

fn machine(report: &mut Report) {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split_once(':'))
                .map(|(_, v)| v.trim().to_owned())
        })
        .unwrap_or_else(|| "unknown".into());
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    let commit = git(&["rev-parse", "--short", "HEAD"]);
    let dirty = !git(&["status", "--porcelain", "--untracked-files=no"]).is_empty();
    let date = std::process::Command::new("date")
        .args(["-u", "+%Y-%m-%d %H:%M UTC"])
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
        .unwrap_or_default();
    report.line(format!(
        "Machine: {} {cpu}, {cores} cores. Commit {commit}{}. {date}. Profile: {}.",
        std::env::consts::ARCH,
        if dirty {
            " (with uncommitted changes)"
        } else {
            ""
        },
        if scale().release {
            "release"
        } else {
            "dev (smoke run: the figures mean nothing)"
        }
    ));
    report.set("machine.arch", std::env::consts::ARCH);
    report.set("machine.cpu", cpu);
    report.set("machine.cores", cores);
    report.set("commit", commit);
    report.set("commit_dirty", dirty);
    report.set("date", date);
    report.set("smoke", !scale().release);
}

fn main() {
    let smoke = std::env::args().any(|a| a == "--smoke");
    SCALE.get_or_init(|| if smoke { SMOKE } else { FULL });
    let mut report = Report::default();
    report.line("# Benchmarks");
    report.line("");
    report.line("Written by `make bench` (tools/bench); how to read it: bench/README.md.");
    report.line("");
    machine(&mut report);

    // `--realtime`: only the WebSocket figures, printed (make bench writes them with the rest).
    if std::env::args().any(|a| a == "--realtime") {
        tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
            .expect("runtime")
            .block_on(realtime::measure(&mut report));
        return;
    }

    report.line("");
    report.line("## Builds and sizes");
    let (bins, hello) = footprint::cold_start_binaries(&mut report);
    footprint::sizes(&mut report, &hello);
    footprint::after_test(&mut report);
    footprint::template(&mut report);

    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime")
        .block_on(async {
            report.line("");
            report.line("## Warm operations: ours against the same DynamoDB calls made directly");
            let recorder = record::Recorder::default();
            let app = overhead::bench_app(&recorder).await;
            let measured = overhead::measure(&mut report, &app, &recorder).await;
            let direct_ms = |key: &str| {
                measured
                    .iter()
                    .find(|m| m.key == key)
                    .map(|m| ms(percentile(&m.direct, 50)))
            };

            report.line("");
            report.line("## Cold starts (Runtime API emulator, in-process engine)");
            let colds = cold::measure(&app, &bins, &hello).await;
            cold::report_table(&mut report, &colds, direct_ms);
            let in_process_ms = |key: &str| {
                measured
                    .iter()
                    .find(|m| m.key == key)
                    .map(|m| ms(percentile(&m.ours, 50)))
            };
            cold::warm_through_runtime(&mut report, &app, &bins, &hello, in_process_ms).await;

            report.line("");
            report.line("## Scaling and earlier figures");
            figures::super_channel_changes(&mut report).await;
            figures::sends(&mut report).await;
            figures::logins(&mut report).await;
            // Beside the logins it explains, before the realtime section.
            figures::passwords(&mut report);

            report.line("");
            report.line("## Realtime: send to event over the WebSocket");
            realtime::measure(&mut report).await;
        });

    let json = report.json();
    let missing: Vec<&str> = REQUIRED
        .iter()
        .copied()
        .filter(|path| {
            path.split('.')
                .try_fold(&json, |node, part| node.get(part))
                .is_none()
        })
        .collect();
    assert!(missing.is_empty(), "results.json lacks {missing:?}");
    let (json_path, md_path) = if smoke {
        let dir = footprint::root().join("target/bench-smoke");
        std::fs::create_dir_all(&dir).expect("target/bench-smoke");
        (dir.join("results.json"), dir.join("BENCHMARKS.md"))
    } else {
        (
            footprint::root().join("bench/results.json"),
            footprint::root().join("BENCHMARKS.md"),
        )
    };
    let text = serde_json::to_string_pretty(&json).expect("results serialise") + "\n";
    std::fs::write(&json_path, text).expect("write results.json");
    std::fs::write(&md_path, &report.markdown).expect("write BENCHMARKS.md");
    println!();
    println!("Wrote {} and {}.", json_path.display(), md_path.display());
}
