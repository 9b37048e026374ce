#!/usr/bin/env bash
# Tests zuplo-auth-sync (sync/) end to end, offline, with the real Firebase Auth emulator
# (firebase-tools pinned in integrations/firebase/package.json, as scripts/firebase_e2e.sh
# uses it) and the Zuplo stand-in:
#   a) users made in the emulator (e-mail/password, one Google via signInWithIdp, one
#      anonymous), exported with the real `firebase auth:export` (reference:
#      lifecycle.md §2.2: FIREBASE_TOKEN=owner and FIREBASE_GOOGLE_URL at the emulator);
#   b) backfill: one consumer per non-anonymous user, named as the hook names it (the
#      names computed here independently, in Python), with its metadata and tags;
#   c) a second backfill (same journal, then a fresh one) creates nothing;
#   d) two users deleted, exported again: prune refuses (exit 3), plans exactly those two
#      with --force, deletes exactly them with --apply --force, then plans nothing; an
#      --as-of before the consumers were made plans nothing;
#   e) a truncated export: backfill fails naming the file and line, and the users before
#      the break are provisioned;
#   f) Ctrl-C during a 2,000-user backfill: exit 130, a journal, and a rerun that
#      finishes the rest with no duplicates.
# Prints PASS/FAIL per check and a closing count; exits non-zero on any failure. Files
# and logs go to .quickstart/sync/. Needs Node.js 20 or later; no Java (auth only).
set -euo pipefail
source "$(dirname "$0")/lib.sh"
cd "$ROOT"
RUN_DIR="$RUN_DIR/sync"
rm -rf "$RUN_DIR"
mkdir -p "$RUN_DIR"
FB="$ROOT/integrations/firebase"
PROJECT_ID=demo-zah-sync # demo-*: firebase-tools runs offline, with no login

node_major="$(node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0)"
if [ "$node_major" -lt 20 ]; then
  log "firebase-tools needs Node.js 20 or later; found: $(node --version 2>/dev/null || echo none)"
  exit 1
fi

# npm_ci DIR : `npm ci` unless node_modules already matches package-lock.json, as in
# scripts/firebase_e2e.sh (the same directory: firebase-tools is installed once).
npm_ci() {
  if [ -f "$1/node_modules/.package-lock.json" ] && [ "$1/node_modules/.package-lock.json" -nt "$1/package-lock.json" ]; then
    return 0
  fi
  log "npm ci in ${1#"$ROOT"/}"
  (cd "$1" && npm ci --no-audit --no-fund --loglevel=error)
}
npm_ci "$FB" # firebase-tools (large: minutes on a first install)
FIREBASE="$FB/node_modules/.bin/firebase"

log "building zuplo-auth-sync and the Zuplo stand-in"
cargo build --quiet -p zuplo-auth-sync -p zuplo-standin --bins
SYNC="$ROOT/target/debug/zuplo-auth-sync"

ZUPLO_TOKEN="zpka_local_standin_token"
export ZUPLO_TOKEN
start_standin target/debug/zuplo-standin "$RUN_DIR/zuplo-standin.log"

# The Auth emulator alone, from a directory of its own, on free ports (the hub and the
# logging emulator start with it).
EMU_DIR="$RUN_DIR/project"
mkdir -p "$EMU_DIR"
read -r AUTH_PORT HUB_PORT LOGGING_PORT < <(python3 -c '
import socket
socks = [socket.socket() for _ in range(3)]
for s in socks: s.bind(("127.0.0.1", 0))
print(*[s.getsockname()[1] for s in socks])
for s in socks: s.close()')
python3 - "$EMU_DIR/firebase.json" "$AUTH_PORT" "$HUB_PORT" "$LOGGING_PORT" <<'PY'
import json, sys
dst, auth, hub, logging = sys.argv[1:]
emulators = {name: {"host": "127.0.0.1", "port": int(port)}
             for name, port in [("auth", auth), ("hub", hub), ("logging", logging)]}
emulators["ui"] = {"enabled": False}
emulators["singleProjectMode"] = True
json.dump({"emulators": emulators}, open(dst, "w"), indent=2)
PY
log "firebase emulators:start --only auth --project $PROJECT_ID (auth :$AUTH_PORT; log in $RUN_DIR/emulators.log)"
(cd "$EMU_DIR" && NO_UPDATE_NOTIFIER=1 exec "$FIREBASE" emulators:start --only auth --project "$PROJECT_ID") \
  >"$RUN_DIR/emulators.log" 2>&1 &
PIDS+=("$!")
E="http://127.0.0.1:$AUTH_PORT"
IDT="$E/identitytoolkit.googleapis.com"
if ! wait_http "$E/" 90; then
  tail -n 30 "$RUN_DIR/emulators.log" >&2
  exit 1
fi

# ---- helpers ---------------------------------------------------------------------------

PASSED=0
FAILED=0
# checks.py CODE : runs CODE (Python) with the helpers below; a failed assert is a FAIL
# and its message is shown.
cat >"$RUN_DIR/checks.py" <<'PY'
import json, os, sys, urllib.request, uuid

RUN_DIR = os.environ["RUN_DIR"]
PROJECT = os.environ["PROJECT_ID"]
NAMESPACE = uuid.UUID("6d1c6a2e-58b4-4f0a-9a39-7c1e2f4b8d05")

def name_of(uid):
    """The consumer name the Firebase hooks derive (no tenant), computed independently."""
    return "c-" + str(uuid.uuid5(NAMESPACE, f"firebase:{PROJECT}::{uid}"))

def load(name):
    with open(os.path.join(RUN_DIR, name)) as f:
        return json.load(f)

def rc(step):
    with open(os.path.join(RUN_DIR, step + ".rc")) as f:
        return int(f.read())

def out(step):
    return load(step + ".json")

def err(step):
    with open(os.path.join(RUN_DIR, step + ".err")) as f:
        return f.read()

def consumers():
    with urllib.request.urlopen(os.environ["ZUPLO_URL"] + "/__standin/consumers") as r:
        return json.load(r)

def anonymous(u):
    return not u.get("email") and not u.get("phoneNumber") and not u.get("providerUserInfo")

def users(export):
    return load(export)["users"]

def expected(export):
    """name -> user, for the users the hooks would provision."""
    return {name_of(u["localId"]): u for u in users(export) if not anonymous(u)}

def names(cs):
    return sorted(c["name"] for c in cs)

def show(step):
    return f"exit {rc(step)}; stdout: {open(os.path.join(RUN_DIR, step + '.json')).read()[:600]}; stderr: {err(step)[-400:]}"

exec(sys.argv[1])
PY
check() {
  local desc="$1" code="$2" output
  if output="$(RUN_DIR="$RUN_DIR" PROJECT_ID="$PROJECT_ID" python3 "$RUN_DIR/checks.py" "$code" 2>&1)"; then
    echo "PASS $desc"
    [ -z "$output" ] || printf '%s\n' "$output" | sed 's/^/     /'
    PASSED=$((PASSED + 1))
  else
    echo "FAIL $desc"
    printf '%s\n' "$output" | tail -n 6 | sed 's/^/     /'
    FAILED=$((FAILED + 1))
  fi
}

# run_sync STEP ARGS... : runs zuplo-auth-sync from $RUN_DIR (its default journals go to
# $RUN_DIR/.zuplo-auth-sync/) against the stand-in; stdout in STEP.json, stderr in
# STEP.err, the exit status in STEP.rc.
run_sync() {
  local step="$1" rc=0
  shift
  (cd "$RUN_DIR" && ZUPLO_API_KEY="$ZUPLO_TOKEN" ZUPLO_API_URL="$ZUPLO_URL" \
    ZUPLO_ACCOUNT=demo-account ZUPLO_BUCKET=demo-bucket \
    "$SYNC" "$@" >"$RUN_DIR/$step.json" 2>"$RUN_DIR/$step.err") || rc=$?
  echo "$rc" >"$RUN_DIR/$step.rc"
}

# emu PATH BODY : a POST to the Auth emulator as a client app; prints the answer.
# emu_admin PATH BODY : the same as the project owner (Admin API).
emu() { curl -sf -X POST "$IDT$1" -H 'content-type: application/json' --data-binary "$2"; }
emu_admin() {
  curl -sf -X POST "$IDT$1" -H 'content-type: application/json' -H 'authorization: Bearer owner' \
    --data-binary "$2"
}

# export FILE : `firebase auth:export` against the emulator (lifecycle.md §2.2, §8).
export_users() {
  (cd "$EMU_DIR" && FIREBASE_TOKEN=owner FIREBASE_GOOGLE_URL="$E/www.googleapis.com" NO_UPDATE_NOTIFIER=1 \
    "$FIREBASE" auth:export "$1" --project "$PROJECT_ID") >"$RUN_DIR/auth-export.log" 2>&1 || {
    log "firebase auth:export failed:"
    cat "$RUN_DIR/auth-export.log" >&2
    exit 1
  }
}

reset_standin() { curl -sf -X POST "$ZUPLO_URL/__standin/reset" >/dev/null; }

# ---- a) users in the emulator, exported ---------------------------------------------------

log "a) users in the Auth emulator, then firebase auth:export"
# The prune's --as-of check below needs a time before any consumer existed.
BEFORE="$(date -u +%Y-%m-%dT%H:%M:%SZ)"
sleep 1
UIDS=()
for who in alice bob carol erin frank grace; do
  uid="$(emu '/v1/accounts:signUp?key=any' \
    "{\"email\":\"$who@example.com\",\"password\":\"secret123\",\"displayName\":\"$who\",\"returnSecureToken\":true}" |
    python3 -c 'import json,sys; print(json.load(sys.stdin)["localId"])')"
  UIDS+=("$uid")
done
# A Google user: the emulator takes the id_token's claims as plain JSON.
claims='{"sub":"g-1234567890","email":"dave@example.com","email_verified":true,"name":"Dave G"}'
post_body="id_token=$(python3 -c 'import sys,urllib.parse; print(urllib.parse.quote(sys.argv[1]))' "$claims")&providerId=google.com"
emu '/v1/accounts:signInWithIdp?key=any' \
  "{\"postBody\":\"$post_body\",\"requestUri\":\"http://localhost\",\"returnIdpCredential\":true,\"returnSecureToken\":true}" \
  >"$RUN_DIR/google-user.json"
# An anonymous user: signUp with no e-mail. No hook fires for them; the sync skips them.
emu '/v1/accounts:signUp?key=any' '{"returnSecureToken":true}' >"$RUN_DIR/anonymous-user.json"
export_users "$RUN_DIR/out.json"
check "a) auth:export wrote 8 users: 6 e-mail/password, 1 Google, 1 anonymous" '
us = users("out.json")
assert len(us) == 8, len(us)
google = [u for u in us if any(p.get("providerId") == "google.com" for p in u.get("providerUserInfo", []))]
assert len(google) == 1 and google[0]["email"] == "dave@example.com", google
assert sum(anonymous(u) for u in us) == 1'

# ---- b) backfill ----------------------------------------------------------------------------

log "b) backfill firebase --export out.json"
run_sync backfill1 backfill firebase --export out.json --project-id "$PROJECT_ID" --json
check "b) backfill exits 0" 'assert rc("backfill1") == 0, show("backfill1")'
check "b) summary: created 7, skipped anonymous 1, failed 0" '
s = out("backfill1")
assert (s["created"], s["skipped"], s["failed"], s["users_read"]) == (7, {"anonymous": 1}, 0, 8), s'
check "b) one consumer per non-anonymous user, named as the hook names it" '
want = expected("out.json")
assert len(want) == 7
assert names(consumers()) == sorted(want), (names(consumers()), sorted(want))'
check "b) metadata.userId = localId; tags managedBy, provider, signupMethod" '
want = expected("out.json")
for c in consumers():
    u = want[c["name"]]
    assert c["metadata"].get("userId") == u["localId"], c
    assert c["tags"].get("managedBy") == "zuplo-auth-hooks", c["tags"]
    assert c["tags"].get("provider") == "firebase", c["tags"]
    method = "google.com" if u.get("providerUserInfo") else "password"
    assert c["tags"].get("signupMethod") == method, (u["email"], c["tags"])'
check "b) a default journal under .zuplo-auth-sync/" '
import glob
assert glob.glob(os.path.join(RUN_DIR, ".zuplo-auth-sync", "backfill-firebase-*.journal")), os.listdir(RUN_DIR)'

# ---- c) a second backfill creates nothing ----------------------------------------------------

log "c) backfill again: same journal, then a fresh one"
run_sync backfill2 backfill firebase --export out.json --project-id "$PROJECT_ID" --json
check "c) same journal: exit 0, created 0, already_done 7" '
s = out("backfill2")
assert rc("backfill2") == 0, show("backfill2")
assert (s["created"], s["already_done"] + s["existed"], s["failed"]) == (0, 7, 0), s
assert s["already_done"] == 7, s'
run_sync backfill3 backfill firebase --export out.json --project-id "$PROJECT_ID" --json \
  --journal "$RUN_DIR/fresh.journal"
check "c) fresh journal: exit 0, created 0, existed 7" '
s = out("backfill3")
assert rc("backfill3") == 0, show("backfill3")
assert (s["created"], s["existed"], s["already_done"], s["failed"]) == (0, 7, 0, 0), s'
check "c) the stand-in still holds the same 7 consumers" '
assert names(consumers()) == sorted(expected("out.json"))'

# ---- d) prune ------------------------------------------------------------------------------

log "d) delete 2 users, export again, prune"
for uid in "${UIDS[1]}" "${UIDS[3]}"; do # bob, erin
  emu_admin "/v1/projects/$PROJECT_ID/accounts:delete" "{\"localId\":\"$uid\"}" >/dev/null
done
export_users "$RUN_DIR/out2.json"
GONE="${UIDS[1]} ${UIDS[3]}"
export GONE
check "d) out2.json has 6 users, without the 2 deleted" '
ids = {u["localId"] for u in users("out2.json")}
assert len(ids) == 6 and not ids & set(os.environ["GONE"].split()), ids'
PRUNE=(prune firebase --export out2.json --project-id "$PROJECT_ID" --json)
run_sync prune1 "${PRUNE[@]}" --clock-skew 0
check "d) prune refuses 2 of 7 (> a tenth): exit 3, plan names exactly the 2" '
s = out("prune1")
assert rc("prune1") == 3, show("prune1")
assert s["refused"] and not s["applied"] and s["consumers_listed"] == 7, s
assert sorted(c["name"] for c in s["candidates"]) == sorted(map(name_of, os.environ["GONE"].split())), s["candidates"]
assert len(consumers()) == 7'
run_sync prune_asof "${PRUNE[@]}" --clock-skew 0 --as-of "$BEFORE" --force --apply
# Users still in the export are taken away first: left_young counts the gone users' consumers.
check "d) --as-of before the consumers were made: plans nothing (the 2 are young), deletes nothing" '
s = out("prune_asof")
assert rc("prune_asof") == 0, show("prune_asof")
assert s["candidates"] == [] and s["left_young"] == 2 and s["deleted"] == 0, s
assert len(consumers()) == 7'
run_sync prune_default_skew "${PRUNE[@]}"
check "d) default --clock-skew 300: consumers seconds old are left alone" '
s = out("prune_default_skew")
assert rc("prune_default_skew") == 0, show("prune_default_skew")
assert s["candidates"] == [] and s["left_young"] == 2, s'
run_sync prune2 "${PRUNE[@]}" --clock-skew 0 --force
check "d) --force without --apply: exit 0, plan names exactly the 2, nothing deleted" '
s = out("prune2")
assert rc("prune2") == 0, show("prune2")
assert not s["applied"] and s["refused"] is None and s["deleted"] == 0, s
assert sorted(c["name"] for c in s["candidates"]) == sorted(map(name_of, os.environ["GONE"].split())), s["candidates"]
assert len(consumers()) == 7'
run_sync prune3 "${PRUNE[@]}" --clock-skew 0 --force --apply
check "d) --apply --force: exactly the 2 are gone, the other 5 remain" '
s = out("prune3")
assert rc("prune3") == 0, show("prune3")
assert s["applied"] and s["deleted"] == 2 and s["failed"] == 0, s
assert names(consumers()) == sorted(expected("out2.json")), names(consumers())
assert len(consumers()) == 5'
run_sync prune4 "${PRUNE[@]}" --clock-skew 0
check "d) a repeat prune plans nothing" '
s = out("prune4")
assert rc("prune4") == 0, show("prune4")
assert s["candidates"] == [] and s["refused"] is None and s["consumers_listed"] == 5, s'

# ---- e) a malformed export ------------------------------------------------------------------

log "e) a truncated export"
reset_standin
python3 - "$RUN_DIR/out.json" "$RUN_DIR/truncated.json" <<'PY'
import sys
text = open(sys.argv[1]).read()
open(sys.argv[2], "w").write(text[: len(text) // 2])  # in the middle of a user
PY
run_sync broken backfill firebase --export truncated.json --project-id "$PROJECT_ID" --json \
  --journal "$RUN_DIR/broken.journal"
check "e) backfill of a truncated export exits non-zero, naming the file and line" '
import re
assert rc("broken") != 0, show("broken")
m = re.search(r"truncated\.json:(\d+):(\d+)", open(os.path.join(RUN_DIR, "broken.json")).read() + err("broken"))
assert m, show("broken")
with open(os.path.join(RUN_DIR, "truncated.json")) as f:
    lines = f.read().count("\n") + 1
assert 1 <= int(m.group(1)) <= lines, (m.group(0), lines)
print(m.group(0))'
check "e) the users before the break were provisioned, and only they" '
import json as j
text = open(os.path.join(RUN_DIR, "out.json")).read()
cut = len(text) // 2
dec = j.JSONDecoder()
pos = text.index("[") + 1
complete = []
while True:
    while pos < len(text) and text[pos] in " \n,":
        pos += 1
    try:
        u, end = dec.raw_decode(text, pos)
    except ValueError:
        break
    if end > cut:
        break
    complete.append(u)
    pos = end
want = sorted(name_of(u["localId"]) for u in complete if not anonymous(u))
assert want, "the cut left no complete user"
assert names(consumers()) == want, (names(consumers()), want)
print(len(want), "of", len(expected("out.json")))'

# ---- f) Ctrl-C and resume ---------------------------------------------------------------------

log "f) Ctrl-C during a 2,000-user backfill at --rate 50, then resume"
reset_standin
python3 scripts/make_export.py 2000 "$RUN_DIR/big.json" --seed e2e
BIG=(backfill firebase --export big.json --project-id "$PROJECT_ID" --json --journal "$RUN_DIR/big.journal")
(cd "$RUN_DIR" && ZUPLO_API_KEY="$ZUPLO_TOKEN" ZUPLO_API_URL="$ZUPLO_URL" \
  ZUPLO_ACCOUNT=demo-account ZUPLO_BUCKET=demo-bucket \
  exec "$SYNC" "${BIG[@]}" --rate 50 >"$RUN_DIR/ctrlc.json" 2>"$RUN_DIR/ctrlc.err") &
SYNC_PID=$!
PIDS+=("$SYNC_PID")
sleep 3
kill -INT "$SYNC_PID"
rc=0
wait "$SYNC_PID" || rc=$?
echo "$rc" >"$RUN_DIR/ctrlc.rc"
check "f) SIGINT: exit 130, summary says interrupted, a journal exists" '
s = out("ctrlc")
assert rc("ctrlc") == 130, show("ctrlc")
assert s["interrupted"] and 0 < s["created"] < 2000 and s["failed"] == 0, s
assert os.path.getsize(os.path.join(RUN_DIR, "big.journal")) > 0
print("created before the interrupt:", s["created"])'
# The resumed run need not be slow: --rate is about sharing Zuplo's limit, not this check.
run_sync resume "${BIG[@]}" --rate 1000 --concurrency 16
check "f) rerun with the same journal: already_done > 0, created + already_done + existed = 2000" '
s = out("resume")
assert rc("resume") == 0, show("resume")
assert s["already_done"] > 0 and s["failed"] == 0, s
assert s["created"] + s["already_done"] + s["existed"] == 2000, s
print({k: s[k] for k in ("created", "already_done", "existed")})'
check "f) no duplicates: 2,000 consumers, exactly the expected names" '
cs = names(consumers())
assert len(cs) == 2000 and len(set(cs)) == 2000, len(cs)
assert cs == sorted(expected("big.json"))'

echo "$PASSED passed, $FAILED failed"
if [ "$FAILED" -gt 0 ]; then
  log "failed; files and logs in $RUN_DIR"
  exit 1
fi
log "zuplo-auth-sync end to end: all checks passed"
