#!/usr/bin/env bash
# `make bench`: installs what the bench needs (cargo lambda and zig for the Lambda builds,
# Rust's arm64 standard library for the arm64 sizes, SAM's translator for the template's
# resource count), then runs it: bench/results.json and BENCHMARKS.md. Bounded: every wait
# in it times out, the load is on loopback only, and it stops by itself.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
cd "$ROOT"

setup_cargo_lambda
setup_sam
# SQS (moto) for the realtime chunk queue of the super-channel case.
setup_moto
if ! rustup target list --installed | grep -qx aarch64-unknown-linux-gnu; then
    log "rustup target add aarch64-unknown-linux-gnu (the arm64 builds template.yaml deploys)"
    rustup target add aarch64-unknown-linux-gnu
fi
log "talkplus-bench (release)"
cargo run --release -q -p talkplus-bench -- "$@"
