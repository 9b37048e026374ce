//! Who we call: Zuplo's Developer API and AWS Secrets Manager.

pub mod secrets;
pub mod zuplo;
