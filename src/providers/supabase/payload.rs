//! The bodies Supabase Auth sends to its HTTP hooks, as far as this function reads them.
//!
//! Claims are kept as a JSON map and echoed back untouched: the Auth server validates
//! the result against its own schema, and anything we dropped or re-typed (an integer
//! `exp` turned into a float, say) would fail every sign-in.

use serde::Deserialize;
use serde_json::{Map, Value};

/// `metadata.name` of the two hooks served here.
pub const ACCESS_TOKEN_HOOK: &str = "customize-access-token";
pub const BEFORE_USER_CREATED_HOOK: &str = "before-user-created";

/// Present from Auth v2.187.0 on for the access-token hook, always for before-user-created.
#[derive(Debug, Default, Deserialize)]
pub struct Metadata {
    /// Same across the HTTP retries of one invocation (unlike `webhook-id`).
    #[serde(default)]
    pub uuid: Option<String>,
    #[serde(default)]
    pub name: Option<String>,
}

#[derive(Debug, Deserialize)]
pub struct AccessTokenInput {
    pub user_id: String,
    pub claims: Map<String, Value>,
    #[serde(default)]
    pub authentication_method: Option<String>,
    #[serde(default)]
    pub metadata: Option<Metadata>,
}

#[derive(Debug, Deserialize)]
pub struct BeforeUserCreatedInput {
    pub user: NewUser,
    #[serde(default)]
    pub metadata: Option<Metadata>,
}

#[derive(Debug, Deserialize)]
pub struct NewUser {
    /// Not the final id for OAuth/SSO sign-ups; logged only.
    #[serde(default)]
    pub id: Option<String>,
    /// `""` when the user has none (phone and anonymous sign-ups).
    #[serde(default)]
    pub email: Option<String>,
    #[serde(default)]
    pub is_anonymous: bool,
}

impl AccessTokenInput {
    pub fn claim_str(&self, name: &str) -> Option<&str> {
        self.claims
            .get(name)
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
    }

    pub fn is_anonymous(&self) -> bool {
        self.claims.get("is_anonymous").and_then(Value::as_bool) == Some(true)
    }

    fn user_metadata(&self, key: &str) -> Option<&Value> {
        self.claims.get("user_metadata").and_then(|m| m.get(key))
    }

    pub fn display_name(&self) -> Option<&str> {
        ["full_name", "name"]
            .iter()
            .find_map(|k| self.user_metadata(k).and_then(Value::as_str))
            .filter(|s| !s.is_empty())
    }

    /// The consumer ID already carried by the claims, at the top level or in
    /// `app_metadata` (where an operator may have stored it on the user). Only a
    /// non-empty string counts: anything else is a bad value, to be replaced.
    pub fn existing_consumer(&self, claim: &str) -> Option<&str> {
        fn usable(v: &Value) -> Option<&str> {
            v.as_str().filter(|s| !s.is_empty())
        }
        self.claims.get(claim).and_then(usable).or_else(|| {
            self.claims
                .get("app_metadata")
                .and_then(|m| m.get(claim))
                .and_then(usable)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_an_old_server_body_without_metadata() {
        let input: AccessTokenInput = serde_json::from_str(
            r#"{"user_id":"u1","claims":{"aud":["authenticated"],"exp":1767229200,"is_anonymous":false},"authentication_method":"password"}"#,
        )
        .unwrap();
        assert!(input.metadata.is_none());
        assert!(!input.is_anonymous());
        assert_eq!(input.claims["exp"].as_i64(), Some(1_767_229_200));
    }

    #[test]
    fn finds_an_existing_consumer_at_either_place() {
        let top: AccessTokenInput =
            serde_json::from_str(r#"{"user_id":"u","claims":{"zuplo_consumer_id":"csmr_1"}}"#)
                .unwrap();
        let nested: AccessTokenInput = serde_json::from_str(
            r#"{"user_id":"u","claims":{"app_metadata":{"zuplo_consumer_id":"csmr_2"}}}"#,
        )
        .unwrap();
        let none: AccessTokenInput = serde_json::from_str(
            r#"{"user_id":"u","claims":{"zuplo_consumer_id":null,"app_metadata":{}}}"#,
        )
        .unwrap();
        let bad = |value: &str| -> AccessTokenInput {
            serde_json::from_str(&format!(
                r#"{{"user_id":"u","claims":{{"zuplo_consumer_id":{value},"app_metadata":{{"zuplo_consumer_id":{value}}}}}}}"#
            ))
            .unwrap()
        };
        for value in ["\"\"", "0", "false", "{}", "[]"] {
            assert!(
                bad(value).existing_consumer("zuplo_consumer_id").is_none(),
                "{value}"
            );
        }
        assert_eq!(
            top.existing_consumer("zuplo_consumer_id").unwrap(),
            "csmr_1"
        );
        assert_eq!(
            nested.existing_consumer("zuplo_consumer_id").unwrap(),
            "csmr_2"
        );
        assert!(none.existing_consumer("zuplo_consumer_id").is_none());
    }

    #[test]
    fn reads_the_display_name_from_user_metadata() {
        let input: AccessTokenInput = serde_json::from_str(
            r#"{"user_id":"u","claims":{"user_metadata":{"full_name":"Ada L","name":"Ada"}}}"#,
        )
        .unwrap();
        assert_eq!(input.display_name(), Some("Ada L"));
    }
}
