#!/usr/bin/env bash
# `make test`: every check, on a fresh machine as on a developer's. Installs what it needs
# into the project, runs fmt, clippy, the tests on dynoxide, a smoke run of the bench, the
# storage and integration tests again on Amazon's DynamoDB Local, then against the local
# stack of `make dev`: the end-to-end tests, fuzzing from openapi.yaml, a short load run and
# the search of its logs for secrets; then that `make dev` stops on Ctrl-C, the template
# checks and a release build of the deployed binaries. Leaves no process running.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
cd "$ROOT"
started=$(date +%s)

ddb_pid=""
stack_pid=""
cleanup() {
    trap '' INT TERM
    stop_stack
    stop_group "$ddb_pid"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

setup_cargo_lambda
setup_sam
setup_schemathesis
# The webhook tests' SQS endpoint (each test binary that needs it starts its own).
setup_moto
ddb_dir=$(setup_dynamodb_local)

log "cargo fmt --check"
cargo fmt --all -- --check

log "cargo clippy --all-targets -- -D warnings"
cargo clippy --workspace --all-targets -- -D warnings

log "cargo test (unit tests; integration tests on dynoxide, in-process)"
cargo test --workspace

log "bench smoke run (every path of make bench, at a small scale)"
cargo run -q -p talkplus-bench -- --smoke >"$ROOT/target/bench-smoke.log"

log "storage and integration tests on DynamoDB Local"
ddb_port=$(free_port)
setsid java -Djava.library.path="$ddb_dir/DynamoDBLocal_lib" -jar "$ddb_dir/DynamoDBLocal.jar" \
    -inMemory -disableTelemetry -port "$ddb_port" >"$ROOT/target/dynamodb-local.log" 2>&1 &
ddb_pid=$!
wait_port "$ddb_port" 60
TALKPLUS_TEST_DYNAMODB_ENDPOINT="http://127.0.0.1:$ddb_port" cargo test -p talkplus-tests
stop_group "$ddb_pid"
ddb_pid=""

log "the local stack (make dev), functions logging at TRACE"
stack_log="$ROOT/target/e2e-stack.log"
FUNCTION_LOG_LEVEL=trace start_stack "$stack_log"

log "end-to-end tests through the local stack"
cargo test -p talkplus-tests --test e2e -- --ignored --skip no_secret_reaches_the_logs

log "fuzzing every operation of openapi.yaml (schemathesis)"
run_fuzz "${FUZZ_EXAMPLES:-50}"

log "load: ${LOAD_REQUESTS:-600} requests from 32 clients"
LOAD_REQUESTS=${LOAD_REQUESTS:-600} cargo test -p talkplus-tests --test load -- --ignored --nocapture

log "no secret in the logs of everything above"
TALKPLUS_STACK_LOG="$stack_log" cargo test -p talkplus-tests --test e2e -- --ignored no_secret_reaches_the_logs
stop_stack

log "make dev stops on Ctrl-C, as a terminal sends it"
python3 "$ROOT/scripts/check_stop.py"

log "template checks (cfn-lint, sam validate --lint)"
export AWS_DEFAULT_REGION=${AWS_DEFAULT_REGION:-us-east-1}
cfn-lint template.yaml
sam validate --lint --template template.yaml --region "$AWS_DEFAULT_REGION"

log "release build of the deployed binaries (what sam build builds)"
# In a directory of its own: the release artefacts would add GBs to target/ for nothing.
release_dir=$(mktemp -d)
CARGO_TARGET_DIR="$release_dir" cargo build -q --release --locked -p talkplus-lambda
rm -rf "$release_dir"

functions=$(ls "$ROOT/functions" | paste -sd'|')
leftover=$(pgrep -f "talkplus-devdb|DynamoDBLocal.jar|moto_server|talkplus-admin webhooks|talkplus-devgateway|cargo-lambda lambda watch|target/debug/($functions)\$" || true)
if [ -n "$leftover" ]; then
    echo "processes left running: $leftover" >&2
    exit 1
fi
# What the run left in target/, for `make bench` (build.target_bytes_after_test).
printf '{"target_bytes": %s, "seconds": %s, "commit": "%s"}\n' \
    "$(du -sb "${CARGO_TARGET_DIR:-$ROOT/target}" | cut -f1)" "$(( $(date +%s) - started ))" \
    "$(git rev-parse --short HEAD 2>/dev/null || echo unknown)" >"${CARGO_TARGET_DIR:-$ROOT/target}/footprint.json"
log "all checks passed"
