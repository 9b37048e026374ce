//! Amazon Cognito user pool triggers: direct invocations (no HTTP, no signature: IAM
//! decides who may invoke), recognised by `triggerSource`. The answer is the event
//! itself with `response` filled; everything else is echoed untouched.

pub mod deletion;
pub mod triggers;

use std::time::Duration;

use serde_json::Value;

use super::{BoxFuture, DirectAnswer, DirectRoute, Door, Route, Shared};
use crate::config::vars::{ConfigError, Vars};
use crate::deadline::Deadline;
use crate::provision::{ColonIn, KeyError, Provider, UserKey};
use crate::reply::Reply;
use crate::request::HttpRequest;
use crate::telemetry::Report;
pub use triggers::Triggers;

/// Keys are `cognito:<user pool id>:<sub>`: neither a pool id (`us-east-1_AbC123`) nor a
/// `sub` (a UUID) contains `:`.
pub const PROVIDER: Provider = Provider::new("cognito", 1, ColonIn::Nowhere);

/// The key of a Cognito user: the same for the triggers, the deletion rule and a
/// later sync.
pub fn user_key(user_pool_id: &str, sub: &str) -> Result<UserKey, KeyError> {
    UserKey::new(PROVIDER, &[user_pool_id], sub)
}

/// Claims Cognito does not let a pre token generation trigger add or change (any
/// `cognito:` claim too, which `CONSUMER_CLAIM`'s character set already excludes).
pub const RESERVED_CLAIMS: &[&str] = &[
    "acr",
    "amr",
    "aud",
    "at_hash",
    "auth_time",
    "azp",
    "exp",
    "iat",
    "iss",
    "jti",
    "nbf",
    "nonce",
    "origin_jti",
    "token_use",
    "identities",
    "sub",
    "username",
    "client_id",
    "event_id",
    "device_key",
    "version",
];

pub static PRE_TOKEN_GENERATION: DirectRoute = DirectRoute {
    name: "cognito/pre-token-generation",
};
pub static POST_CONFIRMATION: DirectRoute = DirectRoute {
    name: "cognito/post-confirmation",
};
pub static PRE_SIGN_UP: DirectRoute = DirectRoute {
    name: "cognito/pre-sign-up",
};
pub static USER_DELETED: DirectRoute = DirectRoute {
    name: "cognito/user-deleted",
};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    /// Cognito waits 5 s per attempt, cold start included.
    pub budget: Duration,
}

impl Settings {
    /// Always present: only the user pools that IAM lets invoke the function can send
    /// these events, and the HTTP function of the SAM template gives none of them leave.
    pub fn from_vars(vars: &Vars<'_>) -> Result<Self, ConfigError> {
        Ok(Settings {
            budget: vars.millis("COGNITO_BUDGET_MS", 4000, 100, 4800)?,
        })
    }
}

pub struct Cognito {
    triggers: Triggers,
    deletion: deletion::CognitoDeletion,
    budget: Duration,
}

impl Cognito {
    pub fn new(settings: Settings, shared: &Shared) -> Self {
        Cognito {
            triggers: Triggers::new(shared),
            deletion: deletion::CognitoDeletion::new(shared.provisioner.clone()),
            budget: settings.budget,
        }
    }
}

/// The trigger family of a user pool event, by its `triggerSource` prefix; or a
/// deletion, by its EventBridge envelope.
fn route_for(event: &Value) -> Option<&'static DirectRoute> {
    if deletion::is_cloudtrail_event(event) {
        return Some(&USER_DELETED);
    }
    // A user pool event names its pool; a `triggerSource` alone does not make one.
    event.get("userPoolId").and_then(Value::as_str)?;
    let source = event.get("triggerSource").and_then(Value::as_str)?;
    if source.starts_with("TokenGeneration_") {
        Some(&PRE_TOKEN_GENERATION)
    } else if source.starts_with("PostConfirmation_") {
        Some(&POST_CONFIRMATION)
    } else if source.starts_with("PreSignUp_") {
        Some(&PRE_SIGN_UP)
    } else {
        None
    }
}

impl Door for Cognito {
    fn title(&self) -> &'static str {
        "Cognito"
    }

    fn enabled(&self) -> bool {
        true
    }

    fn routes(&self) -> &'static [Route] {
        &[]
    }

    fn budget(&self) -> Duration {
        self.budget
    }

    fn handle<'a>(
        &'a self,
        _route: &'static Route,
        _request: &'a HttpRequest,
        _deadline: Deadline,
    ) -> BoxFuture<'a, (Reply, Report)> {
        // Cognito serves no HTTP route, so the router never calls this.
        Box::pin(async { super::not_enabled(self.title()) })
    }

    fn direct_route(&self, event: &Value) -> Option<&'static DirectRoute> {
        route_for(event)
    }

    fn handle_direct<'a>(
        &'a self,
        route: &'static DirectRoute,
        event: Value,
        deadline: Deadline,
    ) -> BoxFuture<'a, (DirectAnswer, Report)> {
        Box::pin(async move {
            if std::ptr::eq(route, &USER_DELETED) {
                self.deletion.handle(event, deadline).await
            } else if std::ptr::eq(route, &PRE_SIGN_UP) {
                self.triggers.pre_sign_up(event)
            } else if std::ptr::eq(route, &POST_CONFIRMATION) {
                self.triggers.post_confirmation(event, deadline).await
            } else {
                self.triggers.pre_token_generation(event, deadline).await
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn trigger_families_are_told_by_their_source() {
        let event = |source: &str| json!({"triggerSource": source, "userPoolId": "us-east-1_A"});
        assert_eq!(
            route_for(&event("TokenGeneration_RefreshTokens")),
            Some(&PRE_TOKEN_GENERATION)
        );
        assert_eq!(
            route_for(&event("PostConfirmation_ConfirmForgotPassword")),
            Some(&POST_CONFIRMATION)
        );
        assert_eq!(
            route_for(&event("PreSignUp_ExternalProvider")),
            Some(&PRE_SIGN_UP)
        );
        assert_eq!(route_for(&event("CustomMessage_SignUp")), None);
        assert_eq!(
            route_for(&json!({"triggerSource": "PreSignUp_SignUp"})),
            None
        );
    }
}
