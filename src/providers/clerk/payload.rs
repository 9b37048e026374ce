//! Clerk's webhook envelope and the parts of its User object we read. Unknown fields
//! are ignored, and everything Clerk documents as nullable or optional is optional
//! here (`email_addresses`, `verification`, `private_metadata`, …).

use serde::Deserialize;
use serde_json::{Map, Value};

/// `{data, object:"event", type, timestamp, instance_id, event_attributes?}`.
#[derive(Debug, Clone, Deserialize)]
pub struct Envelope {
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(default)]
    pub instance_id: Option<String>,
    /// A user for `user.*` events; read per event type (`user.deleted` carries only
    /// `{object, id, deleted, external_id?}`).
    #[serde(default)]
    pub data: Value,
}

#[derive(Debug, Clone, Deserialize)]
pub struct User {
    pub id: String,
    #[serde(default)]
    pub primary_email_address_id: Option<String>,
    #[serde(default)]
    pub email_addresses: Option<Vec<EmailAddress>>,
    #[serde(default)]
    pub public_metadata: Option<Map<String, Value>>,
    #[serde(default)]
    pub first_name: Option<String>,
    #[serde(default)]
    pub last_name: Option<String>,
    #[serde(default)]
    pub username: Option<String>,
    #[serde(default)]
    pub external_accounts: Option<Vec<ExternalAccount>>,
}

/// An OAuth account linked to the user (`oauth_google`, …).
#[derive(Debug, Clone, Deserialize)]
pub struct ExternalAccount {
    #[serde(default)]
    pub provider: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct EmailAddress {
    pub id: String,
    pub email_address: String,
    #[serde(default)]
    pub verification: Option<Verification>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Verification {
    #[serde(default)]
    pub status: Option<String>,
}

/// `user.deleted`'s data.
#[derive(Debug, Clone, Deserialize)]
pub struct DeletedUser {
    #[serde(default)]
    pub id: Option<String>,
}

impl User {
    /// The primary address, and whether Clerk verified it.
    pub fn primary_email(&self) -> Option<(&str, bool)> {
        let primary = self.primary_email_address_id.as_deref()?;
        self.email_addresses
            .as_deref()?
            .iter()
            .find(|e| e.id == primary)
            .map(|e| {
                let verified =
                    e.verification.as_ref().and_then(|v| v.status.as_deref()) == Some("verified");
                (e.email_address.as_str(), verified)
            })
    }

    /// The consumer ID already written under `claim`, if any.
    pub fn existing_consumer(&self, claim: &str) -> Option<&str> {
        self.public_metadata
            .as_ref()?
            .get(claim)?
            .as_str()
            .filter(|id| !id.is_empty())
    }

    /// The OAuth provider the user came with, if any.
    pub fn oauth_provider(&self) -> Option<&str> {
        self.external_accounts
            .as_deref()?
            .first()?
            .provider
            .as_deref()
            .filter(|p| !p.is_empty())
    }

    pub fn display_name(&self) -> Option<String> {
        let full = [self.first_name.as_deref(), self.last_name.as_deref()]
            .into_iter()
            .flatten()
            .filter(|s| !s.is_empty())
            .collect::<Vec<_>>()
            .join(" ");
        if full.is_empty() {
            self.username.clone().filter(|u| !u.is_empty())
        } else {
            Some(full)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Clerk's documented `user.created` sample (docs, webhooks overview).
    const DOCS_USER_CREATED: &str = r#"{"data":{"birthday":"","created_at":1654012591514,
        "email_addresses":[{"email_address":"example@example.org","id":"idn_29w83yL7CwVlJXylYLxcslromF1",
        "linked_to":[],"object":"email_address","verification":{"status":"verified","strategy":"ticket"}}],
        "external_accounts":[],"external_id":"567772","first_name":"Example","gender":"",
        "id":"user_29w83sxmDNGwOuEthce5gg56FcC","image_url":"https://img.clerk.com/xxxxxx","last_name":"Example",
        "last_sign_in_at":1654012591514,"object":"user","password_enabled":true,"phone_numbers":[],
        "primary_email_address_id":"idn_29w83yL7CwVlJXylYLxcslromF1","primary_phone_number_id":null,
        "primary_web3_wallet_id":null,"private_metadata":{},"profile_image_url":"https://www.gravatar.com/avatar?d=mp",
        "public_metadata":{},"two_factor_enabled":false,"unsafe_metadata":{},"updated_at":1654012591835,
        "username":null,"web3_wallets":[]},"instance_id":"ins_123","object":"event",
        "timestamp":1654012591835,"type":"user.created"}"#;

    #[test]
    fn reads_the_documented_sample() {
        let envelope: Envelope = serde_json::from_str(DOCS_USER_CREATED).unwrap();
        assert_eq!(envelope.kind, "user.created");
        assert_eq!(envelope.instance_id.as_deref(), Some("ins_123"));
        let user: User = serde_json::from_value(envelope.data).unwrap();
        assert_eq!(user.id, "user_29w83sxmDNGwOuEthce5gg56FcC");
        assert_eq!(user.primary_email(), Some(("example@example.org", true)));
        assert_eq!(user.display_name().as_deref(), Some("Example Example"));
        assert_eq!(user.existing_consumer("zuplo_consumer_id"), None);
    }

    #[test]
    fn nullable_parts_are_optional() {
        // The OpenAPI example: no addresses, private_metadata null, verification null.
        let user: User = serde_json::from_str(
            r#"{"object":"user","id":"user_2g7","primary_email_address_id":"idn_1","email_addresses":[
            {"id":"idn_1","email_address":"a@example.com","verification":null}],
            "private_metadata":null,"public_metadata":{"zuplo_consumer_id":"csmr_1"},"username":"jd"}"#,
        )
        .unwrap();
        assert_eq!(user.primary_email(), Some(("a@example.com", false)));
        assert_eq!(user.existing_consumer("zuplo_consumer_id"), Some("csmr_1"));
        assert_eq!(user.display_name().as_deref(), Some("jd"));
        let phone_only: User =
            serde_json::from_str(r#"{"id":"user_3","primary_email_address_id":null}"#).unwrap();
        assert_eq!(phone_only.primary_email(), None);
        assert_eq!(phone_only.display_name(), None);
        // An unverified primary address is reported as such.
        let unverified: User = serde_json::from_str(
            r#"{"id":"u","primary_email_address_id":"i","email_addresses":[{"id":"i","email_address":"x@y.z","verification":{"status":"unverified"}}]}"#,
        )
        .unwrap();
        assert_eq!(unverified.primary_email(), Some(("x@y.z", false)));
    }
}
