#!/usr/bin/env bash
# Tests relay/, the Google-side forwarder for Identity Platform (see relay/README.md):
# its unit tests against a fake upstream, then the relay in front of the real function.
# The function runs under `cargo lambda watch` with the same settings and local
# stand-ins (moto, the Zuplo stand-in) as scripts/quickstart.sh. Logs go to
# .quickstart/relay/.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
cd "$ROOT"
# A directory of its own: the quick start, or test.sh's moto, may be writing to theirs.
RUN_DIR="$RUN_DIR/relay"
mkdir -p "$RUN_DIR"

node_major="$(node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0)"
if [ "$node_major" -lt 20 ]; then
  log "relay/ needs Node.js 20 or later; found: $(node --version 2>/dev/null || echo none)"
  exit 1
fi

ensure_venv "$MOTO_REQ" "$CARGO_LAMBDA_REQ"

log "building the function and the Zuplo stand-in"
cargo build --quiet --workspace --bins

start_moto
local_secrets "zuplo-auth-hooks/relay-test"
start_standin target/debug/zuplo-standin "$RUN_DIR/zuplo-standin.log"

# The quick start's settings. The sample events' tokens are unsigned (emulator mode)
# and their aud is hooks.example.test; behind a real relay, FIREBASE_AUDIENCE lists
# the relay's URLs instead.
write_function_env "$RUN_DIR/function.env"
start_function "$RUN_DIR/function.env" "$RUN_DIR/function.log"

# The first call starts the function (compiling it if src/ changed): wait for it here,
# not inside the relay's 6.5 s. A forged token is refused without touching the stand-ins.
status="$(curl -s -o "$RUN_DIR/probe.json" -w '%{http_code}' --max-time 600 \
  -X POST "$FUNCTION_URL/firebase/before-create" \
  -H 'content-type: application/json' --data-binary '{"data":{"jwt":"garbage"}}')" || true
if [ "$status" != 401 ]; then
  log "expected 401 from $FUNCTION_URL/firebase/before-create, got ${status:-no answer}: $(cat "$RUN_DIR/probe.json" 2>/dev/null)"
  exit 1
fi

log "node --test in relay/ (RELAY_FUNCTION_URL=$FUNCTION_URL)"
# Run from relay/ with no arguments: Node 20 and 22+ read a path argument differently.
(cd relay && RELAY_FUNCTION_URL="$FUNCTION_URL" node --test)
