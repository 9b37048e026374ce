//! Accepting TCP connections and serving them with hyper directly.
//!
//! `axum::serve` gives a handler no way to abandon its connection, but the drop faults must
//! close the socket with no response bytes written, exactly like a network failure after the
//! request was sent. So each connection is served by hyper's HTTP/1 connection driver, raced
//! against a per-connection kill signal that handlers reach through request extensions. A
//! handler that fires it then never completes; the connection task drops the driver, and with
//! it the socket, before hyper could write anything.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::http::{Request, Response};
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Notify;
use tower::ServiceExt;

/// Lets a handler close the connection its request arrived on.
#[derive(Clone)]
pub(crate) struct ConnectionKill(Arc<Notify>);

impl ConnectionKill {
    pub(crate) fn fire(&self) {
        // `notify_one` stores a permit, so the signal is not lost if the connection task is
        // not waiting at this instant.
        self.0.notify_one();
    }
}

/// Serves `router` on every accepted connection until the runtime shuts down.
pub(crate) async fn accept_loop(listener: TcpListener, router: Router) {
    loop {
        match listener.accept().await {
            Ok((stream, _peer)) => {
                tokio::spawn(serve_connection(stream, router.clone()));
            }
            // Typically EMFILE or a connection reset before accept; back off instead of
            // spinning, and keep serving.
            Err(_) => tokio::time::sleep(Duration::from_millis(20)).await,
        }
    }
}

async fn serve_connection(stream: TcpStream, router: Router) {
    // Small JSON exchanges: do not let Nagle delay them. Failure only costs latency.
    let _ = stream.set_nodelay(true);
    let kill = Arc::new(Notify::new());
    let handle = ConnectionKill(Arc::clone(&kill));
    let service = hyper::service::service_fn(move |mut req: Request<Incoming>| {
        req.extensions_mut().insert(handle.clone());
        let router = router.clone();
        async move {
            let response: Response<Body> = router.oneshot(req).await?;
            Ok::<_, Infallible>(response)
        }
    });
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder.timer(TokioTimer::new());
    let connection = builder.serve_connection(TokioIo::new(stream), service);
    tokio::select! {
        // Errors here are client-side disconnects or protocol garbage; there is nobody to
        // report them to, and the next connection is unaffected.
        _ = connection => {}
        () = kill.notified() => {}
    }
}
