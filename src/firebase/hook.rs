//! The Firebase adapter: a verified blocking-function request becomes one call to the
//! provisioning core, and its result becomes the response Identity Platform expects.

use std::sync::Arc;
use std::time::Duration;

use serde::Deserialize;
use serde_json::{Map, Value, json};

use super::certs::CertError;
use super::token::{BlockingClaims, EventType, TokenError, TokenVerifier};
use crate::config::FailMode;
use crate::deadline::Deadline;
use crate::provision::{Identity, Lookup, Provider, Provisioned, Provisioner};
use crate::reply::Reply;
use crate::telemetry::{Outcome, Report};

/// Identity Platform refuses `customClaims` whose JSON is longer than this.
pub const MAX_CLAIMS_BYTES: usize = 1000;

/// Shown to the end user (Identity Platform relays it verbatim), so it says nothing internal.
const UNAVAILABLE_MESSAGE: &str = "Sign-up is temporarily unavailable. Please try again shortly.";

pub struct FirebaseHooks {
    verifier: TokenVerifier,
    project_id: String,
    provisioner: Arc<Provisioner>,
    claim: String,
    fail_mode: FailMode,
    budget: Duration,
}

#[derive(Deserialize)]
struct RequestBody {
    data: RequestData,
}

#[derive(Deserialize)]
struct RequestData {
    jwt: String,
}

/// Why a verified request ended without a consumer ID in the claims.
#[derive(Debug, thiserror::Error)]
enum Failure {
    #[error(transparent)]
    Provision(#[from] crate::provision::ProvisionError),
    #[error("provisioning did not finish before the request deadline")]
    Deadline,
    #[error("merged custom claims would be {0} bytes, over the {MAX_CLAIMS_BYTES}-byte limit")]
    ClaimsTooLarge(usize),
}

impl FirebaseHooks {
    pub fn new(
        verifier: TokenVerifier,
        project_id: String,
        provisioner: Arc<Provisioner>,
        claim: String,
        fail_mode: FailMode,
        budget: Duration,
    ) -> Self {
        FirebaseHooks {
            verifier,
            project_id,
            provisioner,
            claim,
            fail_mode,
            budget,
        }
    }

    pub fn budget(&self) -> Duration {
        self.budget
    }

    pub fn verifier(&self) -> &TokenVerifier {
        &self.verifier
    }

    /// The answer, and what happened for the request's log line and metrics.
    pub async fn handle(
        &self,
        event: EventType,
        body: &[u8],
        deadline: Deadline,
    ) -> (Reply, Report) {
        let Ok(RequestBody {
            data: RequestData { jwt },
        }) = serde_json::from_slice(body)
        else {
            return (
                Reply::error(
                    400,
                    "Bad Request: expected a JSON body {\"data\":{\"jwt\":\"...\"}}",
                ),
                Report::rejected("payload", "body is not {\"data\":{\"jwt\":\"...\"}}"),
            );
        };
        let claims = match self.verifier.verify(&jwt, event, deadline).await {
            Ok(claims) => claims,
            // The reason is logged for the operator; the caller only learns it was refused.
            Err(e @ TokenError::WrongEventType { .. }) => {
                return (
                    Reply::error(400, "Bad Request: event type does not match this endpoint"),
                    Report::rejected("event_type", e.to_string()),
                );
            }
            Err(e) => {
                // Google's certificates out of reach is an outage, not a bad token: its
                // own reason, so that it does not look like probing in the metrics.
                let kind = match e {
                    TokenError::Certs(CertError::Unavailable(_)) => "certs_unavailable",
                    _ => "token",
                };
                return (
                    Reply::error(401, "Unauthenticated"),
                    Report::rejected(kind, e.to_string()),
                );
            }
        };
        let uid = claims.user_record.uid.as_str();
        let event_id = claims.event_id.as_deref();
        let existing = claims.user_record.custom_claims.clone().unwrap_or_default();

        if event == EventType::BeforeSignIn && existing.contains_key(&self.claim) {
            let report = Report::new(Outcome::Skipped)
                .reason("claim present")
                .event(event_id)
                .user(uid);
            return (Reply::ok(json!({})), report);
        }

        let identity = self.identity(&claims);
        let started = tokio::time::Instant::now();
        let (reply, report) = match self.provision(&identity, existing, deadline).await {
            Ok((reply, provisioned)) => {
                (reply, Report::provisioned(&provisioned, started.elapsed()))
            }
            Err(e) => {
                let reply = match self.fail_mode {
                    FailMode::Open => Reply::ok(json!({})),
                    FailMode::Closed => Reply::error(503, UNAVAILABLE_MESSAGE),
                };
                let report = Report::failed(
                    self.fail_mode,
                    identity.consumer_name(),
                    e.to_string(),
                    started.elapsed(),
                );
                (reply, report)
            }
        };
        (reply, report.event(event_id).user(uid))
    }

    fn identity(&self, claims: &BlockingClaims) -> Identity {
        let user = &claims.user_record;
        let tenant = claims.tenant_id.clone().or_else(|| user.tenant_id.clone());
        Identity {
            provider: Provider::Firebase,
            namespace: format!("{}:{}", self.project_id, tenant.as_deref().unwrap_or("")),
            user_id: user.uid.clone(),
            tenant,
            email: user.email.clone(),
            email_verified: user.email_verified,
            display_name: user.display_name.clone(),
        }
    }

    async fn provision(
        &self,
        identity: &Identity,
        mut custom_claims: Map<String, Value>,
        deadline: Deadline,
    ) -> Result<(Reply, Provisioned), Failure> {
        let provisioned = deadline
            .run(
                self.provisioner
                    .ensure_consumer(identity, Lookup::CreateFirst, deadline),
            )
            .await
            .map_err(|_| Failure::Deadline)??;
        custom_claims.insert(self.claim.clone(), provisioned.consumer_id.clone().into());
        let size = serde_json::to_vec(&custom_claims).map_or(usize::MAX, |v| v.len());
        if size > MAX_CLAIMS_BYTES {
            return Err(Failure::ClaimsTooLarge(size));
        }
        let reply = Reply::ok(json!({
            "userRecord": { "customClaims": custom_claims, "updateMask": "customClaims" }
        }));
        Ok((reply, provisioned))
    }
}
