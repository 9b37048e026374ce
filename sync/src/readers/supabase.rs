//! Supabase: pages of the Admin API's `GET /auth/v1/admin/users`, each
//! `{"users":[User…],"aud":"authenticated"}` (`internal/models/user.go`).
//!
//! The identity is the one the custom-access-token hook builds (`hooks.rs`,
//! `custom_access_token`): key from the namespace and the user id; the e-mail if not
//! empty; never verified; the display name from `user_metadata.full_name` or `.name`.

use std::path::Path;

use serde_json::Value;
use zuplo_auth_hooks::providers::supabase::user_key;
use zuplo_auth_hooks::provision::Identity;

use super::record::{FieldError, Record, non_empty};
use super::stream::{Format, Layout};
use super::{ExportUser, SKIP_ANONYMOUS, SKIP_DELETED};

const FIELDS: &[&str] = &[
    "id",
    "email",
    "user_metadata",
    "app_metadata",
    "is_anonymous",
    "deleted_at",
];

/// The hook refuses longer user ids (they are UUIDs).
const MAX_USER_ID_CHARS: usize = 255;

pub(crate) struct Supabase {
    pub issuer: String,
}

impl Format for Supabase {
    fn layout(&self) -> Layout {
        Layout::Json {
            key: "users",
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
        let id = record.required_str("id")?;
        if id.chars().count() > MAX_USER_ID_CHARS {
            return Err(record.field_error("id", "id", "too long"));
        }
        let email = non_empty(record.optional_str("email")?);
        let user_metadata = record.optional_object("user_metadata")?;
        let app_metadata = record.optional_object("app_metadata")?;
        let anonymous = record.optional_bool("is_anonymous")?.unwrap_or(false);
        let deleted = match record.value("deleted_at") {
            None => false,
            Some(Value::String(_)) => true,
            Some(other) => {
                return Err(record.wrong_type("deleted_at", "deleted_at", "a string", other));
            }
        };
        let key = user_key(&self.issuer, id).map_err(|e| record.field_error("id", "id", e))?;

        let mut identity = Identity::new(key);
        identity.email = email.map(str::to_owned);
        // As in the hook: nothing server-set proves the address (the user can write
        // `user_metadata.email_verified`), so it never counts as verified.
        identity.email_verified = false;
        // As the hook's `display_name`: metadata of any other type is ignored.
        identity.display_name = user_metadata
            .and_then(|m| {
                ["full_name", "name"]
                    .iter()
                    .find_map(|k| m.get(*k).and_then(Value::as_str))
            })
            .filter(|s| !s.is_empty())
            .map(str::to_owned);
        identity.signup_method = signup_method(
            app_metadata
                .and_then(|m| m.get("provider"))
                .and_then(Value::as_str),
        );
        // A soft-deleted user cannot sign in again; an anonymous one is skipped by the
        // hook (unless PROVISION_ANONYMOUS, which a backfill does not follow).
        let skip = if deleted {
            Some(SKIP_DELETED)
        } else if anonymous {
            Some(SKIP_ANONYMOUS)
        } else {
            None
        };
        // `banned_until` is not read: a banned user was provisioned at their first token
        // like anyone else.
        Ok(ExportUser { identity, skip })
    }
}

/// The hook records the token's `authentication_method` (`password`, `otp`, `oauth`,
/// `sso/saml`, …), which no export carries. `app_metadata.provider` (how the user
/// signed up) maps onto it only where it is unambiguous: an OAuth provider is `oauth`,
/// `sso:<id>` is `sso/saml`; `email` (password, magic link or OTP) and `phone` give none.
fn signup_method(provider: Option<&str>) -> Option<String> {
    match provider? {
        "" | "email" | "phone" | "anonymous" => None,
        p if p.starts_with("sso:") => Some("sso/saml".into()),
        _ => Some("oauth".into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signup_methods_map_only_where_unambiguous() {
        assert_eq!(signup_method(Some("google")).as_deref(), Some("oauth"));
        assert_eq!(signup_method(Some("sso:0b7c")).as_deref(), Some("sso/saml"));
        assert_eq!(signup_method(Some("email")), None);
        assert_eq!(signup_method(Some("phone")), None);
        assert_eq!(signup_method(None), None);
    }
}
