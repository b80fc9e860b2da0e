#!/usr/bin/env bash
# `make load`: the full load run (5,000 requests from 32 clients; LOAD_REQUESTS to change)
# against a fresh local stack; figures printed and written to target/load.json.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
cd "$ROOT"
stack_pid=""
trap 'trap "" INT TERM; stop_stack' EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
setup_cargo_lambda
log "starting the local stack"
RUST_LOG=warn start_stack "$ROOT/target/load-stack.log"
log "load: ${LOAD_REQUESTS:-5000} requests from 32 clients"
LOAD_REQUESTS=${LOAD_REQUESTS:-5000} cargo test -p talkplus-tests --test load -- --ignored --nocapture
