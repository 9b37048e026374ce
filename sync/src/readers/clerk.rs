//! Clerk: pages of the Backend API's `GET /v1/users`, each a JSON array of User objects
//! (an object with a `data` array is taken too).
//!
//! The identity is the one the webhook builds (`webhook.rs`, `identity`), from the very
//! type it reads (`payload::User`): key from the namespace and `id`; the namespace also
//! in `identity.tenant`; the primary e-mail and whether it is verified; first and last
//! name, else the username; the first external account's provider. No user is skipped.

use std::path::Path;

use serde_json::{Map, Value};
use zuplo_auth_hooks::providers::clerk::payload::User;
use zuplo_auth_hooks::providers::clerk::user_key;
use zuplo_auth_hooks::provision::Identity;

use super::ExportUser;
use super::record::{FieldError, Record};
use super::stream::{Format, Layout};

/// The fields `payload::User` reads (but `public_metadata`, which only the webhook's
/// "already provisioned" check uses).
const FIELDS: &[&str] = &[
    "id",
    "primary_email_address_id",
    "email_addresses",
    "first_name",
    "last_name",
    "username",
    "external_accounts",
];

/// As the webhook: Clerk ids are `user_` and 27 base62 characters.
const MAX_USER_ID_CHARS: usize = 128;

pub(crate) struct Clerk {
    pub namespace: String,
}

impl Format for Clerk {
    fn layout(&self) -> Layout {
        Layout::Json {
            key: "data",
            bare: true,
        }
    }

    fn fields(&self) -> &'static [&'static str] {
        FIELDS
    }

    fn convert(
        &self,
        mut record: Record,
        _file: &Path,
        _kind: Option<&str>,
    ) -> Result<ExportUser, FieldError> {
        record.expect_object()?;
        let id = record.required_str("id")?;
        // The webhook answers 400 to any other id, so never provisions it.
        let valid = id.len() <= MAX_USER_ID_CHARS
            && id
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
        if !valid {
            return Err(record.field_error("id", "id", "not a Clerk user id"));
        }
        let key = user_key(&self.namespace, id).map_err(|e| record.field_error("id", "id", e))?;
        check_types(&record)?;

        // The checks above make this conversion succeed; it goes through `payload::User`
        // so that the identity is built by the webhook's own code.
        let mut fields = Map::new();
        for name in FIELDS {
            if let Some(value) = record.take(name) {
                fields.insert((*name).to_owned(), value);
            }
        }
        let user: User = serde_json::from_value(Value::Object(fields))
            .map_err(|e| record.error(format!("not a Clerk user: {e}")))?;

        let mut identity = Identity::new(key);
        identity.tenant = Some(self.namespace.clone());
        if let Some((email, verified)) = user.primary_email() {
            identity.email = Some(email.to_owned());
            identity.email_verified = verified;
        }
        identity.display_name = user.display_name();
        identity.signup_method = user.oauth_provider().map(str::to_owned);
        Ok(ExportUser {
            identity,
            skip: None,
        })
    }
}

/// The types `payload::User` expects, checked field by field so that an error names
/// the field.
fn check_types(record: &Record) -> Result<(), FieldError> {
    for name in [
        "primary_email_address_id",
        "first_name",
        "last_name",
        "username",
    ] {
        record.optional_str(name)?;
    }
    if let Some(items) = record.optional_array("email_addresses")? {
        let at = "email_addresses";
        let addresses = record.objects_in(
            at,
            items,
            &["id", "email_address"],
            &["id", "email_address"],
        )?;
        for (i, address) in addresses.iter().enumerate() {
            let here = format!("{at}[{i}].verification");
            match address.get("verification") {
                None | Some(Value::Null) => {}
                Some(Value::Object(verification)) => match verification.get("status") {
                    None | Some(Value::Null) | Some(Value::String(_)) => {}
                    Some(other) => {
                        return Err(record.wrong_type(
                            at,
                            &format!("{here}.status"),
                            "a string",
                            other,
                        ));
                    }
                },
                Some(other) => return Err(record.wrong_type(at, &here, "an object", other)),
            }
        }
    }
    if let Some(items) = record.optional_array("external_accounts")? {
        record.objects_in("external_accounts", items, &["provider"], &[])?;
    }
    Ok(())
}
