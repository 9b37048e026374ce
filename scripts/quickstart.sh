#!/usr/bin/env bash
# The function's main job, locally, in one command:
#   builds the function and the Zuplo Developer API stand-in, starts a local Secrets
#   Manager (moto) holding the Zuplo token, runs the real binary under
#   `cargo lambda watch`, sends the sample events from events/ with
#   `cargo lambda invoke`, and prints what came back.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
cd "$ROOT"

ensure_venv "$MOTO_REQ" "$CARGO_LAMBDA_REQ"

log "building the function and the Zuplo stand-in"
cargo build --quiet --workspace --bins

start_moto
SECRET_ID="zuplo-auth-hooks/quickstart"
ZUPLO_TOKEN="zpka_quickstart_local_token"
create_secret "$SECRET_ID" "{\"zuplo_api_key\":\"$ZUPLO_TOKEN\"}"

ZUPLO_PORT="$(free_port)"
ZUPLO_STANDIN_TOKEN="$ZUPLO_TOKEN" target/debug/zuplo-standin --port "$ZUPLO_PORT" \
  --account demo-account --bucket demo-bucket >"$RUN_DIR/zuplo-standin.log" 2>&1 &
PIDS+=("$!")
ZUPLO_URL="http://127.0.0.1:$ZUPLO_PORT"
wait_http "$ZUPLO_URL/__standin/calls" 30
log "Zuplo Developer API stand-in on $ZUPLO_URL"

# The same settings a deployment has, pointed at the local stand-ins. Emulator mode
# lets the sample events carry unsigned tokens (see README, "Sample events").
cat >"$RUN_DIR/function.env" <<ENV
AWS_ACCESS_KEY_ID=test
AWS_SECRET_ACCESS_KEY=test
AWS_REGION=us-east-1
AWS_ENDPOINT_URL_SECRETS_MANAGER=$MOTO_URL
ZUPLO_API_URL=$ZUPLO_URL
ZUPLO_ACCOUNT=demo-account
ZUPLO_BUCKET=demo-bucket
ZUPLO_SECRET_ID=$SECRET_ID
FIREBASE_PROJECT_ID=demo-project
FIREBASE_AUDIENCE=https://hooks.example.test/firebase/before-create,https://hooks.example.test/firebase/before-sign-in
FIREBASE_AUTH_EMULATOR=true
RUST_LOG=info
ENV

FN_PORT="${QUICKSTART_PORT:-$(free_port)}"
cargo lambda watch --bin zuplo-auth-hooks --invoke-address 127.0.0.1 --invoke-port "$FN_PORT" \
  --ignore-changes --env-file "$RUN_DIR/function.env" </dev/null >"$RUN_DIR/function.log" 2>&1 &
PIDS+=("$!")
wait_http "http://127.0.0.1:$FN_PORT/" 60
log "function (cargo lambda watch) on http://127.0.0.1:$FN_PORT; logs in .quickstart/function.log"

invoke() {
  cargo lambda invoke zuplo-auth-hooks --invoke-address 127.0.0.1 --invoke-port "$FN_PORT" \
    --data-file "$1" --output-format json
}

show() { python3 scripts/show_response.py "$1" "$2"; }

echo
echo "Sending the sample events (events/*.json):"
for f in events/firebase-*.json; do
  invoke "$f" | show "$(basename "$f")" "$RUN_DIR/last-id"
  cp "$RUN_DIR/last-id" "$RUN_DIR/id-$(basename "$f" .json)"
done

echo
echo "Sending the first user's sign-up again (a retry must find the same consumer):"
invoke events/firebase-before-create-email.json | show "firebase-before-create-email.json (again)" "$RUN_DIR/last-id"
first="$(cat "$RUN_DIR/id-firebase-before-create-email")"
again="$(cat "$RUN_DIR/last-id")"

consumers="$(curl -s "$ZUPLO_URL/__standin/consumers" | python3 -c 'import json,sys; print(len(json.load(sys.stdin)))')"
echo
echo "Consumers in the Zuplo stand-in: $consumers"
if [ -n "$first" ] && [ "$first" = "$again" ]; then
  echo "Same user, same consumer: $first"
else
  echo "MISMATCH: first=$first again=$again" >&2
  exit 1
fi
