#!/usr/bin/env python3
"""Cold start, warm latency and peak memory of zuplo-auth-hooks, under a local Lambda
Runtime API implemented here (stdlib only). Prints figures; asserts nothing about them.

What it measures, all wall clock through loopback on this machine:
  cold   exec of a fresh process -> its first response POSTed back to the Runtime API,
         split into init (exec -> first GET .../invocation/next) and the first invocation.
         The first event is events/firebase-before-create-email.json, so it includes a
         Zuplo create; the stand-in is reset before each run so it stays a create.
         The same for benches/lambda-runtime (hello-lambda, answers at once): the floor.
  deps   the local stand-ins' own latency, called directly from Python (moto
         GetSecretValue, Zuplo who-am-i, Zuplo create), to subtract from the above.
  warm   N invocations in one process after a first one: latency from handing out the
         event to receiving the response, VmHWM (peak RSS) from /proc at the end, and
         CPU time per invocation. Events are Firebase before-create with fresh uids
         (3 in 4: a Zuplo create) mixed with repeats (1 in 4: answered from the cache).

Usually run through scripts/bench.sh, which builds the binaries, starts moto and the
stand-in, and writes the env file. By hand, with those running:
  python3 scripts/bench_cold_start.py run --function target/release/zuplo-auth-hooks \
      --hello target/release/hello-lambda --env-file .quickstart/bench/function.env \
      --zuplo-token TOKEN --out .quickstart/bench/results.json [--cold-runs 10] [--warm 1000]
  python3 scripts/bench_cold_start.py report .quickstart/bench/results.json [--arm64 arm64.json]
"""
import argparse
import http.client
import json
import os
import pathlib
import platform
import queue
import re
import subprocess
import sys
import threading
import time
import urllib.parse
import uuid
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

sys.dont_write_bytecode = True  # no scripts/__pycache__ left in the work tree
sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
import make_events  # noqa: E402  (one definition of the sample events' wire format)

ROOT = pathlib.Path(__file__).resolve().parent.parent
PREFIX = "/2018-06-01/runtime"
FUNCTION_NAME = "zuplo-auth-hooks"
FUNCTION_ARN = f"arn:aws:lambda:us-east-1:123456789012:function:{FUNCTION_NAME}"
# template.yaml's Timeout: the function derives its request budget from the deadline.
TIMEOUT_MS = 15_000
CLK_TCK = os.sysconf("SC_CLK_TCK")
CA_BUNDLE = "/etc/ssl/certs/ca-certificates.crt"
BUNDLE_VARIANT = f"{FUNCTION_NAME} with SSL_CERT_FILE={CA_BUNDLE}"


# --------------------------------------------------------------------------------------
# Runtime API emulator
# --------------------------------------------------------------------------------------

@dataclass
class Result:
    kind: str  # "response", "error", "init_error" or "exited"
    request_id: str | None
    body: bytes
    t_next: float | None = None  # the GET /next that received this event arrived
    t_sent: float | None = None  # the event was handed out
    t_done: float | None = None  # the response (or error) body was fully read


class RuntimeApi:
    """One emulator per process launched: a /next long poll left behind by a killed
    process would otherwise take the next process's event."""

    def __init__(self):
        self.events = queue.Queue()
        self.results = queue.Queue()
        self.handed_out = {}
        self.server = _Server(("127.0.0.1", 0), _Handler)
        self.server.api = self
        self.address = f"127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def queue_event(self, payload: bytes) -> str:
        request_id = str(uuid.uuid4())
        self.events.put((request_id, payload))
        return request_id

    def wait(self, request_id, proc, timeout=30.0) -> Result:
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            try:
                result = self.results.get(timeout=0.05)
            except queue.Empty:
                if proc.poll() is not None:
                    return Result("exited", request_id, f"exit status {proc.returncode}".encode())
                continue
            if result.kind == "init_error" or result.request_id == request_id:
                return result
        return Result("exited", request_id, b"timed out waiting for the response")

    def close(self):
        self.events.put(None)  # wakes a pending /next so its thread ends
        self.server.shutdown()
        self.server.server_close()


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address):
        # We kill each process at the end of its run, often mid keep-alive connection.
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


class _Handler(BaseHTTPRequestHandler):
    # Keep-alive, as the real API: lambda_runtime reuses one connection for the poll loop.
    protocol_version = "HTTP/1.1"
    # Headers and body go out in two writes; with Nagle on, the body waits for the
    # client's delayed ACK (40 ms on Linux) now and then, which is not the function's time.
    disable_nagle_algorithm = True

    def log_message(self, *args):
        pass

    def _reply(self, status, body=b"", headers=None):
        self.send_response(status)
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
        self.wfile.flush()

    def _read_body(self):
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            chunks = []
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    return b"".join(chunks)
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
        return self.rfile.read(int(self.headers.get("Content-Length") or 0))

    def do_GET(self):
        api = self.server.api
        if self.path != f"{PREFIX}/invocation/next":
            return self._reply(404, b'{"errorType":"NotFound"}')
        t_next = time.monotonic()
        item = api.events.get()
        if item is None:
            # Closing: the process that asked is gone, so there is no one to answer.
            api.events.put(None)
            self.close_connection = True
            return
        request_id, payload = item
        headers = {
            "Lambda-Runtime-Aws-Request-Id": request_id,
            "Lambda-Runtime-Deadline-Ms": str(int(time.time() * 1000) + TIMEOUT_MS),
            "Lambda-Runtime-Invoked-Function-Arn": FUNCTION_ARN,
            "Lambda-Runtime-Trace-Id": f"Root=1-{int(time.time()):08x}-{uuid.uuid4().hex[:24]};"
                                       f"Parent={uuid.uuid4().hex[:16]};Sampled=0",
        }
        t_sent = time.monotonic()
        api.handed_out[request_id] = (t_next, t_sent)
        self._reply(200, payload, headers)

    def do_POST(self):
        api = self.server.api
        body = self._read_body()
        t_done = time.monotonic()
        if self.path == f"{PREFIX}/init/error":
            self._reply(202, b'{"status":"OK"}')
            api.results.put(Result("init_error", None, body, t_done=t_done))
            return
        m = re.fullmatch(re.escape(PREFIX) + r"/invocation/([^/]+)/(response|error)", self.path)
        if not m or m.group(1) not in api.handed_out:
            return self._reply(400, b'{"errorType":"InvalidRequestID"}')
        t_next, t_sent = api.handed_out.pop(m.group(1))
        self._reply(202, b'{"status":"OK"}')
        api.results.put(Result(m.group(2), m.group(1), body, t_next, t_sent, t_done))


# --------------------------------------------------------------------------------------
# Processes
# --------------------------------------------------------------------------------------

def read_env_file(path):
    env = {}
    for line in pathlib.Path(path).read_text().splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            key, _, value = line.partition("=")
            env[key] = value
    return env


def lambda_env(base, api, name):
    # A clean environment, as in Lambda: nothing of this shell's AWS profile or
    # credentials may reach the function and change what init does.
    env = {
        "PATH": "/usr/local/bin:/usr/bin:/bin",
        "LANG": "C.UTF-8",
        "TZ": ":UTC",
        "AWS_LAMBDA_RUNTIME_API": api.address,
        "AWS_LAMBDA_FUNCTION_NAME": name,
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "256",
        "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
        "AWS_LAMBDA_INITIALIZATION_TYPE": "on-demand",
        "AWS_LAMBDA_LOG_GROUP_NAME": f"/aws/lambda/{name}",
        "AWS_LAMBDA_LOG_STREAM_NAME": "2026/01/01/[$LATEST]bench",
        "_HANDLER": "bootstrap",
        "AWS_REGION": "us-east-1",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_ACCESS_KEY_ID": "test",
        "AWS_SECRET_ACCESS_KEY": "test",
        "AWS_SESSION_TOKEN": "test",
    }
    env.update(base)
    return env


def launch(binary, env, log):
    t0 = time.monotonic()
    proc = subprocess.Popen([binary], env=env, stdin=subprocess.DEVNULL, stdout=log,
                            stderr=subprocess.STDOUT)
    return proc, t0


def stop(proc):
    if proc.poll() is None:
        proc.kill()
    proc.wait()


def proc_status(pid):
    fields = {}
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            key, _, value = line.partition(":")
            if key in ("VmHWM", "VmRSS"):
                fields[key] = int(value.split()[0])  # kB
    return fields


def proc_cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as f:
        # The command name may contain spaces: split after its closing parenthesis.
        rest = f.read().rsplit(")", 1)[1].split()
    return (int(rest[11]) + int(rest[12])) / CLK_TCK  # utime + stime


def log_tail(path, lines=40):
    try:
        text = pathlib.Path(path).read_text(errors="replace").splitlines()
    except OSError:
        return "(no log)"
    return "\n".join(text[-lines:])


class BenchError(Exception):
    pass


def expect_ok(result, name, log_path, want_claims):
    problem = None
    if result.kind != "response":
        problem = f"{result.kind}: {result.body.decode(errors='replace')[:500]}"
    else:
        try:
            response = json.loads(result.body)
            status = response.get("statusCode")
            body = response.get("body") or ""
        except ValueError:
            status, body = None, result.body.decode(errors="replace")
        if status != 200:
            problem = f"statusCode {status}: {body[:500]}"
        elif want_claims and "customClaims" not in body:
            # FAIL_MODE=open answers 200 {} when provisioning failed: not a success here.
            problem = f"no consumer claim in the answer: {body[:500]}"
    if problem:
        raise BenchError(f"{name}: {problem}\n--- last lines of {log_path} ---\n{log_tail(log_path)}")


# --------------------------------------------------------------------------------------
# Stand-ins
# --------------------------------------------------------------------------------------

class Deps:
    def __init__(self, env, token):
        self.zuplo = urllib.parse.urlsplit(env["ZUPLO_API_URL"])
        self.moto = urllib.parse.urlsplit(env["AWS_ENDPOINT_URL_SECRETS_MANAGER"])
        self.secret_id = env["ZUPLO_SECRET_ID"]
        self.consumers_path = (f"/v1/accounts/{env['ZUPLO_ACCOUNT']}/key-buckets/"
                               f"{env['ZUPLO_BUCKET']}/consumers")
        self.token = token

    def _conn(self, url):
        return http.client.HTTPConnection(url.hostname, url.port, timeout=10)

    def _call(self, conn, method, path, body=None, headers=None):
        conn.request(method, path, body=body, headers=headers or {})
        response = conn.getresponse()
        data = response.read()
        if response.status >= 300:
            raise BenchError(f"{method} {path}: {response.status} {data[:300]!r}")
        return data

    def reset_zuplo(self):
        conn = self._conn(self.zuplo)
        self._call(conn, "POST", "/__standin/reset")
        conn.close()

    def zuplo_calls(self):
        conn = self._conn(self.zuplo)
        calls = json.loads(self._call(conn, "GET", "/__standin/calls"))
        conn.close()
        return calls

    def get_secret(self, conn):
        self._call(conn, "POST", "/", json.dumps({"SecretId": self.secret_id}), {
            "X-Amz-Target": "secretsmanager.GetSecretValue",
            "Content-Type": "application/x-amz-json-1.1",
            "Authorization": "AWS4-HMAC-SHA256 Credential=test/20260101/us-east-1/"
                             "secretsmanager/aws4_request, SignedHeaders=host, Signature=0",
        })

    def who_am_i(self, conn):
        self._call(conn, "GET", "/v1/who-am-i", headers={"Authorization": f"Bearer {self.token}"})

    def create(self, conn, n):
        # The body the function sends for a Firebase sign-up (provision.rs new_consumer).
        body = json.dumps({
            "name": f"c-{uuid.uuid4()}",
            "description": f"firebase user bench{n}@example.com",
            "managers": [f"bench{n}@example.com"],
            "metadata": {"provider": "firebase", "userId": f"bench-direct-{n}"},
            "tags": {"provider": "firebase"},
        })
        self._call(conn, "POST", f"{self.consumers_path}?with-api-key=true", body, {
            "Authorization": f"Bearer {self.token}", "Content-Type": "application/json"})


def timed(fn, runs):
    fn()  # first call warms the server's own lazy paths; not what the function sees
    samples = []
    for _ in range(runs):
        t = time.monotonic()
        fn()
        samples.append(time.monotonic() - t)
    return samples


def measure_deps(deps, runs):
    def fresh(url, call):
        def once():
            conn = deps._conn(url)
            call(conn)
            conn.close()
        return once

    counter = iter(range(10**9))
    kept = deps._conn(deps.zuplo)
    out = {
        # The function opens a new connection for each of these at init.
        "moto GetSecretValue (new connection)": timed(fresh(deps.moto, deps.get_secret), runs),
        "Zuplo who-am-i (new connection)": timed(fresh(deps.zuplo, deps.who_am_i), runs),
        # Its first create reuses the connection who-am-i opened during init.
        "Zuplo create (kept connection)": timed(lambda: deps.create(kept, next(counter)), runs),
        "Zuplo create (new connection)": timed(
            fresh(deps.zuplo, lambda c: deps.create(c, next(counter))), runs),
    }
    kept.close()
    deps.reset_zuplo()
    return out


# --------------------------------------------------------------------------------------
# Measurements
# --------------------------------------------------------------------------------------

def before_create_event(uid, n):
    user = {"email": f"bench{n}@example.com", "email_verified": True,
            "display_name": f"Bench User {n}"}
    claims = make_events.blocking_claims("beforeCreate", uid, user, "before-create",
                                         sign_in_method="password")
    body = json.dumps({"data": {"jwt": make_events.unsigned_jwt(claims)}}, separators=(",", ":"))
    return json.dumps(make_events.function_url_event("/firebase/before-create", body)).encode()


def cold_once(target, base_env, event, deps, run):
    name, binary, log_path, is_function, extra_env = target
    deps.reset_zuplo()
    api = RuntimeApi()
    request_id = api.queue_event(event)
    with open(log_path, "ab") as log:
        log.write(f"\n===== cold run {run} =====\n".encode())
        log.flush()
        proc, t0 = launch(binary, lambda_env({**base_env, **extra_env}, api, name), log)
    try:
        result = api.wait(request_id, proc)
        hwm = proc_status(proc.pid)["VmHWM"] if proc.poll() is None else None
    finally:
        stop(proc)
        api.close()
    expect_ok(result, f"{name} cold run {run}", log_path, is_function)
    sample = {"total": result.t_done - t0, "init": result.t_next - t0,
              "invoke": result.t_done - result.t_next, "vm_hwm_kb": hwm}
    if is_function:
        calls = [(c["method"], c["path"].split("/")[-1], c["status"]) for c in deps.zuplo_calls()]
        sample["zuplo_calls"] = calls
        if [c[:2] for c in calls] != [("GET", "who-am-i"), ("POST", "consumers")]:
            raise BenchError(f"{name} cold run {run}: unexpected Zuplo calls {calls} "
                             f"(init should check the token, then the event create a consumer)\n"
                             f"--- last lines of {log_path} ---\n{log_tail(log_path)}")
    return sample


def warm(target, base_env, deps, invocations):
    name, binary, log_path, is_function, _ = target
    deps.reset_zuplo()
    api = RuntimeApi()
    tag = uuid.uuid4().hex[:8]
    with open(log_path, "ab") as log:
        log.write(f"\n===== warm, {invocations} invocations =====\n".encode())
        log.flush()
        proc, _ = launch(binary, lambda_env(base_env, api, name), log)
    latencies = {"new user": [], "repeat": []}
    try:
        first = api.wait(api.queue_event(before_create_event(f"bench-{tag}-first", 0)), proc)
        expect_ok(first, f"{name} first invocation", log_path, is_function)
        after_first = proc_status(proc.pid)
        cpu0 = proc_cpu_seconds(proc.pid)
        new_uids = []
        for i in range(invocations):
            if i % 4 == 3:
                # A retried sign-up: same user, answered from the consumer cache.
                kind, uid = "repeat", new_uids[(i * 7919) % len(new_uids)]
            else:
                kind, uid = "new user", f"bench-{tag}-{i}"
                new_uids.append(uid)
            result = api.wait(api.queue_event(before_create_event(uid, i)), proc)
            expect_ok(result, f"{name} warm invocation {i}", log_path, is_function)
            latencies[kind].append(result.t_done - result.t_sent)
        cpu = proc_cpu_seconds(proc.pid) - cpu0
        end = proc_status(proc.pid)
    finally:
        stop(proc)
        api.close()
    return {"latency": latencies, "vm_hwm_kb": end["VmHWM"], "vm_rss_kb": end["VmRSS"],
            "outcomes": warm_outcomes(log_path) if is_function else {},
            "vm_hwm_after_first_kb": after_first["VmHWM"], "cpu_s": cpu,
            "invocations": invocations}


def warm_outcomes(log_path):
    """The function's own word on what each warm invocation did (created, cached, ...),
    so the report shows whether the mix of events really exercised both paths."""
    text = pathlib.Path(log_path).read_text(errors="replace")
    section = text.rsplit("===== warm,", 1)[-1]
    counts = {}
    for outcome in re.findall(r'outcome="?([a-z_]+)', section):
        counts[outcome] = counts.get(outcome, 0) + 1
    return counts


def count_log_problems(log_path):
    errors, warnings = [], []
    for line in pathlib.Path(log_path).read_text(errors="replace").splitlines():
        if " ERROR " in line:
            errors.append(line)
        # The emulator warning is expected: FIREBASE_AUTH_EMULATOR=true is the point.
        elif " WARN " in line and "FIREBASE_AUTH_EMULATOR" not in line:
            warnings.append(line)
    return errors, warnings


def cmd_run(args):
    base_env = read_env_file(args.env_file)
    deps = Deps(base_env, args.zuplo_token)
    log_dir = pathlib.Path(args.log_dir)
    log_dir.mkdir(parents=True, exist_ok=True)
    function = (FUNCTION_NAME, args.function, log_dir / "bench-function.log", True, {})
    hello = ("hello-lambda", args.hello, log_dir / "bench-hello.log", False, {})
    cold_targets = [function, hello]
    # rustls-native-certs reads the bundle *and* every file of a CA directory such as
    # Debian's /etc/ssl/certs, once per TLS client (the SDK's and reqwest's): several ms
    # here. provided.al2023 keeps bundles instead of one file per CA, so this variant shows
    # how much of the local figure is this machine's CA layout.
    if os.path.isfile(CA_BUNDLE):
        cold_targets.append((BUNDLE_VARIANT, args.function, log_dir / "bench-function-bundle.log",
                             True, {"SSL_CERT_FILE": CA_BUNDLE}))
    for target in cold_targets:
        target[2].write_bytes(b"")
    first_event = (ROOT / "events/firebase-before-create-email.json").read_bytes()
    results = {"started": time.time(), "loadavg_start": os.getloadavg(),
               "cold_runs": args.cold_runs, "warm_invocations": args.warm,
               "sizes": {t[0]: os.path.getsize(t[1]) for t in (function, hello)}}

    print(f"cold starts: {args.cold_runs} x {len(cold_targets)} fresh processes", file=sys.stderr)
    cold = {target[0]: [] for target in cold_targets}
    for run in range(args.cold_runs):
        # Interleaved, so load from anything else on the machine hits all alike.
        for target in cold_targets:
            cold[target[0]].append(cold_once(target, base_env, first_event, deps, run))
    results["cold"] = cold

    print(f"stand-in latency: {args.dep_runs} calls each", file=sys.stderr)
    results["deps"] = measure_deps(deps, args.dep_runs)

    print(f"warm: {args.warm} invocations per binary", file=sys.stderr)
    results["warm"] = {t[0]: warm(t, base_env, deps, args.warm) for t in (function, hello)}

    function_logs = [str(t[2]) for t in cold_targets if t[3]]
    errors, warnings = [], []
    for log_path in function_logs:
        e, w = count_log_problems(log_path)
        errors += e
        warnings += w
    results["function_log"] = {"path": ", ".join(function_logs), "errors": errors[:20],
                               "error_count": len(errors), "warnings": warnings[:20],
                               "warning_count": len(warnings)}
    results["loadavg_end"] = os.getloadavg()
    pathlib.Path(args.out).write_text(json.dumps(results, indent=1))
    if errors:
        # An init failure is logged but not fatal (the first request retries), so the
        # figures above would measure a degraded path: refuse to report them.
        print("ERROR lines in the function's logs:\n" + "\n".join(errors[:20]), file=sys.stderr)
        return 1
    return 0


# --------------------------------------------------------------------------------------
# Report
# --------------------------------------------------------------------------------------

def pct(samples, p):
    ordered = sorted(samples)
    if not ordered:
        return float("nan")
    rank = max(1, -(-len(ordered) * p // 100))  # nearest rank
    return ordered[int(rank) - 1]


def ms(seconds):
    return f"{seconds * 1000:8.2f}"


def mib(kb):
    return f"{kb / 1024:6.1f} MiB"


def machine():
    model = "?"
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    try:
        rustc = subprocess.run(["rustc", "-V"], capture_output=True, text=True).stdout.strip()
    except OSError:
        rustc = "rustc not found"
    return (f"{len(os.sched_getaffinity(0))} CPUs ({model}), {platform.system()} "
            f"{platform.release()}, {rustc}")


def cmd_report(args):
    r = json.loads(pathlib.Path(args.results).read_text())
    fn, hello = FUNCTION_NAME, "hello-lambda"
    print(f"Machine: {machine()}")
    print(f"Load average 1/5/15 min: start {' '.join(f'{x:.2f}' for x in r['loadavg_start'])}, "
          f"end {' '.join(f'{x:.2f}' for x in r['loadavg_end'])}")
    print()
    print(f"Cold start: exec -> first response POSTed, {r['cold_runs']} fresh processes each (ms)")
    print(f"  {'':44}{'min':>8}{'p50':>8}{'max':>8}")
    for name in (fn, hello):
        for part, label in (("total", "total"), ("init", "  init (exec -> first /next)"),
                            ("invoke", "  first invocation")):
            s = [x[part] for x in r["cold"][name]]
            print(f"  {name + ' ' + label if part == 'total' else label:44}"
                  f"{ms(min(s))}{ms(pct(s, 50))}{ms(max(s))}")
        if name == fn and BUNDLE_VARIANT in r["cold"]:
            s = [x["total"] for x in r["cold"][BUNDLE_VARIANT]]
            print(f"  {'  total with CA store = 1 bundle file (*)':44}"
                  f"{ms(min(s))}{ms(pct(s, 50))}{ms(max(s))}")
    f50 = pct([x["total"] for x in r["cold"][fn]], 50)
    h50 = pct([x["total"] for x in r["cold"][hello]], 50)
    print(f"  ratio of p50 totals, {fn} / {hello}: {f50 / h50:.1f}x "
          f"(difference {(f50 - h50) * 1000:.2f} ms)")
    if BUNDLE_VARIANT in r["cold"]:
        n = len(os.listdir(os.path.dirname(CA_BUNDLE)))
        print(f"  (*) SSL_CERT_FILE={CA_BUNDLE} instead of the bundle plus {n} entries of"
              f" {os.path.dirname(CA_BUNDLE)}/:\n      a program that reads the system's CA"
              " store pays for this machine's layout; the function carries its roots"
              "\n      compiled in (webpki-roots), so both rows should agree.")
    print()
    print("Stand-ins called directly from Python, so their share can be subtracted (ms)")
    print(f"  {'':44}{'min':>8}{'p50':>8}{'max':>8}")
    for label, s in r["deps"].items():
        print(f"  {label:44}{ms(min(s))}{ms(pct(s, 50))}{ms(max(s))}")
    print("  (the function's cold start = GetSecretValue, then who-am-i, then the create on"
          " the kept connection)")
    print()
    print(f"Warm: {r['warm_invocations']} invocations in one process after a first one,"
          " from event handed out to response received (ms)")
    print(f"  {'':44}{'p50':>8}{'p99':>8}{'max':>8}")
    for name in (fn, hello):
        w = r["warm"][name]
        groups = w["latency"].items() if name == fn else [("all", sum(w["latency"].values(), []))]
        for kind, s in groups:
            label = {"new user": "new user (Zuplo create)", "repeat": "repeat (cache)"}.get(kind, kind)
            print(f"  {name + ' ' + label + f' n={len(s)}':44}"
                  f"{ms(pct(s, 50))}{ms(pct(s, 99))}{ms(max(s))}")
        if name == fn:
            s = sum(w["latency"].values(), [])
            print(f"  {name + f' all n={len(s)}':44}{ms(pct(s, 50))}{ms(pct(s, 99))}{ms(max(s))}")
            outcomes = ", ".join(f"{k} {v}" for k, v in sorted(w["outcomes"].items()))
            print(f"    outcomes in the function's log (incl. the first): {outcomes}")
    print()
    print("Memory (VmHWM = peak RSS, from /proc/<pid>/status)")
    for name in (fn, hello):
        w = r["warm"][name]
        cold_hwm = [x["vm_hwm_kb"] for x in r["cold"][name] if x["vm_hwm_kb"]]
        print(f"  {name:18} after 1st invocation {mib(pct(cold_hwm, 50))};"
              f" after {w['invocations']} more: peak {mib(w['vm_hwm_kb'])},"
              f" RSS now {mib(w['vm_rss_kb'])};"
              f" CPU {w['cpu_s'] / w['invocations'] * 1000:.2f} ms/invocation")
    print()
    print("Sizes")
    for name, size in r["sizes"].items():
        print(f"  {name:18} x86_64 release binary {size / 1e6:6.2f} MB")
    if args.arm64:
        a = json.loads(pathlib.Path(args.arm64).read_text())
        print(f"  {fn:18} arm64 bootstrap ({a['machine']}) {a['bootstrap'] / 1e6:6.2f} MB,"
              f" bootstrap.zip {a['zip'] / 1e6:6.2f} MB  (cargo lambda build, {a['build_s']:.0f} s)")
    else:
        print("  arm64: skipped (--skip-arm64)")
    log = r["function_log"]
    print()
    print(f"Function logs: {log['path']}: {log['error_count']} ERROR lines, "
          f"{log['warning_count']} unexpected WARN lines")
    for line in log["errors"] + log["warnings"]:
        print(f"  {line}")
    return 0


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="cmd", required=True)
    run = sub.add_parser("run")
    run.add_argument("--function", default=str(ROOT / "target/release/zuplo-auth-hooks"))
    run.add_argument("--hello", default=str(ROOT / "target/release/hello-lambda"))
    run.add_argument("--env-file", required=True, help="the function's settings, KEY=VALUE lines")
    run.add_argument("--zuplo-token", required=True, help="a token the Zuplo stand-in accepts")
    run.add_argument("--cold-runs", type=int, default=10)
    run.add_argument("--warm", type=int, default=1000)
    run.add_argument("--dep-runs", type=int, default=20)
    run.add_argument("--log-dir", default=str(ROOT / ".quickstart"))
    run.add_argument("--out", required=True)
    report = sub.add_parser("report")
    report.add_argument("results")
    report.add_argument("--arm64", help="JSON with bootstrap and zip sizes from scripts/bench.sh")
    args = parser.parse_args()
    try:
        return cmd_run(args) if args.cmd == "run" else cmd_report(args)
    except BenchError as e:
        print(f"bench: {e}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
