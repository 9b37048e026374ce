//! The AWS SDK's HTTP client: the function's reqwest client.
//!
//! With its own `default-https-client`, the SDK brings a second TLS stack, which reads
//! the system's root certificates again (reqwest's read them already) and builds a
//! rustls configuration for every connector: one when `aws-config` builds its credential
//! providers, one for `secretsmanager::Client::new`, one for the first request. Sending
//! the SDK's requests through reqwest leaves one read of the store and no connector
//! builds; the SDK is built without its own HTTPS client, so the binary carries one TLS
//! stack. Request bodies (small JSON documents) are buffered; responses stream, as with
//! the SDK's own client.
//!
//! What changes for the SDK's calls: reqwest's connect timeout (2 s, [`super::http_client`])
//! applies instead of the SDK's (3.1 s); the SDK's read timeout is not set either way;
//! HTTP/1.1 only (reqwest is built without `http2`). The SDK's own retry, attempt and
//! operation timeouts and signing are unchanged: they sit above the connector.

use aws_sdk_secretsmanager::config::SharedHttpClient;
use aws_smithy_runtime_api::client::http::{
    HttpConnector, HttpConnectorFuture, SharedHttpConnector, http_client_fn,
};
use aws_smithy_runtime_api::client::orchestrator::{HttpRequest, HttpResponse};
use aws_smithy_runtime_api::client::result::ConnectorError;
use aws_smithy_types::body::SdkBody;

/// An SDK HTTP client that sends every request through `http`.
pub fn sdk_http_client(http: reqwest::Client) -> SharedHttpClient {
    let connector = SharedHttpConnector::new(ReqwestConnector(http));
    http_client_fn(move |_settings, _components| connector.clone())
}

#[derive(Debug)]
struct ReqwestConnector(reqwest::Client);

impl HttpConnector for ReqwestConnector {
    fn call(&self, request: HttpRequest) -> HttpConnectorFuture {
        let http = self.0.clone();
        HttpConnectorFuture::new(async move {
            let (parts, body) = request
                .try_into_http1x()
                .map_err(|e| ConnectorError::user(e.into()))?
                .into_parts();
            let body = body
                .bytes()
                .ok_or_else(|| ConnectorError::user("a streaming request body".into()))?
                .to_vec();
            let response = http
                .request(parts.method, parts.uri.to_string())
                .headers(parts.headers)
                .body(body)
                .send()
                .await
                .map_err(connector_error)?;
            // Streamed, not buffered: the SDK logs a response at trace level, and a
            // buffered body (the secret's value) would be printed with it.
            let (parts, body) = http::Response::<reqwest::Body>::from(response).into_parts();
            let response = http::Response::from_parts(parts, SdkBody::from_body_1_x(body));
            HttpResponse::try_from(response).map_err(|e| ConnectorError::other(e.into(), None))
        })
    }
}

/// The SDK retries `io` and `timeout` connector errors as transient, as it does its own
/// connector's connect, send and read failures.
fn connector_error(e: reqwest::Error) -> ConnectorError {
    if e.is_timeout() {
        ConnectorError::timeout(e.into())
    } else if e.is_connect() || e.is_request() || e.is_body() {
        ConnectorError::io(e.into())
    } else {
        ConnectorError::other(e.into(), None)
    }
}

/// The AWS configuration from the environment (region, credentials, endpoints), with
/// `http` as its HTTP client.
pub async fn load_aws_config(http: &reqwest::Client) -> aws_config::SdkConfig {
    aws_config::defaults(aws_config::BehaviorVersion::latest())
        .http_client(sdk_http_client(http.clone()))
        .load()
        .await
}
