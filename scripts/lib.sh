# Shared helpers for scripts/*.sh: a project-local Python venv for the tools we
# need (moto, cargo-lambda, SAM), free loopback ports, and background processes
# that are stopped when the calling script exits.
# shellcheck shell=bash

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="$ROOT/.venv"
RUN_DIR="$ROOT/.quickstart"
mkdir -p "$RUN_DIR"

# Pinned so that a fresh machine gets what this project was tested with.
MOTO_REQ='moto[server]==5.2.5'
CARGO_LAMBDA_REQ='cargo-lambda==1.9.2'
SAM_REQ='aws-sam-cli==1.170.0 cfn-lint==1.58.0'
# The official signer that tests/webhook_signatures.rs cross-checks our verifier with.
WEBHOOKS_REQ='standardwebhooks==1.1.0'
# Svix's own signer, for the Clerk (Svix-signed) cases of tests/webhook_signatures.rs.
# 1.83.0 is the last release that carries Svix's own verifier/signer code; 2.x wraps
# standardwebhooks, which would make it the same implementation checked twice.
SVIX_REQ='svix==1.83.0'
# Reads template.yaml for tests/template.rs.
PYYAML_REQ='PyYAML==6.0.4'
# Drives cognito-local in scripts/cognito_e2e.py.
BOTO3_REQ='boto3==1.44.8'

log() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }

# ensure_venv PKG... : installs the given pip requirements into .venv once.
ensure_venv() {
  if [ ! -x "$VENV/bin/python3" ]; then
    log "creating $VENV"
    python3 -m venv "$VENV"
  fi
  local missing=()
  for req in "$@"; do
    local name="${req%%[=\[]*}"
    "$VENV/bin/python3" -m pip show -q "$name" >/dev/null 2>&1 || missing+=("$req")
  done
  if [ "${#missing[@]}" -gt 0 ]; then
    log "pip install ${missing[*]}"
    "$VENV/bin/python3" -m pip install -q --disable-pip-version-check "${missing[@]}"
  fi
  # cargo-lambda finds zig through the first python3 on PATH: ours must come first.
  export PATH="$VENV/bin:$PATH"
}

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

PIDS=()
cleanup() {
  for pid in "${PIDS[@]:-}"; do
    [ -n "$pid" ] && kill "$pid" 2>/dev/null || true
  done
  for pid in "${PIDS[@]:-}"; do
    [ -n "$pid" ] && wait "$pid" 2>/dev/null || true
  done
}
trap cleanup EXIT INT TERM

# wait_http URL SECONDS : waits until URL answers at all.
wait_http() {
  local url="$1" limit="${2:-30}" i=0
  until curl -s -o /dev/null "$url"; do
    i=$((i + 1))
    if [ "$i" -gt $((limit * 10)) ]; then
      log "timed out waiting for $url"
      return 1
    fi
    sleep 0.1
  done
}

# start_moto : a local Secrets Manager (moto server) on a free port; exports MOTO_URL.
start_moto() {
  local port
  port="$(free_port)"
  "$VENV/bin/moto_server" -H 127.0.0.1 -p "$port" >"$RUN_DIR/moto.log" 2>&1 &
  PIDS+=("$!")
  export MOTO_URL="http://127.0.0.1:$port"
  wait_http "$MOTO_URL/moto-api/" 30
  log "moto (Secrets Manager) on $MOTO_URL"
}

# local_secrets NAME : creates the function's secret in moto with a local Zuplo token
# and a fresh secret for each provider route (Supabase's hook secret in the form its
# dashboard shows, Clerk's and the Auth0 Action's `whsec_` secrets, the Auth0 Event
# Streams token, a Clerk secret key the Clerk stand-in accepts); exports SECRET_ID,
# ZUPLO_TOKEN, HOOK_SECRET, CLERK_WEBHOOK_SECRET, CLERK_SECRET_KEY,
# AUTH0_ACTION_SECRET and AUTH0_EVENTS_TOKEN.
local_secrets() {
  SECRET_ID="$1"
  ZUPLO_TOKEN="zpka_local_standin_token"
  random_b64() { python3 -c 'import base64,os,sys; print(base64.b64encode(os.urandom(int(sys.argv[1]))).decode())' "$1"; }
  HOOK_SECRET="v1,whsec_$(random_b64 32)"
  CLERK_WEBHOOK_SECRET="whsec_$(random_b64 24)"
  CLERK_SECRET_KEY="sk_test_local_$(python3 -c 'import secrets; print(secrets.token_hex(16))')"
  AUTH0_ACTION_SECRET="whsec_$(random_b64 32)"
  AUTH0_EVENTS_TOKEN="$(python3 -c 'import secrets; print(secrets.token_urlsafe(32))')"
  export SECRET_ID ZUPLO_TOKEN HOOK_SECRET CLERK_WEBHOOK_SECRET CLERK_SECRET_KEY \
    AUTH0_ACTION_SECRET AUTH0_EVENTS_TOKEN
  create_secret "$SECRET_ID" "$(python3 -c 'import json,os; print(json.dumps({
    "zuplo_api_key": os.environ["ZUPLO_TOKEN"],
    "supabase_hook_secret": os.environ["HOOK_SECRET"],
    "clerk_webhook_secret": os.environ["CLERK_WEBHOOK_SECRET"],
    "clerk_secret_key": os.environ["CLERK_SECRET_KEY"],
    "auth0_action_secret": os.environ["AUTH0_ACTION_SECRET"],
    "auth0_events_token": os.environ["AUTH0_EVENTS_TOKEN"]}))')"
}

# start_standin BINARY LOGFILE : the Zuplo Developer API stand-in on a free port,
# accepting $ZUPLO_TOKEN; exports ZUPLO_URL.
start_standin() {
  local port
  port="$(free_port)"
  ZUPLO_STANDIN_TOKEN="$ZUPLO_TOKEN" "$1" --port "$port" \
    --account demo-account --bucket demo-bucket >"$2" 2>&1 &
  PIDS+=("$!")
  export ZUPLO_URL="http://127.0.0.1:$port"
  wait_http "$ZUPLO_URL/__standin/calls" 30
  log "Zuplo Developer API stand-in on $ZUPLO_URL"
}

# start_clerk_standin BINARY LOGFILE : the Clerk Backend API stand-in on a free port,
# accepting $CLERK_SECRET_KEY and creating users on first sight (--auto-users: the
# sample events' users exist nowhere else); exports CLERK_URL.
start_clerk_standin() {
  local port
  port="$(free_port)"
  CLERK_STANDIN_SECRET_KEY="$CLERK_SECRET_KEY" "$1" --port "$port" --auto-users >"$2" 2>&1 &
  PIDS+=("$!")
  export CLERK_URL="http://127.0.0.1:$port"
  wait_http "$CLERK_URL/__standin/calls" 30
  log "Clerk Backend API stand-in on $CLERK_URL"
}

# write_function_env FILE : the function's settings for local runs, pointed at the
# local stand-ins (needs MOTO_URL, ZUPLO_URL, SECRET_ID). Emulator mode lets the sample
# events carry unsigned tokens (README, "Sample events"); their aud is hooks.example.test.
write_function_env() {
  cat >"$1" <<ENV
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
SIGNUP_ALLOWED_EMAIL_DOMAINS=example.com
CLERK_API_URL=${CLERK_URL:-http://127.0.0.1:9}
RUST_LOG=info
ENV
}

# start_function ENVFILE LOGFILE [PORT] : the real function under `cargo lambda watch`;
# exports FN_PORT and FUNCTION_URL. cargo lambda watch emulates the Function URL under
# /lambda-url/<function>/, and the function sees the rest as its rawPath, as behind
# https://<id>.lambda-url.<region>.on.aws. (Any other path reaches a second instance
# named "_", so the wait goes through the Function URL path.)
start_function() {
  FN_PORT="${3:-}"
  FN_PORT="${FN_PORT:-$(free_port)}"
  cargo lambda watch --bin zuplo-auth-hooks --invoke-address 127.0.0.1 --invoke-port "$FN_PORT" \
    --ignore-changes --env-file "$1" </dev/null >"$2" 2>&1 &
  PIDS+=("$!")
  FUNCTION_URL="http://127.0.0.1:$FN_PORT/lambda-url/zuplo-auth-hooks"
  export FN_PORT FUNCTION_URL
  wait_http "$FUNCTION_URL/" 60
  log "function (cargo lambda watch) at $FUNCTION_URL; logs in $2"
}

# create_secret NAME VALUE : through moto's wire protocol, no AWS CLI needed.
create_secret() {
  local body
  body="$(python3 -c 'import json,sys; print(json.dumps({"Name": sys.argv[1], "SecretString": sys.argv[2]}))' "$1" "$2")"
  curl -sf -X POST "$MOTO_URL/" \
    -H 'X-Amz-Target: secretsmanager.CreateSecret' \
    -H 'Content-Type: application/x-amz-json-1.1' \
    -H 'Authorization: AWS4-HMAC-SHA256 Credential=test/20260101/us-east-1/secretsmanager/aws4_request, SignedHeaders=host, Signature=0' \
    -d "$body" >/dev/null
}
