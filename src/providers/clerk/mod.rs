//! Clerk: no blocking sign-up hook exists, only webhooks delivered by Svix (signed the
//! Standard Webhooks way under `svix-*` headers, retried for about a day). So
//! `POST /clerk/webhook` provisions on `user.created`, writes the consumer ID back onto
//! the user's `public_metadata` (where a session-token template exposes it), and
//! deletes the consumer on `user.deleted`.
//!
//! `FAIL_MODE` does not apply: a transient failure answers 503 and Svix redelivers.

pub mod backend;
pub mod payload;
pub mod webhook;

use std::time::Duration;

use super::{BoxFuture, Door, Route, Shared};
use crate::clients::secrets::Lease;
use crate::config::vars::{ConfigError, Vars, err, http_url};
use crate::deadline::Deadline;
use crate::provision::{ColonIn, KeyError, Provider, UserKey};
use crate::reply::Reply;
use crate::request::HttpRequest;
use crate::telemetry::Report;
pub use webhook::ClerkWebhook;

/// Keys are `clerk:<instance>:<user id>`: an instance id (`ins_…`) and a user id
/// (`user_…`) hold no `:`, and `CLERK_NAMESPACE` is checked for none at init.
pub const PROVIDER: Provider = Provider::new("clerk", 1, ColonIn::Nowhere);

/// The Svix signing secret(s) of the webhook endpoint (`whsec_…`, several joined by `|`).
pub const WEBHOOK_SECRET_FIELD: &str = "clerk_webhook_secret";
/// The Backend API secret key (`sk_live_…`), for the metadata write-back.
pub const SECRET_KEY_FIELD: &str = "clerk_secret_key";

pub const DEFAULT_API_URL: &str = "https://api.clerk.com";

pub static WEBHOOK: Route = Route {
    path: "/clerk/webhook",
    name: "clerk/webhook",
};
static ROUTES: [Route; 1] = [WEBHOOK];

/// The key of a Clerk user: the same for the webhook, the deletion and a later sync,
/// given the same namespace (the instance id, or `CLERK_NAMESPACE`).
pub fn user_key(namespace: &str, user_id: &str) -> Result<UserKey, KeyError> {
    UserKey::new(PROVIDER, &[namespace], user_id)
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    /// Svix waits 15 s for an answer.
    pub budget: Duration,
    /// The Backend API's base URL (a stand-in's in tests).
    pub api_url: String,
    /// Replaces the delivery's `instance_id` in consumer names, e.g. to keep one
    /// consumer per user when the same users are served by two instances.
    pub namespace: Option<String>,
}

impl Settings {
    /// Always present: the route answers 404 until the secret holds its field.
    pub fn from_vars(vars: &Vars<'_>) -> Result<Self, ConfigError> {
        let namespace = vars.get("CLERK_NAMESPACE");
        if let Some(ns) = &namespace
            && (ns.contains(':') || ns.chars().any(char::is_control) || ns.len() > 128)
        {
            return Err(err(
                "CLERK_NAMESPACE",
                "must be at most 128 characters, without ':' (it is part of each consumer's key)",
            ));
        }
        Ok(Settings {
            budget: vars.millis("CLERK_BUDGET_MS", 10_000, 100, 14_000)?,
            api_url: http_url(
                "CLERK_API_URL",
                vars.get("CLERK_API_URL")
                    .unwrap_or_else(|| DEFAULT_API_URL.to_owned()),
            )?,
            namespace,
        })
    }
}

pub struct Clerk {
    webhook: ClerkWebhook,
    budget: Duration,
}

impl Clerk {
    pub fn new(settings: Settings, shared: &Shared) -> Self {
        Clerk {
            budget: settings.budget,
            webhook: ClerkWebhook::new(settings, shared),
        }
    }
}

impl Door for Clerk {
    fn title(&self) -> &'static str {
        "Clerk"
    }

    fn enabled(&self) -> bool {
        true
    }

    fn routes(&self) -> &'static [Route] {
        &ROUTES
    }

    fn budget(&self) -> Duration {
        self.budget
    }

    fn handle<'a>(
        &'a self,
        _route: &'static Route,
        request: &'a HttpRequest,
        deadline: Deadline,
    ) -> BoxFuture<'a, (Reply, Report)> {
        Box::pin(self.webhook.handle(request, deadline))
    }

    fn secret_loaded(&self, lease: &Lease) {
        self.webhook.secret_loaded(lease);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_pinned() {
        // The webhook, the deletion and a later sync all name a user's consumer from
        // this key: changing it would give every Clerk user a second consumer.
        let key = user_key("ins_123", "user_29w83sxmDNGwOuEthce5gg56FcC").unwrap();
        assert_eq!(
            key.as_str(),
            "clerk:ins_123:user_29w83sxmDNGwOuEthce5gg56FcC"
        );
        assert!(user_key("ins:1", "user_1").is_err());
    }

    #[test]
    fn settings_have_defaults_and_refuse_a_namespace_with_a_colon() {
        let none = |_: &str| None;
        let settings = Settings::from_vars(&Vars(&none)).unwrap();
        assert_eq!(settings.api_url, DEFAULT_API_URL);
        assert_eq!(settings.budget, Duration::from_secs(10));
        assert_eq!(settings.namespace, None);
        let colon = |k: &str| (k == "CLERK_NAMESPACE").then(|| "a:b".to_owned());
        let e = Settings::from_vars(&Vars(&colon)).unwrap_err();
        assert!(e.to_string().contains("CLERK_NAMESPACE"), "{e}");
        let late = |k: &str| (k == "CLERK_BUDGET_MS").then(|| "15000".to_owned());
        assert!(Settings::from_vars(&Vars(&late)).is_err());
    }
}
