//! The function's own Zuplo settings and provisioning core, for a command-line run:
//! `ZUPLO_ACCOUNT`, `ZUPLO_BUCKET`, `ZUPLO_API_URL`, `KEY_EXPIRES_AFTER_DAYS` and
//! `REQUIRE_VERIFIED_EMAIL` mean what they mean for the function, and the token comes
//! from `ZUPLO_API_KEY` (no AWS access needed) or from the secret `ZUPLO_SECRET_ID`.

use std::sync::Arc;
use std::time::Duration;

use zuplo_auth_hooks::clients::secrets::{SecretStore, Secrets};
use zuplo_auth_hooks::clients::zuplo::{ThrottleObserver, ZuploClient};
use zuplo_auth_hooks::clients::{http_client, sdk_http};
use zuplo_auth_hooks::config::vars::{ConfigError, Vars, http_url, path_segment};
use zuplo_auth_hooks::provision::Provisioner;
use zuplo_auth_hooks::provision::cache::ConsumerCache;

pub struct Zuplo {
    pub client: ZuploClient,
    pub secrets: Arc<SecretStore>,
    pub provisioner: Arc<Provisioner>,
}

#[derive(Debug, thiserror::Error)]
pub enum SetupError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error(
        "set ZUPLO_API_KEY (the Zuplo Developer API token) or ZUPLO_SECRET_ID (the function's secret in AWS Secrets Manager)"
    )]
    NoToken,
    #[error("ZUPLO_API_KEY: {0}")]
    BadToken(String),
    #[error("cannot build the HTTP client: {0}")]
    Http(String),
}

impl Zuplo {
    pub async fn from_env(
        lookup: impl Fn(&str) -> Option<String>,
        on_throttle: ThrottleObserver,
    ) -> Result<Self, SetupError> {
        let vars = Vars(&lookup);
        let api_url = http_url(
            "ZUPLO_API_URL",
            vars.get("ZUPLO_API_URL")
                .unwrap_or_else(|| "https://dev.zuplo.com".to_owned()),
        )?
        .trim_end_matches('/')
        .to_owned();
        let account = path_segment("ZUPLO_ACCOUNT", vars.required("ZUPLO_ACCOUNT")?)?;
        let bucket = path_segment("ZUPLO_BUCKET", vars.required("ZUPLO_BUCKET")?)?;
        let key_expiry = vars
            .optional_number("KEY_EXPIRES_AFTER_DAYS", 1, 3650)?
            .map(|days| Duration::from_secs(days * 86_400));
        let require_verified_email = vars.bool("REQUIRE_VERIFIED_EMAIL", false)?;
        let http = http_client().map_err(|e| SetupError::Http(e.to_string()))?;

        let secrets = match (vars.get("ZUPLO_API_KEY"), vars.get("ZUPLO_SECRET_ID")) {
            (Some(token), _) => SecretStore::fixed(
                Secrets::parse(&token).map_err(|e| SetupError::BadToken(e.to_string()))?,
            ),
            (None, Some(secret_id)) => {
                let aws = aws_config::defaults(aws_config::BehaviorVersion::latest())
                    .http_client(sdk_http::sdk_http_client(http.clone()))
                    .load()
                    .await;
                SecretStore::new(
                    aws_sdk_secretsmanager::Client::new(&aws),
                    secret_id,
                    Duration::from_secs(300),
                    Duration::from_secs(3600),
                )
            }
            (None, None) => return Err(SetupError::NoToken),
        };
        let secrets = Arc::new(secrets);
        let client =
            ZuploClient::new(http, &api_url, &account, &bucket).with_throttle_observer(on_throttle);
        // No cache worth keeping: every user is seen once.
        let provisioner = Provisioner::new(
            client.clone(),
            secrets.clone(),
            ConsumerCache::new(Duration::ZERO, 1),
            require_verified_email,
        )
        .with_key_expiry(key_expiry);
        Ok(Zuplo {
            client,
            secrets,
            provisioner: Arc::new(provisioner),
        })
    }
}
