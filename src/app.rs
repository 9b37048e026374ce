//! Per-container state, built once at init and lent to every event: the clients, the
//! caches, the providers, the clock and telemetry. It has no request logic: that is
//! [`crate::entry`]'s.

use std::sync::Arc;
use std::time::Duration;

use crate::clients::secrets::SecretStore;
use crate::clients::zuplo::ZuploClient;
use crate::config::Config;
use crate::deadline::Deadline;
use crate::entry::budget::Clock;
use crate::providers::{Door, Shared};
use crate::provision::Provisioner;
use crate::provision::cache::ConsumerCache;
use crate::telemetry::{MetricsSink, Telemetry};

/// How long init may spend warming caches. Failures there are logged, never fatal:
/// the first request retries, so a broken dependency cannot crash-loop the function.
const WARM_UP_BUDGET: Duration = Duration::from_secs(3);

pub struct App {
    secrets: Arc<SecretStore>,
    zuplo: ZuploClient,
    doors: Vec<Box<dyn Door>>,
    clock: Clock,
    telemetry: Telemetry,
}

impl App {
    /// `http` is [`crate::clients::http_client`]'s, the one `aws` sends through too.
    /// Metrics go to stdout, or nowhere when `METRICS_ENABLED` is off.
    pub fn new(config: &Config, aws: &aws_config::SdkConfig, http: reqwest::Client) -> Self {
        let sink = if config.metrics_enabled {
            MetricsSink::Stdout
        } else {
            MetricsSink::Off
        };
        Self::with_metrics(config, aws, http, sink)
    }

    pub fn with_metrics(
        config: &Config,
        aws: &aws_config::SdkConfig,
        http: reqwest::Client,
        metrics: MetricsSink,
    ) -> Self {
        let clock = Clock::new(config.deadline_margin);
        let secrets = Arc::new(SecretStore::new(
            aws_sdk_secretsmanager::Client::new(aws),
            config.zuplo_secret_id.clone(),
            config.secret_ttl,
            config.secret_stale_grace,
        ));
        let zuplo = ZuploClient::new(
            http.clone(),
            &config.zuplo_api_url,
            &config.zuplo_account,
            &config.zuplo_bucket,
        );
        let provisioner = Arc::new(
            Provisioner::new(
                zuplo.clone(),
                secrets.clone(),
                ConsumerCache::new(config.consumer_cache_ttl, config.consumer_cache_capacity),
                config.require_verified_email,
            )
            .with_key_expiry(config.key_expires_after),
        );
        let shared = Shared {
            secrets: secrets.clone(),
            provisioner,
            http,
            claim: config.consumer_claim.clone(),
            fail_mode: config.fail_mode,
            signup_policy: config.signup_policy.clone(),
        };
        App {
            secrets,
            zuplo,
            doors: config.providers.doors(&shared),
            clock,
            telemetry: Telemetry::new(config.metrics_namespace.clone(), metrics),
        }
    }

    pub fn doors(&self) -> &[Box<dyn Door>] {
        &self.doors
    }

    pub fn clock(&self) -> &Clock {
        &self.clock
    }

    pub fn telemetry(&self) -> &Telemetry {
        &self.telemetry
    }

    /// Fills the caches during Lambda init, concurrently: the secret (then checks the
    /// token against Zuplo, which also opens the TLS connection) and each provider's own.
    pub async fn warm_up(&self) {
        let deadline = Deadline::after(WARM_UP_BUDGET);
        let secret_and_zuplo = async {
            match self.secrets.current(deadline).await {
                Err(e) => {
                    tracing::error!(reason = %e, "init: could not read the secret; will retry on the first request");
                    self.secrets.forget_failure().await;
                }
                Ok(lease) => {
                    for door in &self.doors {
                        door.secret_loaded(&lease);
                    }
                    match self
                        .zuplo
                        .who_am_i(&lease.secrets.zuplo_api_key, deadline)
                        .await
                    {
                        Ok(()) => tracing::info!("init: Zuplo accepted the Developer API token"),
                        Err(e) => tracing::error!(reason = %e, "init: Zuplo token check failed"),
                    }
                }
            }
        };
        let providers = async {
            for door in &self.doors {
                door.warm_up(deadline).await;
            }
        };
        tokio::join!(secret_and_zuplo, providers);
        self.clock.ready();
    }
}
