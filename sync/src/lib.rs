//! `zuplo-auth-sync`: backfill and prune Zuplo consumers from a provider's user export.
//! It reuses the function's provisioning core, Zuplo client and key functions, and is
//! built apart from it: the Lambda artifact does not carry it.

pub mod backfill;
pub mod journal;
pub mod pacer;
pub mod progress;
pub mod prune;
pub mod readers;
pub mod source;
pub mod zuplo;
