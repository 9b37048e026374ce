//! Configuration, read once at init from environment variables.
//!
//! Every value is validated here so that a bad deployment stops at init with a
//! message naming the variable, instead of failing on the first sign-up.

use std::time::Duration;

/// Google's x509 certificate set for the keys that sign blocking-function tokens.
pub const GOOGLE_CERTS_URL: &str =
    "https://www.googleapis.com/robot/v1/metadata/x509/securetoken@system.gserviceaccount.com";

/// Claim names Identity Platform refuses in `customClaims` (firebase-admin `RESERVED_CLAIMS`
/// plus the emulator's forbidden list). Supabase's required JWT claims are refused too, since
/// the same claim name is used in both providers' tokens.
const RESERVED_CLAIMS: &[&str] = &[
    "acr",
    "amr",
    "at_hash",
    "aud",
    "auth_time",
    "azp",
    "cnf",
    "c_hash",
    "exp",
    "iat",
    "iss",
    "jti",
    "nbf",
    "nonce",
    "sub",
    "firebase",
    "email",
    "phone",
    "role",
    "aal",
    "session_id",
    "is_anonymous",
    "client_id",
    "scope",
    "app_metadata",
    "user_metadata",
];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailMode {
    /// Let the sign-up proceed without the claim; a later sign-in reconciles.
    Open,
    /// Refuse the sign-up when no consumer could be provisioned.
    Closed,
}

#[derive(Debug, Clone)]
pub struct FirebaseConfig {
    pub project_id: String,
    /// Exact `aud` values accepted (the registered blocking-function URLs).
    pub audiences: Vec<String>,
    pub certs_url: String,
    /// Accept the Auth emulator's unsigned (`alg: none`) tokens. Never in production.
    pub emulator: bool,
    pub budget: Duration,
    /// How long past `max-age` the last good certificate set is used while refreshes fail.
    pub certs_stale_grace: Duration,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SupabaseConfig {
    pub budget: Duration,
    /// Replaces `claims.iss` in consumer names, e.g. to keep names stable when a project
    /// moves to a custom domain (which changes `iss`).
    pub namespace: Option<String>,
    pub provision_anonymous: bool,
    /// Lower-case domains allowed to sign up; empty means everyone.
    pub signup_allowed_email_domains: Vec<String>,
    pub signup_require_email: bool,
}

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
    /// `None` when `FIREBASE_PROJECT_ID` is unset: the Firebase routes then answer 404.
    pub firebase: Option<FirebaseConfig>,
    pub supabase: SupabaseConfig,
    pub consumer_claim: String,
    pub consumer_cache_ttl: Duration,
    pub consumer_cache_capacity: usize,
    /// CloudWatch namespace of the per-request EMF metrics.
    pub metrics_namespace: String,
    pub metrics_enabled: bool,
    pub fail_mode: FailMode,
    pub require_verified_email: bool,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("invalid configuration: {var}: {reason}")]
pub struct ConfigError {
    pub var: &'static str,
    pub reason: String,
}

fn err(var: &'static str, reason: impl Into<String>) -> ConfigError {
    ConfigError {
        var,
        reason: reason.into(),
    }
}

/// Reads variables through `lookup`, so tests can configure without touching the
/// process environment.
struct Vars<F: Fn(&str) -> Option<String>>(F);

impl<F: Fn(&str) -> Option<String>> Vars<F> {
    /// A set, non-blank value, trimmed. Blank counts as unset so that an empty
    /// SAM parameter means "default".
    fn get(&self, var: &'static str) -> Option<String> {
        (self.0)(var)
            .map(|v| v.trim().to_owned())
            .filter(|v| !v.is_empty())
    }

    fn required(&self, var: &'static str) -> Result<String, ConfigError> {
        self.get(var)
            .ok_or_else(|| err(var, "is required but not set"))
    }

    fn bool(&self, var: &'static str, default: bool) -> Result<bool, ConfigError> {
        match self.get(var) {
            None => Ok(default),
            Some(v) => match v.to_ascii_lowercase().as_str() {
                "true" | "1" | "yes" | "on" => Ok(true),
                "false" | "0" | "no" | "off" => Ok(false),
                _ => Err(err(var, format!("expected true or false, got {v:?}"))),
            },
        }
    }

    fn millis(
        &self,
        var: &'static str,
        default: u64,
        min: u64,
        max: u64,
    ) -> Result<Duration, ConfigError> {
        self.number(var, default, min, max)
            .map(Duration::from_millis)
    }

    fn number(
        &self,
        var: &'static str,
        default: u64,
        min: u64,
        max: u64,
    ) -> Result<u64, ConfigError> {
        let Some(v) = self.get(var) else {
            return Ok(default);
        };
        let n: u64 = v
            .parse()
            .map_err(|_| err(var, format!("expected a whole number, got {v:?}")))?;
        if !(min..=max).contains(&n) {
            return Err(err(var, format!("{n} is out of range {min}..={max}")));
        }
        Ok(n)
    }
}

fn http_url(var: &'static str, v: String) -> Result<String, ConfigError> {
    let rest = v
        .strip_prefix("https://")
        .or_else(|| v.strip_prefix("http://"))
        .ok_or_else(|| err(var, format!("expected an http(s) URL, got {v:?}")))?;
    if rest.is_empty() || rest.starts_with('/') || v.chars().any(char::is_whitespace) {
        return Err(err(
            var,
            format!("expected an http(s) URL with a host, got {v:?}"),
        ));
    }
    Ok(v)
}

/// Account and bucket names go into URL paths: keep them to characters that need no escaping.
fn path_segment(var: &'static str, v: String) -> Result<String, ConfigError> {
    if v.len() > 128
        || !v
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    {
        return Err(err(
            var,
            format!("expected at most 128 characters of [A-Za-z0-9_-], got {v:?}"),
        ));
    }
    Ok(v)
}

/// `example.com, @Example.org` → `["example.com", "example.org"]`.
fn email_domains(var: &'static str, v: String) -> Result<Vec<String>, ConfigError> {
    v.split(',')
        .map(|d| d.trim().trim_start_matches('@').to_ascii_lowercase())
        .filter(|d| !d.is_empty())
        .map(|d| {
            let valid = d.len() <= 253
                && d.contains('.')
                && d.split('.').all(|label| {
                    !label.is_empty()
                        && label
                            .bytes()
                            .all(|b| b.is_ascii_alphanumeric() || b == b'-')
                });
            if valid {
                Ok(d)
            } else {
                Err(err(var, format!("{d:?} is not a domain name")))
            }
        })
        .collect()
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
        let vars = Vars(lookup);

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

        let firebase = match vars.get("FIREBASE_PROJECT_ID") {
            None => {
                if vars.get("FIREBASE_AUDIENCE").is_some() {
                    return Err(err(
                        "FIREBASE_PROJECT_ID",
                        "is required when FIREBASE_AUDIENCE is set",
                    ));
                }
                None
            }
            Some(project_id) => {
                if !project_id
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
                {
                    return Err(err(
                        "FIREBASE_PROJECT_ID",
                        format!("expected a Google Cloud project ID, got {project_id:?}"),
                    ));
                }
                let audiences = vars
                    .required("FIREBASE_AUDIENCE")?
                    .split(',')
                    .map(str::trim)
                    .filter(|a| !a.is_empty())
                    .map(|a| http_url("FIREBASE_AUDIENCE", a.to_owned()))
                    .collect::<Result<Vec<_>, _>>()?;
                if audiences.is_empty() {
                    return Err(err("FIREBASE_AUDIENCE", "lists no URL"));
                }
                let certs_url = http_url(
                    "FIREBASE_CERTS_URL",
                    vars.get("FIREBASE_CERTS_URL")
                        .unwrap_or_else(|| GOOGLE_CERTS_URL.to_owned()),
                )?;
                Some(FirebaseConfig {
                    project_id,
                    audiences,
                    certs_url,
                    emulator: vars.bool("FIREBASE_AUTH_EMULATOR", false)?,
                    budget: vars.millis("FIREBASE_BUDGET_MS", 6000, 100, 6900)?,
                    certs_stale_grace: Duration::from_secs(vars.number(
                        "CERTS_STALE_GRACE_SECONDS",
                        3600,
                        0,
                        86_400,
                    )?),
                })
            }
        };

        let supabase = SupabaseConfig {
            budget: vars.millis("SUPABASE_BUDGET_MS", 4000, 100, 4900)?,
            namespace: vars.get("SUPABASE_NAMESPACE"),
            provision_anonymous: vars.bool("PROVISION_ANONYMOUS", false)?,
            signup_allowed_email_domains: email_domains(
                "SIGNUP_ALLOWED_EMAIL_DOMAINS",
                vars.get("SIGNUP_ALLOWED_EMAIL_DOMAINS").unwrap_or_default(),
            )?,
            signup_require_email: vars.bool("SIGNUP_REQUIRE_EMAIL", false)?,
        };

        let consumer_claim = vars
            .get("CONSUMER_CLAIM")
            .unwrap_or_else(|| "zuplo_consumer_id".to_owned());
        if RESERVED_CLAIMS.contains(&consumer_claim.as_str()) {
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

        Ok(Config {
            zuplo_api_url,
            zuplo_account,
            zuplo_bucket,
            zuplo_secret_id,
            secret_ttl,
            secret_stale_grace,
            deadline_margin,
            firebase,
            supabase,
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
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
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
        let fb = c.firebase.unwrap();
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
            c.supabase,
            SupabaseConfig {
                budget: Duration::from_millis(4000),
                namespace: None,
                provision_anonymous: false,
                signup_allowed_email_domains: vec![],
                signup_require_email: false,
            }
        );
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
        assert_eq!(c.supabase.budget, Duration::from_millis(3500));
        assert_eq!(
            c.supabase.namespace.as_deref(),
            Some("https://old.example/auth/v1")
        );
        assert!(c.supabase.provision_anonymous && c.supabase.signup_require_email);
        assert_eq!(
            c.supabase.signup_allowed_email_domains,
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
        assert!(load(&v).unwrap().firebase.is_none());
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
        assert!(c.firebase.unwrap().emulator);
        assert_eq!(c.secret_ttl, Duration::from_secs(60));
    }
}
