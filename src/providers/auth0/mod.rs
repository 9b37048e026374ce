//! Auth0: the post-login Action of `integrations/auth0/post-login.js` calls
//! `POST /auth0/post-login` (Standard Webhooks signed) and stores the consumer ID in
//! `app_metadata`; an Event Stream delivers `user.deleted` to `POST /auth0/events`
//! (a bearer token: Auth0 signs nothing there).
//!
//! The Zuplo token stays in AWS and idempotency lives here, in the consumer's name;
//! the Action only decides, by its own `FAIL_MODE`, what a failed call means for the login.

pub mod handlers;
pub mod payload;

use std::time::Duration;

use super::{BoxFuture, Door, Route, Shared};
use crate::clients::secrets::Lease;
use crate::config::vars::{ConfigError, Vars};
use crate::deadline::Deadline;
use crate::provision::{ColonIn, KeyError, Provider, UserKey};
use crate::reply::Reply;
use crate::request::HttpRequest;
use crate::telemetry::Report;
pub use handlers::Auth0Routes;

/// Keys are `auth0:<tenant>:<user_id>`. A tenant name has no `:`; a `user_id` is
/// `<connection>|<id>`, whose id part is the connection's own and may hold anything.
pub const PROVIDER: Provider = Provider::new("auth0", 1, ColonIn::UserId);

/// The `whsec_` secret the Action signs its calls with.
pub const ACTION_SECRET_FIELD: &str = "auth0_action_secret";
/// The token the Event Stream presents (`Authorization: Bearer …`).
pub const EVENTS_TOKEN_FIELD: &str = "auth0_events_token";

pub static POST_LOGIN: Route = Route {
    path: "/auth0/post-login",
    name: "auth0/post-login",
};
pub static EVENTS: Route = Route {
    path: "/auth0/events",
    name: "auth0/events",
};
static ROUTES: [Route; 2] = [POST_LOGIN, EVENTS];

/// The key of an Auth0 user: the same for the Action's call, the deletion event and a
/// later sync, given the same tenant name.
pub fn user_key(tenant: &str, user_id: &str) -> Result<UserKey, KeyError> {
    UserKey::new(PROVIDER, &[tenant], user_id)
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    /// The Action waits `TIMEOUT_MS` (7 s by default), inside Auth0's 20 s for the
    /// whole login flow.
    pub budget: Duration,
}

impl Settings {
    /// Always present: the routes answer 404 until the secret holds their fields.
    pub fn from_vars(vars: &Vars<'_>) -> Result<Self, ConfigError> {
        Ok(Settings {
            budget: vars.millis("AUTH0_BUDGET_MS", 5000, 100, 9500)?,
        })
    }
}

pub struct Auth0 {
    routes: Auth0Routes,
    budget: Duration,
}

impl Auth0 {
    pub fn new(settings: Settings, shared: &Shared) -> Self {
        Auth0 {
            routes: Auth0Routes::new(shared),
            budget: settings.budget,
        }
    }
}

impl Door for Auth0 {
    fn title(&self) -> &'static str {
        "Auth0"
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
        route: &'static Route,
        request: &'a HttpRequest,
        deadline: Deadline,
    ) -> BoxFuture<'a, (Reply, Report)> {
        if route.path == POST_LOGIN.path {
            Box::pin(self.routes.post_login(request, deadline))
        } else {
            Box::pin(self.routes.events(request, deadline))
        }
    }

    fn secret_loaded(&self, lease: &Lease) {
        self.routes.secret_loaded(lease);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_pinned() {
        // The Action's call, the deletion event and a later sync all name a user's
        // consumer from this key: changing it would give every Auth0 user a second one.
        let key = user_key("demo-tenant", "auth0|5f7c8ec7c33c6c004bbafe82").unwrap();
        assert_eq!(
            key.as_str(),
            "auth0:demo-tenant:auth0|5f7c8ec7c33c6c004bbafe82"
        );
        // Enterprise connections' ids may hold anything, a ':' included; a tenant not.
        assert!(user_key("t", "samlp|corp|a:b").is_ok());
        assert!(user_key("t:x", "auth0|1").is_err());
    }
}
