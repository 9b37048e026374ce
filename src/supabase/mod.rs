//! Supabase Auth Hooks (Standard Webhooks signed HTTP hooks).

pub mod hooks;
pub mod payload;
pub mod signature;
pub mod signup_policy;

pub use hooks::{Delivery, Hook, SupabaseHooks};
