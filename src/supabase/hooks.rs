//! The Supabase adapter: a signed Auth Hook request is verified, then becomes at most
//! one call to the provisioning core, and its result the response the Auth server reads.
//!
//! Once a request is verified, every answer is HTTP 200: Supabase turns any other
//! status into an opaque 500 for the user, and reads decisions only from a 200 body.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use serde_json::{Map, Value, json};

use super::payload::{
    ACCESS_TOKEN_HOOK, AccessTokenInput, BEFORE_USER_CREATED_HOOK, BeforeUserCreatedInput, Metadata,
};
use super::signup_policy::SignupPolicy;
use crate::config::{FailMode, SupabaseConfig};
use crate::deadline::Deadline;
use crate::provision::{Identity, Lookup, Provider, Provisioner};
use crate::reply::Reply;
use crate::secrets::SecretStore;
use crate::telemetry::{Outcome, Report};

/// Shown to the user when `FAIL_MODE=closed` refuses a token: nothing internal.
const UNAVAILABLE_MESSAGE: &str = "Sign-in is temporarily unavailable. Please try again shortly.";

/// User ids are UUIDs; anything much longer is not from Supabase.
const MAX_USER_ID_CHARS: usize = 255;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Hook {
    CustomAccessToken,
    BeforeUserCreated,
}

impl Hook {
    pub fn as_str(self) -> &'static str {
        match self {
            Hook::CustomAccessToken => "custom-access-token",
            Hook::BeforeUserCreated => "before-user-created",
        }
    }

    /// The `metadata.name` Supabase sends for this hook.
    fn wire_name(self) -> &'static str {
        match self {
            Hook::CustomAccessToken => ACCESS_TOKEN_HOOK,
            Hook::BeforeUserCreated => BEFORE_USER_CREATED_HOOK,
        }
    }
}

/// One delivery as received: the Standard Webhooks headers and the raw body bytes.
#[derive(Debug, Clone, Copy)]
pub struct Delivery<'a> {
    pub webhook_id: Option<&'a str>,
    pub webhook_timestamp: Option<&'a str>,
    pub webhook_signature: Option<&'a str>,
    pub body: &'a [u8],
}

pub struct SupabaseHooks {
    secrets: Arc<SecretStore>,
    provisioner: Arc<Provisioner>,
    claim: String,
    fail_mode: FailMode,
    config: SupabaseConfig,
    policy: SignupPolicy,
}

impl SupabaseHooks {
    pub fn new(
        secrets: Arc<SecretStore>,
        provisioner: Arc<Provisioner>,
        claim: String,
        fail_mode: FailMode,
        config: SupabaseConfig,
    ) -> Self {
        let policy = SignupPolicy {
            allowed_email_domains: config.signup_allowed_email_domains.clone(),
            require_email: config.signup_require_email,
        };
        SupabaseHooks {
            secrets,
            provisioner,
            claim,
            fail_mode,
            config,
            policy,
        }
    }

    pub fn budget(&self) -> Duration {
        self.config.budget
    }

    /// The answer, and what happened for the request's log line and metrics.
    pub async fn handle(
        &self,
        hook: Hook,
        delivery: Delivery<'_>,
        deadline: Deadline,
    ) -> (Reply, Report) {
        if let Err(refused) = self.verify(&delivery, deadline).await {
            return *refused;
        }
        match hook {
            Hook::CustomAccessToken => self.custom_access_token(delivery.body, deadline).await,
            Hook::BeforeUserCreated => self.before_user_created(delivery.body),
        }
    }

    /// The signature is checked before the body is even parsed.
    async fn verify(&self, delivery: &Delivery<'_>, deadline: Deadline) -> Result<(), Refusal> {
        let lease = self.secrets.current(deadline).await.map_err(|e| {
            Box::new((
                Reply::hook_failure(
                    503,
                    "Service Unavailable: the request cannot be verified now",
                ),
                Report::rejected("secret_unavailable", e.to_string()),
            ))
        })?;
        let keys = match &lease.secrets.supabase_hook_keys {
            Some(Ok(keys)) => keys,
            None => {
                return Err(Box::new((
                    Reply::hook_failure(404, "Not Found: Supabase hooks are not enabled"),
                    Report::rejected("not_enabled", "no supabase_hook_secret in the secret"),
                )));
            }
            Some(Err(e)) => {
                return Err(Box::new((
                    Reply::hook_failure(
                        500,
                        "Internal Server Error: the hook secret is misconfigured",
                    ),
                    Report::rejected("config", e.to_string()),
                )));
            }
        };
        keys.verify(
            delivery.webhook_id,
            delivery.webhook_timestamp,
            delivery.webhook_signature,
            delivery.body,
            SystemTime::now(),
        )
        .map_err(|e| {
            // The reason says which check failed (header, clock, signature), never a value.
            Box::new((
                Reply::hook_failure(401, &format!("Unauthorized: {e}")),
                Report::rejected("signature", e.to_string()),
            ))
        })
    }

    async fn custom_access_token(&self, body: &[u8], deadline: Deadline) -> (Reply, Report) {
        let hook = Hook::CustomAccessToken;
        let input: AccessTokenInput = match parse(
            hook,
            body,
            "expected a JSON object with user_id and claims (the custom access token hook payload)",
            |i: &AccessTokenInput| i.metadata.as_ref(),
        ) {
            Ok(input) => input,
            Err(refused) => return *refused,
        };
        let user_id = input.user_id.as_str();
        if user_id.is_empty() || user_id.chars().count() > MAX_USER_ID_CHARS {
            return bad_request("user_id is empty or too long");
        }
        if input.claim_str("sub").is_some_and(|sub| sub != user_id) {
            return bad_request("user_id does not match claims.sub");
        }
        let invocation = input.metadata.as_ref().and_then(|m| m.uuid.clone());
        let skipped = |reason: &str| {
            Report::new(Outcome::Skipped)
                .reason(reason)
                .event(invocation.as_deref())
                .user(user_id)
        };

        if let Some(existing) = input.existing_consumer(&self.claim).map(str::to_owned) {
            let report = skipped("claim present");
            let mut claims = input.claims;
            // Stored only in app_metadata: also expose it where clients read it.
            if claims.get(&self.claim).and_then(Value::as_str) != Some(existing.as_str()) {
                claims.insert(self.claim.clone(), existing.into());
            }
            return (claims_reply(claims), report);
        }
        if input.is_anonymous() && !self.config.provision_anonymous {
            let report = skipped("anonymous user");
            return (claims_reply(input.claims), report);
        }

        let identity = Identity {
            provider: Provider::Supabase,
            namespace: self
                .config
                .namespace
                .clone()
                .or_else(|| input.claim_str("iss").map(str::to_owned))
                .unwrap_or_default(),
            user_id: user_id.to_owned(),
            tenant: None,
            email: input.claim_str("email").map(str::to_owned),
            // The token carries no server-set proof of email ownership: the user can
            // write `user_metadata.email_verified` themselves. So REQUIRE_VERIFIED_EMAIL
            // never adds a Supabase manager; rely on Supabase's "Confirm email" instead.
            email_verified: false,
            display_name: input.display_name().map(str::to_owned),
        };
        // A refresh means the user has had tokens before, so the consumer most likely exists.
        let lookup = if input.authentication_method.as_deref() == Some("token_refresh") {
            Lookup::FindFirst
        } else {
            Lookup::CreateFirst
        };
        let started = tokio::time::Instant::now();
        let result = deadline
            .run(
                self.provisioner
                    .ensure_consumer(&identity, lookup, deadline),
            )
            .await;
        let (reply, report) = match result {
            Ok(Ok(provisioned)) => {
                let report = Report::provisioned(&provisioned, started.elapsed());
                let mut claims = input.claims;
                claims.insert(self.claim.clone(), provisioned.consumer_id.into());
                (claims_reply(claims), report)
            }
            failed => {
                let reason = match failed {
                    Ok(Err(e)) => e.to_string(),
                    _ => "provisioning did not finish before the request deadline".to_owned(),
                };
                let report = Report::failed(
                    self.fail_mode,
                    identity.consumer_name(),
                    reason,
                    started.elapsed(),
                );
                let reply = match self.fail_mode {
                    // The token is issued without the claim; the next issuance retries.
                    FailMode::Open => claims_reply(input.claims),
                    FailMode::Closed => Reply::hook_error(503, UNAVAILABLE_MESSAGE),
                };
                (reply, report)
            }
        };
        (reply, report.event(invocation.as_deref()).user(user_id))
    }

    fn before_user_created(&self, body: &[u8]) -> (Reply, Report) {
        let hook = Hook::BeforeUserCreated;
        let input: BeforeUserCreatedInput = match parse(
            hook,
            body,
            "expected a JSON object with a user (the before user created hook payload)",
            |i: &BeforeUserCreatedInput| i.metadata.as_ref(),
        ) {
            Ok(input) => input,
            Err(refused) => return *refused,
        };
        let invocation = input.metadata.as_ref().and_then(|m| m.uuid.as_deref());
        // Not the final user id for OAuth/SSO sign-ups, but it ties the log lines together.
        let provisional_id = input.user.id.as_deref().unwrap_or("");
        let (reply, report) = match self.policy.check(input.user.email.as_deref()) {
            Ok(()) => (Reply::ok(json!({})), Report::new(Outcome::Allowed)),
            Err(message) => (
                Reply::hook_error(403, message),
                Report::new(Outcome::Refused).reason(message),
            ),
        };
        (reply, report.event(invocation).user(provisional_id))
    }
}

fn claims_reply(claims: Map<String, Value>) -> Reply {
    Reply::ok(json!({ "claims": claims }))
}

/// An answer given before the request could be used, with its report; boxed because
/// it is much larger than the success side.
type Refusal = Box<(Reply, Report)>;

/// A verified request we cannot use: refused with a 200 decision, as Supabase requires.
fn bad_request(message: &str) -> (Reply, Report) {
    (
        Reply::hook_error(400, &format!("Bad Request: {message}")),
        Report::rejected("payload", message),
    )
}

/// Reads a verified body, and catches a hook pointed at the other route (which would
/// otherwise half-work) by the payload's `metadata.name`.
fn parse<T: serde::de::DeserializeOwned>(
    hook: Hook,
    body: &[u8],
    expected: &str,
    metadata: impl Fn(&T) -> Option<&Metadata>,
) -> Result<T, Refusal> {
    let input: T = serde_json::from_slice(body).map_err(|_| Box::new(bad_request(expected)))?;
    match metadata(&input).and_then(|m| m.name.as_deref()) {
        Some(name) if name != hook.wire_name() => {
            tracing::warn!(
                hook = hook.as_str(),
                payload_hook = name,
                "a hook is configured with the URL of another hook"
            );
            Err(Box::new(bad_request(
                "the hook payload does not match this endpoint",
            )))
        }
        _ => Ok(input),
    }
}
