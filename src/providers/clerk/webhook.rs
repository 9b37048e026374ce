//! `POST /clerk/webhook`: a Svix delivery is verified before its body is read, then
//! becomes at most one provisioning (plus the write-back) or one deletion.
//!
//! Answers follow Svix's rules: any 2xx ends the deliveries of a message, anything else
//! is retried (5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h). So "done" and "nothing to do"
//! are 200, a transient failure is 503, and a verified event we cannot use is 400, which
//! Clerk's dashboard shows as failed, to be replayed once fixed.

use std::sync::Arc;

use serde_json::json;

use super::backend::{ClerkBackend, Written};
use super::payload::{DeletedUser, Envelope, User};
use super::{SECRET_KEY_FIELD, Settings, WEBHOOK_SECRET_FIELD, user_key};
use crate::clients::secrets::Lease;
use crate::deadline::Deadline;
use crate::providers::Shared;
use crate::providers::deletion::Deletion;
use crate::providers::{bad_request, refusal};
use crate::provision::{Expect, Identity, Provisioner};
use crate::reply::Reply;
use crate::request::HttpRequest;
use crate::telemetry::{Outcome, RejectReason, Report};
use crate::verify::{Refused, SignedRoutes};

/// Clerk ids are `user_` and 27 base62 characters; they go into a URL path unescaped.
const MAX_USER_ID_CHARS: usize = 128;

pub struct ClerkWebhook {
    provisioner: Arc<Provisioner>,
    signed: SignedRoutes,
    backend: ClerkBackend,
    claim: String,
    namespace: Option<String>,
}

/// An answer given before the event could be acted on.
type Early = Box<(Reply, Report)>;

impl ClerkWebhook {
    pub fn new(settings: Settings, shared: &Shared) -> Self {
        ClerkWebhook {
            provisioner: shared.provisioner.clone(),
            signed: SignedRoutes::new(
                shared.secrets.clone(),
                WEBHOOK_SECRET_FIELD,
                "the Clerk route",
            ),
            backend: ClerkBackend::new(shared.http.clone(), &settings.api_url),
            claim: shared.claim.clone(),
            namespace: settings.namespace,
        }
    }

    pub fn secret_loaded(&self, lease: &Lease) {
        self.signed.keys(lease);
    }

    pub async fn handle(&self, request: &HttpRequest, deadline: Deadline) -> (Reply, Report) {
        let (verified, lease) = match self.signed.verify(request, deadline).await {
            Ok(ok) => ok,
            Err(refused) => return refusal(&refused, "Clerk"),
        };
        let Ok(envelope) = serde_json::from_slice::<Envelope>(verified.body) else {
            return bad_request("expected a Clerk webhook event (type, data, instance_id)");
        };
        let delivery = Some(verified.id);
        let result = match envelope.kind.as_str() {
            "user.created" => {
                self.provision(envelope, Expect::NewUser, &lease, deadline)
                    .await
            }
            // Our own write-back causes one; otherwise it reconciles a lost user.created.
            "user.updated" => {
                self.provision(envelope, Expect::ExistingUser, &lease, deadline)
                    .await
            }
            "user.deleted" => self.delete(envelope, deadline).await,
            other => Ok((
                Reply::ok(json!({"status": "ignored"})),
                Report::new(Outcome::Skipped).reason(format!("event type {other} is not handled")),
            )),
        };
        let (reply, report) = result.unwrap_or_else(|early| *early);
        (reply, report.event(delivery))
    }

    async fn provision(
        &self,
        envelope: Envelope,
        expect: Expect,
        lease: &Lease,
        deadline: Deadline,
    ) -> Result<(Reply, Report), Early> {
        let namespace = self.namespace(&envelope)?;
        let user: User = serde_json::from_value(envelope.data)
            .map_err(|_| Box::new(bad_request("data is not a Clerk user object")))?;
        clerk_user_id(&user.id)?;
        if user.existing_consumer(&self.claim).is_some() {
            return Ok((
                Reply::ok(json!({"status": "already provisioned"})),
                Report::new(Outcome::Skipped)
                    .reason("the claim is in public_metadata")
                    .user(&user.id),
            ));
        }
        // Checked first: a consumer whose ID cannot be written back helps nobody.
        let Some(secret_key) = lease.secrets.field(SECRET_KEY_FIELD) else {
            let refused = Refused::Misconfigured {
                field: SECRET_KEY_FIELD,
                reason: "missing; it is needed to write the consumer ID back".into(),
            };
            return Ok(refusal(&refused, "Clerk"));
        };
        let identity = identity(&namespace, &user)?;
        let attempt = self.provisioner.attempt(&identity, expect, deadline).await;
        let report = Report::deferred_attempt(&attempt).user(&user.id);
        let provisioned = match &attempt.result {
            Ok(provisioned) => provisioned,
            Err(_) => {
                return Ok((
                    unavailable("the API consumer could not be provisioned now"),
                    report,
                ));
            }
        };
        let consumer_id = provisioned.consumer_id.as_str();
        let written = self
            .backend
            .set_public_metadata(secret_key, &user.id, &self.claim, consumer_id, deadline)
            .await;
        Ok(match written {
            Ok(Written::Done) => (
                Reply::ok(json!({"status": "provisioned", "consumer_id": consumer_id})),
                report,
            ),
            // Deleted while we provisioned: the consumer must not outlive the user.
            Ok(Written::UserGone) => {
                self.delete_identity(
                    &identity,
                    deadline,
                    "the user was deleted before the write-back: ",
                )
                .await
            }
            Err(e) if e.is_transient() => (
                unavailable("the consumer ID could not be written to the Clerk user now"),
                Report {
                    outcome: Outcome::Deferred,
                    reason: Some(format!("write-back: {e}")),
                    ..report
                },
            ),
            // A rejected key or a refused body: redelivery cannot help until someone
            // fixes the configuration, so this is a misconfiguration, not a deferral.
            Err(e) => (
                Reply::error(
                    500,
                    "Internal Server Error: the consumer ID could not be written to the Clerk user",
                ),
                Report {
                    outcome: Outcome::Rejected,
                    reject_reason: Some(RejectReason::Config),
                    reason: Some(format!("write-back: {e}")),
                    ..report
                },
            ),
        })
    }

    async fn delete(
        &self,
        envelope: Envelope,
        deadline: Deadline,
    ) -> Result<(Reply, Report), Early> {
        let namespace = self.namespace(&envelope)?;
        let deleted: DeletedUser = serde_json::from_value(envelope.data)
            .map_err(|_| Box::new(bad_request("data is not a deleted Clerk user")))?;
        let Some(user_id) = deleted.id.filter(|id| !id.is_empty()) else {
            return Err(Box::new(bad_request("user.deleted carries no data.id")));
        };
        clerk_user_id(&user_id)?;
        let key =
            user_key(&namespace, &user_id).map_err(|e| Box::new(bad_request(&e.to_string())))?;
        Ok(self
            .delete_identity(&Identity::new(key), deadline, "")
            .await)
    }

    /// Removes `identity`'s consumer; `context` prefixes the log's reason.
    async fn delete_identity(
        &self,
        identity: &Identity,
        deadline: Deadline,
        context: &str,
    ) -> (Reply, Report) {
        Deletion::run(&self.provisioner, identity, deadline)
            .await
            .answer(identity, context)
    }

    /// Where the user id is unique: `CLERK_NAMESPACE`, else the delivery's instance.
    fn namespace(&self, envelope: &Envelope) -> Result<String, Early> {
        self.namespace
            .clone()
            .or_else(|| envelope.instance_id.clone().filter(|i| !i.is_empty()))
            .ok_or_else(|| {
                Box::new(bad_request(
                    "the event carries no instance_id; set CLERK_NAMESPACE to the instance id",
                ))
            })
    }
}

fn identity(namespace: &str, user: &User) -> Result<Identity, Early> {
    let key = user_key(namespace, &user.id).map_err(|e| Box::new(bad_request(&e.to_string())))?;
    let mut identity = Identity::new(key);
    identity.tenant = Some(namespace.to_owned());
    if let Some((email, verified)) = user.primary_email() {
        identity.email = Some(email.to_owned());
        identity.email_verified = verified;
    }
    identity.display_name = user.display_name();
    identity.signup_method = user.oauth_provider().map(str::to_owned);
    Ok(identity)
}

fn clerk_user_id(id: &str) -> Result<(), Early> {
    let valid = !id.is_empty()
        && id.len() <= MAX_USER_ID_CHARS
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
    if valid {
        Ok(())
    } else {
        Err(Box::new(bad_request("data.id is not a Clerk user id")))
    }
}

fn unavailable(what: &str) -> Reply {
    Reply::error(503, &format!("Service Unavailable: {what}"))
}
