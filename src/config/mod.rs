//! Shared configuration, read once at init from environment variables: Zuplo, the
//! secret, the consumer cache, the fail mode, metrics. Each provider reads its own
//! settings in its own module ([`crate::providers::Settings`]).
//!
//! Every value is validated at init so that a bad deployment stops with a message
//! naming the variable, instead of failing on the first sign-up.

pub mod vars;

use std::time::Duration;

use crate::providers;
pub use crate::provision::FailMode;
use crate::signup_policy::SignupPolicy;
pub use vars::{ConfigError, Vars};
use vars::{email_domains, err, http_url, path_segment};

#[derive(Debug, Clone)]
pub struct Config {
    pub zuplo_api_url: String,
    pub zuplo_account: String,
    pub zuplo_bucket: String,
    pub zuplo_secret_id: String,
    pub secret_ttl: Duration,
    /// How long past its TTL the last good secret is used while Secrets Manager fails.
    pub secret_stale_grace: Duration,
    /// Kept back from the Lambda invocation's own deadline to send the answer.
    pub deadline_margin: Duration,
    pub consumer_claim: String,
    pub consumer_cache_ttl: Duration,
    pub consumer_cache_capacity: usize,
    /// CloudWatch namespace of the per-request EMF metrics.
    pub metrics_namespace: String,
    pub metrics_enabled: bool,
    pub fail_mode: FailMode,
    pub require_verified_email: bool,
    /// `KEY_EXPIRES_AFTER_DAYS`: new consumers get a trial key that expires this long
    /// after creation; unset, keys never expire.
    pub key_expires_after: Option<Duration>,
    /// Who may sign up (Supabase before-user-created, and any provider's pre-sign-up).
    pub signup_policy: SignupPolicy,
    /// Each provider's own settings.
    pub providers: providers::Settings,
}

/// CloudWatch namespaces: 1 to 255 characters of `[A-Za-z0-9.\-_/#:]`, no leading colon.
fn metrics_namespace(v: String) -> Result<String, ConfigError> {
    let valid = !v.is_empty()
        && v.len() <= 255
        && !v.starts_with(':')
        && v.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b".-_/#:".contains(&b));
    if valid {
        Ok(v)
    } else {
        Err(err(
            "METRICS_NAMESPACE",
            format!("{v:?} is not a CloudWatch namespace"),
        ))
    }
}

impl Config {
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|k| std::env::var(k).ok())
    }

    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let vars = Vars(&lookup);

        let zuplo_api_url = http_url(
            "ZUPLO_API_URL",
            vars.get("ZUPLO_API_URL")
                .unwrap_or_else(|| "https://dev.zuplo.com".to_owned()),
        )?
        .trim_end_matches('/')
        .to_owned();
        let zuplo_account = path_segment("ZUPLO_ACCOUNT", vars.required("ZUPLO_ACCOUNT")?)?;
        let zuplo_bucket = path_segment("ZUPLO_BUCKET", vars.required("ZUPLO_BUCKET")?)?;
        let zuplo_secret_id = vars.required("ZUPLO_SECRET_ID")?;
        let secret_ttl = Duration::from_secs(vars.number("SECRET_TTL_SECONDS", 300, 1, 86_400)?);
        let secret_stale_grace =
            Duration::from_secs(vars.number("SECRET_STALE_GRACE_SECONDS", 3600, 0, 86_400)?);
        let deadline_margin = vars.millis("LAMBDA_DEADLINE_MARGIN_MS", 200, 0, 2000)?;

        let providers = providers::Settings::from_vars(&vars)?;

        let consumer_claim = vars
            .get("CONSUMER_CLAIM")
            .unwrap_or_else(|| "zuplo_consumer_id".to_owned());
        // One claim name for every provider, so no provider may reserve it.
        if providers::claim_is_reserved(&consumer_claim) {
            return Err(err(
                "CONSUMER_CLAIM",
                format!("{consumer_claim:?} is a reserved claim name"),
            ));
        }
        if consumer_claim.len() > 64
            || !consumer_claim
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
        {
            return Err(err(
                "CONSUMER_CLAIM",
                format!("expected at most 64 characters of [A-Za-z0-9_-], got {consumer_claim:?}"),
            ));
        }

        let fail_mode = match vars
            .get("FAIL_MODE")
            .as_deref()
            .map(str::to_ascii_lowercase)
        {
            None => FailMode::Open,
            Some(m) if m == "open" => FailMode::Open,
            Some(m) if m == "closed" => FailMode::Closed,
            Some(m) => {
                return Err(err(
                    "FAIL_MODE",
                    format!("expected open or closed, got {m:?}"),
                ));
            }
        };

        let key_expires_after = vars
            .optional_number("KEY_EXPIRES_AFTER_DAYS", 1, 3650)?
            .map(|days| Duration::from_secs(days * 86_400));

        Ok(Config {
            key_expires_after,
            zuplo_api_url,
            zuplo_account,
            zuplo_bucket,
            zuplo_secret_id,
            secret_ttl,
            secret_stale_grace,
            deadline_margin,
            consumer_claim,
            consumer_cache_ttl: Duration::from_secs(vars.number(
                "CONSUMER_CACHE_TTL_SECONDS",
                3600,
                0,
                86_400,
            )?),
            consumer_cache_capacity: vars.number("CONSUMER_CACHE_CAPACITY", 10_000, 1, 1_000_000)?
                as usize,
            fail_mode,
            metrics_namespace: metrics_namespace(
                vars.get("METRICS_NAMESPACE")
                    .unwrap_or_else(|| "ZuploAuthHooks".to_owned()),
            )?,
            metrics_enabled: vars.bool("METRICS_ENABLED", true)?,
            require_verified_email: vars.bool("REQUIRE_VERIFIED_EMAIL", false)?,
            signup_policy: SignupPolicy {
                allowed_email_domains: email_domains(
                    "SIGNUP_ALLOWED_EMAIL_DOMAINS",
                    vars.get("SIGNUP_ALLOWED_EMAIL_DOMAINS").unwrap_or_default(),
                )?,
                require_email: vars.bool("SIGNUP_REQUIRE_EMAIL", false)?,
            },
            providers,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::providers::firebase::GOOGLE_CERTS_URL;
    use crate::providers::supabase::Settings as SupabaseSettings;
    use std::collections::HashMap;

    fn load(pairs: &[(&str, &str)]) -> Result<Config, ConfigError> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Config::from_lookup(|k| map.get(k).cloned())
    }

    const BASE: &[(&str, &str)] = &[
        ("ZUPLO_ACCOUNT", "acme_co"),
        ("ZUPLO_BUCKET", "acme-prod"),
        ("ZUPLO_SECRET_ID", "zuplo/dev-api"),
        ("FIREBASE_PROJECT_ID", "demo-proj"),
        (
            "FIREBASE_AUDIENCE",
            "https://a.example/firebase/before-create, https://a.example/firebase/before-sign-in",
        ),
    ];

    fn with(extra: &[(&'static str, &'static str)]) -> Vec<(&'static str, &'static str)> {
        let mut v: Vec<_> = BASE.to_vec();
        for (k, val) in extra {
            v.retain(|(kk, _)| kk != k);
            v.push((k, val));
        }
        v
    }

    #[test]
    fn defaults_apply() {
        let c = load(BASE).unwrap();
        assert_eq!(c.zuplo_api_url, "https://dev.zuplo.com");
        assert_eq!(c.secret_ttl, Duration::from_secs(300));
        assert_eq!(c.consumer_claim, "zuplo_consumer_id");
        assert_eq!(c.fail_mode, FailMode::Open);
        assert!(!c.require_verified_email);
        let fb = c.providers.firebase.unwrap();
        assert_eq!(fb.certs_url, GOOGLE_CERTS_URL);
        assert_eq!(fb.audiences.len(), 2);
        assert_eq!(fb.budget, Duration::from_millis(6000));
        assert!(!fb.emulator);
        assert_eq!(c.consumer_cache_ttl, Duration::from_secs(3600));
        assert_eq!(c.consumer_cache_capacity, 10_000);
        assert_eq!(c.secret_stale_grace, Duration::from_secs(3600));
        assert_eq!(c.deadline_margin, Duration::from_millis(200));
        assert_eq!(c.metrics_namespace, "ZuploAuthHooks");
        assert!(c.metrics_enabled);
        assert_eq!(
            c.providers.supabase,
            SupabaseSettings {
                budget: Duration::from_millis(4000),
                namespace: None,
                provision_anonymous: false,
            }
        );
        assert_eq!(c.signup_policy, SignupPolicy::default());
    }

    #[test]
    fn supabase_settings_are_read() {
        let c = load(&with(&[
            ("SUPABASE_BUDGET_MS", "3500"),
            ("SUPABASE_NAMESPACE", "https://old.example/auth/v1"),
            ("PROVISION_ANONYMOUS", "yes"),
            (
                "SIGNUP_ALLOWED_EMAIL_DOMAINS",
                " Example.com, @corp.example.org ,",
            ),
            ("SIGNUP_REQUIRE_EMAIL", "true"),
            ("CONSUMER_CACHE_TTL_SECONDS", "0"),
        ]))
        .unwrap();
        assert_eq!(c.providers.supabase.budget, Duration::from_millis(3500));
        assert_eq!(
            c.providers.supabase.namespace.as_deref(),
            Some("https://old.example/auth/v1")
        );
        assert!(c.providers.supabase.provision_anonymous && c.signup_policy.require_email);
        assert_eq!(
            c.signup_policy.allowed_email_domains,
            vec!["example.com", "corp.example.org"]
        );
        assert_eq!(c.consumer_cache_ttl, Duration::ZERO);
    }

    #[test]
    fn missing_required_names_the_variable() {
        for var in ["ZUPLO_ACCOUNT", "ZUPLO_BUCKET", "ZUPLO_SECRET_ID"] {
            let v: Vec<_> = BASE.iter().copied().filter(|(k, _)| *k != var).collect();
            let e = load(&v).unwrap_err();
            assert_eq!(e.var, var);
            assert!(e.to_string().contains(var), "{e}");
        }
        let v: Vec<_> = BASE
            .iter()
            .copied()
            .filter(|(k, _)| *k != "FIREBASE_AUDIENCE")
            .collect();
        assert_eq!(load(&v).unwrap_err().var, "FIREBASE_AUDIENCE");
    }

    #[test]
    fn malformed_values_are_refused() {
        let cases: &[(&str, &str)] = &[
            ("FAIL_MODE", "sometimes"),
            ("SECRET_TTL_SECONDS", "five"),
            ("SECRET_TTL_SECONDS", "0"),
            ("REQUIRE_VERIFIED_EMAIL", "maybe"),
            ("FIREBASE_AUTH_EMULATOR", "2"),
            ("ZUPLO_API_URL", "dev.zuplo.com"),
            ("ZUPLO_BUCKET", "a/b"),
            ("FIREBASE_AUDIENCE", "not a url"),
            ("FIREBASE_CERTS_URL", "ftp://x"),
            ("FIREBASE_BUDGET_MS", "9000"),
            ("SUPABASE_BUDGET_MS", "5000"),
            ("SUPABASE_BUDGET_MS", "50"),
            ("PROVISION_ANONYMOUS", "sure"),
            ("SIGNUP_REQUIRE_EMAIL", "2"),
            ("SIGNUP_ALLOWED_EMAIL_DOMAINS", "example.com, not a domain"),
            ("SIGNUP_ALLOWED_EMAIL_DOMAINS", "localhost"),
            ("CONSUMER_CACHE_TTL_SECONDS", "-1"),
            ("CONSUMER_CACHE_CAPACITY", "0"),
            ("LAMBDA_DEADLINE_MARGIN_MS", "5000"),
            ("SECRET_STALE_GRACE_SECONDS", "forever"),
            ("CERTS_STALE_GRACE_SECONDS", "100000"),
            ("METRICS_NAMESPACE", "has space"),
            ("METRICS_ENABLED", "sometimes"),
            ("CONSUMER_CLAIM", "sub"),
            ("CONSUMER_CLAIM", "firebase"),
            ("CONSUMER_CLAIM", "has space"),
        ];
        for (var, value) in cases {
            let e = load(&with(&[(var, value)])).unwrap_err();
            assert_eq!(&e.var, var, "{var}={value}: {e}");
        }
    }

    #[test]
    fn firebase_is_optional_as_a_group() {
        let v: Vec<_> = BASE
            .iter()
            .copied()
            .filter(|(k, _)| !k.starts_with("FIREBASE_"))
            .collect();
        assert!(load(&v).unwrap().providers.firebase.is_none());
    }

    #[test]
    fn explicit_values_are_used() {
        let c = load(&with(&[
            ("ZUPLO_API_URL", "http://127.0.0.1:8080/"),
            ("FAIL_MODE", "CLOSED"),
            ("CONSUMER_CLAIM", "api_consumer"),
            ("REQUIRE_VERIFIED_EMAIL", "true"),
            ("FIREBASE_AUTH_EMULATOR", "true"),
            ("SECRET_TTL_SECONDS", "60"),
        ]))
        .unwrap();
        assert_eq!(c.zuplo_api_url, "http://127.0.0.1:8080");
        assert_eq!(c.fail_mode, FailMode::Closed);
        assert_eq!(c.consumer_claim, "api_consumer");
        assert!(c.require_verified_email);
        assert!(c.providers.firebase.unwrap().emulator);
        assert_eq!(c.secret_ttl, Duration::from_secs(60));
    }
}
