#!/usr/bin/env bash
# Performance figures for zuplo-auth-hooks, printed, not asserted:
#   - cold start (exec -> first response) under a local Lambda Runtime API, against a
#     hello-world lambda_http binary built the same way (benches/lambda-runtime);
#   - the local stand-ins' own latency, to subtract;
#   - warm latency p50/p99, peak RSS (VmHWM) and CPU over many invocations;
#   - x86_64 release sizes and, unless --skip-arm64, the arm64 bootstrap and zip that
#     `cargo lambda build --release --arm64` makes (minutes on a cold target/);
#   - in process (`cargo bench --bench hot_path`): token and webhook verification and
#     whole handler requests, p50/p99;
#   - with --runtime-flavors, the same cold start and warm figures for a build on
#     tokio's multi-threaded runtime (the default build is single-threaded).
# The measuring is done by scripts/bench_cold_start.py; this wrapper builds, starts moto
# and the Zuplo stand-in, and prints the table.
#
# Usage: scripts/bench.sh [--quick] [--skip-arm64] [--runtime-flavors]
#   --quick            3 cold starts, 200 warm invocations, 300 in-process iterations
#                      (default 10, 1000 and 3000), for CI
#   --skip-arm64       no cargo-lambda build
#   --runtime-flavors  also measure a multi-thread-runtime build
# BENCH_COLD_RUNS / BENCH_WARM override the counts. Logs and results: .quickstart/bench/
set -euo pipefail
source "$(dirname "$0")/lib.sh"
cd "$ROOT"

COLD_RUNS=10
WARM=1000
ARM64=1
FLAVORS=0
QUICK=()
for arg in "$@"; do
  case "$arg" in
    --quick) COLD_RUNS=3 WARM=200 QUICK=(--quick) ;;
    --skip-arm64) ARM64=0 ;;
    --runtime-flavors) FLAVORS=1 ;;
    -h | --help) sed -n '2,23p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "unknown argument: $arg (see --help)" >&2; exit 2 ;;
  esac
done
COLD_RUNS="${BENCH_COLD_RUNS:-$COLD_RUNS}"
WARM="${BENCH_WARM:-$WARM}"
OUT="$RUN_DIR/bench"
mkdir -p "$OUT"

ensure_venv "$MOTO_REQ"

if [ "$FLAVORS" = 1 ]; then
  log "building the multi-thread-runtime variant (a relink: dependencies are shared)"
  cargo build --release --quiet --bin zuplo-auth-hooks --features multi-thread-runtime
  cp target/release/zuplo-auth-hooks target/release/zuplo-auth-hooks-multi-thread
fi
log "building release binaries: the function, the Zuplo stand-in, hello-lambda, the in-process bench"
cargo build --release --quiet --bins -p zuplo-auth-hooks -p zuplo-standin
cargo bench --quiet --no-run --bench hot_path
# A separate workspace, built into the same target/ so that shared dependencies that
# resolve identically are not compiled twice.
CARGO_TARGET_DIR="$ROOT/target" cargo build --release --quiet \
  --manifest-path benches/lambda-runtime/Cargo.toml

start_moto
local_secrets "zuplo-auth-hooks/bench"
start_standin target/release/zuplo-standin "$OUT/zuplo-standin.log"

# scripts/quickstart.sh's settings; the Lambda variables themselves (runtime API,
# memory size) are added per process by bench_cold_start.py.
write_function_env "$OUT/function.env"

log "measuring ($COLD_RUNS cold starts, $WARM warm invocations); logs in $OUT/"
if ! python3 scripts/bench_cold_start.py run --env-file "$OUT/function.env" \
  --zuplo-token "$ZUPLO_TOKEN" --cold-runs "$COLD_RUNS" --warm "$WARM" \
  --log-dir "$OUT" --out "$OUT/results.json"; then
  log "measurement failed; the function's output is in $OUT/bench-function.log"
  exit 1
fi

if [ "$FLAVORS" = 1 ]; then
  log "measuring the multi-thread-runtime build"
  python3 scripts/bench_cold_start.py run --env-file "$OUT/function.env" \
    --function target/release/zuplo-auth-hooks-multi-thread \
    --zuplo-token "$ZUPLO_TOKEN" --cold-runs "$COLD_RUNS" --warm "$WARM" \
    --log-dir "$OUT" --out "$OUT/results-multi-thread.json"
fi

log "in process: cargo bench --bench hot_path"
MOTO_URL="$MOTO_URL" cargo bench --quiet --bench hot_path -- "${QUICK[@]}" 2>&1 |
  grep -v '^$' | tee "$OUT/hot_path.txt"

report_args=()
if [ "$ARM64" = 1 ]; then
  # After the measurements, so that this build does not load the CPUs during them.
  ensure_venv "$CARGO_LAMBDA_REQ"
  rustup target add aarch64-unknown-linux-gnu >/dev/null 2>&1
  log "cargo lambda build --release --arm64 (minutes on a cold target/)"
  start=$(date +%s)
  cargo lambda build --release --arm64 --bin zuplo-auth-hooks --output-format zip \
    >"$OUT/cargo-lambda-build.log" 2>&1 || {
    tail -30 "$OUT/cargo-lambda-build.log" >&2
    exit 1
  }
  build_s=$(($(date +%s) - start))
  # The zip is the deployed artifact; the size of bootstrap is read from its entry.
  python3 - "target/lambda/zuplo-auth-hooks/bootstrap.zip" "$build_s" >"$OUT/arm64.json" <<'PY'
import json, os, sys, zipfile
path, build_s = sys.argv[1], int(sys.argv[2])
with zipfile.ZipFile(path) as z:
    info = z.getinfo("bootstrap")
    head = z.read("bootstrap")[:20]
# e_machine at offset 18 of the ELF header: 0xB7 is AArch64.
machine = {0xB7: "aarch64", 0x3E: "x86_64"}.get(int.from_bytes(head[18:20], "little"), "unknown")
print(json.dumps({"bootstrap": info.file_size, "zip": os.path.getsize(path),
                  "machine": machine, "build_s": build_s}))
PY
  report_args+=(--arm64 "$OUT/arm64.json")
fi

echo
python3 scripts/bench_cold_start.py report "$OUT/results.json" "${report_args[@]}"
if [ "$FLAVORS" = 1 ]; then
  echo
  echo "Multi-thread-runtime build (the default build above is current_thread):"
  python3 scripts/bench_cold_start.py report "$OUT/results-multi-thread.json"
fi
echo
echo "In process (cargo bench --bench hot_path):"
cat "$OUT/hot_path.txt"
scripts/bench_sync.sh "${QUICK[@]}"
