//! The network layer: TCP listeners and one task per client connection.
//!
//! Like Kafka's `SocketServer`, each configured listener (`PLAINTEXT`, `SASL_PLAINTEXT`,
//! custom names; see [`crate::listener`]) has its own acceptor, which hands each
//! connection to its own task; connections remember their listener, whose endpoint they
//! are advertised and whose protocol decides whether they authenticate with SASL first
//! (`security::authenticator`). A connection's task reads request frames through its
//! `Connection`, has them handled and writes the responses back in order. [`Server`] ties
//! the listeners, the connections and
//! the broker's background tasks together and shuts them all down gracefully: stop
//! accepting, close connections, flush every log.
//!
//! Requests on one connection are handled one at a time and answered in order, as Kafka
//! does (clients pipeline by sending several before reading). Responses to requests that
//! arrived together are written together. A frame larger than `socket.request.max.bytes`,
//! a negative size or an undecodable request closes that connection only.
//!
//! Connections are bounded as in Kafka: one that sends nothing for
//! `connections.max.idle.ms` is closed, as is one whose request, once begun, does not
//! arrive whole within `request.read.timeout.ms` (Rill's; Kafka relies on the idle
//! timeout alone); at most `max.connections` are served, later ones waiting to be
//! accepted.

mod connection;

use std::collections::HashMap;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{watch, Semaphore};
use tokio::task::JoinSet;
use tokio::time::Instant;

use crate::broker::Broker;
use crate::config::BrokerConfig;
use crate::error::{Error, Result};
use crate::handlers::{handle_frame, Outcome};
use crate::listener::SecurityProtocol;
use crate::security::authenticator::{Authenticator, Step};
use crate::security::principal::RequestContext;
use connection::{Connection, FrameError};

#[cfg(test)]
pub(crate) use connection::encode_response;

/// Requests that may wait (long-polling fetches, JoinGroup and SyncGroup parked until the
/// group's rebalance gets there): `Fetch`, `JoinGroup`, `SyncGroup`.
const WAITING_KEYS: [i16; 3] = [1, 11, 14];

/// One bound listener: its name, protocol, socket and what it advertises.
#[derive(Debug)]
struct BoundListener {
    info: Arc<ListenerInfo>,
    listener: TcpListener,
    local_addr: SocketAddr,
}

/// What a connection knows of the listener it came in on.
#[derive(Debug)]
struct ListenerInfo {
    name: String,
    protocol: SecurityProtocol,
    /// Host and port advertised to this listener's clients.
    endpoint: (String, i32),
    /// PLAIN users configured for this listener, if any.
    plain_users: Option<Arc<HashMap<String, String>>>,
}

/// Largest request accepted on a SASL listener before authentication completes (Kafka's
/// `sasl.server.max.receive.size` default, 512 KiB).
const SASL_MAX_RECEIVE_SIZE: usize = 524_288;

/// How long a connection stays open after failed authentication (Kafka's
/// `connection.failed.authentication.delay.ms` default).
const FAILED_AUTHENTICATION_DELAY: Duration = Duration::from_millis(100);

/// A bound, not yet running broker server.
#[derive(Debug)]
pub struct Server {
    broker: Arc<Broker>,
    listeners: Vec<BoundListener>,
}

impl Server {
    /// Binds every listener and opens the data directory (recovering every log).
    /// `config.data_dir` must be set. A TLS listener is refused: TLS is not supported yet.
    pub async fn bind(config: BrokerConfig) -> Result<Server> {
        let data_dir = config
            .data_dir
            .clone()
            .ok_or_else(|| Error::InvalidConfig {
                key: "log.dirs".into(),
                value: String::new(),
                reason: "a data directory is required".into(),
            })?;
        let mut listeners = Vec::new();
        for spec in config.resolved_listeners()? {
            let listener = TcpListener::bind(spec.addr)
                .await
                .map_err(|e| Error::Network {
                    addr: spec.addr.to_string(),
                    source: e,
                })?;
            let local_addr = listener.local_addr().map_err(|e| Error::Network {
                addr: spec.addr.to_string(),
                source: e,
            })?;
            let endpoint = match spec.advertised {
                Some((host, port)) => (host, i32::from(port)),
                None => {
                    let host = match &config.advertised_host {
                        Some(host) => host.clone(),
                        None if local_addr.ip().is_unspecified() => "127.0.0.1".to_string(),
                        None => local_addr.ip().to_string(),
                    };
                    (host, i32::from(local_addr.port()))
                }
            };
            tracing::info!(
                listener = %spec.name,
                protocol = %spec.protocol,
                addr = %local_addr,
                "listener bound"
            );
            let plain_users = config
                .sasl_plain_users
                .get(&spec.name)
                .cloned()
                .map(Arc::new);
            listeners.push(BoundListener {
                info: Arc::new(ListenerInfo {
                    name: spec.name,
                    protocol: spec.protocol,
                    endpoint,
                    plain_users,
                }),
                listener,
                local_addr,
            });
        }
        let Some(first) = listeners.first() else {
            return Err(Error::InvalidConfig {
                key: "listeners".into(),
                value: String::new(),
                reason: "no listener given".into(),
            });
        };
        // The broker's default endpoint (requests that did not come over a listener) is
        // the first listener's.
        let mut advertised = first.local_addr;
        if advertised.ip().is_unspecified() {
            advertised.set_ip(std::net::Ipv4Addr::LOCALHOST.into());
        }
        if let Ok(ip) = first.info.endpoint.0.parse() {
            advertised.set_ip(ip);
        }
        if let Ok(port) = u16::try_from(first.info.endpoint.1) {
            advertised.set_port(port);
        }
        let broker =
            tokio::task::spawn_blocking(move || Broker::open(config, &data_dir, advertised))
                .await
                .map_err(|_| Error::Stopped)??;
        tracing::info!(addr = %first.local_addr, cluster_id = broker.cluster_id(), "broker listening");
        Ok(Server {
            broker: Arc::new(broker),
            listeners,
        })
    }

    /// The address the first listener is bound to.
    pub fn local_addr(&self) -> SocketAddr {
        self.listeners[0].local_addr
    }

    /// The address the listener named `name` (`PLAINTEXT`, `SASL_PLAINTEXT`, …) is bound
    /// to.
    pub fn listener_addr(&self, name: &str) -> Option<SocketAddr> {
        self.listeners
            .iter()
            .find(|l| l.info.name.eq_ignore_ascii_case(name))
            .map(|l| l.local_addr)
    }

    /// Every listener's name and bound address, in configuration order.
    pub fn listener_addrs(&self) -> Vec<(String, SocketAddr)> {
        self.listeners
            .iter()
            .map(|l| (l.info.name.clone(), l.local_addr))
            .collect()
    }

    /// The broker's shared state.
    pub(crate) fn broker(&self) -> Arc<Broker> {
        self.broker.clone()
    }

    /// Serves clients until `shutdown` completes, then shuts down gracefully.
    pub async fn run(self, shutdown: impl Future<Output = ()>) -> Result<()> {
        let (stop_tx, stop_rx) = watch::channel(false);
        let background = tokio::spawn(self.broker.clone().run_background(stop_rx.clone()));
        let mut connections = JoinSet::new();
        // `max.connections`: a connection is accepted only with a permit, held until it
        // closes; past the limit new connections wait in the listen backlog, as Kafka's
        // acceptor makes them wait. The limit is shared by every listener.
        let permits = Arc::new(Semaphore::new(
            self.broker
                .config()
                .max_connections
                .min(Semaphore::MAX_PERMITS),
        ));
        // One acceptor per listener, as Kafka's `SocketServer` has; accepted sockets come
        // here to be served.
        let (accepted_tx, mut accepted_rx) = tokio::sync::mpsc::channel(16);
        let mut acceptors = JoinSet::new();
        for bound in self.listeners {
            let permits = permits.clone();
            let tx = accepted_tx.clone();
            acceptors.spawn(async move {
                loop {
                    let Ok(permit) = permits.clone().acquire_owned().await else {
                        return;
                    };
                    match bound.listener.accept().await {
                        Ok((stream, peer)) => {
                            if tx.send((stream, peer, bound.info.clone(), permit)).await.is_err() {
                                return;
                            }
                        }
                        Err(e) => {
                            // Out of file descriptors and the like: back off, keep serving.
                            tracing::warn!(listener = %bound.info.name, error = %e, "accept failed");
                            drop(permit);
                            tokio::time::sleep(Duration::from_millis(50)).await;
                        }
                    }
                }
            });
        }
        drop(accepted_tx);
        tokio::pin!(shutdown);
        loop {
            tokio::select! {
                _ = &mut shutdown => break,
                Some((stream, peer, info, permit)) = accepted_rx.recv() => {
                    let broker = self.broker.clone();
                    let stop = stop_rx.clone();
                    connections.spawn(async move {
                        serve(broker, stream, peer, info, stop).await;
                        drop(permit);
                    });
                }
                Some(_) = connections.join_next(), if !connections.is_empty() => {}
            }
        }
        tracing::info!("broker shutting down");
        // Stop accepting: the acceptors own the listening sockets.
        acceptors.abort_all();
        while acceptors.join_next().await.is_some() {}
        drop(accepted_rx);
        let _ = stop_tx.send(true);
        let drain = async { while connections.join_next().await.is_some() {} };
        if tokio::time::timeout(Duration::from_secs(5), drain)
            .await
            .is_err()
        {
            connections.abort_all();
        }
        let _ = background.await;
        let broker = self.broker.clone();
        tokio::task::spawn_blocking(move || broker.flush_all())
            .await
            .map_err(|_| Error::Stopped)??;
        tracing::info!("broker stopped");
        Ok(())
    }
}

/// Serves one connection until the client closes it, it misbehaves, or the broker stops.
async fn serve(
    broker: Arc<Broker>,
    stream: TcpStream,
    peer: SocketAddr,
    listener: Arc<ListenerInfo>,
    mut stop: watch::Receiver<bool>,
) {
    tracing::debug!(%peer, listener = %listener.name, "connection opened");
    let mut conn = Connection::new(stream, broker.config().max_request_size);
    // Who the client is: anonymous until authentication (SASL, TLS) sets the principal.
    let mut ctx = RequestContext::anonymous(Some(peer));
    ctx.endpoint = Some(listener.endpoint.clone());
    ctx.sasl = listener.protocol == SecurityProtocol::SaslPlaintext;
    // SASL listeners authenticate first; the authenticator sees every frame.
    let mut sasl = ctx.sasl.then(|| {
        Authenticator::new(
            broker.config().sasl_enabled_mechanisms.clone(),
            listener.plain_users.clone(),
            broker.config().connections_max_reauth_ms,
        )
    });
    // Whether requests up to `socket.request.max.bytes` are accepted yet.
    let mut full_size = sasl.is_none();
    if !full_size {
        // Until authenticated, a client may not make the broker buffer large requests.
        conn.set_max_request_size(SASL_MAX_RECEIVE_SIZE.min(broker.config().max_request_size));
    }
    let idle = broker.config().connections_max_idle;
    let read_timeout = broker.config().request_read_timeout;
    // When the first bytes of the request not yet complete arrived.
    let mut request_started: Option<Instant> = None;
    loop {
        // Handle every complete frame already read.
        loop {
            let frame = match conn.next_frame() {
                Ok(Some(frame)) => {
                    request_started = None;
                    frame
                }
                Ok(None) => break,
                Err(FrameError::NegativeSize(size)) => {
                    tracing::warn!(%peer, size, "negative request size; closing connection");
                    return;
                }
                Err(FrameError::TooLarge { size, max }) => {
                    tracing::warn!(%peer, size, max, "request larger than socket.request.max.bytes; closing connection");
                    return;
                }
            };
            if let Some(auth) = sasl.as_mut() {
                let step = auth.on_frame(&broker, &frame);
                if let Some(principal) = auth.principal() {
                    if !full_size {
                        conn.set_max_request_size(broker.config().max_request_size);
                        full_size = true;
                    }
                    ctx.principal = principal.clone();
                }
                let reason = match step {
                    Step::Pass => None,
                    Step::Respond(response) => match conn.write_response(&response) {
                        // Answered by the authenticator: on to the next frame.
                        Ok(()) => continue,
                        Err(reason) => Some(reason),
                    },
                    Step::Fail(response, reason) => {
                        // The client reads why before the connection closes, which Kafka
                        // delays (`connection.failed.authentication.delay.ms`, 100 ms):
                        // clients see the error rather than a bare disconnect, and cannot
                        // retry passwords at full speed.
                        let _ = conn.write_response(&response);
                        tracing::info!(%peer, %reason, "closing connection");
                        let _ = conn.flush().await;
                        tokio::select! {
                            _ = tokio::time::sleep(FAILED_AUTHENTICATION_DELAY) => {}
                            _ = stop.changed() => {}
                        }
                        return;
                    }
                    Step::Close(reason) => Some(reason),
                };
                if let Some(reason) = reason {
                    tracing::info!(%peer, %reason, "closing connection");
                    let _ = conn.flush().await;
                    return;
                }
            }
            let may_wait = frame.len() >= 2
                && WAITING_KEYS.contains(&i16::from_be_bytes([frame[0], frame[1]]));
            if may_wait && conn.flush().await.is_err() {
                // The request may wait: earlier answers are not held back meanwhile.
                return;
            }
            let outcome = tokio::select! {
                o = handle_frame(&broker, &ctx, frame) => o,
                _ = stop.changed() => return,
            };
            let closing = match outcome {
                Outcome::Respond(response) => conn.write_response(&response).err(),
                Outcome::Nothing => None,
                Outcome::Close(reason) => Some(reason),
            };
            if let Some(reason) = closing {
                tracing::warn!(%peer, %reason, "closing connection");
                let _ = conn.flush().await;
                return;
            }
        }
        if let Err(e) = conn.flush().await {
            tracing::debug!(%peer, error = %e, "write failed");
            return;
        }
        // Every pass through here follows activity: bytes read or requests answered.
        let now = Instant::now();
        if conn.buffered() == 0 {
            request_started = None;
        } else if request_started.is_none() {
            request_started = Some(now);
        }
        // Kafka's `connections.max.idle.ms`, and a bound on how long one request may take
        // to arrive once begun.
        let deadline = match request_started {
            Some(started) => (started + read_timeout).min(now + idle),
            None => now + idle,
        };
        let read = tokio::select! {
            r = conn.read() => r,
            _ = tokio::time::sleep_until(deadline) => {
                let reason = if request_started.is_some_and(|s| s + read_timeout <= Instant::now()) {
                    "request not complete within request.read.timeout.ms"
                } else {
                    "idle longer than connections.max.idle.ms"
                };
                tracing::info!(%peer, reason, "closing connection");
                return;
            }
            _ = stop.changed() => return,
        };
        match read {
            Ok(true) => {}
            Ok(false) => {
                tracing::debug!(%peer, "connection closed by client");
                return;
            }
            Err(e) => {
                tracing::debug!(%peer, error = %e, "read failed");
                return;
            }
        }
    }
}
