//! Checks that a request really comes from the provider it claims to come from.
//!
//! A provider route is guarded by one field of the secret: Standard Webhooks signing
//! keys ([`SignedRoutes`]) or, where the sender can only present a static token (Auth0
//! Event Streams), bearer tokens ([`TokenRoutes`]). Both refuse in the same terms
//! ([`Refused`]), and each provider words the refusal in its own answer shape.

pub mod standard_webhooks;

use std::sync::Arc;
use std::time::SystemTime;

use standard_webhooks::{KeyError, Verified, WebhookKeys};
use subtle::ConstantTimeEq;

use crate::clients::secrets::{Lease, PerLoad, SecretStore, Secrets};
use crate::deadline::Deadline;
use crate::request::HttpRequest;
use crate::telemetry::{RejectReason, Report};
use standard_webhooks::Headers;

/// A provider's webhook signing keys, as read from its field of the secret.
#[derive(Debug)]
pub enum FieldKeys {
    Ready(WebhookKeys),
    /// The field is absent: the provider is not in use.
    Missing,
    /// The field is there but unusable; kept apart so that a bad provider secret does
    /// not take the Zuplo token (and every other provider) down with it.
    Malformed(KeyError),
}

/// Parses the Standard Webhooks secret(s) in `field`, and says in the log what a
/// missing or malformed field means for `routes`. Meant to run once per load of the
/// secret (see [`crate::clients::secrets::PerLoad`]), never per request.
pub fn webhook_keys(secrets: &Secrets, field: &str, routes: &str) -> FieldKeys {
    match secrets.field(field).map(|s| WebhookKeys::parse(s.expose())) {
        Some(Ok(keys)) => FieldKeys::Ready(keys),
        Some(Err(e)) => {
            tracing::error!(reason = %e, "{field} is malformed: {routes} will refuse every request until it is fixed");
            FieldKeys::Malformed(e)
        }
        None => {
            tracing::info!("the secret has no {field}: {routes} answer 404");
            FieldKeys::Missing
        }
    }
}

/// Why a guarded route refused a request before reading its body. Messages name the
/// check that failed or the field to fix, never a value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refused {
    /// The secret cannot be read now: the sender should try again.
    SecretUnavailable(String),
    /// The provider's field is absent from the secret: the provider is not in use.
    NotEnabled { field: &'static str },
    /// The provider's field is present but unusable.
    Misconfigured { field: &'static str, reason: String },
    /// No valid signature or token.
    Unauthorized(String),
}

impl Refused {
    pub fn status(&self) -> u16 {
        match self {
            Refused::SecretUnavailable(_) => 503,
            Refused::NotEnabled { .. } => 404,
            Refused::Misconfigured { .. } => 500,
            Refused::Unauthorized(_) => 401,
        }
    }

    /// What the sender reads; `title` names the provider ("Clerk").
    pub fn message(&self, title: &str) -> String {
        match self {
            Refused::SecretUnavailable(_) => {
                "Service Unavailable: the request cannot be verified now".into()
            }
            Refused::NotEnabled { .. } => format!("Not Found: {title} hooks are not enabled"),
            Refused::Misconfigured { field, .. } => {
                format!("Internal Server Error: {field} is misconfigured")
            }
            Refused::Unauthorized(why) => format!("Unauthorized: {why}"),
        }
    }

    pub fn report(&self) -> Report {
        match self {
            Refused::SecretUnavailable(e) => Report::rejected(RejectReason::SecretUnavailable, e),
            Refused::NotEnabled { field } => Report::rejected(
                RejectReason::NotEnabled,
                format!("no {field} in the secret"),
            ),
            Refused::Misconfigured { field, reason } => {
                Report::rejected(RejectReason::Config, format!("{field}: {reason}"))
            }
            Refused::Unauthorized(why) => Report::rejected(RejectReason::Signature, why),
        }
    }
}

/// The routes a provider signs with Standard Webhooks keys kept in one field.
pub struct SignedRoutes {
    secrets: Arc<SecretStore>,
    field: &'static str,
    /// "the Clerk route", for the log line about a missing or malformed field.
    routes: &'static str,
    keys: PerLoad<FieldKeys>,
}

impl SignedRoutes {
    pub fn new(secrets: Arc<SecretStore>, field: &'static str, routes: &'static str) -> Self {
        SignedRoutes {
            secrets,
            field,
            routes,
            keys: PerLoad::default(),
        }
    }

    /// The keys of this load of the secret; parsed, and a bad field logged, once per load.
    pub fn keys(&self, lease: &Lease) -> Arc<FieldKeys> {
        self.keys.get(lease, |secrets| {
            webhook_keys(secrets, self.field, self.routes)
        })
    }

    /// Checks the signature before anything reads the body: only a [`Verified`]
    /// delivery gets through. Also hands back the lease, for the provider's other fields.
    pub async fn verify<'a>(
        &self,
        request: &'a HttpRequest,
        deadline: Deadline,
    ) -> Result<(Verified<'a>, Lease), Refused> {
        let lease = self
            .secrets
            .current(deadline)
            .await
            .map_err(|e| Refused::SecretUnavailable(e.to_string()))?;
        let verified = match self.keys(&lease).as_ref() {
            FieldKeys::Ready(keys) => keys
                .verify(request, &request.body, SystemTime::now())
                .map_err(|e| Refused::Unauthorized(e.to_string()))?,
            FieldKeys::Missing => return Err(Refused::NotEnabled { field: self.field }),
            FieldKeys::Malformed(e) => {
                return Err(Refused::Misconfigured {
                    field: self.field,
                    reason: e.to_string(),
                });
            }
        };
        Ok((verified, lease))
    }
}

/// Bearer tokens a sender presents as they are (no signature): several, separated by
/// spaces, while one is rotated out.
pub struct BearerTokens(Vec<Vec<u8>>);

impl std::fmt::Debug for BearerTokens {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "BearerTokens({} tokens, ***)", self.0.len())
    }
}

/// A guessable token would make the route as weak as the guess.
pub const MIN_TOKEN_CHARS: usize = 24;

impl BearerTokens {
    pub fn parse(field: &str) -> Result<Self, String> {
        let tokens: Vec<Vec<u8>> = field
            .split_whitespace()
            .map(|t| t.as_bytes().to_vec())
            .collect();
        if tokens.is_empty() {
            return Err("the token is empty".into());
        }
        if let Some(n) = tokens.iter().position(|t| t.len() < MIN_TOKEN_CHARS) {
            return Err(format!(
                "token #{} is shorter than {MIN_TOKEN_CHARS} characters",
                n + 1
            ));
        }
        Ok(BearerTokens(tokens))
    }

    /// Whether `Authorization: Bearer <token>` carries one of the tokens, compared in
    /// constant time so that the answer's timing tells nothing about a near miss.
    pub fn accepts(&self, headers: &impl Headers) -> Result<(), String> {
        let presented = headers
            .header("authorization")
            .ok_or("missing authorization header")?;
        let token = presented
            .split_once(' ')
            .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
            .map(|(_, token)| token.trim())
            .ok_or("the authorization header is not a bearer token")?;
        let mut matched = subtle::Choice::from(0u8);
        for known in &self.0 {
            matched |= known.as_slice().ct_eq(token.as_bytes());
        }
        if bool::from(matched) {
            Ok(())
        } else {
            Err("the bearer token does not match".into())
        }
    }
}

/// The routes guarded by bearer tokens kept in one field.
pub struct TokenRoutes {
    secrets: Arc<SecretStore>,
    field: &'static str,
    routes: &'static str,
    tokens: PerLoad<Option<Result<BearerTokens, String>>>,
}

impl TokenRoutes {
    pub fn new(secrets: Arc<SecretStore>, field: &'static str, routes: &'static str) -> Self {
        TokenRoutes {
            secrets,
            field,
            routes,
            tokens: PerLoad::default(),
        }
    }

    /// The tokens of this load of the secret; parsed, and a bad field logged, once per load.
    pub fn tokens(&self, lease: &Lease) -> Arc<Option<Result<BearerTokens, String>>> {
        self.tokens.get(lease, |secrets| {
            let parsed = secrets.field(self.field).map(|t| BearerTokens::parse(t.expose()));
            match &parsed {
                Some(Err(e)) => tracing::error!(reason = %e, "{} is malformed: {} will refuse every request until it is fixed", self.field, self.routes),
                None => tracing::info!("the secret has no {}: {} answer 404", self.field, self.routes),
                Some(Ok(_)) => {}
            }
            parsed
        })
    }

    pub async fn check(&self, request: &HttpRequest, deadline: Deadline) -> Result<(), Refused> {
        let lease = self
            .secrets
            .current(deadline)
            .await
            .map_err(|e| Refused::SecretUnavailable(e.to_string()))?;
        match self.tokens(&lease).as_ref() {
            Some(Ok(tokens)) => tokens.accepts(request).map_err(Refused::Unauthorized),
            None => Err(Refused::NotEnabled { field: self.field }),
            Some(Err(reason)) => Err(Refused::Misconfigured {
                field: self.field,
                reason: reason.clone(),
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_field_is_read_apart_from_the_token() {
        let secrets = Secrets::parse(
            r#"{"zuplo_api_key":"zpka_x","supabase_hook_secret":"whsec_short","other_hook_secret":"v1,whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"}"#,
        )
        .unwrap();
        // A malformed field keeps the Zuplo token, and every other field, usable.
        assert_eq!(secrets.zuplo_api_key.expose(), "zpka_x");
        assert!(matches!(
            webhook_keys(&secrets, "supabase_hook_secret", "r"),
            FieldKeys::Malformed(KeyError::Base64(1) | KeyError::Length(1, _))
        ));
        assert!(matches!(
            webhook_keys(&secrets, "other_hook_secret", "r"),
            FieldKeys::Ready(_)
        ));
        assert!(matches!(
            webhook_keys(&secrets, "absent", "r"),
            FieldKeys::Missing
        ));
    }

    #[test]
    fn bearer_tokens_match_exactly_and_in_constant_time() {
        let tokens =
            BearerTokens::parse("old-token-0123456789abcdefgh  new-token-0123456789abcdefgh")
                .unwrap();
        let with = |value: &str| [("Authorization", value.to_owned())];
        for good in [
            "Bearer old-token-0123456789abcdefgh",
            "bearer new-token-0123456789abcdefgh",
        ] {
            let h = with(good);
            let h = [(h[0].0, h[0].1.as_str())];
            assert_eq!(tokens.accepts(&h), Ok(()), "{good}");
        }
        for bad in [
            "Bearer new-token-0123456789abcdefg",
            "Bearer new-token-0123456789abcdefghi",
            "Basic new-token-0123456789abcdefgh",
            "new-token-0123456789abcdefgh",
            "Bearer ",
        ] {
            let h = with(bad);
            let h = [(h[0].0, h[0].1.as_str())];
            assert!(tokens.accepts(&h).is_err(), "{bad}");
        }
        let none: [(&str, &str); 0] = [];
        assert_eq!(
            tokens.accepts(&none),
            Err("missing authorization header".into())
        );
        assert!(BearerTokens::parse("  ").is_err());
        assert!(BearerTokens::parse("short").is_err());
        // The error names the token's place, never its value.
        let e = BearerTokens::parse("a-long-enough-token-0123456789 tiny").unwrap_err();
        assert!(e.contains("#2") && !e.contains("tiny"), "{e}");
    }
}
