//! Who is calling: one folder per identity provider. Each turns a verified request
//! into at most one call to the provisioning core, and the core's answer into the
//! answer that provider expects.
//!
//! A provider owns its settings (read at init, errors naming the variable), its routes,
//! its claim-name rules and its answer shapes. Adding one means a folder, plus one
//! line in each of the three lists below ([`Settings`], [`Settings::doors`],
//! [`claim_is_reserved`]).

pub mod auth0;
pub mod clerk;
pub mod cognito;
pub mod deletion;
pub mod firebase;
pub mod supabase;

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use crate::clients::secrets::{Lease, SecretStore};
use crate::config::vars::{ConfigError, Vars};
use crate::deadline::Deadline;
use crate::provision::{FailMode, Provisioner};
use crate::reply::Reply;
use crate::request::HttpRequest;
use crate::signup_policy::SignupPolicy;
use crate::telemetry::Report;

pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// An HTTP route: its path, and its name in logs and metrics (a fixed set, never the
/// raw path a caller sent).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Route {
    pub path: &'static str,
    pub name: &'static str,
}

/// A kind of direct invocation a provider takes: its name in logs and metrics.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DirectRoute {
    pub name: &'static str,
}

/// A direct invocation's refusal: the invoking service shows `message` to the user
/// (Cognito: "<trigger> failed with error <message>."), so it names nothing internal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DirectError {
    pub error_type: &'static str,
    pub message: String,
}

/// A direct invocation's result: the answer (the event with its response filled), or
/// a refusal.
pub type DirectAnswer = Result<serde_json::Value, DirectError>;

/// What every provider is built with: the per-container state they share.
#[derive(Clone)]
pub struct Shared {
    pub secrets: Arc<SecretStore>,
    pub provisioner: Arc<Provisioner>,
    /// For outbound HTTPS calls other than Zuplo's (certificates, provider APIs).
    pub http: reqwest::Client,
    /// `CONSUMER_CLAIM`: the claim (or metadata key) that carries the consumer ID.
    pub claim: String,
    pub fail_mode: FailMode,
    pub signup_policy: SignupPolicy,
}

/// A provider as the entry layer sees it.
pub trait Door: Send + Sync {
    /// Shown in "Not Found: … hooks are not enabled".
    fn title(&self) -> &'static str;
    /// Whether its settings are present; its routes answer 404 otherwise.
    fn enabled(&self) -> bool;
    /// The HTTP routes it serves, enabled or not.
    fn routes(&self) -> &'static [Route];
    /// The time its callers wait for an answer, less a safety margin.
    fn budget(&self) -> Duration;
    /// Answers one request to one of [`Door::routes`], within `deadline`.
    fn handle<'a>(
        &'a self,
        route: &'static Route,
        request: &'a HttpRequest,
        deadline: Deadline,
    ) -> BoxFuture<'a, (Reply, Report)>;
    /// Whether it takes this direct invocation, and under which route name.
    fn direct_route(&self, _event: &serde_json::Value) -> Option<&'static DirectRoute> {
        None
    }
    /// Answers one direct invocation it took (see [`Door::direct_route`]).
    fn handle_direct<'a>(
        &'a self,
        route: &'static DirectRoute,
        event: serde_json::Value,
        deadline: Deadline,
    ) -> BoxFuture<'a, (DirectAnswer, Report)> {
        // Only reached if a provider claims a route it does not answer.
        let _ = (route, event, deadline);
        Box::pin(async {
            (
                Err(DirectError {
                    error_type: "UnsupportedEvent",
                    message: "Unsupported event".into(),
                }),
                Report::rejected(crate::telemetry::RejectReason::Payload, "not handled"),
            )
        })
    }
    /// Fills its own caches during init; never fatal.
    fn warm_up(&self, _deadline: Deadline) -> BoxFuture<'_, ()> {
        Box::pin(async {})
    }
    /// Told of each secret the warm-up reads, to report a bad field of its own once.
    fn secret_loaded(&self, _lease: &Lease) {}
}

/// Every provider's settings.
#[derive(Debug, Clone)]
pub struct Settings {
    /// `None` when `FIREBASE_PROJECT_ID` is unset.
    pub firebase: Option<firebase::Settings>,
    pub supabase: supabase::Settings,
    pub cognito: cognito::Settings,
    pub clerk: clerk::Settings,
    pub auth0: auth0::Settings,
}

impl Settings {
    pub fn from_vars(vars: &Vars<'_>) -> Result<Self, ConfigError> {
        Ok(Settings {
            firebase: firebase::Settings::from_vars(vars)?,
            supabase: supabase::Settings::from_vars(vars)?,
            cognito: cognito::Settings::from_vars(vars)?,
            clerk: clerk::Settings::from_vars(vars)?,
            auth0: auth0::Settings::from_vars(vars)?,
        })
    }

    /// One door per provider, enabled or not, in routing order.
    pub fn doors(&self, shared: &Shared) -> Vec<Box<dyn Door>> {
        vec![
            Box::new(firebase::Firebase::new(self.firebase.clone(), shared)),
            Box::new(supabase::Supabase::new(self.supabase.clone(), shared)),
            Box::new(cognito::Cognito::new(self.cognito.clone(), shared)),
            Box::new(clerk::Clerk::new(self.clerk.clone(), shared)),
            Box::new(auth0::Auth0::new(self.auth0.clone(), shared)),
        ]
    }
}

/// Whether a provider reserves this claim name. `CONSUMER_CLAIM` is one name for
/// every provider's tokens, so none of them may reserve it.
pub fn claim_is_reserved(name: &str) -> bool {
    [
        firebase::RESERVED_CLAIMS,
        supabase::RESERVED_CLAIMS,
        cognito::RESERVED_CLAIMS,
    ]
    .iter()
    .any(|reserved| reserved.contains(&name))
}

/// A verified request whose body cannot be used, in the transport error shape.
pub(crate) fn bad_request(message: &str) -> (Reply, Report) {
    (
        Reply::error(400, &format!("Bad Request: {message}")),
        Report::rejected(crate::telemetry::RejectReason::Payload, message),
    )
}

/// A request a route guard refused (signature, token, secret), for `title`'s routes.
pub(crate) fn refusal(refused: &crate::verify::Refused, title: &str) -> (Reply, Report) {
    (
        Reply::error(refused.status(), &refused.message(title)),
        refused.report(),
    )
}

/// The answer of a route whose provider is not enabled.
pub(crate) fn not_enabled(title: &str) -> (Reply, Report) {
    (
        Reply::error(404, &format!("Not Found: {title} hooks are not enabled")),
        Report::rejected(
            crate::telemetry::RejectReason::Route,
            format!("{title} is not enabled"),
        ),
    )
}
