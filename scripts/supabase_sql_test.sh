#!/usr/bin/env bash
# Tests integrations/supabase/user-deleted.sql, the auth.users triggers that tell the
# function about deleted Supabase users, in a throwaway PostgreSQL cluster shaped like a
# Supabase database (integrations/supabase/test/supabase-standin.sql: roles, auth.users,
# Vault, pg_net's net.http_post recording instead of sending, pgcrypto in `extensions`).
#
#   1. installs the SQL (as `postgres`, three times: idempotent), checks the function's
#      rights, then deletes users as the Auth server does (as supabase_auth_admin, with
#      search_path auth): a hard delete, a soft delete, the soft delete again, unrelated
#      updates and a rolled-back delete; exactly two requests must be recorded, each
#      signed the Standard Webhooks way (checked with the official PyPI library) with only
#      event, user_id and email in the body;
#   2. starts moto, the Zuplo stand-in and the real function (`cargo lambda watch`) with
#      SUPABASE_NAMESPACE set, provisions the three users through the real
#      /supabase/custom-access-token hook, then replays the recorded requests byte for byte
#      to /supabase/user-deleted: the two deleted users' consumers go, the third stays,
#      replays answer "absent", tampered ones 401 and delete nothing;
#   3. checks that a missing or malformed Vault secret, or a failing net.http_post, never
#      blocks a deletion (a WARNING instead), secret rotation (two signatures), and removal;
#   4. prints how long the trigger adds to a DELETE (a figure, not a check).
#
# Usage: scripts/supabase_sql_test.sh [--pg-only]   (--pg-only: skip step 2, no cargo)
# Needs PostgreSQL 15+ server binaries (initdb, pg_ctl, postgres; PG_BIN=dir to choose) and
# psql. Run as root, the cluster runs as the `postgres` OS user. Logs go to
# .quickstart/supabase-sql/. Prints PASS/FAIL per check; exits 1 if any check failed.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
cd "$ROOT"
RUN_DIR="$RUN_DIR/supabase-sql"
mkdir -p "$RUN_DIR"

SQL="integrations/supabase/user-deleted.sql"
TEST_DIR="integrations/supabase/test"
PG_ONLY=false
case "${1:-}" in
  --pg-only) PG_ONLY=true ;;
  "") ;;
  *) echo "usage: $0 [--pg-only]" >&2; exit 2 ;;
esac

# --- checks ------------------------------------------------------------------------------
PASSED=0
FAILED=0
pass() { PASSED=$((PASSED + 1)); printf 'PASS  %s\n' "$1"; }
fail() { FAILED=$((FAILED + 1)); printf 'FAIL  %s: %s\n' "$1" "$2"; }
# expect WHAT GOT WANT
expect() { if [ "$2" = "$3" ]; then pass "$1"; else fail "$1" "got '$2', want '$3'"; fi; }
# python_checks CMD... : runs a deletion_check.py command and counts its PASS/FAIL lines.
python_checks() {
  local out rc=0 passed failed
  out="$("$VENV/bin/python3" "$TEST_DIR/deletion_check.py" "$@" 2>&1)" || rc=$?
  printf '%s\n' "$out"
  passed="$(grep -c '^PASS' <<<"$out" || true)"
  failed="$(grep -c '^FAIL' <<<"$out" || true)"
  PASSED=$((PASSED + passed))
  FAILED=$((FAILED + failed))
  # Its exit status is its number of failures: anything else means it stopped early.
  if [ "$rc" -ne "$((failed > 100 ? 100 : failed))" ] || [ $((passed + failed)) -eq 0 ]; then
    fail "deletion_check.py $1 ran to the end" "exit status $rc"
  fi
}

# --- a throwaway PostgreSQL cluster, Unix socket only ------------------------------------
PG_BIN="${PG_BIN:-}"
if [ -z "$PG_BIN" ]; then
  if [ -x /usr/local/bin/initdb ]; then PG_BIN=/usr/local/bin
  elif command -v pg_config >/dev/null && [ -x "$(pg_config --bindir)/initdb" ]; then PG_BIN="$(pg_config --bindir)"
  # Debian's packages keep the server binaries out of PATH.
  elif compgen -G '/usr/lib/postgresql/*/bin/initdb' >/dev/null; then
    PG_BIN="$(dirname "$(ls -d /usr/lib/postgresql/*/bin/initdb | sort -V | tail -1)")"
  else PG_BIN="$(dirname "$(command -v initdb || echo /usr/bin/initdb)")"
  fi
fi
for tool in "$PG_BIN/initdb" "$PG_BIN/pg_ctl"; do
  [ -x "$tool" ] || { log "missing $tool (set PG_BIN to PostgreSQL's bin directory)"; exit 1; }
done
command -v psql >/dev/null || { log "psql is missing"; exit 1; }

# PostgreSQL refuses to run as root.
as_pg() {
  if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}
PGTMP="$(mktemp -d /tmp/supabase-sql-test.XXXXXX)"
[ "$(id -u)" = 0 ] && chown postgres "$PGTMP"
PGPORT="$(free_port)"
stop_pg() {
  if [ -f "$PGTMP/data/postmaster.pid" ]; then
    as_pg "$PG_BIN/pg_ctl" -D "$PGTMP/data" -m fast -w stop >/dev/null 2>&1 || true
  fi
  [ -f "$PGTMP/postgres.log" ] && cp "$PGTMP/postgres.log" "$RUN_DIR/postgres.log"
  rm -rf "$PGTMP"
}
trap 'stop_pg; cleanup' EXIT
trap 'exit 130' INT TERM

log "PostgreSQL cluster in $PGTMP (port $PGPORT, Unix socket only)"
as_pg "$PG_BIN/initdb" -D "$PGTMP/data" -A trust -U supabase_admin -E UTF8 --locale=C >"$RUN_DIR/initdb.log"
as_pg "$PG_BIN/pg_ctl" -D "$PGTMP/data" -l "$PGTMP/postgres.log" -w \
  -o "-p $PGPORT -k $PGTMP -c listen_addresses=''" start >/dev/null

export PGCLIENTENCODING=UTF8
# pg ROLE [psql args…]: psql as ROLE (the role's own settings apply, e.g. search_path).
pg() {
  local role="$1"
  shift
  psql -X -q -v ON_ERROR_STOP=1 -h "$PGTMP" -p "$PGPORT" -U "$role" -d postgres "$@"
}
# q ROLE SQL: one value (or unaligned rows).
q() { pg "$1" -At -c "$2"; }

pg supabase_admin -f "$TEST_DIR/supabase-standin.sql" >/dev/null
log "Supabase stand-in loaded ($(q supabase_admin 'select version()' | cut -d' ' -f1-2))"

newid() { python3 -c 'import uuid; print(uuid.uuid4())'; }
random_b64() { python3 -c 'import base64,os,sys; print(base64.b64encode(os.urandom(int(sys.argv[1]))).decode())' "$1"; }
DELETION_SECRET="whsec_$(random_b64 32)"
DELETED_URL="https://abcdefghij.lambda-url.us-east-1.on.aws/supabase/user-deleted"
ISS="https://demo-ref.supabase.co/auth/v1"
PW_HASH='$2a$10$Q7pT0xUe3bN8m2LkZc5v9OqWw1rYh6sD4fG8jK0lP2aB3cE5dF7gH'
TRIGGER_COUNT_SQL="select count(*) from pg_trigger where tgrelid = 'auth.users'::regclass and not tgisinternal and tgname like 'zuplo_auth_hooks%'"
requests() { q supabase_admin 'select count(*) from net._requests'; }
# export_requests FROM_ID FILE: recorded requests with id > FROM_ID, as JSON.
export_requests() {
  q supabase_admin "select coalesce(json_agg(json_build_object('id', id, 'url', url, 'headers', headers,
    'body_b64', encode(body_bytes, 'base64')) order by id), '[]') from net._requests where id > $1" >"$2"
}
last_request_id() { q supabase_admin 'select coalesce(max(id), 0) from net._requests'; }
# as_auth SQL STDERR_FILE: runs SQL as the Auth server does; fails if psql does.
as_auth() { pg supabase_auth_admin -c "$1" 2>"$2"; }
add_user() { # ID EMAIL
  q supabase_auth_admin "insert into users (id, email, encrypted_password, raw_app_meta_data, raw_user_meta_data)
    values ('$1', '$2', '$PW_HASH', '{\"provider\":\"email\",\"providers\":[\"email\"]}', '{\"email_verified\":true}')" >/dev/null
}
user_exists() { q supabase_admin "select count(*) from auth.users where id = '$1'"; }

echo
echo "== The stand-in is as restrictive as Supabase"
expect "supabase_auth_admin's search_path is auth" "$(q supabase_auth_admin 'show search_path')" "auth"
expect "supabase_auth_admin has no USAGE on vault, net or extensions" \
  "$(q supabase_admin "select has_schema_privilege('supabase_auth_admin', 'vault', 'usage')::text || has_schema_privilege('supabase_auth_admin', 'net', 'usage')::text || has_schema_privilege('supabase_auth_admin', 'extensions', 'usage')::text")" \
  "falsefalsefalse"
if q supabase_auth_admin "select count(*) from vault.decrypted_secrets" >/dev/null 2>"$RUN_DIR/vault-denied.err"; then
  fail "supabase_auth_admin cannot read Vault" "it could"
else
  expect "supabase_auth_admin cannot read Vault" "$(grep -c 'permission denied for schema vault' "$RUN_DIR/vault-denied.err")" 1
fi
if q supabase_auth_admin "select net.http_post('http://127.0.0.1:9/')" >/dev/null 2>"$RUN_DIR/net-denied.err"; then
  fail "supabase_auth_admin cannot call net.http_post" "it could"
else
  expect "supabase_auth_admin cannot call net.http_post" "$(grep -c 'permission denied for schema net' "$RUN_DIR/net-denied.err")" 1
fi
expect "postgres is not a superuser" "$(q supabase_admin "select rolsuper from pg_roles where rolname = 'postgres'")" "f"

echo
echo "== Installing $SQL as postgres"
if pg postgres -f "$SQL" >/dev/null 2>"$RUN_DIR/install-1.err"; then
  pass "first install succeeds before the Vault secrets exist"
else
  fail "first install succeeds before the Vault secrets exist" "$(cat "$RUN_DIR/install-1.err")"
fi
expect "it warns that both Vault secrets are missing" \
  "$(grep -c 'WARNING:  zuplo_auth_hooks: the Vault secret zuplo_auth_hooks_user_deleted_\(url\|secret\) does not exist yet' "$RUN_DIR/install-1.err")" 2
# The prerequisites exactly as the header comment gives them.
q postgres "select vault.create_secret('$DELETED_URL', 'zuplo_auth_hooks_user_deleted_url')" >/dev/null
q postgres "select vault.create_secret('$DELETION_SECRET', 'zuplo_auth_hooks_user_deleted_secret')" >/dev/null
for run in 2 3; do
  if pg postgres -f "$SQL" >/dev/null 2>"$RUN_DIR/install-$run.err"; then
    pass "install run $run succeeds (idempotent)"
  else
    fail "install run $run succeeds (idempotent)" "$(cat "$RUN_DIR/install-$run.err")"
  fi
done
expect "no warning once the Vault secrets exist" "$(grep -c WARNING "$RUN_DIR/install-3.err" || true)" 0
expect "two triggers on auth.users after three installs" "$(q supabase_admin "$TRIGGER_COUNT_SQL")" 2
expect "one trigger function" \
  "$(q supabase_admin "select count(*) from pg_proc p join pg_namespace n on n.oid = p.pronamespace where n.nspname = 'zuplo_auth_hooks'")" 1
expect "the function is SECURITY DEFINER, owned by postgres, with search_path ''" \
  "$(q supabase_admin "select prosecdef::text || ' ' || pg_get_userbyid(proowner) || ' ' || array_to_string(proconfig, ',') from pg_proc where oid = 'zuplo_auth_hooks.send_user_deleted()'::regprocedure")" \
  'true postgres search_path=""'
expect "nobody but its owner may EXECUTE it (PUBLIC, anon, authenticated, service_role, supabase_auth_admin)" \
  "$(q supabase_admin "select string_agg(r || '=' || has_function_privilege(r, 'zuplo_auth_hooks.send_user_deleted()', 'execute')::text, ' ' order by r) from unnest(array['anon','authenticated','service_role','supabase_auth_admin']) r")
$(q supabase_admin "select count(*) from pg_proc, aclexplode(proacl) a where oid = 'zuplo_auth_hooks.send_user_deleted()'::regprocedure and a.grantee = 0")" \
  "anon=false authenticated=false service_role=false supabase_auth_admin=false
0"

# --- the function ------------------------------------------------------------------------
if $PG_ONLY; then
  ensure_venv "$WEBHOOKS_REQ"
else
  ensure_venv "$MOTO_REQ" "$CARGO_LAMBDA_REQ" "$WEBHOOKS_REQ"
  echo
  echo "== Starting moto, the Zuplo stand-in and the function"
  log "building the function and the Zuplo stand-in"
  cargo build --quiet --workspace --bins
  start_moto
  SECRET_ID="zuplo-auth-hooks/supabase-sql-test"
  ZUPLO_TOKEN="zpka_local_standin_token"
  HOOK_SECRET="v1,whsec_$(random_b64 32)"
  export SECRET_ID ZUPLO_TOKEN HOOK_SECRET DELETION_SECRET
  create_secret "$SECRET_ID" "$(python3 -c 'import json,os; print(json.dumps({
    "zuplo_api_key": os.environ["ZUPLO_TOKEN"],
    "supabase_hook_secret": os.environ["HOOK_SECRET"],
    "supabase_deletion_secret": os.environ["DELETION_SECRET"]}))')"
  start_standin target/debug/zuplo-standin "$RUN_DIR/zuplo-standin.log"
  write_function_env "$RUN_DIR/function.env"
  echo "SUPABASE_NAMESPACE=$ISS" >>"$RUN_DIR/function.env"
  start_function "$RUN_DIR/function.env" "$RUN_DIR/function.log"
  # The first call starts the function (compiling it if src/ changed): wait for it here,
  # so that the signatures made below are fresh when they are replayed.
  status="$(curl -s -o "$RUN_DIR/probe.json" -w '%{http_code}' --max-time 900 \
    -X POST "$FUNCTION_URL/supabase/user-deleted" -H 'content-type: application/json' \
    --data-binary '{"event":"user.deleted","user_id":"00000000-0000-4000-8000-000000000000","email":null}')" || true
  expect "an unsigned POST /supabase/user-deleted is refused (401) [$(head -c 200 "$RUN_DIR/probe.json" 2>/dev/null)]" "$status" 401
fi

# --- the deletions, as the Auth server makes them ------------------------------------------
ALICE="$(newid)"; ZOE="$(newid)"; CAROL="$(newid)"
ZOE_EMAIL="zoë@example.com"   # not ASCII: the signature must cover pg_net's UTF-8 bytes
add_user "$ALICE" "alice@example.com"
add_user "$ZOE" "$ZOE_EMAIL"
add_user "$CAROL" "carol@example.com"

if ! $PG_ONLY; then
  echo
  echo "== Provisioning the three users through /supabase/custom-access-token"
  python_checks provision --function-url "$FUNCTION_URL" --zuplo-url "$ZUPLO_URL" \
    --hook-secret "$HOOK_SECRET" --iss "$ISS" \
    --user "$ALICE:alice@example.com" --user "$ZOE:zoe@example.com" --user "$CAROL:carol@example.com"
fi

echo
echo "== Deleting as supabase_auth_admin (search_path auth)"
expect "no request recorded yet" "$(requests)" 0
if as_auth "delete from users where id = '$ALICE'" "$RUN_DIR/hard.err"; then
  pass "hard delete succeeds"
else
  fail "hard delete succeeds" "$(cat "$RUN_DIR/hard.err")"
fi
expect "hard delete: the row is gone" "$(user_exists "$ALICE")" 0
expect "hard delete: one request recorded" "$(requests)" 1
expect "hard delete: no warning" "$(grep -c WARNING "$RUN_DIR/hard.err" || true)" 0

# Supabase's SoftDeleteUser: obfuscates the e-mail (base64url(sha256(id || email))), clears
# the password and user metadata, and sets deleted_at, in one UPDATE.
SOFT_DELETE="update users set
    email = translate(rtrim(encode(sha256(convert_to(id::text || coalesce(email, ''), 'UTF8')), 'base64'), '='), '+/', '-_'),
    encrypted_password = '', raw_user_meta_data = '{}'::jsonb, deleted_at = now(), updated_at = now()"
if as_auth "$SOFT_DELETE where id = '$ZOE'" "$RUN_DIR/soft.err"; then
  pass "soft delete succeeds"
else
  fail "soft delete succeeds" "$(cat "$RUN_DIR/soft.err")"
fi
expect "soft delete: the row stays, with deleted_at set and the e-mail obfuscated" \
  "$(q supabase_admin "select (deleted_at is not null)::text || ' ' || (email <> '$ZOE_EMAIL')::text from auth.users where id = '$ZOE'")" "true true"
expect "soft delete: one more request recorded" "$(requests)" 2
as_auth "update users set deleted_at = now(), updated_at = now() where id = '$ZOE'" "$RUN_DIR/soft-again.err"
expect "a second soft delete of the same user adds no request" "$(requests)" 2
as_auth "update users set raw_app_meta_data = raw_app_meta_data || '{\"zuplo_consumer_id\":\"csmr_x\"}', email = 'carol+new@example.com', updated_at = now() where id = '$CAROL'" "$RUN_DIR/unrelated.err"
expect "an unrelated update adds no request" "$(requests)" 2
# pop's Update writes every column, deleted_at included (null to null).
as_auth "update users set email = email, deleted_at = deleted_at, encrypted_password = encrypted_password, updated_at = now() where id = '$CAROL'" "$RUN_DIR/all-columns.err"
expect "an update that sets deleted_at to null again adds no request" "$(requests)" 2
pg supabase_auth_admin -c "begin" -c "delete from users where id = '$CAROL'" -c "rollback" 2>"$RUN_DIR/rollback.err" >/dev/null
expect "a rolled-back delete adds no request and keeps the user" "$(requests) $(user_exists "$CAROL")" "2 1"
expect "exactly two requests recorded" "$(requests)" 2

export_requests 0 "$RUN_DIR/requests.json"
python3 -c 'import json,sys; print(json.dumps([
  {"event": "user.deleted", "user_id": sys.argv[1], "email": "alice@example.com"},
  {"event": "user.soft_deleted", "user_id": sys.argv[2], "email": sys.argv[3]}]))' \
  "$ALICE" "$ZOE" "$ZOE_EMAIL" >"$RUN_DIR/expected.json"
echo
echo "== The recorded requests (official standardwebhooks library)"
python_checks signatures "$RUN_DIR/requests.json" --secret "$DELETION_SECRET" \
  --expect "$RUN_DIR/expected.json" --url "$DELETED_URL" --forbid "$PW_HASH"

if ! $PG_ONLY; then
  echo
  echo "== Replaying them to $FUNCTION_URL/supabase/user-deleted"
  python_checks replay "$RUN_DIR/requests.json" --function-url "$FUNCTION_URL" \
    --zuplo-url "$ZUPLO_URL" --secret "$DELETION_SECRET" --keep "$CAROL"
fi

# --- failures never block a deletion --------------------------------------------------------
echo
echo "== A missing or bad Vault secret, or a failing net.http_post, never blocks a deletion"
# try_delete WHAT WARNING_PATTERN SETUP_SQL RESTORE_SQL (both run as supabase_admin)
try_delete() {
  local what="$1" pattern="$2" setup="$3" restore="$4" user before err
  user="$(newid)"
  add_user "$user" "dave@example.com"
  before="$(requests)"
  err="$RUN_DIR/warn-$(tr -c 'a-z0-9' '-' <<<"$what" | head -c 40).err"
  q supabase_admin "$setup" >/dev/null
  if as_auth "delete from users where id = '$user'" "$err"; then
    pass "$what: the delete succeeds"
  else
    fail "$what: the delete succeeds" "$(cat "$err")"
  fi
  expect "$what: the user is gone" "$(user_exists "$user")" 0
  expect "$what: no request recorded" "$(requests)" "$before"
  if grep -q "WARNING:  zuplo_auth_hooks: user.deleted of user $user not sent: .*$pattern" "$err"; then
    pass "$what: a WARNING says so ($(grep -o "not sent: .*" "$err" | head -c 120))"
  else
    fail "$what: a WARNING says so" "$(cat "$err")"
  fi
  if grep -qF -e "${DELETION_SECRET#whsec_}" -e "$DELETED_URL" -e "not-base64" "$err"; then
    fail "$what: the warning quotes no secret value" "$(cat "$err")"
  else
    pass "$what: the warning quotes no secret value"
  fi
  q supabase_admin "$restore" >/dev/null
}
try_delete "URL secret missing" "the Vault secret zuplo_auth_hooks_user_deleted_url is missing" \
  "update vault.secrets set name = 'parked_url' where name = 'zuplo_auth_hooks_user_deleted_url'" \
  "update vault.secrets set name = 'zuplo_auth_hooks_user_deleted_url' where name = 'parked_url'"
try_delete "signing secret missing" "the Vault secret zuplo_auth_hooks_user_deleted_secret is missing" \
  "update vault.secrets set name = 'parked_secret' where name = 'zuplo_auth_hooks_user_deleted_secret'" \
  "update vault.secrets set name = 'zuplo_auth_hooks_user_deleted_secret' where name = 'parked_secret'"
try_delete "signing secret malformed" "zuplo_auth_hooks_user_deleted_secret is malformed (entry 2" \
  "update vault.secrets set secret = secret || '|whsec_not-base64!' where name = 'zuplo_auth_hooks_user_deleted_secret'" \
  "update vault.secrets set secret = '$DELETION_SECRET' where name = 'zuplo_auth_hooks_user_deleted_secret'"
try_delete "net.http_post failing" "permission denied for function http_post (SQLSTATE 42501)" \
  "revoke execute on function net.http_post(text, jsonb, jsonb, jsonb, integer) from postgres" \
  "grant execute on function net.http_post(text, jsonb, jsonb, jsonb, integer) to postgres"
# Why SECURITY DEFINER: as the Auth server's role, the function can reach neither Vault nor net.
try_delete "without SECURITY DEFINER" "permission denied for schema vault" \
  "alter function zuplo_auth_hooks.send_user_deleted() security invoker" \
  "select 1"
pg postgres -f "$SQL" >/dev/null 2>&1
expect "running the install again restores SECURITY DEFINER" \
  "$(q supabase_admin "select prosecdef from pg_proc where oid = 'zuplo_auth_hooks.send_user_deleted()'::regprocedure")" "t"

echo
echo "== Later deliveries"
mark="$(last_request_id)"
as_auth "delete from users where id = '$ZOE'" "$RUN_DIR/hard-after-soft.err"
export_requests "$mark" "$RUN_DIR/hard-after-soft.json"
expect "hard-deleting a soft-deleted user sends user.deleted with the obfuscated e-mail" \
  "$(q supabase_admin "select body::jsonb->>'event' || ' ' || (body::jsonb->>'email' <> '$ZOE_EMAIL')::text from net._requests where id > $mark")" \
  "user.deleted true"
if ! $PG_ONLY; then
  python_checks send "$RUN_DIR/hard-after-soft.json" --function-url "$FUNCTION_URL" --status 200 \
    --answer '{"status":"absent"}' --label "that request, replayed (consumer already deleted)"
fi

# Rotation: two secrets in Vault give two signatures; either one verifies.
NEW_SECRET="v1,whsec_$(random_b64 32)"
q postgres "select vault.update_secret((select id from vault.secrets where name = 'zuplo_auth_hooks_user_deleted_secret'), '$DELETION_SECRET|$NEW_SECRET')" >/dev/null
ERIN="$(newid)"
add_user "$ERIN" "erin@example.com"
mark="$(last_request_id)"
as_auth "$SOFT_DELETE where id = '$ERIN'" "$RUN_DIR/rotation.err"
export_requests "$mark" "$RUN_DIR/rotation.json"
python3 -c 'import json,sys; print(json.dumps([{"event": "user.soft_deleted", "user_id": sys.argv[1], "email": "erin@example.com"}]))' \
  "$ERIN" >"$RUN_DIR/rotation-expected.json"
python_checks signatures "$RUN_DIR/rotation.json" --secret "$DELETION_SECRET" --secret "$NEW_SECRET" \
  --expect "$RUN_DIR/rotation-expected.json" --url "$DELETED_URL" --forbid "$PW_HASH"
if ! $PG_ONLY; then
  python_checks send "$RUN_DIR/rotation.json" --function-url "$FUNCTION_URL" --status 200 \
    --answer '{"status":"absent"}' --label "a two-signature request (old|new) to the function that has only the old secret"
fi
q postgres "select vault.update_secret((select id from vault.secrets where name = 'zuplo_auth_hooks_user_deleted_secret'), '$DELETION_SECRET')" >/dev/null

# --- timing ---------------------------------------------------------------------------------
echo
echo "== Time the trigger adds to a DELETE (200 users per run; figures, not checks)"
N=200
bench_users() {
  q supabase_auth_admin "insert into users (id, email, encrypted_password)
    select gen_random_uuid(), 'bench' || g || '@example.com', '$PW_HASH' from generate_series(1, $N) g" >/dev/null
}
set_trigger() { # enable|disable
  q supabase_admin "alter table auth.users $1 trigger zuplo_auth_hooks_user_deleted" >/dev/null
}
# One autocommit DELETE per user from psql, as the Auth server sends them: total µs.
bench_statements() {
  bench_users
  q supabase_admin "select format('delete from users where id = %L;', id) from auth.users where email like 'bench%'" >"$PGTMP/bench.sql"
  local t0 t1
  t0="$(date +%s%N)"
  pg supabase_auth_admin -f "$PGTMP/bench.sql" >/dev/null
  t1="$(date +%s%N)"
  echo $(((t1 - t0) / 1000))
}
# The same deletes inside the server, one transaction (no client or commit time): total µs.
bench_server() {
  bench_users
  pg supabase_auth_admin -c "do \$\$ declare r record; t0 timestamptz := clock_timestamp(); begin
      for r in select id from users where email like 'bench%' loop delete from users where id = r.id; end loop;
      raise notice 'us=%', floor(extract(epoch from clock_timestamp() - t0) * 1000000); end \$\$" 2>&1 |
    sed -n 's/.*us=\([0-9]*\).*/\1/p'
}
declare -a with_stmt without_stmt with_srv without_srv
for round in 1 2 3 4 5; do
  set_trigger enable;  with_stmt+=("$(bench_statements)");    with_srv+=("$(bench_server)")
  set_trigger disable; without_stmt+=("$(bench_statements)"); without_srv+=("$(bench_server)")
done
set_trigger enable
figures() { # LABEL WITH… -- WITHOUT…  (microseconds for N deletes)
  N="$N" python3 - "$@" <<'PY'
import os, statistics, sys
label, rest = sys.argv[1], sys.argv[2:]
i = rest.index("--")
w = [int(x) for x in rest[:i]]
wo = [int(x) for x in rest[i + 1:]]
n = int(os.environ["N"])
ms = lambda us: us / n / 1000
mw, mwo = ms(statistics.median(w)), ms(statistics.median(wo))
print(f"  {label}: +{mw - mwo:.3f} ms per delete\n"
      f"    with the trigger {mw:.3f} ms (runs {ms(min(w)):.3f}-{ms(max(w)):.3f}), "
      f"without {mwo:.3f} ms (runs {ms(min(wo)):.3f}-{ms(max(wo)):.3f}); medians of {len(w)} runs of {n}")
PY
}
figures "autocommit DELETEs from psql (one transaction each)" "${with_stmt[@]}" -- "${without_stmt[@]}"
figures "DELETEs in one server-side loop (no client, no commit)" "${with_srv[@]}" -- "${without_srv[@]}"
expect "every benchmarked delete with the trigger recorded a request" \
  "$(q supabase_admin "select count(*) from net._requests where body::jsonb->>'email' like 'bench%'")" $((N * 2 * 5))

# --- removal --------------------------------------------------------------------------------
echo
echo "== Removal, as the header comment gives it (as postgres)"
if pg postgres -c "drop trigger zuplo_auth_hooks_user_deleted on auth.users" >/dev/null 2>"$RUN_DIR/drop-trigger.err"; then
  echo "INFO  drop trigger … on auth.users as postgres: allowed here"
  pg postgres -f "$SQL" >/dev/null 2>&1
else
  echo "INFO  drop trigger … on auth.users as postgres: $(head -1 "$RUN_DIR/drop-trigger.err")"
fi
if pg postgres -c "drop schema zuplo_auth_hooks cascade" >/dev/null 2>"$RUN_DIR/drop-schema.err"; then
  pass "drop schema zuplo_auth_hooks cascade succeeds as postgres"
else
  fail "drop schema zuplo_auth_hooks cascade succeeds as postgres" "$(cat "$RUN_DIR/drop-schema.err")"
fi
expect "no trigger left on auth.users" "$(q supabase_admin "$TRIGGER_COUNT_SQL")" 0
FRANK="$(newid)"
add_user "$FRANK" "frank@example.com"
before="$(requests)"
as_auth "delete from users where id = '$FRANK'" "$RUN_DIR/after-removal.err"
expect "after removal a delete sends nothing" "$(requests)" "$before"

echo
if [ "$FAILED" -eq 0 ]; then
  printf '\033[1;32mPASS\033[0m  %d checks passed%s\n' "$PASSED" "$($PG_ONLY && echo ' (--pg-only: the function was not run)')"
else
  printf '\033[1;31mFAIL\033[0m  %d of %d checks failed (logs in %s)\n' "$FAILED" "$((PASSED + FAILED))" "$RUN_DIR"
  exit 1
fi
