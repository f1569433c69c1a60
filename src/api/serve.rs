//! The server loop. `axum::serve` runs hyper without a timer, so a client that sends its
//! headers one byte at a time holds a connection for ever; this loop gives hyper a timer
//! and a header-read timeout, caps open connections (more wait in the kernel's accept
//! queue), and on shutdown stops accepting and waits, bounded, for requests in flight.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::ConnectInfo;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tower::Service as _;

use super::access::Network;
use crate::error::{Error, Result};
use crate::service::Service;

/// How long shutdown waits for requests in flight (and pipelines they started).
const SHUTDOWN_GRACE: Duration = Duration::from_secs(20);

/// Serves until Ctrl-C / SIGTERM. `listener` may be bound to port 0 (tests). With no API
/// key anywhere it refuses a listener that is not on loopback.
pub async fn serve(listener: TcpListener, service: Arc<Service>) -> Result<()> {
    let local = listener
        .local_addr()
        .map_err(|e| Error::io("reading the listening address", e))?;
    let config = service.engine.config().clone();
    let network = Network {
        loopback_only: local.ip().is_loopback(),
        trust_forwarded_for: config.trust_forwarded_for,
    };
    service
        .access
        .check_listening(network.loopback_only, &local.to_string())?;
    if service.access.is_open(network.loopback_only) {
        tracing::warn!(addr = %local, "no API key exists: the API is open to anyone on this machine (loopback only); create one with `devicekb keys create`");
    } else {
        tracing::info!(addr = %local, keys = service.access.keys.active(), "API keys required");
    }
    let watcher = service.engine.spawn_generation_watcher();
    let app = super::router(service.clone(), network);

    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(Duration::from_millis(config.header_read_timeout_ms.max(1)));
    let connections = Arc::new(Semaphore::new(config.max_connections.max(1)));
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    let shutdown = shutdown_signal();
    tokio::pin!(shutdown);

    loop {
        let permit = tokio::select! {
            permit = connections.clone().acquire_owned() => match permit {
                Ok(permit) => permit,
                Err(_) => break,
            },
            _ = &mut shutdown => break,
        };
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(e) => {
                    // Out of file descriptors and the like: wait rather than spin.
                    tracing::warn!(error = %e, "accepting a connection failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            _ = &mut shutdown => break,
        };
        let _ = stream.set_nodelay(true);
        let router = app.clone();
        let handle = hyper::service::service_fn(move |mut request: hyper::Request<Incoming>| {
            request
                .extensions_mut()
                .insert(ConnectInfo::<SocketAddr>(peer));
            router.clone().call(request)
        });
        let connection = graceful.watch(http.serve_connection(TokioIo::new(stream), handle));
        tokio::spawn(async move {
            if let Err(e) = connection.await {
                tracing::debug!(peer = %peer, error = %e, "connection closed with an error");
            }
            drop(permit);
        });
    }
    drop(listener);
    tracing::info!("no longer accepting connections; waiting for requests in flight");
    // One grace period for both: requests, then the pipelines they started.
    let deadline = tokio::time::Instant::now() + SHUTDOWN_GRACE;
    tokio::select! {
        _ = graceful.shutdown() => {}
        _ = tokio::time::sleep_until(deadline) => {
            tracing::warn!(grace_s = SHUTDOWN_GRACE.as_secs(), "requests still running at the end of the grace period");
        }
    }
    service.desk.wait_for_pipelines(deadline).await;
    watcher.abort();
    Ok(())
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = terminate => {},
    }
    tracing::info!("shutting down");
}
