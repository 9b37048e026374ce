#!/usr/bin/env bash
# Tests integrations/auth0/, the Auth0 post-login Action: its unit tests against a
# loopback server, then the Action against the real function. The function runs under
# `cargo lambda watch` with the same settings and local stand-ins (moto, the Zuplo
# stand-in) as scripts/quickstart.sh. Logs go to .quickstart/auth0/.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
cd "$ROOT"
# A directory of its own: the quick start, or test.sh's moto, may be writing to theirs.
RUN_DIR="$RUN_DIR/auth0"
mkdir -p "$RUN_DIR"

node_major="$(node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0)"
if [ "$node_major" -lt 20 ]; then
  log "integrations/auth0/ needs Node.js 20 or later (Auth0 runs Node 22); found: $(node --version 2>/dev/null || echo none)"
  exit 1
fi

ensure_venv "$MOTO_REQ" "$CARGO_LAMBDA_REQ"

log "building the function and the Zuplo stand-in"
cargo build --quiet --workspace --bins

start_moto
# Also exports AUTH0_ACTION_SECRET, the whsec_ secret the function verifies the Action with.
local_secrets "zuplo-auth-hooks/auth0-test"
start_standin target/debug/zuplo-standin "$RUN_DIR/zuplo-standin.log"

write_function_env "$RUN_DIR/function.env"
start_function "$RUN_DIR/function.env" "$RUN_DIR/function.log"

# The first call starts the function (compiling it if src/ changed): wait for it here,
# not inside the Action's TIMEOUT_MS. An unsigned call is refused without touching the
# stand-ins.
status="$(curl -s -o "$RUN_DIR/probe.json" -w '%{http_code}' --max-time 600 \
  -X POST "$FUNCTION_URL/auth0/post-login" \
  -H 'content-type: application/json' --data-binary '{"user_id":"auth0|probe","tenant":"probe"}')" || true
if [ "$status" != 401 ]; then
  log "expected 401 from $FUNCTION_URL/auth0/post-login, got ${status:-no answer}: $(cat "$RUN_DIR/probe.json" 2>/dev/null)"
  exit 1
fi

log "node --test in integrations/auth0/ (AUTH0_FUNCTION_URL=$FUNCTION_URL)"
# Run from the folder with no arguments: Node 20 and 22+ read a path argument differently.
(cd integrations/auth0 && AUTH0_FUNCTION_URL="$FUNCTION_URL" AUTH0_ACTION_SECRET="$AUTH0_ACTION_SECRET" \
  ZUPLO_URL="$ZUPLO_URL" node --test)
