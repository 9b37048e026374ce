//! zuplo-auth-hooks: auth hooks that give every new user a Zuplo API-key consumer.
//!
//! Data flows one way. [`entry`] takes a Lambda event (an HTTP request, or a direct
//! invocation) and hands it to the provider that owns it ([`providers`]); the provider
//! verifies it ([`verify`]) and makes one call to the provisioning core
//! ([`provision`]), which uses its consumer cache and the [`clients`] (Zuplo, Secrets
//! Manager); the provider turns the core's answer into its own, and [`telemetry`]
//! records the request. [`app`] holds the per-container state all of them borrow.

pub mod app;
pub mod clients;
pub mod config;
pub mod deadline;
pub mod entry;
pub mod logging;
pub mod providers;
pub mod provision;
pub mod redacted;
pub mod reply;
pub mod request;
pub mod retry;
pub mod signup_policy;
pub mod telemetry;
pub mod time;
pub mod verify;

pub use app::App;
pub use config::Config;
