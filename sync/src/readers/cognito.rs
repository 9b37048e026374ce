//! Cognito: pages of `aws cognito-idp list-users` (the `ListUsers` answer),
//! `{"Users":[{"Username","Attributes":[{"Name","Value"}…],"Enabled","UserStatus",…}],
//! "PaginationToken":…}`; the CLI's auto-paginated output is one such page.
//!
//! The identity is the one the triggers build (`triggers.rs`, `identity`): key from the
//! pool id and the `sub` attribute; `email`; `email_verified` when it is the string
//! `"true"`; `name`; the identity provider of a federated user from `identities`.
//!
//! Every user is provisioned, whatever `UserStatus` (`CONFIRMED`, `EXTERNAL_PROVIDER`,
//! `FORCE_CHANGE_PASSWORD`, …) and `Enabled` say: the triggers provision at
//! confirmation or first token, and a user who is now disabled or not yet confirmed
//! still exists.

use std::path::Path;

use serde_json::{Map, Value};
use zuplo_auth_hooks::providers::cognito::user_key;
use zuplo_auth_hooks::provision::Identity;

use super::ExportUser;
use super::record::{FieldError, Record};
use super::stream::{Format, Layout};

const FIELDS: &[&str] = &["Attributes"];

pub(crate) struct Cognito {
    pub user_pool_id: String,
}

impl Format for Cognito {
    fn layout(&self) -> Layout {
        Layout::Json {
            key: "Users",
            bare: false,
        }
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
        let Some(items) = record.optional_array("Attributes")? else {
            return Err(record.field_error(
                "Attributes",
                "Attributes",
                "missing (the user's sub is one of them)",
            ));
        };
        let attributes = record.objects_in("Attributes", items, &["Name", "Value"], &["Name"])?;
        let attribute = |name: &str| attribute(&attributes, name);
        let sub = match attribute("sub") {
            Some("") => {
                return Err(record.field_error(
                    "Attributes",
                    "Attributes",
                    "the sub attribute is empty",
                ));
            }
            Some(sub) => sub,
            None => {
                return Err(record.field_error(
                    "Attributes",
                    "Attributes",
                    "no sub attribute (list the users without --attributes-to-get, or include sub)",
                ));
            }
        };
        let key = user_key(&self.user_pool_id, sub)
            .map_err(|e| record.field_error("Attributes", "Attributes", format!("sub: {e}")))?;

        let mut identity = Identity::new(key);
        identity.email = attribute("email").map(str::to_owned);
        // Attribute values are strings.
        identity.email_verified = attribute("email_verified") == Some("true");
        identity.display_name = attribute("name").map(str::to_owned);
        identity.signup_method = attribute("identities").and_then(identity_provider);
        Ok(ExportUser {
            identity,
            skip: None,
        })
    }
}

/// The value of the attribute `name` (the last one, if repeated), if it has one.
fn attribute<'a>(attributes: &[&'a Map<String, Value>], name: &str) -> Option<&'a str> {
    attributes
        .iter()
        .rev()
        .find(|a| a.get("Name").and_then(Value::as_str) == Some(name))
        .and_then(|a| a.get("Value"))
        .and_then(Value::as_str)
}

/// A federated user's identity provider (`Google`, a SAML provider's name, …), from the
/// `identities` attribute (a JSON string), as the triggers read it: anything unreadable
/// is no provider.
fn identity_provider(identities: &str) -> Option<String> {
    let identities: Value = serde_json::from_str(identities).ok()?;
    identities
        .get(0)?
        .get("providerName")?
        .as_str()
        .map(str::to_owned)
}
