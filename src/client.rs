//! The client: one authority, its pool, and the blocking request path.

use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::config::Config;
use crate::error::{Error, ErrorKind, Processed, Result};
use crate::exchange::{Exchange, Pending};
use crate::pool::PoolInner;
use crate::request::Request;
use crate::response::Response;
use crate::runtime;
use crate::url::{Scheme, Target};

/// How long closing a client waits for its connections to send GOAWAY and close.
const CLOSE_GRACE: Duration = Duration::from_millis(250);

/// An HTTP/2 client for one authority. Cheap to share between threads (`&Client` is enough).
pub struct Client {
    pool: Arc<PoolInner>,
}

/// A snapshot of a client's state, for tests and statistics.
#[derive(Debug, Clone, Default)]
pub struct ClientSnapshot {
    /// Connections currently in the pool.
    pub connections: usize,
    /// Connections opened since the client was created.
    pub connections_opened: u64,
    /// Requests waiting for a stream slot.
    pub waiting: usize,
    /// Streams reserved or open, summed over connections.
    pub open_streams: u64,
    /// Each connection's effective concurrent stream limit.
    pub stream_limits: Vec<u32>,
    /// Requests retried since creation.
    pub retries: u64,
    /// Each connection's smoothed PING round trip in microseconds (0 until measured).
    pub rtt_us: Vec<u64>,
}

impl Client {
    /// A client for the authority of `base_url` (`http://host[:port]`; any path is ignored).
    pub fn new(base_url: &str, cfg: Config) -> Result<Client> {
        let target = Target::parse(base_url)?;
        let tls = match target.scheme {
            Scheme::Https => Some(crate::tls::client_config(&cfg.tls)?),
            Scheme::Http => None,
        };
        runtime::get()?;
        Ok(Client {
            pool: PoolInner::new(target, Arc::new(cfg), tls),
        })
    }

    /// The client's configuration.
    pub fn config(&self) -> &Config {
        &self.pool.cfg
    }

    /// Sends `req` and blocks until the whole response has arrived or the request failed.
    /// Must not be called from a runtime thread.
    pub fn execute(&self, req: Arc<Request>) -> Result<Response> {
        if runtime::on_runtime_thread() {
            return Err(Error::new(
                ErrorKind::WrongThread,
                "h2_client_do called from a library (runtime) thread, where blocking would deadlock",
            ));
        }
        req.check_complete()?;
        let timeout = req.timeout.or(self.pool.cfg.request_timeout);
        let deadline = timeout.map(|t| Instant::now() + t);
        let ex = Exchange::new(req);
        self.pool.submit(Pending::new(ex.clone()));
        if let Some(r) = ex.wait(deadline) {
            return r;
        }
        let ms = timeout.map(|t| t.as_millis()).unwrap_or(0);
        ex.abort(
            Error::new(
                ErrorKind::Timeout,
                format!("timed out: no complete response within {ms} ms (request timeout)"),
            )
            .with_processed(Processed::Maybe),
        );
        ex.wait(None).unwrap_or_else(|| {
            Err(Error::new(
                ErrorKind::Internal,
                "request finished without a result",
            ))
        })
    }

    /// Closes every connection (GOAWAY(NO_ERROR)); requests still waiting fail with
    /// `H2_E_CLOSED`. Waits briefly for the GOAWAY to be written unless called from a runtime
    /// thread.
    pub fn close(&self) {
        let grace = if runtime::on_runtime_thread() {
            Duration::ZERO
        } else {
            CLOSE_GRACE
        };
        self.pool.close(grace);
    }

    /// A snapshot of the pool.
    pub fn snapshot(&self) -> ClientSnapshot {
        let conns = self.pool.connections();
        ClientSnapshot {
            connections: conns.len(),
            connections_opened: self
                .pool
                .counters
                .connections_opened
                .load(std::sync::atomic::Ordering::Relaxed),
            waiting: self.pool.waiting(),
            open_streams: conns.iter().map(|c| u64::from(c.open_streams())).sum(),
            stream_limits: conns.iter().map(|c| c.stream_limit()).collect(),
            rtt_us: conns.iter().map(|c| c.rtt_us()).collect(),
            retries: self
                .pool
                .counters
                .retries
                .load(std::sync::atomic::Ordering::Relaxed),
        }
    }
}

impl Drop for Client {
    fn drop(&mut self) {
        self.close();
    }
}
