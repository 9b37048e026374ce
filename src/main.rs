use lambda_http::{Error, service_fn};
use zuplo_auth_hooks::{App, Config};

#[tokio::main]
async fn main() -> Result<(), Error> {
    lambda_http::tracing::init_default_subscriber();

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
