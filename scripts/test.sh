#!/usr/bin/env bash
# Runs the whole test suite: starts a local Secrets Manager (moto) for the
# integration tests, then `cargo test` for every crate of the workspace, the relay's
# tests, the Auth0 Action's tests (against the real function), the end-to-end run with
# cognito-local (a Cognito emulator), the Supabase deletion trigger in a real
# PostgreSQL, and the Firebase deletion forwarder in the Firebase emulators.
# Extra arguments go to cargo test, e.g. scripts/test.sh --test firebase_hooks
set -euo pipefail
source "$(dirname "$0")/lib.sh"
cd "$ROOT"

ensure_venv "$MOTO_REQ" "$WEBHOOKS_REQ" "$SVIX_REQ" "$PYYAML_REQ"
# The npm signer of tests/webhook_signatures.rs, pinned by its package-lock.json;
# installed only when missing so that reruns work offline.
if [ ! -d tests/support/node_modules/standardwebhooks ]; then
  log "npm ci in tests/support"
  (cd tests/support && npm ci --no-audit --no-fund --loglevel=error)
fi
start_moto
cargo test --workspace "$@"
scripts/relay_test.sh
scripts/auth0_action_test.sh
scripts/cognito_e2e.sh
scripts/supabase_sql_test.sh
scripts/firebase_e2e.sh
scripts/sync_e2e.sh
