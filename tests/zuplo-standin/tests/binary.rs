//! The `zuplo-standin` process: startup line, serving, signals and flag errors.

use std::io::{BufRead, BufReader, Read};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_zuplo-standin");

#[test]
fn announces_serves_and_stops_on_sigterm() {
    let mut child = Command::new(BIN)
        .args([
            "--port",
            "0",
            "--account",
            "acme",
            "--bucket=keys-1",
            "--token",
            "secret-token-1",
        ])
        .env_remove("ZUPLO_STANDIN_TOKEN")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    stdout.read_line(&mut line).unwrap();
    let prefix = "zuplo-standin listening on http://127.0.0.1:";
    assert!(line.starts_with(prefix), "{line}");
    assert!(
        line.trim_end().ends_with(" (account=acme, bucket=keys-1)"),
        "{line}"
    );
    assert!(!line.contains("secret-token-1"));
    let port: u16 = line[prefix.len()..]
        .split(' ')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    assert_ne!(port, 0, "the real port is announced");

    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let url = format!("http://127.0.0.1:{port}/v1/accounts/acme/key-buckets/keys-1/consumers");
    let status = runtime.block_on(async {
        reqwest::Client::new()
            .get(&url)
            .bearer_auth("secret-token-1")
            .send()
            .await
            .unwrap()
            .status()
    });
    assert_eq!(status, 200);

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
    assert!(rest.is_empty(), "only one stdout line: {rest}");
    let mut stderr = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .unwrap();
    assert!(!stderr.contains("secret-token-1"));
}

#[test]
fn bad_flags_exit_non_zero_with_a_message() {
    for args in [
        &["--port", "nope"][..],
        &["--frobnicate"][..],
        &["--rate-limit", "0"][..],
    ] {
        let output = Command::new(BIN).args(args).output().unwrap();
        assert!(!output.status.success(), "{args:?}");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(stderr.starts_with("zuplo-standin: "), "{stderr}");
        assert!(stderr.contains("usage:"), "{stderr}");
        assert!(output.stdout.is_empty());
    }
}

#[test]
fn bind_failure_exits_non_zero() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port().to_string();
    let output = Command::new(BIN).args(["--port", &port]).output().unwrap();
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("cannot listen on"), "{stderr}");
    assert!(output.stdout.is_empty());
}

#[test]
fn rate_limit_flag_answers_429_past_n_per_second_until_reset() {
    let mut child = Command::new(BIN)
        .args(["--port", "0", "--token", "t", "--rate-limit", "3"])
        .env_remove("ZUPLO_STANDIN_RATE_LIMIT")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    stdout.read_line(&mut line).unwrap();
    assert!(
        line.trim_end()
            .ends_with(" (account=demo-account, bucket=demo-bucket, rate-limit=3/s)"),
        "{line}"
    );
    let base = line
        .split_whitespace()
        .find(|w| w.starts_with("http://"))
        .unwrap()
        .to_owned();
    let url = format!("{base}/v1/accounts/demo-account/key-buckets/demo-bucket/consumers");

    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let client = reqwest::Client::new();
    let get = |n: usize| {
        runtime.block_on(async {
            let mut answers = Vec::new();
            for _ in 0..n {
                let r = client.get(&url).bearer_auth("t").send().await.unwrap();
                let retry_after = r
                    .headers()
                    .get("retry-after")
                    .map(|v| v.to_str().unwrap().to_owned());
                answers.push((r.status().as_u16(), retry_after));
            }
            answers
        })
    };
    // Back to back, well within one window: three pass, the rest are throttled.
    let answers = get(5);
    let statuses: Vec<u16> = answers.iter().map(|(s, _)| *s).collect();
    assert_eq!(statuses, [200, 200, 200, 429, 429], "{answers:?}");
    assert_eq!(answers[3].1.as_deref(), Some("1"));
    // The next window admits again.
    std::thread::sleep(Duration::from_millis(1100));
    assert_eq!(get(1)[0].0, 200);
    // The reset control lifts the limit, as the library's reset does.
    let reset = runtime.block_on(async {
        client
            .post(format!("{base}/__standin/reset"))
            .send()
            .await
            .unwrap()
            .status()
    });
    assert_eq!(reset, 204);
    assert!(get(10).iter().all(|(s, _)| *s == 200));

    child.kill().unwrap();
    child.wait().unwrap();
}
