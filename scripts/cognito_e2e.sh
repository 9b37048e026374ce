#!/usr/bin/env bash
# End to end with Amazon Cognito's local emulator: cognito-local (npm, pinned in
# tests/support/cognito-local) creates a user pool, signs a user up, confirms, signs in
# and refreshes, invoking the real function under `cargo lambda watch` for its pre
# sign-up, post confirmation and pre token generation triggers, with the local stand-ins
# (moto, the Zuplo stand-in) behind it. Logs go to .quickstart/cognito/.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
cd "$ROOT"
RUN_DIR="$RUN_DIR/cognito"
mkdir -p "$RUN_DIR"

ensure_venv "$MOTO_REQ" "$CARGO_LAMBDA_REQ" "$BOTO3_REQ"
if [ ! -x tests/support/cognito-local/node_modules/.bin/cognito-local ]; then
  log "npm ci in tests/support/cognito-local"
  (cd tests/support/cognito-local && npm ci --no-audit --no-fund --loglevel=error)
fi

log "building the function and the Zuplo stand-in"
cargo build --quiet --workspace --bins

start_moto
local_secrets "zuplo-auth-hooks/cognito-e2e"
start_standin target/debug/zuplo-standin "$RUN_DIR/zuplo-standin.log"
write_function_env "$RUN_DIR/function.env"
start_function "$RUN_DIR/function.env" "$RUN_DIR/function.log"

log "cognito-local -> function: sign up, confirm, sign in, refresh"
python3 scripts/cognito_e2e.py "$FN_PORT" "$ZUPLO_URL" "$ROOT/tests/support/cognito-local"
