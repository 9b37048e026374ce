//! The Supabase adapter: a signed Auth Hook request is verified, then becomes at most
//! one call to the provisioning core, and its result the response the Auth server reads.
//!
//! Once a request is verified, every answer is HTTP 200: Supabase turns any other
//! status into an opaque 500 for the user, and reads decisions only from a 200 body.

use std::sync::Arc;
use std::time::Duration;

use serde_json::{Map, Value, json};

use super::payload::{
    ACCESS_TOKEN_HOOK, AccessTokenInput, BEFORE_USER_CREATED_HOOK, BeforeUserCreatedInput, Metadata,
};
use super::{HOOK_SECRET_FIELD, Settings};
use crate::clients::secrets::Lease;
use crate::deadline::Deadline;
use crate::providers::Shared;
use crate::provision::{Decision, Expect, FailMode, Identity, Provisioner};
use crate::reply::Reply;
use crate::request::HttpRequest;
use crate::signup_policy::SignupPolicy;
use crate::telemetry::{Outcome, RejectReason, Report};
use crate::verify::standard_webhooks::Verified;
use crate::verify::{FieldKeys, SignedRoutes};

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

pub struct SupabaseHooks {
    provisioner: Arc<Provisioner>,
    claim: String,
    fail_mode: FailMode,
    config: Settings,
    policy: SignupPolicy,
    /// Verifies deliveries with the hook secret's keys.
    signed: SignedRoutes,
}

impl SupabaseHooks {
    pub fn new(config: Settings, shared: &Shared) -> Self {
        SupabaseHooks {
            provisioner: shared.provisioner.clone(),
            claim: shared.claim.clone(),
            fail_mode: shared.fail_mode,
            config,
            policy: shared.signup_policy.clone(),
            signed: SignedRoutes::new(
                shared.secrets.clone(),
                HOOK_SECRET_FIELD,
                "the Supabase routes",
            ),
        }
    }

    /// The hook secret's keys for this load of the secret; parsed, and a missing or
    /// malformed field reported in the log, once per load.
    pub fn keys(&self, lease: &Lease) -> Arc<FieldKeys> {
        self.signed.keys(lease)
    }

    pub fn budget(&self) -> Duration {
        self.config.budget
    }

    /// The answer, and what happened for the request's log line and metrics.
    pub async fn handle(
        &self,
        hook: Hook,
        request: &HttpRequest,
        deadline: Deadline,
    ) -> (Reply, Report) {
        let verified = match self.verify(request, deadline).await {
            Ok(verified) => verified,
            Err(refused) => return *refused,
        };
        match hook {
            Hook::CustomAccessToken => self.custom_access_token(verified, deadline).await,
            Hook::BeforeUserCreated => self.before_user_created(verified),
        }
    }

    /// The signature is checked before the body is even parsed: only a [`Verified`]
    /// delivery reaches the hooks.
    async fn verify<'a>(
        &self,
        request: &'a HttpRequest,
        deadline: Deadline,
    ) -> Result<Verified<'a>, Refusal> {
        match self.signed.verify(request, deadline).await {
            Ok((verified, _lease)) => Ok(verified),
            Err(refused) => Err(Box::new((
                hook_failure(refused.status(), &refused.message("Supabase")),
                refused.report(),
            ))),
        }
    }

    async fn custom_access_token(
        &self,
        verified: Verified<'_>,
        deadline: Deadline,
    ) -> (Reply, Report) {
        let body = verified.body;
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

        let namespace = self
            .config
            .namespace
            .clone()
            .or_else(|| input.claim_str("iss").map(str::to_owned))
            .unwrap_or_default();
        let key = match super::user_key(&namespace, user_id) {
            Ok(key) => key,
            Err(e) => return bad_request(&e.to_string()),
        };
        let mut identity = Identity::new(key);
        identity.email = input.claim_str("email").map(str::to_owned);
        // The token carries no server-set proof of email ownership: the user can
        // write `user_metadata.email_verified` themselves. So REQUIRE_VERIFIED_EMAIL
        // never adds a Supabase manager; rely on Supabase's "Confirm email" instead.
        identity.email_verified = false;
        identity.display_name = input.display_name().map(str::to_owned);
        identity.signup_method = input
            .authentication_method
            .clone()
            .filter(|m| m != "token_refresh");
        // A refresh means the user has had tokens before, so the consumer most likely exists.
        let expect = if input.authentication_method.as_deref() == Some("token_refresh") {
            Expect::ExistingUser
        } else {
            Expect::NewUser
        };
        let attempt = self.provisioner.attempt(&identity, expect, deadline).await;
        let report = Report::attempt(&attempt, self.fail_mode);
        let reply = match attempt.decide(self.fail_mode) {
            Decision::Claim(provisioned) => {
                let mut claims = input.claims;
                claims.insert(self.claim.clone(), provisioned.consumer_id.as_str().into());
                claims_reply(claims)
            }
            // The token is issued without the claim; the next issuance retries.
            Decision::WithoutClaim => claims_reply(input.claims),
            Decision::Refuse => hook_error(503, UNAVAILABLE_MESSAGE),
        };
        (reply, report.event(invocation.as_deref()).user(user_id))
    }

    fn before_user_created(&self, verified: Verified<'_>) -> (Reply, Report) {
        let body = verified.body;
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
                hook_error(403, message),
                Report::new(Outcome::Refused).reason(message),
            ),
        };
        (reply, report.event(invocation).user(provisional_id))
    }
}

fn claims_reply(claims: Map<String, Value>) -> Reply {
    Reply::ok(json!({ "claims": claims }))
}

/// A hook's decision to refuse, in the shape the Auth server reads: always HTTP 200,
/// since any other status reaches the user as an opaque 500.
fn hook_error(http_code: u16, message: &str) -> Reply {
    Reply {
        status: 200,
        body: json!({"error": {"http_code": http_code, "message": message}}),
    }
}

/// A failure that is not a decision (bad signature, misconfiguration): a real error
/// status, with the same body shape.
fn hook_failure(status: u16, message: &str) -> Reply {
    Reply {
        status,
        body: json!({"error": {"http_code": status, "message": message}}),
    }
}

/// An answer given before the request could be used, with its report; boxed because
/// it is much larger than the success side.
type Refusal = Box<(Reply, Report)>;

/// A verified request we cannot use: refused with a 200 decision, as Supabase requires.
fn bad_request(message: &str) -> (Reply, Report) {
    (
        hook_error(400, &format!("Bad Request: {message}")),
        Report::rejected(RejectReason::Payload, message),
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
