//! Builds and sizes: the release binaries the cold starts run, every function's stripped
//! binary and zip for arm64 (what template.yaml deploys) and x86_64, the time of the release
//! build, `target/` after `make test` (recorded by scripts/test.sh), and the CloudFormation
//! resources template.yaml expands to.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use crate::{Report, scale};

pub const HELLO: &str = "bench-hello";
/// CloudFormation's limit per stack; the project keeps a margin under 400.
const STACK_LIMIT: u64 = 500;
/// 8 MB, decimal.
const SIZE_TARGET_BYTES: u64 = 8_000_000;

pub fn root() -> PathBuf {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    root.canonicalize().unwrap_or(root)
}

fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR").map_or_else(|| root().join("target"), PathBuf::from)
}

/// Every crate in functions/, sorted.
pub fn functions() -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(root().join("functions"))
        .expect("functions/")
        .filter_map(|e| e.ok())
        .filter(|e| e.path().join("Cargo.toml").exists())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

fn run(command: &mut Command) -> f64 {
    let started = Instant::now();
    let status = command
        .current_dir(root())
        .status()
        .unwrap_or_else(|e| panic!("run {command:?}: {e}"));
    assert!(status.success(), "{command:?} failed");
    started.elapsed().as_secs_f64()
}

/// The deployed binaries (lambda/Cargo.toml): the routes and the sweeper run `talkplus`,
/// the webhook workers `talkplus-webhooks`.
pub const BINARIES: [&str; 2] = ["talkplus", "talkplus-webhooks"];

/// The binary that serves `function`.
pub fn binary_of(function: &str) -> &'static str {
    use shared::functions::{Function, find};
    match find(function) {
        Some(
            Function::WebhooksDispatch
            | Function::WebhooksDeliver
            | Function::WebSocket
            | Function::RealtimeFanout,
        ) => BINARIES[1],
        _ => BINARIES[0],
    }
}

/// A release Lambda build (cargo lambda) of the deployed binaries and the hello world for
/// `arch` ("x86_64" or "arm64"): binaries in `target/lambda-{arch}/<bin>/bootstrap`, zips
/// in `target/lambda-{arch}-zip/<bin>/bootstrap.zip`. Returns the build's seconds and
/// whether it started from nothing.
fn lambda_build(arch: &str) -> (f64, bool) {
    let triple = triple(arch);
    let clean = !target_dir().join(triple).join("release").exists();
    let mut secs = 0.0;
    for (format, dir) in [
        ("binary", format!("lambda-{arch}")),
        ("zip", format!("lambda-{arch}-zip")),
    ] {
        let mut command = Command::new("cargo");
        command
            .args(["lambda", "build", "--release", "--output-format", format])
            .arg("--lambda-dir")
            .arg(target_dir().join(dir))
            .args(["--target", triple])
            .args(["-p", "talkplus-lambda", "-p", HELLO]);
        // The second pass only packages what the first built.
        secs += run(&mut command);
    }
    (secs, clean)
}

fn triple(arch: &str) -> &'static str {
    match arch {
        "arm64" => "aarch64-unknown-linux-gnu",
        _ => "x86_64-unknown-linux-gnu",
    }
}

fn built(arch: &str, binary: &str) -> PathBuf {
    target_dir()
        .join(format!("lambda-{arch}"))
        .join(binary)
        .join("bootstrap")
}

fn zipped(arch: &str, binary: &str) -> PathBuf {
    target_dir()
        .join(format!("lambda-{arch}-zip"))
        .join(binary)
        .join("bootstrap.zip")
}

/// The binaries the cold starts run: (function, its bootstrap) and the hello world. The
/// full run builds the release binaries for Lambda on this machine's architecture (x86_64;
/// cargo lambda); the smoke run a dev build.
pub fn cold_start_binaries(report: &mut Report) -> (Vec<(String, PathBuf)>, PathBuf) {
    let names: Vec<String> = match scale().cold_functions {
        Some(few) => few.iter().map(|s| (*s).to_owned()).collect(),
        None => functions(),
    };
    let path_of: Box<dyn Fn(&str) -> PathBuf> = if scale().release {
        let (secs, clean) = lambda_build("x86_64");
        report.set("build.release_x86_64_s", secs);
        report.set("build.release_x86_64_clean", clean);
        Box::new(|bin| built("x86_64", bin))
    } else {
        let mut command = Command::new("cargo");
        command.args(["build", "-q", "-p", "talkplus-lambda", "-p", HELLO]);
        run(&mut command);
        Box::new(|bin| target_dir().join("debug").join(bin))
    };
    let bins = names
        .iter()
        .map(|n| (n.clone(), path_of(binary_of(n))))
        .collect();
    (bins, path_of(HELLO))
}

fn size(path: &Path) -> u64 {
    std::fs::metadata(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .len()
}

fn mb(bytes: u64) -> f64 {
    bytes as f64 / 1e6
}

/// Sizes of the deployed binaries for both architectures, each function's (its binary's),
/// and the arm64 build's time. The smoke run sizes the dev binaries it built and skips the
/// cross build (minutes of release compilation that `make test` must not spend).
pub fn sizes(report: &mut Report, hello: &Path) {
    report.line("");
    if !scale().release {
        report.line("| binary (dev build) | size (MB) |");
        report.line("|---|---|");
        let dir = hello.parent().expect("target/debug");
        for bin in BINARIES.iter().chain([&HELLO]) {
            let bytes = size(&dir.join(bin));
            report.line(format!("| {bin} | {:.1} |", mb(bytes)));
            report.set(&format!("binary_bytes_dev.{bin}"), bytes);
        }
        // The full run's keys, without values: the smoke run builds no release.
        for f in functions() {
            report.set(&format!("binary_bytes_arm64.{f}"), serde_json::Value::Null);
        }
        report.set("build.release_all_s", serde_json::Value::Null);
        return;
    }
    let (secs, clean) = lambda_build("arm64");
    let functions = functions();
    report.set("build.release_all_s", secs);
    report.set("build.release_all_clean", clean);
    report.set("build.release_all_arch", "arm64");
    report.set("build.functions", functions.len());
    report.line(format!(
        "Release build of the deployed binaries (all {} functions) and the hello world for arm64 (cargo lambda): {secs:.0} s ({}).",
        functions.len(),
        if clean { "clean" } else { "not clean: the target directory had a previous build" }
    ));
    report.line("");
    report.line("| binary | serves | arm64 stripped (MB) | arm64 zip (MB) | x86_64 stripped (MB) | x86_64 zip (MB) | arm64 ≤ 8 MB |");
    report.line("|---|---|---|---|---|---|---|");
    for bin in BINARIES.iter().chain([&HELLO]) {
        let serves = functions.iter().filter(|f| binary_of(f) == *bin).count();
        let mut cells = Vec::new();
        for arch in ["arm64", "x86_64"] {
            let (binary, zip) = (size(&built(arch, bin)), size(&zipped(arch, bin)));
            report.set(&format!("binaries.{bin}.{arch}_bytes"), binary);
            report.set(&format!("binaries.{bin}.{arch}_zip_bytes"), zip);
            cells.push((binary, zip));
        }
        let within = if cells[0].0 <= SIZE_TARGET_BYTES {
            "yes"
        } else {
            "no"
        };
        let serves = if *bin == HELLO {
            "–".to_owned()
        } else {
            format!("{serves} functions")
        };
        report.line(format!(
            "| {bin} | {serves} | {:.2} | {:.2} | {:.2} | {:.2} | {within} |",
            mb(cells[0].0),
            mb(cells[0].1),
            mb(cells[1].0),
            mb(cells[1].1)
        ));
    }
    for f in &functions {
        for arch in ["arm64", "x86_64"] {
            let bytes = size(&built(arch, binary_of(f)));
            report.set(&format!("binary_bytes_{arch}.{f}"), bytes);
        }
    }
}

/// `target/` after `make test`, as scripts/test.sh recorded it at its end.
pub fn after_test(report: &mut Report) {
    let path = target_dir().join("footprint.json");
    let recorded: Option<serde_json::Value> = std::fs::read(&path)
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok());
    report.line("");
    match recorded {
        Some(v) => {
            let bytes = v["target_bytes"].as_u64().unwrap_or(0);
            report.line(format!(
                "`target/` at the end of `make test` ({} s, commit {}): {:.1} GB.",
                v["seconds"],
                v["commit"].as_str().unwrap_or("?"),
                bytes as f64 / 1e9
            ));
            report.set("build.target_bytes_after_test", bytes);
            report.set("build.make_test_s", v["seconds"].clone());
            report.set("build.make_test_commit", v["commit"].clone());
        }
        None => {
            report.line("`target/` after `make test`: not recorded (run `make test` first; it writes target/footprint.json).");
            report.set("build.target_bytes_after_test", serde_json::Value::Null);
        }
    }
}

/// The resources template.yaml expands to (SAM's translator, scripts/template_resources.py).
pub fn template(report: &mut Report) {
    let python = root().join(".venv/bin/python");
    let out = Command::new(&python)
        .arg(root().join("scripts/template_resources.py"))
        .arg(root().join("template.yaml"))
        .current_dir(root())
        .output()
        .unwrap_or_else(|e| {
            panic!(
                "{}: {e} (scripts/lib.sh setup_sam installs it)",
                python.display()
            )
        });
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON from the script");
    let resources = v["resources"].as_u64().expect("a count");
    report.line("");
    report.line(format!(
        "template.yaml: {} declared resources expand to {resources} CloudFormation resources (limit {STACK_LIMIT} per stack): {}.",
        v["declared"],
        v["by_type"]
            .as_object()
            .map(|o| o.iter().map(|(k, n)| format!("{n} {k}")).collect::<Vec<_>>().join(", "))
            .unwrap_or_default()
    ));
    report.set("template.resources", resources);
    report.set("template.declared", v["declared"].clone());
    report.set("template.by_type", v["by_type"].clone());
}
