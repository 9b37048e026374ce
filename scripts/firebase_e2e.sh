#!/usr/bin/env bash
# Tests integrations/firebase/, the Cloud Functions forwarder of Firebase Auth user
# deletions, offline: its unit tests, then the real Firebase emulators (Auth + Functions,
# firebase-tools pinned in integrations/firebase/package.json) against the real function
# under `cargo lambda watch`, with moto and the Zuplo stand-in as in scripts/quickstart.sh.
#   - the function's /firebase/before-create is the Auth emulator's beforeCreate blocking
#     function, so signing up provisions a consumer and sets the zuplo_consumer_id claim;
#   - deleting users in the Auth emulator fires the forwarder's auth.user().onDelete, whose
#     signed POST to /firebase/user-deleted deletes the consumer;
#   - a signed replay answers 200 absent; a forged one 401, another project's 400.
# Prints PASS/FAIL per check and the delete-to-consumer-gone times; exits non-zero on any
# failure. Logs go to .quickstart/firebase/. npm installs are skipped when node_modules is
# up to date, so reruns work offline. Needs Node.js 20 or later (the forwarder targets
# Node 22 in production; the emulator runs it on the local Node).
set -euo pipefail
source "$(dirname "$0")/lib.sh"
cd "$ROOT"
# A directory of its own: the quick start, or test.sh's moto, may be writing to theirs.
RUN_DIR="$RUN_DIR/firebase"
mkdir -p "$RUN_DIR"
FB="$ROOT/integrations/firebase"
PROJECT_ID=demo-zah # demo-*: firebase-tools runs offline, with no login

node_major="$(node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0)"
if [ "$node_major" -lt 20 ]; then
  log "integrations/firebase/ needs Node.js 20 or later; found: $(node --version 2>/dev/null || echo none)"
  exit 1
fi

# npm_ci DIR : `npm ci` unless node_modules already matches package-lock.json (npm
# writes node_modules/.package-lock.json on install).
npm_ci() {
  if [ -f "$1/node_modules/.package-lock.json" ] && [ "$1/node_modules/.package-lock.json" -nt "$1/package-lock.json" ]; then
    return 0
  fi
  log "npm ci in ${1#"$ROOT"/}"
  (cd "$1" && npm ci --no-audit --no-fund --loglevel=error)
}
npm_ci "$FB"           # firebase-tools (large: minutes on a first install)
npm_ci "$FB/functions" # firebase-functions, firebase-admin

log "node --test in integrations/firebase/functions/ (the forwarder's unit tests)"
(cd "$FB/functions" && node --test)

ensure_venv "$MOTO_REQ" "$CARGO_LAMBDA_REQ"

log "building the function and the Zuplo stand-in"
cargo build --quiet --workspace --bins

start_moto
SECRET_ID="zuplo-auth-hooks/firebase-e2e"
ZUPLO_TOKEN="zpka_local_standin_token"
random_b64() { python3 -c 'import base64,os,sys; print(base64.b64encode(os.urandom(int(sys.argv[1]))).decode())' "$1"; }
HOOK_SECRET="v1,whsec_$(random_b64 32)"
FORWARD_SECRET="whsec_$(random_b64 32)"
export SECRET_ID ZUPLO_TOKEN HOOK_SECRET FORWARD_SECRET
create_secret "$SECRET_ID" "$(python3 -c 'import json,os; print(json.dumps({
  "zuplo_api_key": os.environ["ZUPLO_TOKEN"],
  "supabase_hook_secret": os.environ["HOOK_SECRET"],
  "firebase_deletion_secret": os.environ["FORWARD_SECRET"]}))')"
start_standin target/debug/zuplo-standin "$RUN_DIR/zuplo-standin.log"

# The Auth emulator puts the registered functionUri, exactly, in the token's aud: the
# function's port is chosen first so that FIREBASE_AUDIENCE can name it.
FN_PORT="$(free_port)"
BEFORE_CREATE_URL="http://127.0.0.1:$FN_PORT/lambda-url/zuplo-auth-hooks/firebase/before-create"
write_function_env "$RUN_DIR/function.env"
sed -i \
  -e "s|^FIREBASE_PROJECT_ID=.*|FIREBASE_PROJECT_ID=$PROJECT_ID|" \
  -e "s|^FIREBASE_AUDIENCE=.*|FIREBASE_AUDIENCE=$BEFORE_CREATE_URL|" \
  -e "s|^FIREBASE_AUTH_EMULATOR=.*|FIREBASE_AUTH_EMULATOR=true|" \
  "$RUN_DIR/function.env"
start_function "$RUN_DIR/function.env" "$RUN_DIR/function.log" "$FN_PORT"

# The first call starts the function (compiling it if src/ changed): wait for it here,
# not inside the Auth emulator's or the forwarder's timeouts. Unsigned calls are refused
# without touching the stand-ins.
for route in before-create user-deleted; do
  status="$(curl -s -o "$RUN_DIR/probe.json" -w '%{http_code}' --max-time 600 \
    -X POST "$FUNCTION_URL/firebase/$route" \
    -H 'content-type: application/json' --data-binary '{"data":{"jwt":"garbage"}}')" || true
  if [ "$status" != 401 ]; then
    log "expected 401 from $FUNCTION_URL/firebase/$route, got ${status:-no answer}: $(cat "$RUN_DIR/probe.json" 2>/dev/null)"
    exit 1
  fi
done

# The emulators run from a scratch copy of the codebase, so that the run's settings
# (functions/.env, functions/.secret.local), its free ports and firebase-debug.log stay
# out of the work tree. node_modules is linked, not copied.
EMU_DIR="$RUN_DIR/project"
rm -rf "$EMU_DIR"
mkdir -p "$EMU_DIR/functions"
cp "$FB/functions/index.js" "$FB/functions/forward.js" "$FB/functions/package.json" "$EMU_DIR/functions/"
ln -s "$FB/functions/node_modules" "$EMU_DIR/functions/node_modules"
# Every emulator that starts, including the ones --only does not name (hub, logging,
# eventarc, tasks), on a free port instead of its fixed default.
read -r AUTH_PORT FUNCTIONS_PORT HUB_PORT LOGGING_PORT EVENTARC_PORT TASKS_PORT < <(python3 -c '
import socket
socks = [socket.socket() for _ in range(6)]
for s in socks: s.bind(("127.0.0.1", 0))
print(*[s.getsockname()[1] for s in socks])
for s in socks: s.close()')
python3 - "$FB/firebase.json" "$EMU_DIR/firebase.json" "$AUTH_PORT" "$FUNCTIONS_PORT" "$HUB_PORT" \
  "$LOGGING_PORT" "$EVENTARC_PORT" "$TASKS_PORT" <<'PY'
import json, sys
src, dst, *ports = sys.argv[1:]
config = json.load(open(src))
for name, port in zip(["auth", "functions", "hub", "logging", "eventarc", "tasks"], ports):
    config["emulators"][name] = {"host": "127.0.0.1", "port": int(port)}
json.dump(config, open(dst, "w"), indent=2)
PY
printf 'FORWARD_URL=%s\n' "$FUNCTION_URL/firebase/user-deleted" >"$EMU_DIR/functions/.env"
# The emulator's stand-in for the Secret Manager secret FORWARD_SECRET.
printf 'FORWARD_SECRET=%s\n' "$FORWARD_SECRET" >"$EMU_DIR/functions/.secret.local"

log "firebase emulators:exec --only auth,functions --project $PROJECT_ID (auth :$AUTH_PORT, functions :$FUNCTIONS_PORT; log in $RUN_DIR/emulators.log)"
# In the background so that lib.sh's cleanup stops it (and the emulators) on Ctrl-C.
(
  cd "$EMU_DIR"
  AUTH_URL="http://127.0.0.1:$AUTH_PORT" FUNCTIONS_URL="http://127.0.0.1:$FUNCTIONS_PORT" \
    FUNCTION_URL="$FUNCTION_URL" ZUPLO_URL="$ZUPLO_URL" PROJECT_ID="$PROJECT_ID" \
    FORWARD_SECRET="$FORWARD_SECRET" NO_UPDATE_NOTIFIER=1 \
    exec "$FB/node_modules/.bin/firebase" emulators:exec --only auth,functions --project "$PROJECT_ID" \
    "node '$FB/e2e/emulator.js'"
) >"$RUN_DIR/emulators.log" 2>&1 &
EMU_PID=$!
PIDS+=("$EMU_PID")
rc=0
wait "$EMU_PID" || rc=$?
# The test's own lines (PASS/FAIL, timings, the closing count); the rest is the CLI's.
grep -E '^(PASS|FAIL) |^delete call|^  (cold|warm) |^[0-9]+ passed, [0-9]+ failed$' "$RUN_DIR/emulators.log" || true
if [ "$rc" -ne 0 ]; then
  log "failed (exit $rc); the emulators' output: $RUN_DIR/emulators.log, the function's: $RUN_DIR/function.log"
  tail -n 40 "$RUN_DIR/emulators.log" >&2
  exit "$rc"
fi
log "Firebase forwarder end to end: all checks passed"
