//! Supabase Auth Hooks (Standard Webhooks signed HTTP hooks).

pub mod signature;
