#!/usr/bin/env bash
# The function's main job, locally, in one command:
#   builds the function and the stand-ins for Zuplo's Developer API and Clerk's Backend
#   API, starts a local Secrets Manager (moto) holding the Zuplo token and every
#   provider's secret, runs the real binary under `cargo lambda watch`, sends the sample
#   events from events/ with `cargo lambda invoke` (the Supabase, Clerk and Auth0 ones
#   signed just before sending, the Cognito ones as direct invocations), and prints what
#   came back, ending with the deletion of the Clerk and the Auth0 user.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
cd "$ROOT"

ensure_venv "$MOTO_REQ" "$CARGO_LAMBDA_REQ" "$WEBHOOKS_REQ"

log "building the function and the Zuplo stand-in"
cargo build --quiet --workspace --bins

start_moto
local_secrets "zuplo-auth-hooks/quickstart"
start_standin target/debug/zuplo-standin "$RUN_DIR/zuplo-standin.log"
start_clerk_standin target/debug/clerk-standin "$RUN_DIR/clerk-standin.log"

write_function_env "$RUN_DIR/function.env"
start_function "$RUN_DIR/function.env" "$RUN_DIR/function.log" "${QUICKSTART_PORT:-}"

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

echo
echo "Sending the Supabase hook events, each signed now with the hook secret:"
for name in custom-access-token-email custom-access-token-refresh custom-access-token-phone \
  custom-access-token-anonymous custom-access-token-provisioned \
  before-user-created-allowed before-user-created-rejected; do
  signed="$RUN_DIR/signed-supabase-$name.json"
  SUPABASE_HOOK_SECRET="$HOOK_SECRET" python3 scripts/sign_event.py "events/supabase-$name.json" >"$signed"
  invoke "$signed" | show "supabase-$name.json" "$RUN_DIR/id-supabase-$name"
done

echo
echo "Sending the Cognito user pool trigger events (direct invocations, no HTTP):"
# Straight to the Lambda Invoke API, as Cognito calls it: a function error comes back
# as its errorType/errorMessage document.
for name in pre-sign-up-allowed pre-sign-up-rejected post-confirmation \
  post-confirmation-forgot-password pre-token-generation-v1 pre-token-generation-v1-refresh \
  pre-token-generation-v2 pre-token-generation-v3 pre-token-generation-v3-client-credentials; do
  curl -s -w '\n%{http_code}' -X POST --data-binary "@events/cognito-$name.json" \
    "http://127.0.0.1:$FN_PORT/2015-03-31/functions/zuplo-auth-hooks/invocations" |
    python3 scripts/show_direct.py "cognito-$name.json" "$RUN_DIR/id-cognito-$name"
done
echo
echo "Sending the Clerk webhook events, each signed now as Svix signs them:"
clerk() {
  local signed="$RUN_DIR/signed-clerk-$1.json"
  python3 scripts/sign_event.py --svix --secret "$CLERK_WEBHOOK_SECRET" "events/clerk-$1.json" >"$signed"
  invoke "$signed" | show "clerk-$1.json${2:-}" "$RUN_DIR/id-clerk-$1${2:-}"
}
clerk user-created
clerk user-updated-provisioned
clerk user-created " (redelivered)"
clerk_id="$(cat "$RUN_DIR/id-clerk-user-created")"
clerk_again="$(cat "$RUN_DIR/id-clerk-user-created (redelivered)")"
clerk_written="$(curl -s "$CLERK_URL/__standin/users" | python3 -c 'import json,sys
users = json.load(sys.stdin)
print(next((u["public_metadata"].get("zuplo_consumer_id", "") for u in users), ""))')"
echo "  the Clerk user's public_metadata.zuplo_consumer_id: ${clerk_written:-none}"

echo
echo "Sending the Auth0 post-login Action's call (signed now) and, later, its user.deleted:"
auth0_signed="$RUN_DIR/signed-auth0-post-login.json"
python3 scripts/sign_event.py --secret "$AUTH0_ACTION_SECRET" events/auth0-post-login.json >"$auth0_signed"
invoke "$auth0_signed" | show "auth0-post-login.json" "$RUN_DIR/id-auth0"
python3 scripts/sign_event.py --secret "$AUTH0_ACTION_SECRET" events/auth0-post-login.json >"$auth0_signed"
invoke "$auth0_signed" | show "auth0-post-login.json (again)" "$RUN_DIR/id-auth0-again"
auth0_id="$(cat "$RUN_DIR/id-auth0")"
auth0_again="$(cat "$RUN_DIR/id-auth0-again")"
before_deletions="$(curl -s "$ZUPLO_URL/__standin/consumers" | python3 -c 'import json,sys; print(len(json.load(sys.stdin)))')"

echo
echo "Deleting the Clerk and the Auth0 user (their deletion events):"
clerk user-deleted
python3 scripts/sign_event.py --bearer "$AUTH0_EVENTS_TOKEN" events/auth0-user-deleted.json >"$RUN_DIR/auth0-user-deleted.json"
invoke "$RUN_DIR/auth0-user-deleted.json" | show "auth0-user-deleted.json" "$RUN_DIR/id-auth0-deleted"

cognito_id="$(cat "$RUN_DIR/id-cognito-pre-token-generation-v1")"
cognito_refresh_id="$(cat "$RUN_DIR/id-cognito-pre-token-generation-v1-refresh")"
token_id="$(cat "$RUN_DIR/id-supabase-custom-access-token-email")"
refresh_id="$(cat "$RUN_DIR/id-supabase-custom-access-token-refresh")"

consumers="$(curl -s "$ZUPLO_URL/__standin/consumers" | python3 -c 'import json,sys; print(len(json.load(sys.stdin)))')"
echo
echo "Consumers in the Zuplo stand-in: $before_deletions before the two deletions, $consumers after"
status=0
if [ -n "$first" ] && [ "$first" = "$again" ]; then
  echo "Firebase: same user, same consumer: $first"
else
  echo "MISMATCH (Firebase): first=$first again=$again" >&2
  status=1
fi
if [ -n "$token_id" ] && [ "$token_id" = "$refresh_id" ]; then
  echo "Supabase: the token refresh carries the same consumer: $token_id"
else
  echo "MISMATCH (Supabase): first token=$token_id refresh=$refresh_id" >&2
  status=1
fi
if [ -n "$cognito_id" ] && [ "$cognito_id" = "$cognito_refresh_id" ]; then
  echo "Cognito: the token refresh carries the same consumer: $cognito_id"
else
  echo "MISMATCH (Cognito): sign-in=$cognito_id refresh=$cognito_refresh_id" >&2
  status=1
fi
if [ -n "$clerk_id" ] && [ "$clerk_id" = "$clerk_again" ] && [ "$clerk_id" = "$clerk_written" ]; then
  echo "Clerk: the redelivery found the same consumer, written back to the user: $clerk_id"
else
  echo "MISMATCH (Clerk): created=$clerk_id redelivered=$clerk_again written=$clerk_written" >&2
  status=1
fi
if [ -n "$auth0_id" ] && [ "$auth0_id" = "$auth0_again" ]; then
  echo "Auth0: the second call found the same consumer: $auth0_id"
else
  echo "MISMATCH (Auth0): first=$auth0_id second=$auth0_again" >&2
  status=1
fi
if [ "$((before_deletions - consumers))" -eq 2 ]; then
  echo "Deletions: the Clerk and the Auth0 user's consumers are gone"
else
  echo "MISMATCH (deletions): $before_deletions consumers before, $consumers after" >&2
  status=1
fi
exit "$status"
