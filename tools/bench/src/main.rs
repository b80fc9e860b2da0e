//! `talkplus-bench`: figures for the choices the code makes. Run with
//! `cargo run --release -p talkplus-bench` (or `make bench`); prints a Markdown table.
//!
//! Password hashing: Argon2id at OWASP's equal-strength settings, timed here, and the time
//! estimated for a 128 MB Lambda. Lambda gives a function CPU in proportion to its memory,
//! one full vCPU at 1,769 MB, so 128 MB gets 128/1769 of one: about 13.8x the single-core
//! time measured here (an estimate that assumes this core is as fast as Lambda's).

use std::time::{Duration, Instant};

use shared::secrets::{PASSWORD_M_COST_KIB, PASSWORD_T_COST, hash_password_with, verify_password};

const RUNS: usize = 15;
const LAMBDA_FULL_VCPU_MB: f64 = 1769.0;
const LAMBDA_MB: f64 = 128.0;

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn main() {
    let settings = [(19 * 1024, 2), (12 * 1024, 3), (9 * 1024, 4), (7 * 1024, 5)];
    println!(
        "| Argon2id m (MiB) | t | median hash, this machine (ms) | est. 128 MB Lambda (ms) | chosen |"
    );
    println!("|---|---|---|---|---|");
    for (m, t) in settings {
        // One warm-up, then timed runs.
        let _ = hash_password_with("warm up", m, t);
        let times: Vec<Duration> = (0..RUNS)
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
        println!("| {} | {t} | {med:.1} | {lambda:.0} | {chosen} |", m / 1024);
    }
    let phc = hash_password_with("check", PASSWORD_M_COST_KIB, PASSWORD_T_COST).expect("hash");
    assert!(verify_password("check", &phc));
}
