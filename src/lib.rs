//! zuplo-auth-hooks: auth hooks that give every new user a Zuplo API-key consumer.
//!
//! Data flows one way: [`http`] routes a request to a provider adapter ([`firebase`],
//! [`supabase`]), which verifies it and makes one call to the provisioning core
//! ([`provision`]), which uses the [`consumer_cache`], the [`zuplo`] client and the
//! [`secrets`] cache.

pub mod app;
pub mod config;
pub mod consumer_cache;
pub mod deadline;
pub mod firebase;
pub mod http;
pub mod logging;
pub mod provision;
pub mod reply;
pub mod retry;
pub mod secrets;
pub mod supabase;
pub mod telemetry;
pub mod zuplo;

pub use app::App;
pub use config::Config;
