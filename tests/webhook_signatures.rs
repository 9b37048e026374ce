//! Cross-checks our Standard Webhooks verifier (`verify::standard_webhooks`) against
//! signatures made at test time by the official `standardwebhooks` libraries: PyPI
//! 1.1.0 and npm 1.1.1 (installed by scripts/test.sh).
//!
//! The verifier's unit tests only use vectors it signs itself, so a mistake shared by
//! our signer and verifier (key decoding, signed-content layout, header parsing) would
//! pass them. An independent signer catches that. Supabase itself signs with the Go
//! library, which we don't run here; the PyPI and npm libraries implement the same
//! algorithm and reproduce the cross-library vector published with all three.

use std::io::{Read, Write};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde_json::Value;
use zuplo_auth_hooks::verify::standard_webhooks::{SignatureError, TOLERANCE, WebhookKeys};

/// A fixed clock (2026-01-01T00:00:00Z), so the tolerance edges are exact.
const NOW: i64 = 1_767_225_600;

/// One message for a signer, in the shape official_signer.{py,mjs} read.
#[derive(Clone)]
struct Case {
    secret: String,
    id: String,
    timestamp: i64,
    body: String,
}

impl Case {
    fn new(secret: &str, id: &str, timestamp: i64, body: &str) -> Self {
        Case {
            secret: secret.to_owned(),
            id: id.to_owned(),
            timestamp,
            body: body.to_owned(),
        }
    }
}

fn support(file: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/support")
        .join(file)
}

/// Stops this test binary with one line when the official signers are not installed
/// (a plain `cargo test`), instead of a panic per test.
fn require_signers() {
    static CHECK: std::sync::Once = std::sync::Once::new();
    CHECK.call_once(|| {
        let python = Command::new("python3")
            .args(["-c", "import standardwebhooks"])
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        let node = support("node_modules/standardwebhooks").is_dir();
        if !(python && node) {
            stop_test_binary(
                "the official standardwebhooks signers (PyPI on PATH, npm in tests/support) are \
                 not installed: run the tests with scripts/test.sh, which sets them up",
            );
        }
    });
}

/// Runs one signer process over the whole batch: one process per test keeps it fast.
fn run_signer(program: &str, script: &str, cases: &[Case]) -> Vec<String> {
    require_signers();
    let hint = "run the tests with scripts/test.sh, which installs the official \
                standardwebhooks libraries (.venv, tests/support/node_modules) and puts \
                .venv/bin first on PATH";
    let input = Value::Array(
        cases
            .iter()
            .map(|c| {
                serde_json::json!({
                    "secret": c.secret, "id": c.id, "timestamp": c.timestamp, "body": c.body,
                })
            })
            .collect(),
    );
    let mut child = Command::new(program)
        .arg(support(script))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start `{program}` ({e}); {hint}"));
    // The signers read all of stdin before writing anything, so this cannot deadlock.
    let mut stdin = child.stdin.take().unwrap();
    stdin.write_all(input.to_string().as_bytes()).unwrap();
    drop(stdin);
    let output = child.wait_with_output().unwrap();
    assert!(
        output.status.success(),
        "`{program} {script}` failed ({}): {}\n{hint}",
        output.status,
        String::from_utf8_lossy(&output.stderr).trim()
    );
    let signatures: Vec<String> = serde_json::from_slice(&output.stdout)
        .unwrap_or_else(|e| panic!("`{program} {script}` printed no JSON array ({e})"));
    assert_eq!(
        signatures.len(),
        cases.len(),
        "{script}: one signature per case"
    );
    signatures
}

/// Signatures made by PyPI `standardwebhooks` (python3 on PATH, i.e. .venv's).
fn python_sign(cases: &[Case]) -> Vec<String> {
    run_signer("python3", "official_signer.py", cases)
}

/// Signatures made by npm `standardwebhooks`, from tests/support/node_modules.
fn node_sign(cases: &[Case]) -> Vec<String> {
    assert!(
        support("node_modules/standardwebhooks/package.json").exists(),
        "tests/support/node_modules/standardwebhooks is missing; run the tests with \
         scripts/test.sh, which runs `npm ci` in tests/support"
    );
    run_signer("node", "official_signer.mjs", cases)
}

fn random_bytes(n: usize) -> Vec<u8> {
    let mut bytes = vec![0; n];
    std::fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut bytes))
        .expect("read /dev/urandom");
    bytes
}

/// A fresh `whsec_` secret of `n` random key bytes, as Supabase's dashboard makes them.
fn secret(n: usize) -> String {
    format!("whsec_{}", STANDARD.encode(random_bytes(n)))
}

/// Our verifier's configuration for the given secrets, in Supabase's `v1,…|v1,…` form.
fn keys(secrets: &[&str]) -> WebhookKeys {
    let config = secrets
        .iter()
        .map(|s| format!("v1,{s}"))
        .collect::<Vec<_>>()
        .join("|");
    WebhookKeys::parse(&config).unwrap_or_else(|e| panic!("{e}"))
}

/// A webhook-id as Supabase makes them: a fresh UUIDv4 per attempt.
fn message_id() -> String {
    let bytes: [u8; 16] = random_bytes(16).try_into().unwrap();
    uuid::Builder::from_random_bytes(bytes)
        .into_uuid()
        .to_string()
}

fn at(ts: i64) -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(ts as u64)
}

fn verify(
    keys: &WebhookKeys,
    id: &str,
    ts: i64,
    sig: &str,
    body: &str,
) -> Result<(), SignatureError> {
    // Through the header map, as a request carries them.
    let ts = ts.to_string();
    let headers = [
        ("webhook-id", id),
        ("webhook-timestamp", ts.as_str()),
        ("webhook-signature", sig),
    ];
    keys.verify(&headers, body.as_bytes(), at(NOW)).map(|_| ())
}

/// A custom-access-token request body as Supabase's Go server writes it: compact, in
/// struct order, non-ASCII as raw UTF-8, and `<`, `>`, `&` escaped as `\u003c` etc.
fn access_token_body(email: &str, full_name: &str) -> String {
    let sub = message_id();
    format!(
        concat!(
            r#"{{"metadata":{{"uuid":"{uuid}","time":"2026-01-01T00:00:00Z","#,
            r#""name":"customize-access-token","ip_address":"203.0.113.7"}},"#,
            r#""user_id":"{sub}","claims":{{"iss":"https://abcdefghijklmnopqrst.supabase.co/auth/v1","#,
            r#""sub":"{sub}","aud":"authenticated","exp":{exp},"iat":{iat},"#,
            r#""email":"{email}","phone":"","app_metadata":{{"provider":"email","providers":["email"]}},"#,
            r#""user_metadata":{{"full_name":"{full_name}","bio":"\u003cb\u003eR\u0026D\u003c/b\u003e 🚀"}},"#,
            r#""role":"authenticated","aal":"aal1","amr":[{{"method":"password","timestamp":{iat}}}],"#,
            r#""session_id":"{session}","is_anonymous":false}},"authentication_method":"password"}}"#,
        ),
        uuid = message_id(),
        sub = sub,
        exp = NOW + 3600,
        iat = NOW,
        email = email,
        full_name = full_name,
        session = message_id(),
    )
}

fn bodies() -> Vec<String> {
    vec![
        access_token_body("zoe.muller@example.com", "Zoë Müller"),
        access_token_body("jürgen@bücher.example", "Jürgen \\u003cadmin\\u003e 山田"),
        access_token_body("o'brien+test@example.com", "Seán \\\"Ó\\\" Briain"),
    ]
}

#[test]
fn single_official_signature_is_accepted() {
    let bodies = bodies();
    let secrets = [secret(24), secret(32), secret(64)];
    let cases: Vec<Case> = secrets
        .iter()
        .zip(&bodies)
        .map(|(s, b)| Case::new(s, &message_id(), NOW, b))
        .collect();
    for body in &bodies {
        serde_json::from_str::<Value>(body).expect("test bodies are valid JSON");
    }
    let signatures = python_sign(&cases);
    for (case, sig) in cases.iter().zip(&signatures) {
        assert!(sig.starts_with("v1,"), "{sig}");
        assert_eq!(
            verify(
                &keys(&[&case.secret]),
                &case.id,
                case.timestamp,
                sig,
                &case.body
            ),
            Ok(()),
            "{} key bytes",
            STANDARD.decode(&case.secret[6..]).unwrap().len()
        );
    }
}

#[test]
fn either_of_two_official_signatures_matches_with_both_separators() {
    let (a, b, unrelated) = (secret(24), secret(32), secret(48));
    let id = message_id();
    let body = access_token_body("rotation@example.com", "Ana Ñúñez");
    let sigs = python_sign(&[
        Case::new(&a, &id, NOW, &body),
        Case::new(&b, &id, NOW, &body),
    ]);
    let spec_header = format!("{} {}", sigs[0], sigs[1]);
    // How Supabase joins them when two secrets are configured (`v1,whsec_A|v1,whsec_B`).
    let supabase_header = sigs.join(", ");
    let only_first = keys(&[&a, &unrelated]);
    let only_last = keys(&[&unrelated, &b]);
    for header in [&spec_header, &supabase_header] {
        for (name, keys) in [("first", &only_first), ("last", &only_last)] {
            assert_eq!(
                verify(keys, &id, NOW, header, &body),
                Ok(()),
                "only the {name} signature of {header:?} matches"
            );
        }
        assert_eq!(verify(&keys(&[&a, &b]), &id, NOW, header, &body), Ok(()));
        assert_eq!(
            verify(&keys(&[&unrelated]), &id, NOW, header, &body),
            Err(SignatureError::NoMatch),
            "neither signature of {header:?} matches"
        );
    }
}

#[test]
fn timestamps_are_accepted_up_to_five_minutes_either_way() {
    let s = secret(32);
    let id = message_id();
    let body = access_token_body("clock@example.com", "Clock Skew");
    let tol = TOLERANCE.as_secs() as i64;
    let offsets = [tol, -tol, tol + 1, -(tol + 1)];
    let cases: Vec<Case> = offsets
        .iter()
        .map(|off| Case::new(&s, &id, NOW + off, &body))
        .collect();
    let sigs = python_sign(&cases);
    let keys = keys(&[&s]);
    for ((off, case), sig) in offsets.iter().zip(&cases).zip(&sigs) {
        let expected = if off.abs() <= tol {
            Ok(())
        } else if *off > 0 {
            Err(SignatureError::TooNew)
        } else {
            Err(SignatureError::TooOld)
        };
        assert_eq!(
            verify(&keys, &id, case.timestamp, sig, &body),
            expected,
            "now{off:+}s"
        );
        // The same signature is good at its own time: only the clock rejected it.
        let on_time = keys
            .verify_values(
                Some(&id),
                Some(&case.timestamp.to_string()),
                Some(sig),
                body.as_bytes(),
                at(case.timestamp),
            )
            .map(|_| ());
        assert_eq!(on_time, Ok(()), "now{off:+}s at its own time");
    }
}

#[test]
fn changed_body_id_or_secret_is_refused() {
    let (s, wrong) = (secret(32), secret(32));
    let (id, other_id) = (message_id(), message_id());
    let body = access_token_body("tamper@example.com", "Tâmper \\u003cscript\\u003e");
    let sigs = python_sign(&[
        Case::new(&s, &id, NOW, &body),
        Case::new(&s, &other_id, NOW, &body),
        Case::new(&wrong, &id, NOW, &body),
    ]);
    let (sig, other_id_sig, wrong_secret_sig) = (&sigs[0], &sigs[1], &sigs[2]);
    let keys = keys(&[&s]);
    assert_eq!(verify(&keys, &id, NOW, sig, &body), Ok(()));

    // One byte changed: the second-factor level the token would claim.
    let tampered = body.replacen(r#""aal":"aal1""#, r#""aal":"aal2""#, 1);
    let changed = body
        .bytes()
        .zip(tampered.bytes())
        .filter(|(x, y)| x != y)
        .count();
    assert_eq!((changed, tampered.len()), (1, body.len()));
    assert_eq!(
        verify(&keys, &id, NOW, sig, &tampered),
        Err(SignatureError::NoMatch),
        "tampered body"
    );

    // The same JSON value written by serde_json, compact and pretty: a verifier that
    // parsed and re-serialised before checking would refuse every real request.
    let value: Value = serde_json::from_str(&body).unwrap();
    for reserialised in [
        serde_json::to_string(&value).unwrap(),
        serde_json::to_string_pretty(&value).unwrap(),
    ] {
        assert_ne!(reserialised, body);
        assert_eq!(serde_json::from_str::<Value>(&reserialised).unwrap(), value);
        assert_eq!(
            verify(&keys, &id, NOW, sig, &reserialised),
            Err(SignatureError::NoMatch),
            "re-serialised body {reserialised}"
        );
    }

    assert_eq!(verify(&keys, &other_id, NOW, other_id_sig, &body), Ok(()));
    assert_eq!(
        verify(&keys, &other_id, NOW, sig, &body),
        Err(SignatureError::NoMatch),
        "signature for {id} presented with {other_id}"
    );
    assert_eq!(
        verify(&keys, &id, NOW, wrong_secret_sig, &body),
        Err(SignatureError::NoMatch),
        "signed with a secret we do not hold"
    );
}

#[test]
fn each_missing_header_is_named() {
    let s = secret(24);
    let id = message_id();
    let body = access_token_body("headers@example.com", "Hé Aders");
    let sig = python_sign(&[Case::new(&s, &id, NOW, &body)]).remove(0);
    let keys = keys(&[&s]);
    let ts = NOW.to_string();
    let b = body.as_bytes();
    assert_eq!(
        keys.verify_values(Some(&id), Some(&ts), Some(&sig), b, at(NOW))
            .map(|_| ()),
        Ok(())
    );
    assert_eq!(
        keys.verify_values(None, Some(&ts), Some(&sig), b, at(NOW))
            .map(|_| ()),
        Err(SignatureError::MissingHeader("webhook-id"))
    );
    assert_eq!(
        keys.verify_values(Some(&id), None, Some(&sig), b, at(NOW))
            .map(|_| ()),
        Err(SignatureError::MissingHeader("webhook-timestamp"))
    );
    assert_eq!(
        keys.verify_values(Some(&id), Some(&ts), None, b, at(NOW))
            .map(|_| ()),
        Err(SignatureError::MissingHeader("webhook-signature"))
    );
}

/// The vector published with the Standard Webhooks libraries (all of them test it).
#[test]
fn published_vector_is_reproduced_by_pypi_and_verified_by_us() {
    let (secret, id, ts) = (
        "whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD",
        "msg_27UH4WbU6Z5A5EzD8u03UvzRbpk",
        1_649_367_553,
    );
    let body = r#"{"email":"test@example.com","username":"test_user"}"#;
    let expected = "v1,tZ1I4/hDygAJgO5TYxiSd6Sd0kDW6hPenDe+bTa3Kkw=";
    let sigs = python_sign(&[Case::new(secret, id, ts, body)]);
    assert_eq!(sigs, vec![expected.to_owned()]);
    let keys = keys(&[secret]);
    assert_eq!(keys.sign(id, ts, body.as_bytes()), sigs);
    assert_eq!(
        keys.verify_values(
            Some(id),
            Some(&ts.to_string()),
            Some(expected),
            body.as_bytes(),
            at(ts)
        )
        .map(|_| ()),
        Ok(())
    );
}

#[test]
fn pypi_npm_and_our_signer_agree() {
    let mut cases = vec![Case::new(
        "whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD",
        "msg_27UH4WbU6Z5A5EzD8u03UvzRbpk",
        1_649_367_553,
        r#"{"email":"test@example.com","username":"test_user"}"#,
    )];
    // Key sizes across Supabase's 24..=66 bytes; bodies with multi-byte and astral
    // characters (UTF-16 surrogate pairs in JavaScript), and an empty body.
    for (n, body) in [24, 32, 48, 66]
        .into_iter()
        .zip(bodies().into_iter().cycle())
    {
        cases.push(Case::new(&secret(n), &message_id(), NOW, &body));
    }
    cases.push(Case::new(&secret(32), &message_id(), NOW - 301, ""));
    cases.push(Case::new(
        &secret(66),
        &message_id(),
        NOW,
        "日本語 🚀 \u{2028}",
    ));
    let python = python_sign(&cases);
    let node = node_sign(&cases);
    for (i, case) in cases.iter().enumerate() {
        let ours = keys(&[&case.secret]).sign(&case.id, case.timestamp, case.body.as_bytes());
        assert_eq!(python[i], node[i], "case {i}: PyPI vs npm");
        assert_eq!(vec![python[i].clone()], ours, "case {i}: PyPI vs ours");
    }
}

/// Clerk's deliveries come from Svix: the same signature under `svix-*` header names.
#[test]
fn svix_header_names_carry_the_same_signature() {
    let s = secret(24);
    let id = format!("msg_{}", message_id());
    let body = r#"{"data":{"id":"user_29w83sxmDNGwOuEthce5gg56FcC"},"object":"event","type":"user.created"}"#;
    let sig = python_sign(&[Case::new(&s, &id, NOW, body)]).remove(0);
    let ts = NOW.to_string();
    let headers = [
        ("svix-id", id.as_str()),
        ("svix-timestamp", ts.as_str()),
        ("svix-signature", sig.as_str()),
    ];
    let verified = keys(&[&s])
        .verify(&headers, body.as_bytes(), at(NOW))
        .unwrap();
    assert_eq!(verified.id, id);
    assert_eq!(verified.body, body.as_bytes());
    assert_eq!(
        keys(&[&secret(24)]).verify(&headers, body.as_bytes(), at(NOW)),
        Err(SignatureError::NoMatch)
    );
}

/// Prints one line and ends this test binary. The line is written to the real stderr:
/// the test harness captures `eprintln!` and would drop it with the process.
fn stop_test_binary(line: &str) -> ! {
    use std::io::Write;
    let _ = writeln!(std::io::stderr(), "\n{line}\n");
    std::process::exit(2);
}
