#!/usr/bin/env bash
# `make dev`: the API on http://127.0.0.1:$PORT with a local DynamoDB-compatible engine and a
# ready dev app. Ctrl-C or SIGTERM stops everything it started.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
cd "$ROOT"

PORT=${PORT:-9000}
DYNAMODB_PORT=${DYNAMODB_PORT:-8000}
# SQS (moto) for the webhook pipeline's delivery queue.
SQS_PORT=${SQS_PORT:-9324}
# The SDKs' WebSocket (the dev gateway, in place of API Gateway's WebSocket API).
WS_PORT=${WS_PORT:-9001}
export WS_PORT
# Where the fan-out and the WebSocket functions post frames: the dev gateway's @connections API.
export TALKPLUS_WS_CALLBACK_URL="http://127.0.0.1:$WS_PORT"
# A file keeps data between runs; DEV_DATA=:memory: starts empty every time.
DEV_DATA=${DEV_DATA:-.dev/dynamodb.sqlite}
export TABLE_NAME=${TABLE_NAME:-talkplus-dev}
export TALKPLUS_DEV_APP_ID=${TALKPLUS_DEV_APP_ID:-dev-app}
export TALKPLUS_DEV_API_KEY=${TALKPLUS_DEV_API_KEY:-dev-api-key-0123456789abcdef}
# The local engine accepts any credentials; the SDK still wants some, and a region.
export AWS_REGION=${AWS_REGION:-us-east-1}
export AWS_ACCESS_KEY_ID=${AWS_ACCESS_KEY_ID:-local}
export AWS_SECRET_ACCESS_KEY=${AWS_SECRET_ACCESS_KEY:-local}
export AWS_ENDPOINT_URL_DYNAMODB="http://127.0.0.1:$DYNAMODB_PORT"
export AWS_ENDPOINT_URL_SQS="http://127.0.0.1:$SQS_PORT"
# Uploaded files (a multipart body's `file`): a bucket on the same moto, which serves them
# (on AWS: the template's bucket behind CloudFront). They last as long as this moto runs.
FILES_BUCKET=${FILES_BUCKET:-talkplus-dev-files}
export AWS_ENDPOINT_URL_S3="http://127.0.0.1:$SQS_PORT"
export TALKPLUS_FILES_BUCKET=$FILES_BUCKET
export TALKPLUS_FILES_URL="http://127.0.0.1:$SQS_PORT/$FILES_BUCKET"
# Webhook signing: the development sealing key (on AWS, the template's KMS key), and
# deliveries to loopback receivers (refused on AWS).
export TALKPLUS_DEV_SEAL_KEY=${TALKPLUS_DEV_SEAL_KEY:-talkplus-dev-seal-key}
export TALKPLUS_WEBHOOK_ALLOW_LOOPBACK=1
# Push to users with no connection: FCM with each app's service account (set-app
# --fcm-service-account FILE); the links in pushes point at this API. TALKPLUS_FCM_URL and
# TALKPLUS_FCM_OAUTH_URL send them to a fake FCM instead (the end-to-end tests do).
export TALKPLUS_PUBLIC_API_URL=${TALKPLUS_PUBLIC_API_URL:-http://127.0.0.1:$PORT}
# WEBHOOK_URL=http://127.0.0.1:8080/hook make dev: the dev app's webhook, every event.
WEBHOOK_URL=${WEBHOOK_URL:-}
export RUST_LOG=${RUST_LOG:-info}

setup_cargo_lambda
setup_moto

db_pid=""
sqs_pid=""
hooks_pid=""
ws_pid=""
watch_pid=""
sweep_pid=""
cleanup() {
    # Ctrl-C reaches make and this script both, and may come twice: nothing may cut the
    # cleanup short, or the engine and the watcher outlive us holding their ports.
    trap '' INT TERM
    trap - EXIT
    # The functions run in sessions of their own under cargo lambda watch; it stops them
    # when it stops, but not if it has to be killed, so note them first.
    local functions
    functions=$(descendants "$watch_pid")
    stop_group "$watch_pid"
    stop_group "$sweep_pid"
    stop_group "$hooks_pid"
    stop_group "$ws_pid"
    stop_group "$sqs_pid"
    stop_pids $functions
    stop_group "$db_pid"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

log "building the functions and tools"
cargo build --workspace --bins

log "starting the local DynamoDB engine (dynoxide) on 127.0.0.1:$DYNAMODB_PORT"
if [ "$DEV_DATA" = ":memory:" ]; then db_args=(--memory); else db_args=(--data "$DEV_DATA"); fi
setsid "$ROOT/target/debug/talkplus-devdb" --port "$DYNAMODB_PORT" "${db_args[@]}" &
db_pid=$!
wait_port "$DYNAMODB_PORT" 30

admin="$ROOT/target/debug/talkplus-admin"
"$admin" create-table >/dev/null
"$admin" ensure-app --app-id "$TALKPLUS_DEV_APP_ID" --api-key "$TALKPLUS_DEV_API_KEY" --name dev >/dev/null

# Deleted channels and users too large to sweep within their request are finished here, by the code
# the change stream's sweeper (functions/sweeper) runs on AWS.
log "starting the sweeper (deleted channels and users)"
setsid "$admin" sweep --watch &
sweep_pid=$!

log "starting SQS and S3 (moto) on 127.0.0.1:$SQS_PORT and the webhook pipeline"
setsid "$VENV/bin/moto_server" -H 127.0.0.1 -p "$SQS_PORT" >"${SQS_LOG:-/dev/null}" 2>&1 &
sqs_pid=$!
wait_port "$SQS_PORT" 60
curl -fsS -o /dev/null -X PUT "$TALKPLUS_FILES_URL"
if [ -n "$WEBHOOK_URL" ]; then
    "$admin" set-webhook --app-id "$TALKPLUS_DEV_APP_ID" --url "$WEBHOOK_URL" >/dev/null
fi
# The stream position is kept with the data, so changes made while stopped are sent next time.
if [ "$DEV_DATA" = ":memory:" ]; then hooks_args=(); else hooks_args=(--checkpoint "$DEV_DATA.webhooks.json"); fi
# The code of the dispatcher and deliverer functions, over the engine's stream and moto's SQS.
setsid "$admin" webhooks "${hooks_args[@]}" &
hooks_pid=$!

# The WebSocket: the dev gateway runs the code of the ws-connect, ws-default and ws-disconnect
# functions; the events come from the webhook pipeline's dispatcher above (the fan-out).
log "starting the WebSocket gateway on 127.0.0.1:$WS_PORT"
setsid "$ROOT/target/debug/talkplus-devgateway" &
ws_pid=$!
wait_port "$WS_PORT" 30

log "starting cargo lambda watch on 127.0.0.1:$PORT"
# WATCH_CHANGES=0 keeps the functions as built (test runs: files written in the tree must not
# restart them mid-run); WATCH_CONCURRENCY runs more instances of each function at once.
watch_args=(--invoke-address 127.0.0.1 --invoke-port "$PORT" --concurrency "${WATCH_CONCURRENCY:-1}")
# FUNCTION_LOG_LEVEL sets the functions' level (as AWS_LAMBDA_LOG_LEVEL does on AWS) apart
# from the emulator's own RUST_LOG.
if [ -n "${FUNCTION_LOG_LEVEL:-}" ]; then watch_args+=(--env-var "AWS_LAMBDA_LOG_LEVEL=$FUNCTION_LOG_LEVEL"); fi
if [ "${WATCH_CHANGES:-1}" = 0 ]; then watch_args+=(--ignore-changes); fi
setsid cargo lambda watch "${watch_args[@]}" &
watch_pid=$!
wait_port "$PORT" 120

# Start every function once, so that no caller waits for a function to come up.
base="http://127.0.0.1:$PORT/v1.4/api"
hdr=(-H "app-id: $TALKPLUS_DEV_APP_ID" -H "api-key: $TALKPLUS_DEV_API_KEY" -H "content-type: application/json")
warm() { curl -s -o /dev/null --max-time 120 "${hdr[@]}" "$@" || true; }
warm "$base/users"
warm "$base/users/warm-up"
warm -X PUT -d '{}' "$base/users/warm-up"
warm -X POST -d '{}' "$base/users/create"
warm "$base/users/warm-up/channels"
warm -X POST -d '{}' "$base/users/login"
warm -X PUT -d '{}' "$base/users/warm-up/password"
warm -X DELETE "$base/users/warm-up"
warm "$base/users/warm-up/blocked"
for action in activate deactivate push/enable push/disable register/fcm block unblock; do
    warm -X POST -d '{}' "$base/users/warm-up/$action"
done
warm -X POST -d '{}' "$base/channels/create"
warm "$base/channels/warm-up"
warm "$base/channels"
warm -X PUT -d '{}' "$base/channels/warm-up"
warm -X DELETE "$base/channels/warm-up"
warm -X POST "$base/channels/warm-up/freeze"
warm -X POST "$base/channels/warm-up/unfreeze"
warm "$base/channels/warm-up/members"
warm "$base/channels/warm-up/members/warm-up"
warm "$base/channels/warm-up/members/banned"
warm "$base/channels/warm-up/members/muted"
for change in add remove ban unban mute unmute; do
    warm -X POST -d '{}' "$base/channels/warm-up/members/$change"
done
warm -X POST -d '{}' "$base/bots/create"
warm "$base/bots"
warm "$base/bots/warm-up"
warm -X PUT -d '{}' "$base/bots/warm-up"
warm -X DELETE "$base/bots/warm-up"
warm -X POST "$base/bots/warm-up/channels/warm-up/join"
warm -X POST "$base/bots/warm-up/channels/warm-up/leave"
warm "$base/bots/warm-up/channels"
warm -X POST -d '{}' "$base/bots/warm-up/channels/warm-up/send"
warm -X POST -d '{}' "$base/channels/warm-up/messages/send"
warm "$base/channels/warm-up/messages"
warm "$base/channels/warm-up/messages/warm-up"
warm "$base/channels/warm-up/message/warm-up"
warm -X DELETE "$base/channels/warm-up/messages/warm-up"

cat <<MSG

  TalkPlus-compatible API ready on http://127.0.0.1:$PORT
    app-id:  $TALKPLUS_DEV_APP_ID
    api-key: $TALKPLUS_DEV_API_KEY
    table:   $TABLE_NAME (local engine on 127.0.0.1:$DYNAMODB_PORT, data: $DEV_DATA)
    webhooks: ${WEBHOOK_URL:-off} (set with: talkplus-admin set-webhook --app-id $TALKPLUS_DEV_APP_ID --url URL;
              SQS on 127.0.0.1:$SQS_PORT, signing key sealed with TALKPLUS_DEV_SEAL_KEY)
    uploads:  $TALKPLUS_FILES_URL (moto's S3)
    websocket: ws://127.0.0.1:$WS_PORT/v1.4/users/ws/notifications (point an SDK's WebSocket here)
    push:     ${TALKPLUS_FCM_URL:-FCM} for apps with a service account (talkplus-admin set-app
              --app-id $TALKPLUS_DEV_APP_ID --fcm-service-account FILE); links to $TALKPLUS_PUBLIC_API_URL

  curl -s http://127.0.0.1:$PORT/v1.4/api/users/create \\
    -H 'app-id: $TALKPLUS_DEV_APP_ID' -H 'api-key: $TALKPLUS_DEV_API_KEY' \\
    -H 'content-type: application/json' -d '{"userId":"john","password":"secret"}'

  Ctrl-C stops everything.
MSG
echo "READY" >&2
wait "$watch_pid"
