//! The two Auth0 routes: a verified request becomes at most one call to the core.
//!
//! Answers: the Action reads only the status and `consumer_id`, and decides by its own
//! `FAIL_MODE` what a failure means for the login, so a failure is a 503 that names
//! nothing internal. Event Streams retry only 5xx (three times within about 7 s) and
//! drop an event on any 4xx, so a deletion that failed transiently is a 503 too.

use std::sync::Arc;

use serde_json::json;

use super::payload::{PostLogin, StreamEvent};
use super::{ACTION_SECRET_FIELD, EVENTS_TOKEN_FIELD, user_key};
use crate::clients::secrets::Lease;
use crate::deadline::Deadline;
use crate::providers::Shared;
use crate::providers::deletion::Deletion;
use crate::providers::{bad_request, refusal};
use crate::provision::{Expect, Identity, Provisioner};
use crate::reply::Reply;
use crate::request::HttpRequest;
use crate::telemetry::{Outcome, Report};
use crate::verify::{SignedRoutes, TokenRoutes};

/// Auth0 user ids are `<connection>|<id>`, far shorter than this in practice.
const MAX_ID_CHARS: usize = 512;

pub struct Auth0Routes {
    provisioner: Arc<Provisioner>,
    signed: SignedRoutes,
    tokens: TokenRoutes,
}

impl Auth0Routes {
    pub fn new(shared: &Shared) -> Self {
        Auth0Routes {
            provisioner: shared.provisioner.clone(),
            signed: SignedRoutes::new(
                shared.secrets.clone(),
                ACTION_SECRET_FIELD,
                "the Auth0 post-login route",
            ),
            tokens: TokenRoutes::new(
                shared.secrets.clone(),
                EVENTS_TOKEN_FIELD,
                "the Auth0 events route",
            ),
        }
    }

    pub fn secret_loaded(&self, lease: &Lease) {
        self.signed.keys(lease);
        self.tokens.tokens(lease);
    }

    /// `POST /auth0/post-login`: the consumer ID for the Action to store and put in
    /// the tokens.
    pub async fn post_login(&self, request: &HttpRequest, deadline: Deadline) -> (Reply, Report) {
        let verified = match self.signed.verify(request, deadline).await {
            Ok((verified, _)) => verified,
            Err(refused) => return refusal(&refused, "Auth0"),
        };
        let Ok(input) = serde_json::from_slice::<PostLogin>(verified.body) else {
            return bad_request(
                "expected a JSON object with user_id and tenant (the post-login Action's call)",
            );
        };
        if let Err(e) =
            plausible("user_id", &input.user_id).and_then(|()| plausible("tenant", &input.tenant))
        {
            return bad_request(&e);
        }
        let key = match user_key(&input.tenant, &input.user_id) {
            Ok(key) => key,
            Err(e) => return bad_request(&e.to_string()),
        };
        let mut identity = Identity::new(key);
        identity.tenant = Some(input.tenant.clone());
        identity.email = input.email.filter(|e| !e.is_empty());
        identity.email_verified = input.email_verified == Some(true);
        identity.display_name = input.name.filter(|n| !n.is_empty());
        identity.signup_method = input.connection.filter(|c| !c.is_empty());
        // The Action calls only when app_metadata lacks the ID: almost always a first login.
        let attempt = self
            .provisioner
            .attempt(&identity, Expect::NewUser, deadline)
            .await;
        let report = Report::deferred_attempt(&attempt)
            .event(Some(verified.id))
            .user(&input.user_id);
        let reply = match &attempt.result {
            Ok(provisioned) => Reply::ok(json!({"consumer_id": provisioned.consumer_id.as_str()})),
            Err(_) => Reply::error(
                503,
                "Service Unavailable: the API consumer could not be provisioned now",
            ),
        };
        (reply, report)
    }

    /// `POST /auth0/events`: an Event Stream's delivery; only `user.deleted` acts.
    pub async fn events(&self, request: &HttpRequest, deadline: Deadline) -> (Reply, Report) {
        if let Err(refused) = self.tokens.check(request, deadline).await {
            return refusal(&refused, "Auth0");
        }
        let Ok(event) = serde_json::from_slice::<StreamEvent>(&request.body) else {
            return bad_request("expected one CloudEvent from an Auth0 Event Stream");
        };
        let event_id = event.id.clone();
        let ignored = |reason: &str| {
            (
                Reply::ok(json!({"status": "ignored"})),
                Report::new(Outcome::Skipped)
                    .reason(reason)
                    .event(event_id.as_deref()),
            )
        };
        if event.a0purpose.as_deref() == Some("test") {
            return ignored("a test delivery");
        }
        if event.kind != "user.deleted" {
            return ignored(&format!("event type {} is not handled", event.kind));
        }
        let (Some(user_id), Some(tenant)) = (event.user_id(), event.tenant()) else {
            return bad_request("a user.deleted event needs data.object.user_id and a0tenant");
        };
        if let Err(e) = plausible("user_id", user_id).and_then(|()| plausible("tenant", tenant)) {
            return bad_request(&e);
        }
        let identity = match user_key(tenant, user_id) {
            Ok(key) => Identity::new(key),
            Err(e) => return bad_request(&e.to_string()),
        };
        let (reply, report) = Deletion::run(&self.provisioner, &identity, deadline)
            .await
            .answer(&identity, "");
        (reply, report.event(event_id.as_deref()))
    }
}

/// An id we will put in a consumer's name and metadata: present, bounded, printable.
fn plausible(field: &str, value: &str) -> Result<(), String> {
    if value.is_empty() || value.chars().count() > MAX_ID_CHARS {
        return Err(format!("{field} is empty or too long"));
    }
    if value.chars().any(char::is_control) {
        return Err(format!("{field} contains control characters"));
    }
    Ok(())
}
