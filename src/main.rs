use lambda_http::{Error, service_fn};
use zuplo_auth_hooks::{App, Config};

/// Lambda hands a container one event at a time, and a small function has well under
/// one vCPU, so the work is I/O-bound and sequential: a single-threaded runtime avoids
/// starting worker threads at init and handing tasks between them. Measured with
/// `scripts/bench.sh --runtime-flavors` (2-core EPYC, x86_64 release, 1000 warm
/// invocations through a local Runtime API, each with a Zuplo create on loopback):
///
/// | runtime        | cold start p50 | warm p50 | warm p99 | CPU/invocation | peak RSS |
/// |----------------|---------------:|---------:|---------:|---------------:|---------:|
/// | current_thread |       12.9 ms  |  0.39 ms |  0.52 ms |        0.24 ms |  8.4 MiB |
/// | multi_thread   |       15.1 ms  |  0.47 ms |  0.78 ms |        0.41 ms |  9.0 MiB |
///
/// The `multi-thread-runtime` feature builds the multi-threaded one, for comparison.
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
    let aws = aws_config::load_from_env().await;
    let app = App::new(&config, &aws)?;
    app.warm_up().await;

    let app = &app;
    lambda_http::run(service_fn(move |req| async move {
        Ok::<_, std::convert::Infallible>(app.handle(req).await)
    }))
    .await
}
