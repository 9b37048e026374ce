//! Who we call: Zuplo's Developer API and AWS Secrets Manager, over one HTTP client.

pub mod sdk_http;
pub mod secrets;
pub mod zuplo;

use std::sync::Arc;
use std::time::Duration;

use crate::deadline::Deadline;

/// One client for every outbound HTTPS call, so its connection pool outlives requests:
/// Zuplo, Google's signing keys and, through [`sdk_http`], the AWS SDK.
pub fn http_client() -> Result<reqwest::Client, Box<dyn std::error::Error + Send + Sync>> {
    Ok(reqwest::Client::builder()
        .tls_backend_preconfigured(tls_config()?)
        .user_agent(concat!("zuplo-auth-hooks/", env!("CARGO_PKG_VERSION")))
        .connect_timeout(Duration::from_secs(2))
        .pool_idle_timeout(Duration::from_secs(50))
        // Neither Zuplo, Google's certificate URL nor Secrets Manager redirects: a
        // redirect would only carry the bearer token somewhere unexpected.
        .redirect(reqwest::redirect::Policy::none())
        .build()?)
}

/// TLS with Mozilla's root certificates (`webpki-roots`), compiled into the binary as
/// ready trust anchors. Reading the system's store instead costs a cold start from
/// 2 ms (one bundle file, as on `provided.al2023`) to 8 ms (a directory of one file
/// per CA) of parsing PEM; every endpoint the function calls (Zuplo, AWS, Google) is
/// signed by a public CA that Mozilla's list carries. The price: a private CA (a
/// TLS-inspecting proxy, say) cannot be added through `SSL_CERT_FILE`.
fn tls_config() -> Result<rustls::ClientConfig, rustls::Error> {
    let roots = rustls::RootCertStore {
        roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
    };
    let mut config = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::aws_lc_rs::default_provider(),
    ))
    .with_safe_default_protocol_versions()?
    .with_root_certificates(roots)
    .with_no_client_auth();
    // reqwest is built for HTTP/1.1 only.
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(config)
}

/// Why a request got no response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SendError {
    /// The request's deadline came first.
    Timeout,
    /// No connection, or it broke; the text names the URL, never a header.
    Transport(String),
}

/// Sends `request`, giving it only the time left before `deadline`.
pub async fn send(
    request: reqwest::RequestBuilder,
    deadline: Deadline,
) -> Result<reqwest::Response, SendError> {
    deadline
        .run(request.timeout(deadline.remaining()).send())
        .await
        .map_err(|_| SendError::Timeout)?
        .map_err(|e| {
            // reqwest also reports the 2 s connect timeout as a timeout: that one is a
            // connection failure, worth retrying, unless the deadline itself has come.
            if e.is_timeout() && deadline.remaining() < Duration::from_millis(50) {
                SendError::Timeout
            } else {
                SendError::Transport(error_chain(&e))
            }
        })
}

/// An error and its sources, on one line.
pub fn error_chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_tls_configuration_carries_the_public_roots() {
        let config = super::tls_config().unwrap();
        assert_eq!(config.alpn_protocols, vec![b"http/1.1".to_vec()]);
        assert!(webpki_roots::TLS_SERVER_ROOTS.len() > 100);
        assert!(super::http_client().is_ok());
    }
}
