//! Who a consumer belongs to, and the names that follow from it: the idempotency key,
//! the consumer name derived from it, and the metadata written on the consumer.
//!
//! This is the one file that spells the consumer name and the metadata keys. Changing
//! how a name is derived gives every existing user a second consumer.

use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// The namespace of every consumer name this project derives. Changing it would
/// give every existing user a second consumer: never change it.
const NAME_NAMESPACE: Uuid = Uuid::from_u128(0x6d1c_6a2e_58b4_4f0a_9a39_7c1e_2f4b_8d05);

/// An identity provider, as the core sees it: a name (written into the key and the
/// consumer's metadata) and the shape of its keys. Each provider declares its own.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Provider {
    name: &'static str,
    scope_parts: usize,
    colon_in: ColonIn,
}

/// Which one part of a provider's key may contain `:`, the key's separator. With at
/// most one such part, at a fixed place, every key splits back into its parts in one
/// way only, so two identities can never share a key (and a consumer).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ColonIn {
    /// No part: every part is free of `:`.
    Nowhere,
    /// The user id (Firebase uids may be any string).
    UserId,
    /// The scope part at this index (Supabase's issuer is a URL).
    Scope(usize),
}

impl Provider {
    /// `scope_parts`: how many parts come between the provider and the user id.
    pub const fn new(name: &'static str, scope_parts: usize, colon_in: ColonIn) -> Self {
        Provider {
            name,
            scope_parts,
            colon_in,
        }
    }

    pub fn name(self) -> &'static str {
        self.name
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    #[error("the user id is empty")]
    EmptyUserId,
    #[error("{0} contains ':', which would make the consumer name ambiguous")]
    Colon(&'static str),
    #[error("expected {expected} scope parts, got {got}")]
    ScopeParts { expected: usize, got: usize },
}

/// What makes a user unique: `<provider>:<scope…>:<user id>`, where the scope is
/// where the user id is unique (a Firebase project and tenant, a Supabase issuer, …).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserKey {
    provider: Provider,
    text: String,
    user_id: String,
}

impl UserKey {
    pub fn new(provider: Provider, scope: &[&str], user_id: &str) -> Result<Self, KeyError> {
        if scope.len() != provider.scope_parts {
            return Err(KeyError::ScopeParts {
                expected: provider.scope_parts,
                got: scope.len(),
            });
        }
        if user_id.is_empty() {
            return Err(KeyError::EmptyUserId);
        }
        if user_id.contains(':') && provider.colon_in != ColonIn::UserId {
            return Err(KeyError::Colon("the user id"));
        }
        for (i, part) in scope.iter().enumerate() {
            if part.contains(':') && provider.colon_in != ColonIn::Scope(i) {
                return Err(KeyError::Colon("the user's namespace"));
            }
        }
        let mut text = String::from(provider.name);
        for part in scope.iter().chain([&user_id]) {
            text.push(':');
            text.push_str(part);
        }
        Ok(UserKey {
            provider,
            text,
            user_id: user_id.to_owned(),
        })
    }

    pub fn provider(&self) -> Provider {
        self.provider
    }

    pub fn user_id(&self) -> &str {
        &self.user_id
    }

    /// The key itself, `<provider>:<scope…>:<user id>`.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// The deterministic consumer name: `c-` + UUID v5 over the key.
    pub fn consumer_name(&self) -> ConsumerName {
        ConsumerName(format!(
            "c-{}",
            Uuid::new_v5(&NAME_NAMESPACE, self.text.as_bytes())
        ))
    }
}

/// A consumer's name in Zuplo: only [`UserKey::consumer_name`] makes one.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ConsumerName(String);

impl ConsumerName {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for ConsumerName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// Zuplo's ID of a consumer (`csmr_…`): what the claims carry.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct ConsumerId(String);

impl ConsumerId {
    pub fn new(id: impl Into<String>) -> Self {
        ConsumerId(id.into())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for ConsumerId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// The metadata written on every consumer we create, and read back to tell ours from
/// one somebody else created under the same name.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConsumerMetadata {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provider: Option<String>,
    #[serde(rename = "userId", default, skip_serializing_if = "Option::is_none")]
    pub user_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tenant: Option<String>,
}

impl ConsumerMetadata {
    pub fn for_identity(identity: &Identity) -> Self {
        ConsumerMetadata {
            provider: Some(identity.key.provider.name.to_owned()),
            user_id: Some(identity.key.user_id.clone()),
            tenant: identity.tenant.clone(),
        }
    }

    /// Whether a consumer with this metadata is `identity`'s: it names the same user,
    /// and the same provider when it names one (consumers from before the provider
    /// was recorded name none).
    pub fn belongs_to(&self, identity: &Identity) -> bool {
        self.user_id.as_deref() == Some(identity.key.user_id())
            && self
                .provider
                .as_deref()
                .is_none_or(|p| p == identity.key.provider.name)
    }
}

/// The tag every consumer we create carries: what deletions and a prune go by, so
/// that nothing else in the bucket is ever touched.
pub const MANAGED_BY_TAG: (&str, &str) = ("managedBy", "zuplo-auth-hooks");
/// The tag naming the provider (the only ownership tag of consumers made before
/// `managedBy` existed).
pub const PROVIDER_TAG: &str = "provider";
/// The tag saying how the user signed up, where the provider says so.
pub const SIGNUP_METHOD_TAG: &str = "signupMethod";
/// Tag values are kept short; a method name longer than this is cut.
const MAX_TAG_VALUE_CHARS: usize = 64;

/// The tags written on `identity`'s consumer.
pub fn consumer_tags(identity: &Identity) -> std::collections::BTreeMap<String, String> {
    let mut tags = std::collections::BTreeMap::from([
        (MANAGED_BY_TAG.0.to_owned(), MANAGED_BY_TAG.1.to_owned()),
        (
            PROVIDER_TAG.to_owned(),
            identity.key.provider.name.to_owned(),
        ),
    ]);
    if let Some(method) = identity
        .signup_method
        .as_deref()
        .map(str::trim)
        .filter(|m| !m.is_empty())
    {
        let method: String = method.chars().take(MAX_TAG_VALUE_CHARS).collect();
        tags.insert(SIGNUP_METHOD_TAG.to_owned(), method);
    }
    tags
}

/// A verified user, as far as provisioning cares.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    pub key: UserKey,
    pub tenant: Option<String>,
    pub email: Option<String>,
    pub email_verified: bool,
    pub display_name: Option<String>,
    /// How the user signed up (`password`, `google.com`, an Auth0 connection, …).
    pub signup_method: Option<String>,
}

impl Identity {
    pub fn new(key: UserKey) -> Self {
        Identity {
            key,
            tenant: None,
            email: None,
            email_verified: false,
            display_name: None,
            signup_method: None,
        }
    }

    pub fn consumer_name(&self) -> ConsumerName {
        self.key.consumer_name()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const FIREBASE: Provider = Provider::new("firebase", 2, ColonIn::UserId);
    const SUPABASE: Provider = Provider::new("supabase", 1, ColonIn::Scope(0));

    fn firebase(tenant: &str, uid: &str) -> UserKey {
        UserKey::new(FIREBASE, &["demo", tenant], uid).unwrap()
    }

    #[test]
    fn consumer_names_are_deterministic_and_valid() {
        let a = firebase("", "uid-1").consumer_name();
        assert_eq!(a, firebase("", "uid-1").consumer_name());
        assert_ne!(a, firebase("", "uid-2").consumer_name());
        assert_eq!(a.as_str().len(), 38);
        assert!(a.as_str().starts_with("c-"));
        assert!(
            a.as_str()
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        );
    }

    #[test]
    fn names_differ_by_provider_namespace_and_tenant() {
        let base = firebase("", "u");
        let other_tenant = firebase("tenant-1", "u");
        let other_provider = UserKey::new(
            Provider::new("supabase", 2, ColonIn::UserId),
            &["demo", ""],
            "u",
        )
        .unwrap();
        assert_ne!(base.consumer_name(), other_tenant.consumer_name());
        assert_ne!(base.consumer_name(), other_provider.consumer_name());
    }

    #[test]
    fn name_is_pinned() {
        // Guards the namespace constant and the key layout: a change would duplicate
        // every user's consumer.
        let expected = Uuid::new_v5(&NAME_NAMESPACE, b"firebase:demo::uid-1");
        assert_eq!(
            firebase("", "uid-1").consumer_name().as_str(),
            format!("c-{expected}")
        );
        assert_eq!(
            NAME_NAMESPACE.to_string(),
            "6d1c6a2e-58b4-4f0a-9a39-7c1e2f4b8d05"
        );
        let supabase = UserKey::new(
            SUPABASE,
            &["https://abc.supabase.co/auth/v1"],
            "8c4b1a52-5d1e-4b7a-9a3e-2f1d0c9b8a71",
        )
        .unwrap();
        assert_eq!(
            supabase.as_str(),
            "supabase:https://abc.supabase.co/auth/v1:8c4b1a52-5d1e-4b7a-9a3e-2f1d0c9b8a71"
        );
    }

    #[test]
    fn keys_that_could_be_read_two_ways_are_refused() {
        // Tenant `t1` with uid `x:bob` is allowed (only the uid may hold a colon) …
        assert_eq!(firebase("t1", "x:bob").as_str(), "firebase:demo:t1:x:bob");
        // … so tenant `t1:x` with uid `bob`, which would give the same key, is not.
        assert_eq!(
            UserKey::new(FIREBASE, &["demo", "t1:x"], "bob"),
            Err(KeyError::Colon("the user's namespace"))
        );
        assert_eq!(
            UserKey::new(SUPABASE, &["https://a.example/auth/v1"], "x:y"),
            Err(KeyError::Colon("the user id"))
        );
        assert_eq!(
            UserKey::new(SUPABASE, &["https://a"], ""),
            Err(KeyError::EmptyUserId)
        );
        assert!(matches!(
            UserKey::new(SUPABASE, &["a", "b"], "u"),
            Err(KeyError::ScopeParts { .. })
        ));
    }

    #[test]
    fn metadata_round_trips_and_tells_owners_apart() {
        let mut me = Identity::new(firebase("", "uid-1"));
        me.tenant = Some("t".into());
        let written = serde_json::to_value(ConsumerMetadata::for_identity(&me)).unwrap();
        assert_eq!(
            written,
            serde_json::json!({"provider": "firebase", "userId": "uid-1", "tenant": "t"})
        );
        let read = |v: serde_json::Value| serde_json::from_value::<ConsumerMetadata>(v).unwrap();
        assert!(read(written).belongs_to(&me));
        assert!(read(serde_json::json!({"userId": "uid-1"})).belongs_to(&me));
        assert!(!read(serde_json::json!({"userId": "uid-2"})).belongs_to(&me));
        assert!(!read(serde_json::json!({})).belongs_to(&me));
        assert!(
            !read(serde_json::json!({"userId": "uid-1", "provider": "supabase"})).belongs_to(&me)
        );
    }
}
