#!/usr/bin/env bash
# Performance figures for zuplo-auth-sync backfill (sync/), printed, never asserted:
#   1. paced: 10,000 users (Firebase auth:export shape, scripts/make_export.py) against
#      the Zuplo stand-in limited to 100 requests/s (fixed one-second windows, 429 with
#      retry-after: 1, as Zuplo's per-account limit), at `--rate 95`: elapsed, users/s,
#      the floor the limit sets (users / 100 per s), elapsed/floor (the issue's target:
#      at most 1.15), failures, duplicates and missing consumers (the stand-in's consumers
#      against the export's names), 429 answers, peak RSS;
#   2. memory against the export's size: peak RSS at 10,000 and 100,000 users, the
#      stand-in unlimited, `--rate 5000 --concurrency 32`. The stand-in scans every
#      consumer and every recorded call on each request (fine for tests, quadratic over
#      100,000 users: minutes), so these runs reset it every second; the check is then
#      the tool's own count (created = users, failed 0), not the stand-in's.
# Each run gets a fresh stand-in (release build) and a fresh journal. Peak RSS is the
# sync process's VmHWM (/proc/<pid>/status), sampled every 20 ms until it exits: not
# wait4's ru_maxrss, which on Linux keeps the peak from before exec, i.e. this script's
# own Python, which has read the exports. Files, logs and results.json go to
# .quickstart/bench-sync/.
#
# Usage: scripts/bench_sync.sh [--quick]
#   --quick  1,000 paced users, and the memory pair at 2,000 / 20,000 users (for CI;
#            under a minute once built)
# BENCH_SYNC_USERS, BENCH_SYNC_RSS_USERS ("small large") override the counts.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
cd "$ROOT"

PACED_USERS=10000
RSS_USERS="10000 100000"
for arg in "$@"; do
  case "$arg" in
    --quick) PACED_USERS=1000 RSS_USERS="2000 20000" ;;
    -h | --help) sed -n '2,19p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "unknown argument: $arg (see --help)" >&2; exit 2 ;;
  esac
done
PACED_USERS="${BENCH_SYNC_USERS:-$PACED_USERS}"
RSS_USERS="${BENCH_SYNC_RSS_USERS:-$RSS_USERS}"
OUT="$RUN_DIR/bench-sync"
rm -rf "$OUT"
mkdir -p "$OUT"

log "building release binaries: zuplo-auth-sync, the Zuplo stand-in"
cargo build --release --quiet -p zuplo-auth-sync --bin zuplo-auth-sync
cargo build --release --quiet -p zuplo-standin --bin zuplo-standin

log "writing exports (scripts/make_export.py)"
for n in $PACED_USERS $RSS_USERS; do
  [ -f "$OUT/users-$n.json" ] || python3 scripts/make_export.py "$n" "$OUT/users-$n.json" --seed "bench$n"
done

# Runs = "users rate-limit rate concurrency label"; rate-limit 0 = none.
RUNS=("$PACED_USERS 100 95 8 paced")
for n in $RSS_USERS; do
  RUNS+=("$n 0 5000 32 memory")
done

log "measuring (${#RUNS[@]} runs; the paced one takes about users/95 s); logs in $OUT/"
python3 - "$OUT" "$ROOT/target/release/zuplo-auth-sync" "$ROOT/target/release/zuplo-standin" "${RUNS[@]}" <<'PY'
import json, os, re, subprocess, sys, threading, time, urllib.request, uuid
from collections import Counter

out_dir, sync_bin, standin_bin, *runs = sys.argv[1:]
TOKEN = "zpka_local_bench_token"
PROJECT = "demo-bench"
NAMESPACE = uuid.UUID("6d1c6a2e-58b4-4f0a-9a39-7c1e2f4b8d05")


def get(url):
    with urllib.request.urlopen(url, timeout=300) as r:
        return json.load(r)


def vm_hwm_kib(pid):
    """The process's peak RSS so far (VmHWM, KiB), or None once it is gone."""
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return None


def post(url):
    urllib.request.urlopen(urllib.request.Request(url, method="POST"), timeout=30).close()


def start_standin(limit, log):
    args = [standin_bin, "--port", "0", "--token", TOKEN]
    if limit:
        args += ["--rate-limit", str(limit)]
    env = {k: v for k, v in os.environ.items() if not k.startswith("ZUPLO_STANDIN_")}
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=log, env=env, text=True)
    line = proc.stdout.readline()
    m = re.search(r"http://\S+", line)
    if not m:
        proc.kill()
        sys.exit(f"the stand-in did not start: {line!r}")
    return proc, m.group(0)


def measure(run, users, limit, rate, concurrency, label):
    export = os.path.join(out_dir, f"users-{users}.json")
    tag = f"{run}-{label}-{users}"
    # Memory runs: the stand-in is emptied every second so that it stays fast.
    resetting = label == "memory"
    stop = threading.Event()
    with open(os.path.join(out_dir, f"standin-{tag}.log"), "w") as slog:
        standin, url = start_standin(limit, slog)
        resetter = threading.Thread(target=lambda: [post(url + "/__standin/reset")
                                                    for _ in iter(lambda: stop.wait(1.0), True)])
        try:
            if resetting:
                resetter.start()
            env = dict(os.environ, ZUPLO_API_KEY=TOKEN, ZUPLO_API_URL=url,
                       ZUPLO_ACCOUNT="demo-account", ZUPLO_BUCKET="demo-bucket")
            for k in ("ZUPLO_SECRET_ID", "KEY_EXPIRES_AFTER_DAYS", "REQUIRE_VERIFIED_EMAIL"):
                env.pop(k, None)
            args = [sync_bin, "backfill", "firebase", "--export", export, "--project-id", PROJECT,
                    "--rate", str(rate), "--concurrency", str(concurrency), "--json", "--quiet",
                    "--journal", os.path.join(out_dir, f"{tag}.journal")]
            with open(os.path.join(out_dir, f"sync-{tag}.json"), "w") as so, \
                 open(os.path.join(out_dir, f"sync-{tag}.err"), "w") as se:
                t0 = time.monotonic()
                proc = subprocess.Popen(args, stdout=so, stderr=se, env=env, cwd=out_dir)
                peak_kib = 0
                while proc.poll() is None:
                    peak_kib = max(peak_kib, vm_hwm_kib(proc.pid) or 0)
                    time.sleep(0.02)
                elapsed = time.monotonic() - t0
            stop.set()
            if resetting:
                resetter.join()
            with open(os.path.join(out_dir, f"sync-{tag}.json")) as f:
                summary = json.load(f)
            consumers = get(url + "/__standin/consumers")
            statuses = Counter(c["status"] for c in get(url + "/__standin/calls"))
        finally:
            stop.set()
            standin.terminate()
            standin.wait()
    with open(export) as f:
        want = {"c-" + str(uuid.uuid5(NAMESPACE, f"firebase:{PROJECT}::{u['localId']}"))
                for u in json.load(f)["users"]}
    names = [c["name"] for c in consumers]
    have = set(names)
    checked = not resetting
    return {
        "label": label, "users": users, "stand_in_limit": limit, "rate": rate,
        "concurrency": concurrency, "exit": proc.returncode,
        "elapsed_s": round(elapsed, 2), "sync_seconds": round(summary.get("seconds", 0), 2),
        "users_per_s": round(users / elapsed, 1),
        "floor_s": users / limit if limit else None,
        "ratio": round(elapsed / (users / limit), 3) if limit else None,
        "created": summary.get("created"), "failed": summary.get("failed"),
        "existed": summary.get("existed"),
        "consumers": len(names) if checked else None,
        "missing": len(want - have) if checked else None,
        "duplicates": len(names) - len(have & want) if checked else None,
        "calls": sum(statuses.values()) if checked else None,
        "throttled_429": statuses.get(429, 0) if checked else None,
        "peak_rss_kib": peak_kib,
        "export_mib": round(os.path.getsize(export) / 2**20, 1),
    }


results = []
for i, run in enumerate(runs):
    users, limit, rate, concurrency, label = run.split()
    print(f"  {label}: {users} users, stand-in limit {limit if limit != '0' else 'none'}, --rate {rate} "
          f"--concurrency {concurrency} ...", file=sys.stderr, flush=True)
    results.append(measure(i + 1, int(users), int(limit), float(rate), int(concurrency), label))
with open(os.path.join(out_dir, "results.json"), "w") as f:
    json.dump(results, f, indent=2)

mib = lambda kib: kib / 1024
paced = results[0]
print()
print(f"zuplo-auth-sync backfill, release build, Zuplo stand-in on loopback ({os.cpu_count()} CPUs)")
print(f"Paced: {paced['users']} users, stand-in limited to {paced['stand_in_limit']} requests/s, "
      f"--rate {paced['rate']:g} --concurrency {paced['concurrency']}")
print(f"  elapsed        {paced['elapsed_s']:.1f} s (the tool's own count {paced['sync_seconds']:.1f} s), "
      f"{paced['users_per_s']:.1f} users/s")
print(f"  floor          {paced['floor_s']:.1f} s ({paced['users']} users / {paced['stand_in_limit']} per s)")
print(f"  elapsed/floor  {paced['ratio']:.3f} (issue: at most 1.15)")
print(f"  exit {paced['exit']}; created {paced['created']}, failed {paced['failed']}; consumers "
      f"{paced['consumers']}, missing {paced['missing']}, duplicates {paced['duplicates']}")
print(f"  calls          {paced['calls']} ({paced['throttled_429']} answered 429)")
print(f"  peak RSS       {mib(paced['peak_rss_kib']):.1f} MiB")
print()
print("Memory against the export's size (stand-in unlimited):")
print(f"  {'users':>7}  {'export MiB':>10}  {'--rate':>6}  {'conc':>4}  {'elapsed s':>9}  {'users/s':>7}  "
      f"{'peak RSS MiB':>12}  {'created':>7}  {'failed':>6}")
for r in results:
    print(f"  {r['users']:>7}  {r['export_mib']:>10.1f}  {r['rate']:>6g}  {r['concurrency']:>4}  "
          f"{r['elapsed_s']:>9.1f}  {r['users_per_s']:>7.0f}  {mib(r['peak_rss_kib']):>12.1f}  "
          f"{r['created']:>7}  {r['failed']:>6}"
          + ("   (paced run)" if r["label"] == "paced" else ""))
print("  (memory runs: the stand-in is reset every second, so its own throughput stays flat;")
print("   created counts the tool's creations, which a reset bucket never turns into 'existed')")
PY
