//! Auth0: the output of a user export job (`POST /api/v2/jobs/users-exports`, format
//! `json`), which is NDJSON: one user object per line, with the fields the job asked
//! for. `user_id` is required; `email`, `email_verified`, `name` and the connection are
//! read when present. The job's file is gzip-compressed: gunzip it first.
//!
//! The identity is the one the post-login route builds (`handlers.rs`, `post_login`):
//! key from the tenant and `user_id`; the tenant also in `identity.tenant`; e-mail and
//! name if not empty; verified only when `email_verified` is `true`; the connection as
//! the sign-up method. No user is skipped.

use std::path::Path;

use zuplo_auth_hooks::providers::auth0::user_key;
use zuplo_auth_hooks::provision::Identity;

use super::ExportUser;
use super::record::{FieldError, Record, non_empty};
use super::stream::{Format, Layout};

/// `identities` when the job exported it whole; `identities[0].connection` when it
/// exported that field under its own name, and `connection` under that `export_as`.
const FIELDS: &[&str] = &[
    "user_id",
    "email",
    "email_verified",
    "name",
    "identities",
    "identities[0].connection",
    "connection",
];

/// As the post-login route: longer ids are not Auth0's.
const MAX_ID_CHARS: usize = 512;

pub(crate) struct Auth0 {
    pub tenant: String,
}

impl Format for Auth0 {
    fn layout(&self) -> Layout {
        Layout::Lines
    }

    fn fields(&self) -> &'static [&'static str] {
        FIELDS
    }

    fn convert(
        &self,
        record: Record,
        _file: &Path,
        _kind: Option<&str>,
    ) -> Result<ExportUser, FieldError> {
        record.expect_object()?;
        let user_id = record.required_str("user_id")?;
        // The route refuses these, so never provisions them.
        if user_id.chars().count() > MAX_ID_CHARS {
            return Err(record.field_error("user_id", "user_id", "too long"));
        }
        if user_id.chars().any(char::is_control) {
            return Err(record.field_error("user_id", "user_id", "contains control characters"));
        }
        let email = non_empty(record.optional_str("email")?);
        let email_verified = record.optional_bool("email_verified")?;
        let name = non_empty(record.optional_str("name")?);
        let connection = connection(&record)?;
        let key = user_key(&self.tenant, user_id)
            .map_err(|e| record.field_error("user_id", "user_id", e))?;

        let mut identity = Identity::new(key);
        identity.tenant = Some(self.tenant.clone());
        identity.email = email.map(str::to_owned);
        identity.email_verified = email_verified == Some(true);
        identity.display_name = name.map(str::to_owned);
        identity.signup_method = connection.map(str::to_owned);
        Ok(ExportUser {
            identity,
            skip: None,
        })
    }
}

/// The connection the user signed up with: the first identity's, as `event.connection`
/// is at a first login.
fn connection(record: &Record) -> Result<Option<&str>, FieldError> {
    if let Some(items) = record.optional_array("identities")? {
        let identities = record.objects_in("identities", items, &["connection"], &[])?;
        let first = identities
            .first()
            .and_then(|i| i.get("connection"))
            .and_then(serde_json::Value::as_str);
        if let Some(connection) = non_empty(first) {
            return Ok(Some(connection));
        }
    }
    for name in ["identities[0].connection", "connection"] {
        if let Some(connection) = non_empty(record.optional_str(name)?) {
            return Ok(Some(connection));
        }
    }
    Ok(None)
}
