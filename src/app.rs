//! Shared state, built once per Lambda container and borrowed by every request.

use std::sync::Arc;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use tokio::time::Instant;

use lambda_http::{Body, Request, Response};

use crate::config::Config;
use crate::consumer_cache::ConsumerCache;
use crate::deadline::Deadline;
use crate::firebase::FirebaseHooks;
use crate::firebase::certs::CertCache;
use crate::firebase::token::TokenVerifier;
use crate::provision::Provisioner;
use crate::secrets::SecretStore;
use crate::supabase::SupabaseHooks;
use crate::telemetry::{MetricsSink, Telemetry};
use crate::zuplo::ZuploClient;

/// How long init may spend warming caches. Failures there are logged, never fatal:
/// the first request retries, so a broken dependency cannot crash-loop the function.
const WARM_UP_BUDGET: Duration = Duration::from_secs(3);

pub struct App {
    secrets: Arc<SecretStore>,
    zuplo: ZuploClient,
    firebase: Option<FirebaseHooks>,
    supabase: SupabaseHooks,
    deadline_margin: Duration,
    /// The caller's clock started before our init did: the first request pays for it.
    init_started: Instant,
    /// When warm-up finished.
    ready_at: OnceLock<Instant>,
    first_request: AtomicBool,
    telemetry: Telemetry,
}

/// A first request that arrives later than this after init finished did not wait for
/// it: Lambda started the container ahead of demand. (After a real cold start the
/// runtime asks for the event right away, within a millisecond or two.)
const COLD_START_GAP: Duration = Duration::from_millis(100);

impl App {
    pub fn new(config: &Config, aws: &aws_config::SdkConfig) -> Result<Self, reqwest::Error> {
        let init_started = Instant::now();
        // One client for every outbound HTTPS call, so its connection pool outlives requests.
        let http = reqwest::Client::builder()
            .user_agent(concat!("zuplo-auth-hooks/", env!("CARGO_PKG_VERSION")))
            .connect_timeout(Duration::from_secs(2))
            .pool_idle_timeout(Duration::from_secs(50))
            .build()?;
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
        let provisioner = Arc::new(Provisioner::new(
            zuplo.clone(),
            secrets.clone(),
            ConsumerCache::new(config.consumer_cache_ttl, config.consumer_cache_capacity),
            config.require_verified_email,
        ));
        // Always routed: whether Supabase is in use is known only once the secret is
        // read (its supabase_hook_secret field), and until then nothing can be verified.
        let supabase = SupabaseHooks::new(
            secrets.clone(),
            provisioner.clone(),
            config.consumer_claim.clone(),
            config.fail_mode,
            config.supabase.clone(),
        );
        let firebase = config.firebase.as_ref().map(|fb| {
            if fb.emulator {
                tracing::warn!("FIREBASE_AUTH_EMULATOR is on: unsigned tokens are accepted. Never use this in production.");
            }
            let verifier = TokenVerifier::new(
                CertCache::new(http.clone(), fb.certs_url.clone(), fb.certs_stale_grace),
                &fb.project_id,
                fb.audiences.clone(),
                fb.emulator,
            );
            FirebaseHooks::new(
                verifier,
                fb.project_id.clone(),
                provisioner.clone(),
                config.consumer_claim.clone(),
                config.fail_mode,
                fb.budget,
            )
        });
        if firebase.is_none() {
            tracing::info!("FIREBASE_PROJECT_ID is not set: the Firebase routes are disabled");
        }
        Ok(App {
            secrets,
            zuplo,
            firebase,
            supabase,
            deadline_margin: config.deadline_margin,
            init_started,
            ready_at: OnceLock::new(),
            first_request: AtomicBool::new(true),
            telemetry: Telemetry::new(
                config.metrics_namespace.clone(),
                if config.metrics_enabled {
                    MetricsSink::Stdout
                } else {
                    MetricsSink::Off
                },
            ),
        })
    }

    pub fn firebase(&self) -> Option<&FirebaseHooks> {
        self.firebase.as_ref()
    }

    pub fn supabase(&self) -> &SupabaseHooks {
        &self.supabase
    }

    pub fn deadline_margin(&self) -> Duration {
        self.deadline_margin
    }

    /// The container's first request most likely waited for the cold start, and the
    /// caller's 7 s or 5 s include it: its budget counts from the start of init.
    /// Treats the container as warm: no request pays for init. For tests that measure
    /// warm behaviour.
    pub fn mark_warm(&self) {
        self.first_request.store(false, Ordering::Relaxed);
    }

    /// True for the container's first request only.
    pub fn take_first_request(&self) -> bool {
        self.first_request.swap(false, Ordering::Relaxed)
    }

    /// The end of `budget` counted from the start of init, for a first request that
    /// waited for init; `None` when the container was started ahead of demand.
    pub fn init_deadline(&self, budget: Duration) -> Option<Deadline> {
        let ready = self.ready_at.get().copied().unwrap_or(self.init_started);
        (ready.elapsed() < COLD_START_GAP).then(|| Deadline::at(self.init_started + budget))
    }

    pub fn telemetry(&self) -> &Telemetry {
        &self.telemetry
    }

    /// Where the per-request metrics documents go (stdout by default).
    pub fn set_metrics_sink(&mut self, sink: MetricsSink) {
        self.telemetry.set_sink(sink);
    }

    /// Fills the caches during Lambda init, concurrently: the secret (then checks the
    /// token against Zuplo, which also opens the TLS connection) and the signing certificates.
    pub async fn warm_up(&self) {
        let deadline = Deadline::after(WARM_UP_BUDGET);
        let secret_and_zuplo = async {
            match self.secrets.current(deadline).await {
                Err(e) => {
                    tracing::error!(reason = %e, "init: could not read the secret; will retry on the first request");
                    self.secrets.forget_failure().await;
                }
                Ok(lease) => match self
                    .zuplo
                    .who_am_i(&lease.secrets.zuplo_api_key, deadline)
                    .await
                {
                    Ok(()) => tracing::info!("init: Zuplo accepted the Developer API token"),
                    Err(e) => tracing::error!(reason = %e, "init: Zuplo token check failed"),
                },
            }
        };
        let certs = async {
            // Emulator setups are local and usually offline: nothing to warm there.
            if let Some(fb) = self
                .firebase
                .as_ref()
                .filter(|fb| !fb.verifier().emulator())
            {
                match fb.verifier().certs().prefetch(deadline).await {
                    Ok(n) => tracing::debug!(keys = n, "init: certificates cached"),
                    Err(e) => {
                        tracing::warn!(reason = %e, "init: could not fetch signing certificates; will retry on the first request")
                    }
                }
            }
        };
        tokio::join!(secret_and_zuplo, certs);
        let _ = self.ready_at.set(Instant::now());
    }

    pub async fn handle(&self, req: Request) -> Response<Body> {
        crate::http::handle(self, req).await
    }
}
