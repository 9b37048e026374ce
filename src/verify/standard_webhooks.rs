//! Standard Webhooks (v1, HMAC-SHA256) verification, for every provider that signs
//! its deliveries this way: Supabase Auth Hooks (`webhook-*` headers) and Svix, which
//! Clerk uses (`svix-*` headers, the same scheme).
//!
//! Our own small verifier rather than the `standardwebhooks` crate: that crate only
//! matches the last signature of a header whose entries are joined by `", "` (which is
//! how Supabase joins them when several secrets are configured), and it accepts an
//! empty secret.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, Mac};
use sha2::Sha256;
use subtle::ConstantTimeEq;

/// Every reference library accepts timestamps up to 5 minutes away, either direction.
pub const TOLERANCE: Duration = Duration::from_secs(300);
/// Supabase refuses secrets outside 24..=66 bytes; so do we, so a typo is caught here.
const MIN_KEY_BYTES: usize = 24;
const MAX_KEY_BYTES: usize = 66;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    #[error("the signing secret is empty")]
    Empty,
    #[error("signing secret #{0} is not of the form whsec_<base64> (or v1,whsec_<base64>)")]
    Format(usize),
    #[error("signing secret #{0} is not valid base64 after whsec_")]
    Base64(usize),
    #[error("signing secret #{0} decodes to {1} bytes; expected 24 to 66")]
    Length(usize, usize),
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    /// Named by its `webhook-*` form; the `svix-*` form is accepted too.
    #[error("missing {0} header")]
    MissingHeader(&'static str),
    #[error("the webhook timestamp is not a Unix time in seconds")]
    BadTimestamp,
    #[error("the webhook timestamp is more than 5 minutes old")]
    TooOld,
    #[error("the webhook timestamp is more than 5 minutes in the future")]
    TooNew,
    #[error("no v1 signature in the signature header matches")]
    NoMatch,
}

/// Case-insensitive access to a request's headers, whatever carried the request.
pub trait Headers {
    /// The value of header `name` (given in lower case), if present and text.
    fn header(&self, name: &str) -> Option<&str>;
}

impl Headers for [(&str, &str)] {
    fn header(&self, name: &str) -> Option<&str> {
        self.iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| *v)
    }
}

impl<const N: usize> Headers for [(&str, &str); N] {
    fn header(&self, name: &str) -> Option<&str> {
        self.as_slice().header(name)
    }
}

/// The two names of each header: Standard Webhooks' and Svix's (Clerk sends the
/// latter). The scheme behind them is byte for byte the same.
const WEBHOOK_NAMES: [&str; 3] = ["webhook-id", "webhook-timestamp", "webhook-signature"];
const SVIX_NAMES: [&str; 3] = ["svix-id", "svix-timestamp", "svix-signature"];

/// A delivery whose signature matched: the only way to reach its body, so that
/// "verify before parse" is a rule of the types rather than of the callers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Verified<'a> {
    /// The message id, the same across the sender's retries of one message.
    pub id: &'a str,
    pub timestamp: i64,
    pub body: &'a [u8],
}

/// The HMAC keys of the configured secrets (several during a rotation).
#[derive(Clone, PartialEq, Eq)]
pub struct WebhookKeys(Vec<Vec<u8>>);

impl std::fmt::Debug for WebhookKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "WebhookKeys({} keys, ***)", self.0.len())
    }
}

impl WebhookKeys {
    /// Parses Supabase's secret format: `v1,whsec_<base64>`, several joined by `|`.
    /// A bare `whsec_<base64>` is accepted too. Error messages never quote the secret.
    pub fn parse(config: &str) -> Result<Self, KeyError> {
        if config.trim().is_empty() {
            return Err(KeyError::Empty);
        }
        let keys = config
            .split('|')
            .enumerate()
            .map(|(i, secret)| {
                let n = i + 1;
                let secret = secret.trim();
                let secret = secret.strip_prefix("v1,").unwrap_or(secret);
                let encoded = secret.strip_prefix("whsec_").ok_or(KeyError::Format(n))?;
                let key = STANDARD.decode(encoded).map_err(|_| KeyError::Base64(n))?;
                if !(MIN_KEY_BYTES..=MAX_KEY_BYTES).contains(&key.len()) {
                    return Err(KeyError::Length(n, key.len()));
                }
                Ok(key)
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(WebhookKeys(keys))
    }

    /// `v1,<base64 HMAC>` of `id.timestamp.body` with each key, as a sender would put
    /// them in `webhook-signature`. Used by tests and the signing helper.
    pub fn sign(&self, id: &str, timestamp: i64, body: &[u8]) -> Vec<String> {
        self.0
            .iter()
            .map(|key| {
                format!(
                    "v1,{}",
                    STANDARD.encode(mac(key, id, &timestamp.to_string(), body))
                )
            })
            .collect()
    }

    /// Checks a delivery's headers (`webhook-*`, or else `svix-*`) against the raw body
    /// bytes, and hands the body out only if one signature matches.
    pub fn verify<'a, H: Headers + ?Sized>(
        &self,
        headers: &'a H,
        body: &'a [u8],
        now: SystemTime,
    ) -> Result<Verified<'a>, SignatureError> {
        // One family for all three headers, never a mix.
        let names = if WEBHOOK_NAMES.iter().any(|n| headers.header(n).is_some()) {
            WEBHOOK_NAMES
        } else {
            SVIX_NAMES
        };
        let [id, timestamp, signature] = names.map(|n| headers.header(n));
        let (id, timestamp) = self.verify_values(id, timestamp, signature, body, now)?;
        Ok(Verified {
            id,
            timestamp,
            body,
        })
    }

    /// Checks the three header values against the raw body bytes; on success, the
    /// message id and the timestamp.
    pub fn verify_values<'a>(
        &self,
        id: Option<&'a str>,
        timestamp: Option<&str>,
        signature: Option<&str>,
        body: &[u8],
        now: SystemTime,
    ) -> Result<(&'a str, i64), SignatureError> {
        let id = id.ok_or(SignatureError::MissingHeader("webhook-id"))?;
        let timestamp = timestamp.ok_or(SignatureError::MissingHeader("webhook-timestamp"))?;
        let signature = signature.ok_or(SignatureError::MissingHeader("webhook-signature"))?;
        if id.is_empty() {
            return Err(SignatureError::MissingHeader("webhook-id"));
        }
        let sent: i64 = timestamp
            .trim()
            .parse()
            .map_err(|_| SignatureError::BadTimestamp)?;
        let now = now
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs() as i64);
        if now.saturating_sub(sent) > TOLERANCE.as_secs() as i64 {
            return Err(SignatureError::TooOld);
        }
        if sent.saturating_sub(now) > TOLERANCE.as_secs() as i64 {
            return Err(SignatureError::TooNew);
        }
        let expected: Vec<[u8; 32]> = self
            .0
            .iter()
            .map(|key| mac(key, id, timestamp.trim(), body))
            .collect();
        // Entries are separated by a space (the spec) or ", " (Supabase with several
        // secrets); each is `<version>,<base64>`. Unknown versions are skipped.
        let matched = signature
            .split_whitespace()
            .map(|entry| entry.trim_end_matches(','))
            .filter_map(|entry| entry.split_once(','))
            .filter(|(version, _)| *version == "v1")
            .filter_map(|(_, sig)| STANDARD.decode(sig).ok())
            .any(|sig| {
                expected
                    .iter()
                    .fold(false, |hit, e| hit | bool::from(e.as_slice().ct_eq(&sig)))
            });
        if matched {
            Ok((id, sent))
        } else {
            Err(SignatureError::NoMatch)
        }
    }
}

fn mac(key: &[u8], id: &str, timestamp: &str, body: &[u8]) -> [u8; 32] {
    // new_from_slice only fails for algorithms with fixed key sizes; HMAC takes any.
    let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(key) else {
        return [0; 32];
    };
    mac.update(id.as_bytes());
    mac.update(b".");
    mac.update(timestamp.as_bytes());
    mac.update(b".");
    mac.update(body);
    mac.finalize().into_bytes().into()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The cross-library vectors published with the Standard Webhooks libraries.
    const VECTORS: &[(&str, &str, i64, &str, &str)] = &[
        (
            "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
            "msg_p5jXN8AQM9LWM0D4loKWxJek",
            1_614_265_330,
            r#"{"test": 2432232314}"#,
            "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=",
        ),
        (
            "whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD",
            "msg_27UH4WbU6Z5A5EzD8u03UvzRbpk",
            1_649_367_553,
            r#"{"email":"test@example.com","username":"test_user"}"#,
            "v1,tZ1I4/hDygAJgO5TYxiSd6Sd0kDW6hPenDe+bTa3Kkw=",
        ),
    ];

    type Checked<'a> = Result<(&'a str, i64), SignatureError>;

    fn at(ts: i64) -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(ts as u64)
    }

    #[test]
    fn signs_and_verifies_the_published_vectors() {
        for (secret, id, ts, body, sig) in VECTORS {
            let keys = WebhookKeys::parse(&format!("v1,{secret}")).unwrap();
            assert_eq!(keys.sign(id, *ts, body.as_bytes()), vec![sig.to_string()]);
            let ts_text = ts.to_string();
            keys.verify_values(
                Some(id),
                Some(&ts_text),
                Some(sig),
                body.as_bytes(),
                at(*ts),
            )
            .unwrap();
        }
    }

    #[test]
    fn accepts_both_separators_and_any_position() {
        let (s0, id, ts, body, sig) = VECTORS[1];
        let other = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=";
        let keys = WebhookKeys::parse(&format!("v1,{s0}")).unwrap();
        let ts_text = ts.to_string();
        for header in [
            format!("{sig} {other}"),
            format!("{other} {sig}"),
            format!("{sig}, {other}"),
            format!("{other}, {sig}"),
            format!("v1a,AAAA {sig}"),
        ] {
            keys.verify_values(
                Some(id),
                Some(&ts_text),
                Some(&header),
                body.as_bytes(),
                at(ts),
            )
            .unwrap_or_else(|e| panic!("{header}: {e}"));
        }
    }

    #[test]
    fn any_of_several_rotating_secrets_verifies() {
        let (s0, id, ts, body, sig) = VECTORS[1];
        let (s1, ..) = VECTORS[0];
        let keys = WebhookKeys::parse(&format!("v1,{s1}|v1,{s0}")).unwrap();
        let ts_text = ts.to_string();
        keys.verify_values(Some(id), Some(&ts_text), Some(sig), body.as_bytes(), at(ts))
            .unwrap();
        // Both signatures, joined the way Supabase joins them.
        let joined = keys.sign(id, ts, body.as_bytes()).join(", ");
        keys.verify_values(
            Some(id),
            Some(&ts_text),
            Some(&joined),
            body.as_bytes(),
            at(ts),
        )
        .unwrap();
    }

    #[test]
    fn refuses_what_does_not_match() {
        let (secret, id, ts, body, sig) = VECTORS[1];
        let keys = WebhookKeys::parse(secret).unwrap();
        let t = ts.to_string();
        let b = body.as_bytes();
        let cases: Vec<(&str, Checked)> = vec![
            (
                "missing id",
                keys.verify_values(None, Some(&t), Some(sig), b, at(ts)),
            ),
            (
                "empty id",
                keys.verify_values(Some(""), Some(&t), Some(sig), b, at(ts)),
            ),
            (
                "missing ts",
                keys.verify_values(Some(id), None, Some(sig), b, at(ts)),
            ),
            (
                "missing sig",
                keys.verify_values(Some(id), Some(&t), None, b, at(ts)),
            ),
            (
                "other id",
                keys.verify_values(Some("msg_x"), Some(&t), Some(sig), b, at(ts)),
            ),
            (
                "body changed",
                keys.verify_values(Some(id), Some(&t), Some(sig), br#"{"email":"x"}"#, at(ts)),
            ),
            (
                "body reserialised",
                keys.verify_values(
                    Some(id),
                    Some(&t),
                    Some(sig),
                    br#"{"email": "test@example.com", "username": "test_user"}"#,
                    at(ts),
                ),
            ),
            (
                "ts text",
                keys.verify_values(Some(id), Some("soon"), Some(sig), b, at(ts)),
            ),
            (
                "too old",
                keys.verify_values(Some(id), Some(&t), Some(sig), b, at(ts + 301)),
            ),
            (
                "too new",
                keys.verify_values(Some(id), Some(&t), Some(sig), b, at(ts - 301)),
            ),
            (
                "v2 version",
                keys.verify_values(
                    Some(id),
                    Some(&t),
                    Some(&sig.replacen("v1,", "v2,", 1)),
                    b,
                    at(ts),
                ),
            ),
            (
                "no version",
                keys.verify_values(Some(id), Some(&t), Some(&sig[3..]), b, at(ts)),
            ),
            (
                "garbage",
                keys.verify_values(Some(id), Some(&t), Some("v1,@@@"), b, at(ts)),
            ),
            (
                "empty",
                keys.verify_values(Some(id), Some(&t), Some(""), b, at(ts)),
            ),
        ];
        for (name, result) in cases {
            assert!(result.is_err(), "{name} was accepted");
        }
        // Exactly 5 minutes either way still passes, as in the reference libraries.
        keys.verify_values(Some(id), Some(&t), Some(sig), b, at(ts + 300))
            .unwrap();
        keys.verify_values(Some(id), Some(&t), Some(sig), b, at(ts - 300))
            .unwrap();
    }

    #[test]
    fn bad_secrets_are_clear_configuration_errors() {
        assert_eq!(WebhookKeys::parse("").unwrap_err(), KeyError::Empty);
        assert_eq!(WebhookKeys::parse("  ").unwrap_err(), KeyError::Empty);
        assert_eq!(
            WebhookKeys::parse("v1,secret").unwrap_err(),
            KeyError::Format(1)
        );
        assert_eq!(
            WebhookKeys::parse("v1,whsec_!!!").unwrap_err(),
            KeyError::Base64(1)
        );
        assert_eq!(
            WebhookKeys::parse("v1,whsec_c2hvcnQ=").unwrap_err(),
            KeyError::Length(1, 5)
        );
        let (good, ..) = VECTORS[0];
        assert_eq!(
            WebhookKeys::parse(&format!("v1,{good}|v1a,whpk_x:whsk_y")).unwrap_err(),
            KeyError::Format(2)
        );
        let shown = format!("{:?}", WebhookKeys::parse(good).unwrap());
        assert!(!shown.contains("MfKQ"), "{shown}");
    }

    #[test]
    fn too_old_and_too_new_are_told_apart() {
        let (secret, id, ts, body, sig) = VECTORS[1];
        let keys = WebhookKeys::parse(secret).unwrap();
        let t = ts.to_string();
        let b = body.as_bytes();
        assert_eq!(
            keys.verify_values(Some(id), Some(&t), Some(sig), b, at(ts + 301)),
            Err(SignatureError::TooOld)
        );
        assert_eq!(
            keys.verify_values(Some(id), Some(&t), Some(sig), b, at(ts - 301)),
            Err(SignatureError::TooNew)
        );
    }

    #[test]
    fn reads_webhook_or_svix_header_names_in_any_case() {
        let (secret, id, ts, body, sig) = VECTORS[1];
        let keys = WebhookKeys::parse(secret).unwrap();
        let t = ts.to_string();
        let standard = [
            ("Webhook-Id", id),
            ("Webhook-Timestamp", t.as_str()),
            ("Webhook-Signature", sig),
        ];
        let svix = [
            ("svix-id", id),
            ("SVIX-TIMESTAMP", t.as_str()),
            ("svix-signature", sig),
        ];
        for headers in [&standard, &svix] {
            let verified = keys.verify(headers, body.as_bytes(), at(ts)).unwrap();
            assert_eq!(verified.id, id);
            assert_eq!(verified.timestamp, ts);
            assert_eq!(verified.body, body.as_bytes());
        }
        // The families are never mixed: a webhook-id with svix-* for the rest is
        // missing its webhook-timestamp.
        let mixed = [
            ("webhook-id", id),
            ("svix-timestamp", t.as_str()),
            ("svix-signature", sig),
        ];
        assert_eq!(
            keys.verify(&mixed, body.as_bytes(), at(ts)),
            Err(SignatureError::MissingHeader("webhook-timestamp"))
        );
        let none: [(&str, &str); 0] = [];
        assert_eq!(
            keys.verify(&none, body.as_bytes(), at(ts)),
            Err(SignatureError::MissingHeader("webhook-id"))
        );
    }

    #[test]
    fn entries_of_other_versions_are_skipped() {
        let (secret, id, ts, body, sig) = VECTORS[1];
        let keys = WebhookKeys::parse(secret).unwrap();
        let t = ts.to_string();
        // A v1a entry carrying the right bytes is not a v1 signature.
        let v1a = sig.replacen("v1,", "v1a,", 1);
        assert_eq!(
            keys.verify_values(Some(id), Some(&t), Some(&v1a), body.as_bytes(), at(ts)),
            Err(SignatureError::NoMatch)
        );
        let both = format!("{v1a} {sig}");
        assert!(
            keys.verify_values(Some(id), Some(&t), Some(&both), body.as_bytes(), at(ts))
                .is_ok()
        );
    }
}
