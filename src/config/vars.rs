//! Reading and validating environment variables: every error names the variable.

use std::time::Duration;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("invalid configuration: {var}: {reason}")]
pub struct ConfigError {
    pub var: &'static str,
    pub reason: String,
}

pub fn err(var: &'static str, reason: impl Into<String>) -> ConfigError {
    ConfigError {
        var,
        reason: reason.into(),
    }
}

/// Reads variables through `lookup`, so tests can configure without touching the
/// process environment.
pub struct Vars<'a>(pub &'a dyn Fn(&str) -> Option<String>);

impl Vars<'_> {
    /// A set, non-blank value, trimmed. Blank counts as unset so that an empty
    /// SAM parameter means "default".
    pub fn get(&self, var: &'static str) -> Option<String> {
        (self.0)(var)
            .map(|v| v.trim().to_owned())
            .filter(|v| !v.is_empty())
    }

    pub fn required(&self, var: &'static str) -> Result<String, ConfigError> {
        self.get(var)
            .ok_or_else(|| err(var, "is required but not set"))
    }

    pub fn bool(&self, var: &'static str, default: bool) -> Result<bool, ConfigError> {
        match self.get(var) {
            None => Ok(default),
            Some(v) => match v.to_ascii_lowercase().as_str() {
                "true" | "1" | "yes" | "on" => Ok(true),
                "false" | "0" | "no" | "off" => Ok(false),
                _ => Err(err(var, format!("expected true or false, got {v:?}"))),
            },
        }
    }

    pub fn millis(
        &self,
        var: &'static str,
        default: u64,
        min: u64,
        max: u64,
    ) -> Result<Duration, ConfigError> {
        self.number(var, default, min, max)
            .map(Duration::from_millis)
    }

    /// A whole number in `min..=max`, or `None` when unset (no default applies).
    pub fn optional_number(
        &self,
        var: &'static str,
        min: u64,
        max: u64,
    ) -> Result<Option<u64>, ConfigError> {
        match self.get(var) {
            None => Ok(None),
            Some(_) => self.number(var, min, min, max).map(Some),
        }
    }

    pub fn number(
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

pub fn http_url(var: &'static str, v: String) -> Result<String, ConfigError> {
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
pub fn path_segment(var: &'static str, v: String) -> Result<String, ConfigError> {
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
pub fn email_domains(var: &'static str, v: String) -> Result<Vec<String>, ConfigError> {
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
