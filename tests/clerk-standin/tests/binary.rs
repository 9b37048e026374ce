//! The `clerk-standin` process: startup line, serving, per-call log, signals and refusals.

use std::io::{BufRead, BufReader, Read};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_clerk-standin");
const SECRET_KEY_ENV: &str = "CLERK_STANDIN_SECRET_KEY";

#[test]
fn announces_serves_logs_and_stops_on_sigterm() {
    let mut child = Command::new(BIN)
        .args(["--port", "0", "--auto-users"])
        .env(SECRET_KEY_ENV, "sk_test_first,sk_test_second")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    stdout.read_line(&mut line).unwrap();
    let prefix = "clerk-standin listening on http://127.0.0.1:";
    assert!(line.starts_with(prefix), "{line}");
    let port: u16 = line[prefix.len()..].trim_end().parse().unwrap();
    assert_ne!(port, 0, "the real port is announced");
    let base = format!("http://127.0.0.1:{port}");

    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let (status, users) = runtime.block_on(async {
        let client = reqwest::Client::new();
        // --auto-users: the user exists only because it was written to.
        let status = client
            .patch(format!("{base}/v1/users/user_quickstart/metadata"))
            .bearer_auth("sk_test_second")
            .header("clerk-api-version", "2026-05-12")
            .json(&serde_json::json!({"public_metadata": {"zuplo_consumer_id": "csmr_1"}}))
            .send()
            .await
            .unwrap()
            .status();
        let users: serde_json::Value = client
            .get(format!("{base}/__standin/users"))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        (status, users)
    });
    assert_eq!(status, 200);
    assert_eq!(users[0]["id"], "user_quickstart");
    assert_eq!(users[0]["public_metadata"]["zuplo_consumer_id"], "csmr_1");

    let mut logged = String::new();
    stdout.read_line(&mut logged).unwrap();
    assert_eq!(
        logged.trim_end(),
        "PATCH /v1/users/user_quickstart/metadata -> 200 (Clerk-API-Version: 2026-05-12)",
        "one line per API call; control requests are not logged"
    );

    let killed = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let deadline = Instant::now() + Duration::from_secs(10);
    let exit = loop {
        if let Some(exit) = child.try_wait().unwrap() {
            break exit;
        }
        assert!(Instant::now() < deadline, "did not stop on SIGTERM");
        std::thread::sleep(Duration::from_millis(20));
    };
    assert!(exit.success(), "{exit:?}");
    let mut rest = String::new();
    stdout.read_to_string(&mut rest).unwrap();
    assert!(rest.is_empty(), "no further stdout: {rest}");
    let mut stderr = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .unwrap();
    for output in [&line, &logged, &stderr] {
        assert!(!output.contains("sk_test_"), "a key was printed: {output}");
    }
}

#[test]
fn refuses_to_start_without_a_secret_key() {
    for value in [None, Some(""), Some(",")] {
        let mut command = Command::new(BIN);
        command.args(["--port", "0"]);
        match value {
            Some(value) => command.env(SECRET_KEY_ENV, value),
            None => command.env_remove(SECRET_KEY_ENV),
        };
        let output = command.output().unwrap();
        assert_eq!(output.status.code(), Some(2), "{value:?}");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(
            stderr.starts_with("clerk-standin: CLERK_STANDIN_SECRET_KEY is not set"),
            "{stderr}"
        );
        assert!(output.stdout.is_empty());
    }
}

#[test]
fn bad_flags_exit_non_zero_with_usage() {
    for args in [&["--port", "nope"][..], &["--frobnicate"][..]] {
        let output = Command::new(BIN)
            .args(args)
            .env(SECRET_KEY_ENV, "sk_test_x")
            .output()
            .unwrap();
        assert_eq!(output.status.code(), Some(2), "{args:?}");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(stderr.starts_with("clerk-standin: "), "{stderr}");
        assert!(stderr.contains("usage:"), "{stderr}");
        assert!(output.stdout.is_empty());
    }
}

#[test]
fn bind_failure_exits_non_zero() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port().to_string();
    let output = Command::new(BIN)
        .args(["--port", &port])
        .env(SECRET_KEY_ENV, "sk_test_x")
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("cannot listen on"), "{stderr}");
    assert!(output.stdout.is_empty());
}
