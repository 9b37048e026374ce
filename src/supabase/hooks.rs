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

    pub async fn handle(&self, hook: Hook, delivery: Delivery<'_>, deadline: Deadline) -> Reply {
        if let Err(reply) = self.verify(hook, &delivery, deadline).await {
            return reply;
        }
        match hook {
            Hook::CustomAccessToken => self.custom_access_token(delivery.body, deadline).await,
            Hook::BeforeUserCreated => self.before_user_created(delivery.body),
        }
    }

    /// The signature is checked before the body is even parsed.
    async fn verify(
        &self,
        hook: Hook,
        delivery: &Delivery<'_>,
        deadline: Deadline,
    ) -> Result<(), Reply> {
        let lease = self.secrets.current(deadline).await.map_err(|e| {
            tracing::error!(hook = hook.as_str(), reason = %e, outcome = "unverifiable", "cannot verify: the hook secret is unavailable");
            Reply::hook_failure(503, "Service Unavailable: the request cannot be verified now")
        })?;
        let keys = match &lease.secrets.supabase_hook_keys {
            Some(Ok(keys)) => keys,
            None => {
                tracing::error!(
                    hook = hook.as_str(),
                    outcome = "rejected",
                    "the secret has no supabase_hook_secret field: Supabase hooks are disabled"
                );
                return Err(Reply::hook_failure(
                    404,
                    "Not Found: Supabase hooks are not enabled",
                ));
            }
            Some(Err(e)) => {
                tracing::error!(hook = hook.as_str(), reason = %e, outcome = "rejected", "supabase_hook_secret is malformed");
                return Err(Reply::hook_failure(
                    500,
                    "Internal Server Error: the hook secret is misconfigured",
                ));
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
            tracing::warn!(hook = hook.as_str(), reason = %e, outcome = "rejected", "signature verification failed");
            // The reason says which check failed (header, clock, signature), never a value.
            Reply::hook_failure(401, &format!("Unauthorized: {e}"))
        })
    }

    async fn custom_access_token(&self, body: &[u8], deadline: Deadline) -> Reply {
        let hook = Hook::CustomAccessToken;
        let input: AccessTokenInput = match parse(
            hook,
            body,
            "expected a JSON object with user_id and claims (the custom access token hook payload)",
            |i: &AccessTokenInput| i.metadata.as_ref(),
        ) {
            Ok(input) => input,
            Err(reply) => return reply,
        };
        let user_id = input.user_id.as_str();
        if user_id.is_empty() || user_id.chars().count() > MAX_USER_ID_CHARS {
            return bad_request(hook, "user_id is empty or too long");
        }
        if input.claim_str("sub").is_some_and(|sub| sub != user_id) {
            return bad_request(hook, "user_id does not match claims.sub");
        }
        let invocation = input
            .metadata
            .as_ref()
            .and_then(|m| m.uuid.as_deref())
            .unwrap_or("");
        let method = input.authentication_method.as_deref().unwrap_or("");

        if let Some(existing) = input.existing_consumer(&self.claim).map(str::to_owned) {
            tracing::info!(
                hook = hook.as_str(),
                user_id,
                invocation,
                method,
                outcome = "skipped",
                reason = "claim present",
                "nothing to do"
            );
            let mut claims = input.claims;
            // Stored only in app_metadata: also expose it where clients read it.
            if claims.get(&self.claim).and_then(Value::as_str) != Some(existing.as_str()) {
                claims.insert(self.claim.clone(), existing.into());
            }
            return claims_reply(claims);
        }
        if input.is_anonymous() && !self.config.provision_anonymous {
            tracing::info!(
                hook = hook.as_str(),
                user_id,
                invocation,
                method,
                outcome = "skipped",
                reason = "anonymous user",
                "nothing to do"
            );
            return claims_reply(input.claims);
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
        let lookup = if method == "token_refresh" {
            Lookup::FindFirst
        } else {
            Lookup::CreateFirst
        };
        let result = deadline
            .run(
                self.provisioner
                    .ensure_consumer(&identity, lookup, deadline),
            )
            .await;
        match result {
            Ok(Ok(provisioned)) => {
                tracing::info!(
                    hook = hook.as_str(),
                    user_id,
                    invocation,
                    method,
                    consumer = provisioned.consumer_name,
                    consumer_id = provisioned.consumer_id,
                    outcome = provisioned.outcome.as_str(),
                    "consumer ready"
                );
                let mut claims = input.claims;
                claims.insert(self.claim.clone(), provisioned.consumer_id.into());
                claims_reply(claims)
            }
            failed => {
                let reason = match failed {
                    Ok(Err(e)) => e.to_string(),
                    _ => "provisioning did not finish before the request deadline".to_owned(),
                };
                tracing::warn!(hook = hook.as_str(), user_id, invocation, method, reason, fail_mode = ?self.fail_mode, outcome = "failed", "provisioning failed");
                match self.fail_mode {
                    // The token is issued without the claim; the next issuance retries.
                    FailMode::Open => claims_reply(input.claims),
                    FailMode::Closed => Reply::hook_error(503, UNAVAILABLE_MESSAGE),
                }
            }
        }
    }

    fn before_user_created(&self, body: &[u8]) -> Reply {
        let hook = Hook::BeforeUserCreated;
        let input: BeforeUserCreatedInput = match parse(
            hook,
            body,
            "expected a JSON object with a user (the before user created hook payload)",
            |i: &BeforeUserCreatedInput| i.metadata.as_ref(),
        ) {
            Ok(input) => input,
            Err(reply) => return reply,
        };
        let user = &input.user;
        let invocation = input
            .metadata
            .as_ref()
            .and_then(|m| m.uuid.as_deref())
            .unwrap_or("");
        let provisional_id = user.id.as_deref().unwrap_or("");
        match self.policy.check(user.email.as_deref()) {
            Ok(()) => {
                tracing::info!(
                    hook = hook.as_str(),
                    provisional_id,
                    invocation,
                    anonymous = user.is_anonymous,
                    outcome = "allowed",
                    "sign-up allowed"
                );
                Reply::ok(json!({}))
            }
            Err(message) => {
                tracing::info!(
                    hook = hook.as_str(),
                    provisional_id,
                    invocation,
                    anonymous = user.is_anonymous,
                    outcome = "refused",
                    reason = message,
                    "sign-up refused by policy"
                );
                Reply::hook_error(403, message)
            }
        }
    }
}

fn claims_reply(claims: Map<String, Value>) -> Reply {
    Reply::ok(json!({ "claims": claims }))
}

/// A verified request we cannot use: refused with a 200 decision, as Supabase requires.
fn bad_request(hook: Hook, message: &str) -> Reply {
    tracing::warn!(
        hook = hook.as_str(),
        reason = message,
        outcome = "rejected",
        "unusable hook payload"
    );
    Reply::hook_error(400, &format!("Bad Request: {message}"))
}

/// Reads a verified body, and catches a hook pointed at the other route (which would
/// otherwise half-work) by the payload's `metadata.name`.
fn parse<T: serde::de::DeserializeOwned>(
    hook: Hook,
    body: &[u8],
    expected: &str,
    metadata: impl Fn(&T) -> Option<&Metadata>,
) -> Result<T, Reply> {
    let input: T = serde_json::from_slice(body).map_err(|_| bad_request(hook, expected))?;
    match metadata(&input).and_then(|m| m.name.as_deref()) {
        Some(name) if name != hook.wire_name() => {
            tracing::warn!(
                hook = hook.as_str(),
                payload_hook = name,
                "a hook is configured with the URL of another hook"
            );
            Err(bad_request(
                hook,
                "the hook payload does not match this endpoint",
            ))
        }
        _ => Ok(input),
    }
}
