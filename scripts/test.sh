#!/usr/bin/env bash
# Runs the whole test suite: starts a local Secrets Manager (moto) for the
# integration tests, then `cargo test` for every crate of the workspace.
# Extra arguments go to cargo test, e.g. scripts/test.sh --test firebase_hooks
set -euo pipefail
source "$(dirname "$0")/lib.sh"
cd "$ROOT"

ensure_venv "$MOTO_REQ"
start_moto
cargo test --workspace "$@"
