//! `POST /supabase/user-deleted`: what `integrations/supabase/user-deleted.sql` sends
//! from a trigger on `auth.users`, signed inside Postgres with its own secret.
//!
//! A deletion carries no access token, so no issuer: consumer names come from
//! `SUPABASE_NAMESPACE`, which this route therefore requires.

use std::sync::Arc;

use serde::Deserialize;

use super::DELETION_SECRET_FIELD;
use crate::clients::secrets::{Lease, SecretStore};
use crate::deadline::Deadline;
use crate::providers::deletion::Deletion;
use crate::providers::{bad_request, refusal};
use crate::provision::{Identity, Provisioner};
use crate::reply::Reply;
use crate::request::HttpRequest;
use crate::telemetry::{RejectReason, Report};
use crate::verify::SignedRoutes;

/// The trigger's body: `{"event", "user_id", "email"}`.
#[derive(Debug, Deserialize)]
struct UserDeleted {
    event: String,
    user_id: String,
}

pub struct SupabaseDeletion {
    provisioner: Arc<Provisioner>,
    signed: SignedRoutes,
    namespace: Option<String>,
}

impl SupabaseDeletion {
    pub fn new(
        secrets: Arc<SecretStore>,
        provisioner: Arc<Provisioner>,
        namespace: Option<String>,
    ) -> Self {
        SupabaseDeletion {
            provisioner,
            signed: SignedRoutes::new(
                secrets,
                DELETION_SECRET_FIELD,
                "the Supabase deletion route",
            ),
            namespace,
        }
    }

    pub fn secret_loaded(&self, lease: &Lease) {
        self.signed.keys(lease);
    }

    pub async fn handle(&self, request: &HttpRequest, deadline: Deadline) -> (Reply, Report) {
        let verified = match self.signed.verify(request, deadline).await {
            Ok((verified, _)) => verified,
            Err(refused) => return refusal(&refused, "Supabase"),
        };
        let Some(namespace) = self.namespace.as_deref() else {
            return (
                Reply::error(
                    500,
                    "Internal Server Error: SUPABASE_NAMESPACE is not set; deletions need it to name consumers",
                ),
                Report::rejected(RejectReason::Config, "SUPABASE_NAMESPACE is not set"),
            );
        };
        let Ok(input) = serde_json::from_slice::<UserDeleted>(verified.body) else {
            return bad_request(
                "expected a JSON object with event and user_id (user-deleted.sql's body)",
            );
        };
        if !matches!(input.event.as_str(), "user.deleted" | "user.soft_deleted") {
            return bad_request("event must be user.deleted or user.soft_deleted");
        }
        if input.user_id.is_empty() || input.user_id.len() > 255 {
            return bad_request("user_id is empty or too long");
        }
        let identity = match super::user_key(namespace, &input.user_id) {
            Ok(key) => Identity::new(key),
            Err(e) => return bad_request(&e.to_string()),
        };
        let (reply, report) = Deletion::run(&self.provisioner, &identity, deadline)
            .await
            .answer(&identity, "");
        (reply, report.event(Some(verified.id)))
    }
}
