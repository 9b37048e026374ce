//! `POST /firebase/user-deleted`: what the Cloud Functions forwarder of
//! `integrations/firebase/` sends from `auth.user().onDelete`, signed with its own
//! secret. Blocking functions have no delete event, and Firebase's delete events only
//! reach Google Cloud targets, hence the forwarder.

use std::sync::Arc;

use serde::Deserialize;

use super::{DELETION_SECRET_FIELD, user_key};
use crate::clients::secrets::{Lease, SecretStore};
use crate::deadline::Deadline;
use crate::providers::deletion::Deletion;
use crate::providers::{bad_request, refusal};
use crate::provision::{Identity, Provisioner};
use crate::reply::Reply;
use crate::request::HttpRequest;
use crate::telemetry::Report;
use crate::verify::SignedRoutes;

/// The forwarder's body: `{"project", "tenant", "uid", "email"}`.
#[derive(Debug, Deserialize)]
struct UserDeleted {
    project: String,
    #[serde(default)]
    tenant: Option<String>,
    uid: String,
}

/// Firebase uids are at most 128 characters.
const MAX_UID_CHARS: usize = 128;

pub struct FirebaseDeletion {
    provisioner: Arc<Provisioner>,
    signed: SignedRoutes,
    project_id: String,
}

impl FirebaseDeletion {
    pub fn new(
        secrets: Arc<SecretStore>,
        provisioner: Arc<Provisioner>,
        project_id: String,
    ) -> Self {
        FirebaseDeletion {
            provisioner,
            signed: SignedRoutes::new(
                secrets,
                DELETION_SECRET_FIELD,
                "the Firebase deletion route",
            ),
            project_id,
        }
    }

    pub fn secret_loaded(&self, lease: &Lease) {
        self.signed.keys(lease);
    }

    pub async fn handle(&self, request: &HttpRequest, deadline: Deadline) -> (Reply, Report) {
        let verified = match self.signed.verify(request, deadline).await {
            Ok((verified, _)) => verified,
            Err(refused) => return refusal(&refused, "Firebase"),
        };
        let Ok(input) = serde_json::from_slice::<UserDeleted>(verified.body) else {
            return bad_request(
                "expected a JSON object with project, tenant and uid (the forwarder's body)",
            );
        };
        if input.project != self.project_id {
            // A forwarder of another project: its users' consumers are named apart.
            return bad_request("project does not match FIREBASE_PROJECT_ID");
        }
        if input.uid.is_empty() || input.uid.chars().count() > MAX_UID_CHARS {
            return bad_request("uid is empty or too long");
        }
        let tenant = input.tenant.filter(|t| !t.is_empty());
        let identity = match user_key(&self.project_id, tenant.as_deref(), &input.uid) {
            Ok(key) => Identity::new(key),
            Err(e) => return bad_request(&e.to_string()),
        };
        let (reply, report) = Deletion::run(&self.provisioner, &identity, deadline)
            .await
            .answer(&identity, "");
        (reply, report.event(Some(verified.id)))
    }
}
