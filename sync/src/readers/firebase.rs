//! Firebase / Identity Platform: `firebase auth:export` JSON (`{"users": [ … ]}`, no
//! tenant), and the emulator's `accounts.json` / `accounts-<tenantId>.json` (the raw
//! `accounts:batchGet` answer, `{"kind":…,"users":[…]}`, records with `tenantId`).
//!
//! The identity is the one the blocking functions' hook builds (`hooks.rs`, `identity`):
//! key from project, tenant and `localId`; the tenant also in `identity.tenant`; e-mail,
//! its verification and the display name as they are.

use std::path::Path;

use zuplo_auth_hooks::providers::firebase::user_key;
use zuplo_auth_hooks::provision::{Identity, KeyError};

use super::record::{FieldError, Record, non_empty};
use super::stream::{Format, Layout};
use super::{ExportUser, SKIP_ANONYMOUS};

/// The fields read; the others (password hashes, salts, `customAttributes`, …) are
/// skipped unread.
const FIELDS: &[&str] = &[
    "localId",
    "email",
    "emailVerified",
    "displayName",
    "phoneNumber",
    "providerUserInfo",
    "tenantId",
];

/// The `kind` of the emulator's (and the REST API's) account lists: only such a file
/// is taken to name its tenant (`accounts-<tenantId>.json`); an `auth:export` file of
/// any name never is.
const ACCOUNT_LIST_KIND: &str = "identitytoolkit#DownloadAccountResponse";

pub(crate) struct Firebase {
    pub project: String,
    /// For records without `tenantId` (already non-empty or `None`).
    pub tenant: Option<String>,
}

impl Format for Firebase {
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
        file: &Path,
        kind: Option<&str>,
    ) -> Result<ExportUser, FieldError> {
        record.expect_object()?;
        let uid = record.required_str("localId")?;
        let email = record.optional_str("email")?;
        let email_verified = record.optional_bool("emailVerified")?.unwrap_or(false);
        let display_name = record.optional_str("displayName")?;
        let phone = record.optional_str("phoneNumber")?;
        let providers = match record.optional_array("providerUserInfo")? {
            Some(items) => {
                record.objects_in("providerUserInfo", items, &["providerId"], &["providerId"])?
            }
            None => Vec::new(),
        };
        let record_tenant = non_empty(record.optional_str("tenantId")?);
        let tenant = match record_tenant {
            Some(t) => Some(t.to_owned()),
            None => file_tenant(file, kind).or_else(|| self.tenant.clone()),
        };

        let key = user_key(&self.project, tenant.as_deref(), uid).map_err(|e| match e {
            KeyError::Colon("the user's namespace") if record_tenant.is_some() => {
                record.field_error("tenantId", "tenantId", e)
            }
            KeyError::Colon("the user's namespace") => {
                record.error(format!("the tenant from the file name: {e}"))
            }
            e => record.field_error("localId", "localId", e),
        })?;

        // Anonymous users: no hook fires for them (blocking functions do not run for
        // anonymous sign-ups). `auth:export` drops `password` and `phone` entries from
        // `providerUserInfo`, so an empty list alone does not make a user anonymous.
        let anonymous =
            non_empty(email).is_none() && non_empty(phone).is_none() && providers.is_empty();

        let mut identity = Identity::new(key);
        identity.tenant = tenant;
        identity.email = email.map(str::to_owned);
        identity.email_verified = email_verified;
        identity.display_name = display_name.map(str::to_owned);
        identity.signup_method = signup_method(&providers, email, phone);
        // Disabled users (`"disabled": true`) are provisioned: the hook provisions at
        // sign-up, before any disabling, so a disabled user who signed up after the hook
        // has a consumer too. Whether to keep it is the prune's and the operator's call.
        Ok(ExportUser {
            identity,
            skip: anonymous.then_some(SKIP_ANONYMOUS),
        })
    }
}

/// The hook records the token's `sign_in_method`, which no export carries. The nearest
/// thing: the first linked provider (`google.com`, …; the emulator's files also list
/// `password` and `phone`), else `password` for a user with an e-mail (what
/// `auth:export` leaves of a password user), else `phone` for a user with a number.
fn signup_method(
    providers: &[&serde_json::Map<String, serde_json::Value>],
    email: Option<&str>,
    phone: Option<&str>,
) -> Option<String> {
    let linked = providers
        .first()
        .and_then(|p| p.get("providerId"))
        .and_then(serde_json::Value::as_str)
        .filter(|id| !id.is_empty());
    if let Some(id) = linked {
        Some(id.to_owned())
    } else if non_empty(email).is_some() {
        Some("password".into())
    } else if non_empty(phone).is_some() {
        Some("phone".into())
    } else {
        None
    }
}

/// The tenant an emulator file's name gives: `accounts-<tenantId>.json`.
fn file_tenant(file: &Path, kind: Option<&str>) -> Option<String> {
    if kind != Some(ACCOUNT_LIST_KIND) {
        return None;
    }
    let name = file.file_name()?.to_str()?;
    let tenant = name.strip_prefix("accounts-")?.strip_suffix(".json")?;
    (!tenant.is_empty()).then(|| tenant.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_account_lists_name_their_tenant() {
        let file = Path::new("/x/accounts-h21ik.json");
        assert_eq!(
            file_tenant(file, Some(ACCOUNT_LIST_KIND)).as_deref(),
            Some("h21ik")
        );
        assert_eq!(file_tenant(file, None), None);
        assert_eq!(
            file_tenant(Path::new("accounts.json"), Some(ACCOUNT_LIST_KIND)),
            None
        );
        assert_eq!(
            file_tenant(Path::new("accounts-.json"), Some(ACCOUNT_LIST_KIND)),
            None
        );
    }
}
