//! Identity Platform / Firebase Auth blocking functions (`beforeCreate`, `beforeSignIn`).

pub mod certs;
pub mod deletion;
pub mod hooks;
pub mod token;

use std::time::Duration;

pub use hooks::FirebaseHooks;
pub use token::EventType;

use super::{BoxFuture, Door, Route, Shared};
use crate::clients::secrets::Lease;
use crate::config::vars::{ConfigError, Vars, err, http_url};
use crate::deadline::Deadline;
use crate::provision::{ColonIn, KeyError, Provider, UserKey};
use crate::reply::Reply;
use crate::request::HttpRequest;
use crate::telemetry::Report;
use certs::CertCache;
use token::TokenVerifier;

/// Keys are `firebase:<project>:<tenant or empty>:<uid>`. Project and tenant ids never
/// contain `:`; a uid (custom authentication) may.
pub const PROVIDER: Provider = Provider::new("firebase", 2, ColonIn::UserId);

/// The secret the deletion forwarder signs with.
pub const DELETION_SECRET_FIELD: &str = "firebase_deletion_secret";

/// The key of a Firebase user: the same for the blocking functions, the deletion
/// forwarder and a later sync. Users outside any tenant have an empty tenant part.
pub fn user_key(project_id: &str, tenant: Option<&str>, uid: &str) -> Result<UserKey, KeyError> {
    UserKey::new(PROVIDER, &[project_id, tenant.unwrap_or("")], uid)
}

/// Google's x509 certificate set for the keys that sign blocking-function tokens.
pub const GOOGLE_CERTS_URL: &str =
    "https://www.googleapis.com/robot/v1/metadata/x509/securetoken@system.gserviceaccount.com";

/// Claim names Identity Platform refuses in `customClaims` (firebase-admin
/// `RESERVED_CLAIMS` plus the emulator's forbidden list).
pub const RESERVED_CLAIMS: &[&str] = &[
    "acr",
    "amr",
    "at_hash",
    "aud",
    "auth_time",
    "azp",
    "cnf",
    "c_hash",
    "exp",
    "iat",
    "iss",
    "jti",
    "nbf",
    "nonce",
    "sub",
    "firebase",
];

static ROUTES: [Route; 3] = [
    Route {
        path: "/firebase/before-create",
        name: "firebase/before-create",
    },
    Route {
        path: "/firebase/before-sign-in",
        name: "firebase/before-sign-in",
    },
    Route {
        path: "/firebase/user-deleted",
        name: "firebase/user-deleted",
    },
];

#[derive(Debug, Clone)]
pub struct Settings {
    pub project_id: String,
    /// Exact `aud` values accepted (the registered blocking-function URLs).
    pub audiences: Vec<String>,
    pub certs_url: String,
    /// Accept the Auth emulator's unsigned (`alg: none`) tokens. Never in production.
    pub emulator: bool,
    pub budget: Duration,
    /// How long past `max-age` the last good certificate set is used while refreshes fail.
    pub certs_stale_grace: Duration,
}

impl Settings {
    /// `None` when `FIREBASE_PROJECT_ID` is unset: the Firebase routes then answer 404.
    pub fn from_vars(vars: &Vars<'_>) -> Result<Option<Self>, ConfigError> {
        let Some(project_id) = vars.get("FIREBASE_PROJECT_ID") else {
            if vars.get("FIREBASE_AUDIENCE").is_some() {
                return Err(err(
                    "FIREBASE_PROJECT_ID",
                    "is required when FIREBASE_AUDIENCE is set",
                ));
            }
            return Ok(None);
        };
        if !project_id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        {
            return Err(err(
                "FIREBASE_PROJECT_ID",
                format!("expected a Google Cloud project ID, got {project_id:?}"),
            ));
        }
        let audiences = vars
            .required("FIREBASE_AUDIENCE")?
            .split(',')
            .map(str::trim)
            .filter(|a| !a.is_empty())
            .map(|a| http_url("FIREBASE_AUDIENCE", a.to_owned()))
            .collect::<Result<Vec<_>, _>>()?;
        if audiences.is_empty() {
            return Err(err("FIREBASE_AUDIENCE", "lists no URL"));
        }
        let certs_url = http_url(
            "FIREBASE_CERTS_URL",
            vars.get("FIREBASE_CERTS_URL")
                .unwrap_or_else(|| GOOGLE_CERTS_URL.to_owned()),
        )?;
        Ok(Some(Settings {
            project_id,
            audiences,
            certs_url,
            emulator: vars.bool("FIREBASE_AUTH_EMULATOR", false)?,
            budget: vars.millis("FIREBASE_BUDGET_MS", 6000, 100, 6900)?,
            certs_stale_grace: Duration::from_secs(vars.number(
                "CERTS_STALE_GRACE_SECONDS",
                3600,
                0,
                86_400,
            )?),
        }))
    }
}

/// The Firebase door: its hooks when enabled.
pub struct Firebase {
    hooks: Option<FirebaseHooks>,
    deletion: Option<deletion::FirebaseDeletion>,
    budget: Duration,
}

impl Firebase {
    pub fn new(settings: Option<Settings>, shared: &Shared) -> Self {
        let Some(settings) = settings else {
            tracing::info!("FIREBASE_PROJECT_ID is not set: the Firebase routes are disabled");
            return Firebase {
                hooks: None,
                deletion: None,
                budget: Duration::ZERO,
            };
        };
        if settings.emulator {
            tracing::warn!(
                "FIREBASE_AUTH_EMULATOR is on: unsigned tokens are accepted. Never use this in production."
            );
        }
        let verifier = TokenVerifier::new(
            CertCache::new(
                shared.http.clone(),
                settings.certs_url.clone(),
                settings.certs_stale_grace,
            ),
            &settings.project_id,
            settings.audiences.clone(),
            settings.emulator,
        );
        Firebase {
            deletion: Some(deletion::FirebaseDeletion::new(
                shared.secrets.clone(),
                shared.provisioner.clone(),
                settings.project_id.clone(),
            )),
            hooks: Some(FirebaseHooks::new(
                verifier,
                settings.project_id,
                shared.provisioner.clone(),
                shared.claim.clone(),
                shared.fail_mode,
            )),
            budget: settings.budget,
        }
    }
}

impl Door for Firebase {
    fn title(&self) -> &'static str {
        "Firebase"
    }

    fn enabled(&self) -> bool {
        self.hooks.is_some()
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
        let event = match route.name {
            "firebase/before-create" => Some(EventType::BeforeCreate),
            "firebase/before-sign-in" => Some(EventType::BeforeSignIn),
            _ => None,
        };
        Box::pin(async move {
            match (event, &self.hooks, &self.deletion) {
                (Some(event), Some(hooks), _) => hooks.handle(event, &request.body, deadline).await,
                (None, _, Some(deletion)) => deletion.handle(request, deadline).await,
                _ => super::not_enabled(self.title()),
            }
        })
    }

    fn secret_loaded(&self, lease: &Lease) {
        if let Some(deletion) = &self.deletion {
            deletion.secret_loaded(lease);
        }
    }

    fn warm_up(&self, deadline: Deadline) -> BoxFuture<'_, ()> {
        Box::pin(async move {
            // Emulator setups are local and usually offline: nothing to warm there.
            let Some(hooks) = self.hooks.as_ref().filter(|h| !h.verifier().emulator()) else {
                return;
            };
            match hooks.verifier().certs().prefetch(deadline).await {
                Ok(n) => tracing::debug!(keys = n, "init: certificates cached"),
                Err(e) => {
                    tracing::warn!(reason = %e, "init: could not fetch signing certificates; will retry on the first request")
                }
            }
        })
    }
}
