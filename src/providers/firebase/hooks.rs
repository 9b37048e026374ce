//! The Firebase adapter: a verified blocking-function request becomes one call to the
//! provisioning core, and its result becomes the response Identity Platform expects.

use std::sync::Arc;

use serde::Deserialize;
use serde_json::json;

use super::certs::CertError;
use super::token::{BlockingClaims, EventType, TokenError, TokenVerifier};
use crate::deadline::Deadline;
use crate::provision::{Decision, Expect, FailMode, Identity, Provisioner};
use crate::reply::Reply;
use crate::telemetry::{Outcome, RejectReason, Report};

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
}

#[derive(Deserialize)]
struct RequestBody {
    data: RequestData,
}

#[derive(Deserialize)]
struct RequestData {
    jwt: String,
}

impl FirebaseHooks {
    pub fn new(
        verifier: TokenVerifier,
        project_id: String,
        provisioner: Arc<Provisioner>,
        claim: String,
        fail_mode: FailMode,
    ) -> Self {
        FirebaseHooks {
            verifier,
            project_id,
            provisioner,
            claim,
            fail_mode,
        }
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
                Report::rejected(
                    RejectReason::Payload,
                    "body is not {\"data\":{\"jwt\":\"...\"}}",
                ),
            );
        };
        let claims = match self.verifier.verify(&jwt, event, deadline).await {
            Ok(claims) => claims,
            // The reason is logged for the operator; the caller only learns it was refused.
            Err(e @ TokenError::WrongEventType { .. }) => {
                return (
                    Reply::error(400, "Bad Request: event type does not match this endpoint"),
                    Report::rejected(RejectReason::EventType, e.to_string()),
                );
            }
            Err(e) => {
                // Google's certificates out of reach is an outage, not a bad token: its
                // own reason, so that it does not look like probing in the metrics.
                let kind = match e {
                    TokenError::Certs(CertError::Unavailable(_)) => RejectReason::CertsUnavailable,
                    _ => RejectReason::Token,
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

        let identity = match self.identity(&claims) {
            Ok(identity) => identity,
            Err(e) => {
                return (
                    Reply::error(400, "Bad Request: the user cannot be named unambiguously"),
                    Report::rejected(RejectReason::Payload, e.to_string())
                        .event(event_id)
                        .user(uid),
                );
            }
        };
        let mut attempt = self
            .provisioner
            .attempt(&identity, Expect::NewUser, deadline)
            .await;
        let mut custom_claims = existing;
        if let Ok(provisioned) = &attempt.result {
            custom_claims.insert(self.claim.clone(), provisioned.consumer_id.as_str().into());
            let size = serde_json::to_vec(&custom_claims).map_or(usize::MAX, |v| v.len());
            if size > MAX_CLAIMS_BYTES {
                attempt = attempt.undeliverable(format!(
                    "merged custom claims would be {size} bytes, over the {MAX_CLAIMS_BYTES}-byte limit"
                ));
            }
        }
        let report = Report::attempt(&attempt, self.fail_mode);
        let reply = match attempt.decide(self.fail_mode) {
            Decision::Claim(_) => Reply::ok(json!({
                "userRecord": { "customClaims": custom_claims, "updateMask": "customClaims" }
            })),
            Decision::WithoutClaim => Reply::ok(json!({})),
            Decision::Refuse => Reply::error(503, UNAVAILABLE_MESSAGE),
        };
        (reply, report.event(event_id).user(uid))
    }

    fn identity(&self, claims: &BlockingClaims) -> Result<Identity, crate::provision::KeyError> {
        let user = &claims.user_record;
        let tenant = claims.tenant_id.clone().or_else(|| user.tenant_id.clone());
        let key = super::user_key(&self.project_id, tenant.as_deref(), &user.uid)?;
        let mut identity = Identity::new(key);
        identity.tenant = tenant;
        identity.email = user.email.clone();
        identity.email_verified = user.email_verified;
        identity.display_name = user.display_name.clone();
        identity.signup_method = claims.sign_in_method.clone();
        Ok(identity)
    }
}
