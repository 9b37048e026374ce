//! Supabase Auth Hooks (Standard Webhooks signed HTTP hooks).

pub mod deletion;
pub mod hooks;
pub mod payload;

use std::time::Duration;

pub use deletion::SupabaseDeletion;
pub use hooks::{Hook, SupabaseHooks};

use super::{BoxFuture, Door, Route, Shared};
use crate::clients::secrets::Lease;
use crate::config::vars::{ConfigError, Vars};
use crate::deadline::Deadline;
use crate::provision::{ColonIn, KeyError, Provider, UserKey};
use crate::reply::Reply;
use crate::request::HttpRequest;
use crate::telemetry::Report;

/// Keys are `supabase:<issuer or SUPABASE_NAMESPACE>:<user id>`: the issuer is a URL
/// (with `:`), the user id a UUID (without).
pub const PROVIDER: Provider = Provider::new("supabase", 1, ColonIn::Scope(0));

/// The key of a Supabase user: the same for the hooks (whose namespace is the token's
/// `iss`, or `SUPABASE_NAMESPACE`), the deletion trigger and a later sync.
pub fn user_key(namespace: &str, user_id: &str) -> Result<UserKey, KeyError> {
    UserKey::new(PROVIDER, &[namespace], user_id)
}

/// The field of the Zuplo secret that holds the hook secret(s).
pub const HOOK_SECRET_FIELD: &str = "supabase_hook_secret";
/// The secret `integrations/supabase/user-deleted.sql` signs deletions with: its own,
/// so that whoever can sign deletions cannot sign tokens' hooks, and the reverse.
pub const DELETION_SECRET_FIELD: &str = "supabase_deletion_secret";

/// Claims the Auth server requires in every access token, or that it sets itself: a
/// hook may not replace them, so the consumer claim may not be one of them.
pub const RESERVED_CLAIMS: &[&str] = &[
    "aud",
    "exp",
    "iat",
    "iss",
    "sub",
    "amr",
    "email",
    "phone",
    "role",
    "aal",
    "session_id",
    "is_anonymous",
    "client_id",
    "scope",
    "app_metadata",
    "user_metadata",
];

static ROUTES: [Route; 3] = [
    Route {
        path: "/supabase/custom-access-token",
        name: "supabase/custom-access-token",
    },
    Route {
        path: "/supabase/before-user-created",
        name: "supabase/before-user-created",
    },
    Route {
        path: "/supabase/user-deleted",
        name: "supabase/user-deleted",
    },
];

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    pub budget: Duration,
    /// Replaces `claims.iss` in consumer names, e.g. to keep names stable when a project
    /// moves to a custom domain (which changes `iss`).
    pub namespace: Option<String>,
    pub provision_anonymous: bool,
}

impl Settings {
    /// Always present: whether Supabase is in use is known only once the secret is read
    /// (its `supabase_hook_secret` field), and until then nothing can be verified.
    pub fn from_vars(vars: &Vars<'_>) -> Result<Self, ConfigError> {
        Ok(Settings {
            budget: vars.millis("SUPABASE_BUDGET_MS", 4000, 100, 4900)?,
            namespace: vars.get("SUPABASE_NAMESPACE"),
            provision_anonymous: vars.bool("PROVISION_ANONYMOUS", false)?,
        })
    }
}

pub struct Supabase {
    hooks: SupabaseHooks,
    deletion: SupabaseDeletion,
}

impl Supabase {
    pub fn new(settings: Settings, shared: &Shared) -> Self {
        Supabase {
            deletion: SupabaseDeletion::new(
                shared.secrets.clone(),
                shared.provisioner.clone(),
                settings.namespace.clone(),
            ),
            hooks: SupabaseHooks::new(settings, shared),
        }
    }
}

impl Door for Supabase {
    fn title(&self) -> &'static str {
        "Supabase"
    }

    fn enabled(&self) -> bool {
        true
    }

    fn routes(&self) -> &'static [Route] {
        &ROUTES
    }

    fn budget(&self) -> Duration {
        self.hooks.budget()
    }

    fn handle<'a>(
        &'a self,
        route: &'static Route,
        request: &'a HttpRequest,
        deadline: Deadline,
    ) -> BoxFuture<'a, (Reply, Report)> {
        let hook = match route.name {
            "supabase/custom-access-token" => Hook::CustomAccessToken,
            "supabase/before-user-created" => Hook::BeforeUserCreated,
            _ => return Box::pin(self.deletion.handle(request, deadline)),
        };
        Box::pin(self.hooks.handle(hook, request, deadline))
    }

    fn secret_loaded(&self, lease: &Lease) {
        self.hooks.keys(lease);
        self.deletion.secret_loaded(lease);
    }
}
