//! Cross-checks our Standard Webhooks verifier (`verify::standard_webhooks`) against
//! signatures made at test time by the official `standardwebhooks` libraries: PyPI
//! 1.1.0 and npm 1.1.1 (installed by scripts/test.sh).
//!
//! The verifier's unit tests only use vectors it signs itself, so a mistake shared by
//! our signer and verifier (key decoding, signed-content layout, header parsing) would
//! pass them. An independent signer catches that. Supabase itself signs with the Go
//! library, which we don't run here; the PyPI and npm libraries implement the same
//! algorithm and reproduce the cross-library vector published with all three.
//!
//! Clerk's deliveries are signed by Svix. Svix's own signer and verifier are checked
//! here too, through PyPI `svix` 1.83.0 (the last release with its own code; 2.x wraps
//! standardwebhooks): deliveries it signs go through the real `POST /clerk/webhook`
//! route (with local Secrets Manager, Zuplo and Clerk stand-ins, so these tests need
//! moto like the other integration tests), and it verifies what our test helper signs.

mod common;

use std::io::{Read, Write};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use clerk_standin::{ClerkStandin, MetadataWrite, StandinConfig};
use common::{Answer, Harness, Options, ZUPLO_TOKEN, request_with_headers, webhook_signature};
use serde_json::{Value, json};
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

/// The Svix release whose own signer and verifier these tests run (scripts/lib.sh pins it).
const SVIX_VERSION: &str = "1.83.0";

/// Stops this test binary with one line when the official signers are not installed
/// (a plain `cargo test`), instead of a panic per test.
fn require_signers() {
    static CHECK: std::sync::Once = std::sync::Once::new();
    CHECK.call_once(|| {
        let check = format!(
            "import standardwebhooks, svix.webhooks, importlib.metadata as m; \
             assert m.version('svix') == '{SVIX_VERSION}'"
        );
        let python = Command::new("python3")
            .args(["-c", &check])
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        let node = support("node_modules/standardwebhooks").is_dir();
        if !(python && node) {
            stop_test_binary(&format!(
                "the official signers (PyPI standardwebhooks and svix {SVIX_VERSION} on PATH, \
                 npm standardwebhooks in tests/support) are not installed: run the tests with \
                 scripts/test.sh, which sets them up"
            ));
        }
    });
}

fn case_json(c: &Case) -> Value {
    json!({"secret": c.secret, "id": c.id, "timestamp": c.timestamp, "body": c.body})
}

/// Runs one signer process over the whole batch: one process per test keeps it fast.
fn run_signer(program: &str, script: &str, cases: &[Case]) -> Vec<String> {
    let input = Value::Array(cases.iter().map(case_json).collect());
    run_script(program, &[script], input)
}

/// Runs `program script args…` with `input` as JSON on stdin; one answer per input item.
fn run_script<T: serde::de::DeserializeOwned>(
    program: &str,
    args: &[&str],
    input: Value,
) -> Vec<T> {
    require_signers();
    let hint = "run the tests with scripts/test.sh, which installs the official \
                standardwebhooks and svix libraries (.venv, tests/support/node_modules) and \
                puts .venv/bin first on PATH";
    let (script, args) = args.split_first().expect("a script");
    let cases = input.as_array().map_or(0, Vec::len);
    let mut child = Command::new(program)
        .arg(support(script))
        .args(args)
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
    let answers: Vec<T> = serde_json::from_slice(&output.stdout)
        .unwrap_or_else(|e| panic!("`{program} {script}` printed no JSON array ({e})"));
    assert_eq!(answers.len(), cases, "{script}: one answer per case");
    answers
}

/// Signatures made by PyPI `standardwebhooks` (python3 on PATH, i.e. .venv's).
fn python_sign(cases: &[Case]) -> Vec<String> {
    run_signer("python3", "official_signer.py", cases)
}

/// Signatures made by Svix's own signer: `svix.webhooks.Webhook(secret).sign(…)` of
/// PyPI `svix` 1.83.0.
fn svix_sign(cases: &[Case]) -> Vec<String> {
    let input = Value::Array(cases.iter().map(case_json).collect());
    run_script("python3", &["official_signer.py", "svix", "sign"], input)
}

/// A delivery's headers, name and value.
type HeaderList = Vec<(&'static str, String)>;

/// Svix's own verifier (`Webhook(secret).verify(body, headers)` of PyPI `svix` 1.83.0,
/// at the current time) on each `(secret, headers, body)`: `None` when it accepts,
/// else its error.
fn svix_verify(cases: &[(String, HeaderList, String)]) -> Vec<Option<String>> {
    let input = cases
        .iter()
        .map(|(secret, headers, body)| {
            let headers: serde_json::Map<String, Value> = headers
                .iter()
                .map(|(name, value)| ((*name).to_owned(), Value::from(value.as_str())))
                .collect();
            json!({"secret": secret, "headers": headers, "body": body})
        })
        .collect();
    run_script("python3", &["official_signer.py", "svix", "verify"], input)
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

/// Svix's own published vector (the first of the cross-library vectors), reproduced by
/// svix 1.83.0's signer and by ours; then the two agree on fresh keys and bodies.
#[test]
fn svix_reproduces_its_published_vector_and_agrees_with_our_signer() {
    let mut cases = vec![Case::new(
        "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
        "msg_p5jXN8AQM9LWM0D4loKWxJek",
        1_614_265_330,
        r#"{"test": 2432232314}"#,
    )];
    for (n, body) in [24, 32, 64].into_iter().zip(clerk_bodies()) {
        cases.push(Case::new(&secret(n), &svix_message_id(), NOW, &body));
    }
    let svix = svix_sign(&cases);
    assert_eq!(svix[0], "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
    for (i, case) in cases.iter().enumerate() {
        let ours = keys(&[&case.secret]).sign(&case.id, case.timestamp, case.body.as_bytes());
        assert_eq!(vec![svix[i].clone()], ours, "case {i}: svix vs ours");
    }
}

// --- Svix-signed deliveries through the real `POST /clerk/webhook` route ----------------

const CLERK_ROUTE: &str = "/clerk/webhook";
/// Accepted by the Clerk stand-in and sent by the function on its metadata write-back.
const CLERK_SECRET_KEY: &str = "sk_test_webhook_signatures_0123456789abcdef";
/// Clerk's documented `user.created` sample (webhooks overview), compact as delivered.
const DOCS_USER_ID: &str = "user_29w83sxmDNGwOuEthce5gg56FcC";
const DOCS_USER_CREATED: &str = concat!(
    r#"{"data":{"birthday":"","created_at":1654012591514,"email_addresses":[{"#,
    r#""email_address":"example@example.org","id":"idn_29w83yL7CwVlJXylYLxcslromF1","#,
    r#""linked_to":[],"object":"email_address","verification":{"status":"verified","#,
    r#""strategy":"ticket"}}],"external_accounts":[],"external_id":"567772","#,
    r#""first_name":"Example","gender":"","id":"user_29w83sxmDNGwOuEthce5gg56FcC","#,
    r#""image_url":"https://img.clerk.com/xxxxxx","last_name":"Example","#,
    r#""last_sign_in_at":1654012591514,"object":"user","password_enabled":true,"#,
    r#""phone_numbers":[],"primary_email_address_id":"idn_29w83yL7CwVlJXylYLxcslromF1","#,
    r#""primary_phone_number_id":null,"primary_web3_wallet_id":null,"private_metadata":{},"#,
    r#""profile_image_url":"https://www.gravatar.com/avatar?d=mp","public_metadata":{},"#,
    r#""two_factor_enabled":false,"unsafe_metadata":{},"updated_at":1654012591835,"#,
    r#""username":null,"web3_wallets":[]},"instance_id":"ins_123","object":"event","#,
    r#""timestamp":1654012591835,"type":"user.created"}"#,
);
const NON_ASCII_USER_ID: &str = "user_2qZoeMuellerYamada0000001";
const NON_ASCII_EMAIL: &str = "zoë.müller@bücher.example";

/// The documented sample with non-ASCII names and address, written as Clerk's Go
/// servers write JSON: raw UTF-8, and `<`, `>`, `&` escaped as `\u003c` etc.
fn non_ascii_user_created() -> String {
    DOCS_USER_CREATED
        .replace(DOCS_USER_ID, NON_ASCII_USER_ID)
        .replace("example@example.org", NON_ASCII_EMAIL)
        .replace(r#""first_name":"Example""#, r#""first_name":"Zoë Ñúñez""#)
        .replace(
            r#""last_name":"Example""#,
            r#""last_name":"Müller 山田 \u003cR\u0026D\u003e 🚀""#,
        )
}

/// Both `user.created` bodies, with the user each names and its primary address.
fn clerk_bodies() -> Vec<String> {
    vec![DOCS_USER_CREATED.to_owned(), non_ascii_user_created()]
}

/// A message id as Svix makes them (`msg_` and a KSUID; a UUID does as well here).
fn svix_message_id() -> String {
    format!("msg_{}", message_id().replace('-', ""))
}

/// The function with its Clerk route enabled, a Clerk Backend API stand-in, and `users`
/// existing in Clerk.
struct ClerkRoute {
    h: Harness,
    clerk: ClerkStandin,
    webhook_secret: String,
    /// Zuplo calls made by the warm-up (its token check).
    zuplo_calls_at_start: usize,
}

impl ClerkRoute {
    async fn start(users: &[&str]) -> Self {
        let clerk = ClerkStandin::start(StandinConfig {
            secret_keys: vec![CLERK_SECRET_KEY.into()],
            ..StandinConfig::default()
        })
        .await;
        for user in users {
            assert!(clerk.add_user(user));
        }
        // 24 bytes, the size of the secrets Svix makes.
        let webhook_secret = secret(24);
        let h = Harness::with(Options {
            secret: Some(
                json!({
                    "zuplo_api_key": ZUPLO_TOKEN,
                    "clerk_webhook_secret": webhook_secret,
                    "clerk_secret_key": CLERK_SECRET_KEY,
                })
                .to_string(),
            ),
            env: vec![("CLERK_API_URL", clerk.url())],
            // The secret is read before the first delivery, as in a warm container:
            // the clock-edge test below must not wait on it.
            warm_up: true,
            ..Options::default()
        })
        .await;
        ClerkRoute {
            zuplo_calls_at_start: h.zuplo_calls(),
            h,
            clerk,
            webhook_secret,
        }
    }

    /// A delivery as Svix sends it: `svix-*` headers, the body untouched.
    async fn deliver(&self, case: &Case, signature: &str) -> Answer {
        self.h
            .send(request_with_headers(
                "POST",
                CLERK_ROUTE,
                &case.body,
                &[
                    ("content-type", "application/json".to_owned()),
                    ("user-agent", "Svix-Webhooks/1.66.0".to_owned()),
                    ("svix-id", case.id.clone()),
                    ("svix-timestamp", case.timestamp.to_string()),
                    ("svix-signature", signature.to_owned()),
                ],
            ))
            .await
    }

    /// Nothing reached Zuplo or Clerk.
    fn assert_untouched(&self, what: &str) {
        assert_eq!(
            self.h.zuplo_calls(),
            self.zuplo_calls_at_start,
            "{what}: Zuplo was called"
        );
        assert_eq!(self.clerk.calls(), vec![], "{what}: Clerk was called");
        assert!(self.h.zuplo.consumers().is_empty(), "{what}");
    }
}

#[tokio::test]
async fn svix_signed_user_created_provisions_and_writes_the_consumer_id_back() {
    for (body, user, email) in [
        (
            DOCS_USER_CREATED.to_owned(),
            DOCS_USER_ID,
            "example@example.org",
        ),
        (non_ascii_user_created(), NON_ASCII_USER_ID, NON_ASCII_EMAIL),
    ] {
        serde_json::from_str::<Value>(&body).expect("test bodies are valid JSON");
        let route = ClerkRoute::start(&[user]).await;
        let case = Case::new(
            &route.webhook_secret,
            &svix_message_id(),
            common::now(),
            &body,
        );
        let signature = svix_sign(std::slice::from_ref(&case)).remove(0);
        let answer = route.deliver(&case, &signature).await;
        assert_eq!(answer.status, 200, "{user}: {}", answer.text);
        assert_eq!(answer.json["status"], "provisioned", "{}", answer.text);

        let consumers = route.h.zuplo.consumers();
        assert_eq!(consumers.len(), 1, "{user}: one consumer");
        let consumer = &consumers[0];
        assert_eq!(answer.json["consumer_id"], consumer.id.as_str());
        assert_eq!(consumer.metadata["userId"], user);
        assert_eq!(consumer.metadata["tenant"], "ins_123");
        // The body was read as the UTF-8 bytes that were signed.
        assert_eq!(
            consumer.description.as_deref(),
            Some(format!("clerk user {email}").as_str())
        );
        assert_eq!(consumer.managers, [email]);

        let expected = json!({"public_metadata": {"zuplo_consumer_id": consumer.id}});
        assert_eq!(
            route.clerk.metadata_writes(),
            vec![MetadataWrite {
                user_id: user.to_owned(),
                body: expected.clone(),
                status: 200,
            }],
            "{user}: one metadata write"
        );
        let stored = route.clerk.user(user).unwrap();
        assert_eq!(stored["public_metadata"], expected["public_metadata"]);
    }
}

#[tokio::test]
async fn svix_signed_deliveries_more_than_five_minutes_off_are_refused() {
    let route = ClerkRoute::start(&[DOCS_USER_ID]).await;
    let tol = TOLERANCE.as_secs() as i64;
    let id = svix_message_id();
    let t0 = common::now();
    // Past: older still by the time it is checked. Future: one candidate per second
    // for the next minute, so that the one sent is exactly 301 s ahead of the clock
    // it is checked against, however long signing took.
    let past = Case::new(
        &route.webhook_secret,
        &id,
        t0 - (tol + 1),
        DOCS_USER_CREATED,
    );
    let mut cases = vec![past];
    cases.extend((0..60).map(|s| {
        Case::new(
            &route.webhook_secret,
            &id,
            t0 + tol + 1 + s,
            DOCS_USER_CREATED,
        )
    }));
    let signatures = svix_sign(&cases);

    let stale = route.deliver(&cases[0], &signatures[0]).await;
    assert_eq!(stale.status, 401, "{}", stale.text);
    assert!(
        stale.text.contains("more than 5 minutes old"),
        "{}",
        stale.text
    );

    // Send right after a second starts, so the check runs in the same second.
    let into_second = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    tokio::time::sleep(Duration::from_nanos(
        u64::from(1_000_000_000 - into_second) + 10_000_000,
    ))
    .await;
    let ahead = common::now() + tol + 1;
    let i = cases
        .iter()
        .position(|c| c.timestamp == ahead)
        .expect("signing took under a minute");
    let early = route.deliver(&cases[i], &signatures[i]).await;
    assert_eq!(early.status, 401, "{}", early.text);
    assert!(
        early.text.contains("more than 5 minutes in the future"),
        "{}",
        early.text
    );
    route.assert_untouched("a delivery 301 s off");

    // Only the clock refused them: each signature is good at its own time.
    let keys = keys(&[&route.webhook_secret]);
    for i in [0, i] {
        let case = &cases[i];
        let on_time = keys.verify_values(
            Some(&case.id),
            Some(&case.timestamp.to_string()),
            Some(&signatures[i]),
            case.body.as_bytes(),
            at(case.timestamp),
        );
        assert_eq!(on_time.map(|(_, ts)| ts), Ok(case.timestamp));
    }
}

#[tokio::test]
async fn a_svix_delivery_signed_with_another_secret_is_refused() {
    let route = ClerkRoute::start(&[DOCS_USER_ID]).await;
    let other = secret(24);
    let case = Case::new(&other, &svix_message_id(), common::now(), DOCS_USER_CREATED);
    let signature = svix_sign(std::slice::from_ref(&case)).remove(0);
    let answer = route.deliver(&case, &signature).await;
    assert_eq!(answer.status, 401, "{}", answer.text);
    assert!(answer.text.contains("no v1 signature"), "{}", answer.text);
    route.assert_untouched("a delivery signed with another secret");
}

/// During a rotation Svix signs each delivery with the old and the new secret, and sends
/// both signatures separated by a space. Either may be the one we hold.
#[tokio::test]
async fn either_of_two_svix_signatures_is_enough() {
    let users = [
        "user_2qRotationFirstMatches001",
        "user_2qRotationLastMatches0001",
    ];
    let route = ClerkRoute::start(&users).await;
    let unknown = secret(24);
    for (n, user) in users.iter().enumerate() {
        let body = DOCS_USER_CREATED.replace(DOCS_USER_ID, user);
        let (id, ts) = (svix_message_id(), common::now());
        let sigs = svix_sign(&[
            Case::new(&unknown, &id, ts, &body),
            Case::new(&route.webhook_secret, &id, ts, &body),
        ]);
        let header = if n == 0 {
            format!("{} {}", sigs[1], sigs[0])
        } else {
            format!("{} {}", sigs[0], sigs[1])
        };
        let case = Case::new(&route.webhook_secret, &id, ts, &body);
        let answer = route.deliver(&case, &header).await;
        assert_eq!(answer.status, 200, "{header}: {}", answer.text);
        assert_eq!(answer.json["status"], "provisioned", "{}", answer.text);
        // Svix's own verifier agrees that the header verifies with the secret we hold.
        let headers = vec![
            ("svix-id", id.clone()),
            ("svix-timestamp", ts.to_string()),
            ("svix-signature", header.clone()),
        ];
        assert_eq!(
            svix_verify(&[(route.webhook_secret.clone(), headers, body)]),
            vec![None]
        );
    }
    assert_eq!(route.h.zuplo.consumers().len(), 2);
    let written: Vec<(String, u16)> = route
        .clerk
        .metadata_writes()
        .into_iter()
        .map(|w| (w.user_id, w.status))
        .collect();
    assert_eq!(
        written,
        users.map(|u| (u.to_owned(), 200)).to_vec(),
        "one write-back per user"
    );
}

/// The other direction: the function only verifies, so the signatures our tests send
/// come from `common::webhook_signature` (and `WebhookKeys::sign`). Svix's own verifier
/// must accept them, under both header families, and refuse a wrong one.
#[test]
fn svix_verifies_the_signatures_our_test_helpers_make() {
    let ts = common::now();
    let mut cases = Vec::new();
    let mut expected = Vec::new();
    for (n, body) in [24, 32, 64]
        .into_iter()
        .zip(clerk_bodies().into_iter().chain(bodies()).cycle())
        .chain([(32, r#"{"test": 2432232314}"#.to_owned())])
    {
        let s = secret(n);
        let id = svix_message_id();
        let helper = webhook_signature(&s, &id, ts, &body);
        let ours = keys(&[&s]).sign(&id, ts, body.as_bytes()).remove(0);
        assert_eq!(helper, ours);
        for family in ["svix", "webhook"] {
            let headers = vec![
                (
                    if family == "svix" {
                        "svix-id"
                    } else {
                        "webhook-id"
                    },
                    id.clone(),
                ),
                (
                    if family == "svix" {
                        "svix-timestamp"
                    } else {
                        "webhook-timestamp"
                    },
                    ts.to_string(),
                ),
                (
                    if family == "svix" {
                        "svix-signature"
                    } else {
                        "webhook-signature"
                    },
                    helper.clone(),
                ),
            ];
            cases.push((s.clone(), headers.clone(), body.clone()));
            expected.push(None);
            // The same delivery checked with a secret we did not sign with: refused, so
            // the acceptance above is not vacuous.
            cases.push((secret(n), headers, body.clone()));
            expected.push(Some(
                "WebhookVerificationError: No matching signature found".to_owned(),
            ));
        }
    }
    assert_eq!(svix_verify(&cases), expected);
}

/// Prints one line and ends this test binary. The line is written to the real stderr:
/// the test harness captures `eprintln!` and would drop it with the process.
fn stop_test_binary(line: &str) -> ! {
    use std::io::Write;
    let _ = writeln!(std::io::stderr(), "\n{line}\n");
    std::process::exit(2);
}
