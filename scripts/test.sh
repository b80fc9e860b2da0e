#!/usr/bin/env bash
# `make test`: every check, on a fresh machine as on a developer's. Installs what it needs
# into the project, runs fmt, clippy, the tests on dynoxide, the storage and integration
# tests again on Amazon's DynamoDB Local, the end-to-end tests through the local stack of
# `make dev`, and the template checks. Leaves no process running.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
cd "$ROOT"

ddb_pid=""
stack_pid=""
cleanup() {
    stop_group "$stack_pid"
    stop_group "$ddb_pid"
}
trap cleanup EXIT

setup_cargo_lambda
setup_sam
ddb_dir=$(setup_dynamodb_local)

log "cargo fmt --check"
cargo fmt --all -- --check

log "cargo clippy --all-targets -- -D warnings"
cargo clippy --workspace --all-targets -- -D warnings

log "cargo test (unit tests; integration tests on dynoxide, in-process)"
cargo test --workspace

log "storage and integration tests on DynamoDB Local"
ddb_port=$(free_port)
setsid java -Djava.library.path="$ddb_dir/DynamoDBLocal_lib" -jar "$ddb_dir/DynamoDBLocal.jar" \
    -inMemory -disableTelemetry -port "$ddb_port" >"$ROOT/target/dynamodb-local.log" 2>&1 &
ddb_pid=$!
wait_port "$ddb_port" 60
TALKPLUS_TEST_DYNAMODB_ENDPOINT="http://127.0.0.1:$ddb_port" cargo test -p talkplus-tests
stop_group "$ddb_pid"
ddb_pid=""

log "end-to-end tests through the local stack (make dev)"
api_port=$(free_port)
engine_port=$(free_port)
stack_log="$ROOT/target/e2e-stack.log"
PORT=$api_port DYNAMODB_PORT=$engine_port DEV_DATA=:memory: \
    setsid bash "$ROOT/scripts/dev.sh" >"$stack_log" 2>&1 &
stack_pid=$!
for _ in $(seq 1 600); do
    grep -q '^READY$' "$stack_log" && break
    kill -0 "$stack_pid" 2>/dev/null || { cat "$stack_log"; echo "the local stack exited" >&2; exit 1; }
    sleep 0.5
done
grep -q '^READY$' "$stack_log" || { cat "$stack_log"; echo "the local stack did not become ready" >&2; exit 1; }
TALKPLUS_E2E_URL="http://127.0.0.1:$api_port" \
TALKPLUS_TEST_DYNAMODB_ENDPOINT="http://127.0.0.1:$engine_port" \
TABLE_NAME=talkplus-dev \
TALKPLUS_DEV_APP_ID=${TALKPLUS_DEV_APP_ID:-dev-app} \
TALKPLUS_DEV_API_KEY=${TALKPLUS_DEV_API_KEY:-dev-api-key-0123456789abcdef} \
    cargo test -p talkplus-tests --test e2e -- --ignored
stop_group "$stack_pid"
stack_pid=""

log "template checks (cfn-lint, sam validate --lint)"
export AWS_DEFAULT_REGION=${AWS_DEFAULT_REGION:-us-east-1}
cfn-lint template.yaml
sam validate --lint --template template.yaml --region "$AWS_DEFAULT_REGION"

functions=$(ls "$ROOT/functions" | paste -sd'|')
leftover=$(pgrep -f "talkplus-devdb|DynamoDBLocal.jar|cargo-lambda lambda watch|target/debug/($functions)\$" || true)
if [ -n "$leftover" ]; then
    echo "processes left running: $leftover" >&2
    exit 1
fi
log "all checks passed"
