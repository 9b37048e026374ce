//! A bad configuration stops the real binary at init with a message naming the variable.

use std::process::Command;

fn run_with(env: &[(&str, &str)]) -> (bool, String) {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_zuplo-auth-hooks"));
    cmd.env_clear();
    if let Ok(path) = std::env::var("PATH") {
        cmd.env("PATH", path);
    }
    cmd.envs(env.iter().copied());
    let out = cmd.output().unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

#[test]
fn missing_variable_is_named() {
    let (ok, text) = run_with(&[("ZUPLO_BUCKET", "b"), ("ZUPLO_SECRET_ID", "s")]);
    assert!(!ok);
    assert!(
        text.contains("ZUPLO_ACCOUNT") && text.contains("is required"),
        "{text}"
    );
}

#[test]
fn malformed_variable_is_named_with_its_problem() {
    let (ok, text) = run_with(&[
        ("ZUPLO_ACCOUNT", "a"),
        ("ZUPLO_BUCKET", "b"),
        ("ZUPLO_SECRET_ID", "s"),
        ("FAIL_MODE", "sideways"),
    ]);
    assert!(!ok);
    assert!(
        text.contains("FAIL_MODE") && text.contains("open or closed"),
        "{text}"
    );
}

#[test]
fn reserved_claim_name_is_refused() {
    let (ok, text) = run_with(&[
        ("ZUPLO_ACCOUNT", "a"),
        ("ZUPLO_BUCKET", "b"),
        ("ZUPLO_SECRET_ID", "s"),
        ("CONSUMER_CLAIM", "aud"),
    ]);
    assert!(!ok);
    assert!(
        text.contains("CONSUMER_CLAIM") && text.contains("reserved"),
        "{text}"
    );
}
