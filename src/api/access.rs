//! The gate in front of every route: who the caller is (`Authorization: Bearer KEY`, or
//! `X-Api-Key`), whether the route's [`Rule`] lets them in, their rate limit, the cap on
//! requests in flight and the per-request timeout. The route table (`super::routes`)
//! gives each route its rule, so no route can be added without one.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{ConnectInfo, Request, State};
use axum::http::HeaderMap;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use tokio::sync::Semaphore;

use super::error::ApiError;
use super::routes::AppState;
use crate::error::Error;
use crate::service::access::{Caller, Rule};

/// How the server is reached, fixed when it starts listening.
#[derive(Debug, Clone, Copy)]
pub struct Network {
    /// Listening on a loopback address only: with no key anywhere, the API is open.
    pub loopback_only: bool,
    /// Take the client's address from the last `X-Forwarded-For` hop.
    pub trust_forwarded_for: bool,
}

/// What the gate of one route needs.
#[derive(Clone)]
pub struct Gate {
    pub service: AppState,
    pub rule: Rule,
    pub network: Network,
    /// Requests in flight, server-wide.
    pub in_flight: Arc<Semaphore>,
    /// `None` for routes that may legitimately run long (a reindex).
    pub timeout: Option<Duration>,
    /// The route's path template, for the request log.
    pub route: &'static str,
    /// The route's request counters and latency histogram.
    pub figures: Arc<super::metrics::RouteFigures>,
    /// A page of the workspace: it checks its session itself (and answers the sign-in
    /// page, not a 401), but counts against the cap on requests in flight like any
    /// call that works, which a probe does not.
    pub page: bool,
}

/// The key a request carries: `Authorization: Bearer KEY`, or `X-Api-Key: KEY`.
fn secret(headers: &HeaderMap) -> Option<&str> {
    headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            v.strip_prefix("Bearer ")
                .or_else(|| v.strip_prefix("bearer "))
        })
        .or_else(|| headers.get("x-api-key").and_then(|v| v.to_str().ok()))
        .map(str::trim)
        .filter(|s| !s.is_empty())
}

/// The client's address: the peer's, or behind a trusted proxy the last hop it added.
fn client_address(request: &Request, network: Network) -> IpAddr {
    let peer = request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip())
        .unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED));
    if !network.trust_forwarded_for {
        return peer;
    }
    // Only the last hop, the one the trusted proxy added: anything before it is the
    // client's to write. A last hop that does not parse counts as the proxy itself.
    request
        .headers()
        .get_all("x-forwarded-for")
        .iter()
        .next_back()
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.rsplit(',').next())
        .and_then(|hop| hop.trim().parse::<IpAddr>().ok())
        .unwrap_or(peer)
}

/// Whether this request may get the open (no key) mode: the server listens on loopback
/// only, no proxy stands in front (a local reverse proxy would carry the whole network
/// in), and the `Host` names the loopback (a web page re-pointing its own name at
/// 127.0.0.1, DNS rebinding, sends its own name).
pub(super) fn from_this_machine(headers: &HeaderMap, network: Network) -> bool {
    if !network.loopback_only || network.trust_forwarded_for {
        return false;
    }
    if ["forwarded", "x-forwarded-for", "x-real-ip"]
        .iter()
        .any(|h| headers.contains_key(*h))
    {
        return false;
    }
    let host = headers
        .get("host")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    let name = match host.strip_prefix('[') {
        Some(v6) => v6.split(']').next().unwrap_or_default(),
        None => host.split(':').next().unwrap_or_default(),
    };
    name.eq_ignore_ascii_case("localhost")
        || name.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

/// Lets the request through the gate, then logs one line for it, whatever the outcome:
/// the route (its template, so ids and queries stay out of the logs), the status, the
/// time taken and who called.
pub async fn gate(State(gate): State<Gate>, request: Request, next: Next) -> Response {
    let started = std::time::Instant::now();
    let method = request.method().clone();
    let address = client_address(&request, gate.network);
    let (response, caller) = admit(&gate, request, address, next).await;
    let response = response.unwrap_or_else(IntoResponse::into_response);
    gate.figures
        .observe(response.status().as_u16(), started.elapsed());
    tracing::info!(
        target: "devicekb::request",
        method = %method,
        route = gate.route,
        status = response.status().as_u16(),
        took_ms = format_args!("{:.1}", started.elapsed().as_secs_f64() * 1000.0),
        caller = %caller.as_ref().map_or_else(|| "refused".to_string(), |c| {
            if gate.page { "page".to_string() } else { c.actor() }
        }),
        client = %address,
        "request"
    );
    response
}

async fn admit(
    gate: &Gate,
    mut request: Request,
    address: IpAddr,
    next: Next,
) -> (Result<Response, ApiError>, Option<Caller>) {
    let caller = match gate.service.access.authorize(
        gate.rule,
        secret(request.headers()),
        address,
        from_this_machine(request.headers(), gate.network),
    ) {
        Ok(caller) => caller,
        Err(e) => return (Err(ApiError(e)), None),
    };
    // Probes are answered whatever the load: an orchestrator must see the server alive.
    let permit = if caller == Caller::Anyone && !gate.page {
        None
    } else {
        match gate.in_flight.clone().try_acquire_owned() {
            Ok(permit) => Some(permit),
            Err(_) => {
                let busy =
                    Error::Overloaded("too many requests in flight; retry in a second".into());
                return (Err(ApiError(busy)), Some(caller));
            }
        }
    };
    request.extensions_mut().insert(caller.clone());
    let response = match gate.timeout {
        None => Ok(next.run(request).await),
        Some(limit) => tokio::time::timeout(limit, next.run(request))
            .await
            .map_err(|_| {
                ApiError(Error::TimedOut(format!(
                    "the request took longer than {} ms",
                    limit.as_millis()
                )))
            }),
    };
    drop(permit);
    (response, Some(caller))
}
