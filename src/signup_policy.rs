//! Who may sign up, decided in the before-user-created hook.

/// Shown to the person signing up (Supabase relays it), so it names no configuration.
pub const EMAIL_REQUIRED: &str = "Sign-up requires an email address.";
pub const DOMAIN_NOT_ALLOWED: &str =
    "Sign-up with this email address is not allowed. Use your organisation's email address.";

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SignupPolicy {
    /// Lower-case, exact domains (no subdomain matching); empty means any.
    pub allowed_email_domains: Vec<String>,
    pub require_email: bool,
}

impl SignupPolicy {
    /// `Err(message for the user)` when the sign-up must be refused. The domain list
    /// restricts email addresses only: a user without one (phone, anonymous) passes
    /// unless an email is required.
    pub fn check(&self, email: Option<&str>) -> Result<(), &'static str> {
        let email = email.map(str::trim).filter(|e| !e.is_empty());
        let Some(email) = email else {
            return if self.require_email {
                Err(EMAIL_REQUIRED)
            } else {
                Ok(())
            };
        };
        if self.allowed_email_domains.is_empty() {
            return Ok(());
        }
        let domain = email
            .rsplit_once('@')
            .map(|(_, d)| d.trim_end_matches('.').to_ascii_lowercase());
        match domain {
            Some(d) if self.allowed_email_domains.contains(&d) => Ok(()),
            _ => Err(DOMAIN_NOT_ALLOWED),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(domains: &[&str], require_email: bool) -> SignupPolicy {
        SignupPolicy {
            allowed_email_domains: domains.iter().map(|d| d.to_string()).collect(),
            require_email,
        }
    }

    #[test]
    fn empty_policy_allows_everyone() {
        let p = policy(&[], false);
        for email in [None, Some(""), Some("a@anything.test")] {
            assert_eq!(p.check(email), Ok(()));
        }
    }

    #[test]
    fn domains_match_exactly_and_case_insensitively() {
        let p = policy(&["example.com"], false);
        assert_eq!(p.check(Some("Ada@Example.COM")), Ok(()));
        assert_eq!(p.check(Some("a@example.com.")), Ok(()));
        for bad in [
            "a@sub.example.com",
            "a@example.com.evil.test",
            "a@notexample.com",
            "example.com",
            "a@example.com@evil.test",
        ] {
            assert_eq!(p.check(Some(bad)), Err(DOMAIN_NOT_ALLOWED), "{bad}");
        }
    }

    #[test]
    fn missing_email_depends_on_require_email() {
        assert_eq!(policy(&["example.com"], false).check(Some("")), Ok(()));
        assert_eq!(policy(&[], true).check(None), Err(EMAIL_REQUIRED));
        assert_eq!(policy(&[], true).check(Some("  ")), Err(EMAIL_REQUIRED));
    }
}
