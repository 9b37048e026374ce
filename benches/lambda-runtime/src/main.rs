//! Answers every Function URL event at once with a fixed 200, and does nothing at init
//! beyond what `lambda_http` itself does: the floor that scripts/bench.sh compares
//! `zuplo-auth-hooks` against.

use lambda_http::{Body, Error, Request, Response, service_fn};

#[tokio::main]
async fn main() -> Result<(), Error> {
    // Same subscriber as the real function, so log setup is not counted as a difference.
    lambda_http::tracing::init_default_subscriber();
    lambda_http::run(service_fn(|_req: Request| async {
        Ok::<_, Error>(
            Response::builder()
                .status(200)
                .header("content-type", "application/json")
                .body(Body::from("{}"))?,
        )
    }))
    .await
}
