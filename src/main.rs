use lambda_runtime::{Error, service_fn};
use zuplo_auth_hooks::{App, Config, clients, entry};

/// Lambda hands a container one event at a time, and a small function has well under
/// one vCPU, so the work is I/O-bound and sequential: a single-threaded runtime avoids
/// starting worker threads at init and handing tasks between them (README,
/// "Performance", has the measurements). The `multi-thread-runtime` feature builds the
/// multi-threaded one, for comparison.
fn main() -> Result<(), Error> {
    #[cfg(not(feature = "multi-thread-runtime"))]
    let mut builder = tokio::runtime::Builder::new_current_thread();
    #[cfg(feature = "multi-thread-runtime")]
    let mut builder = tokio::runtime::Builder::new_multi_thread();
    builder.enable_all().build()?.block_on(run())
}

async fn run() -> Result<(), Error> {
    zuplo_auth_hooks::logging::init();

    // A configuration error is the one failure allowed to stop init: it names the
    // variable to fix, and no request could succeed without it.
    let config = Config::from_env().inspect_err(|e| tracing::error!("{e}"))?;
    // The SDK sends its requests through the function's own HTTP client: one TLS stack,
    // one read of the root certificates.
    let http = clients::http_client()?;
    let aws = clients::sdk_http::load_aws_config(&http).await;
    let app = App::new(&config, &aws, http);
    app.warm_up().await;

    let app = &app;
    lambda_runtime::run(service_fn(move |event| entry::handle(app, event))).await
}
