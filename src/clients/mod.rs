//! Who we call: Zuplo's Developer API and AWS Secrets Manager, over one HTTP client.

pub mod sdk_http;
pub mod secrets;
pub mod zuplo;

use std::time::Duration;

/// One client for every outbound HTTPS call, so its connection pool outlives requests:
/// Zuplo, Google's signing keys and, through [`sdk_http`], the AWS SDK. Building it
/// reads the system's root certificates, once per container.
pub fn http_client() -> Result<reqwest::Client, reqwest::Error> {
    reqwest::Client::builder()
        .user_agent(concat!("zuplo-auth-hooks/", env!("CARGO_PKG_VERSION")))
        .connect_timeout(Duration::from_secs(2))
        .pool_idle_timeout(Duration::from_secs(50))
        .build()
}
