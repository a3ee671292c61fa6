//! One HTTP/2 connection: handshake, accepting streams, running handlers.
//!
//! Every stream of a connection is driven *inside the connection's own task*
//! (a `FuturesUnordered`), not in a spawned task per stream. The reason is
//! the accuracy of [`Server::max_streams_seen`](crate::Server::max_streams_seen):
//! when a client resets stream A and immediately opens stream B, h2 handles
//! both frames in one read and wakes A's handler before handing out B. With
//! handlers in the same task we can let A's handler observe its reset
//! ([`settle`]) before counting B, so a client that respects
//! `SETTINGS_MAX_CONCURRENT_STREAMS` is never reported as exceeding it. With
//! spawned tasks that ordering would be up to the scheduler.

use std::future::{poll_fn, Future};
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::Poll;

use bytes::Bytes;
use futures_util::stream::{FuturesUnordered, StreamExt};
use h2::Reason;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::sync::watch;

use crate::{handlers, stopped, OpenConnection, Settings, Stats, SHUTDOWN_GRACE};

type StreamTask = Pin<Box<dyn Future<Output = ()> + Send>>;

/// Serves one connection until the client closes it, it fails, or the
/// server stops. Generic over the byte stream: a TCP socket in h2c mode, a
/// TLS stream over it in TLS mode (see `tls::serve_tls_connection`).
pub(crate) async fn serve_connection<IO>(
    io: IO,
    id: u64,
    settings: Arc<Settings>,
    stats: Arc<Stats>,
    stop: watch::Receiver<bool>,
    _open: OpenConnection,
) where
    IO: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let stop_signal = stopped(stop);
    tokio::pin!(stop_signal);

    let mut conn = tokio::select! {
        handshake = settings.builder().handshake::<_, Bytes>(io) => match handshake {
            Ok(conn) => conn,
            Err(e) => {
                log!("conn {id}: handshake failed: {e}");
                return;
            }
        },
        _ = &mut stop_signal => return,
    };

    // Streams of this connection that are currently active (see StreamGuard).
    let active = Arc::new(AtomicUsize::new(0));
    let mut streams: FuturesUnordered<StreamTask> = FuturesUnordered::new();

    loop {
        tokio::select! {
            incoming = conn.accept() => match incoming {
                Some(Ok((request, respond))) => {
                    settle(&mut streams).await;
                    let guard = StreamGuard::new(Arc::clone(&active), Arc::clone(&stats));
                    streams.push(Box::pin(handlers::handle(request, respond, guard, id)));
                }
                // Handlers already woken (by a RST_STREAM that came just before the close,
                // say) run once more before they are dropped, so that they record what
                // happened: `select!` picks among ready branches at random, and the close
                // could win over them (cancel's reset went unlogged in 2 of 40 loaded runs).
                Some(Err(e)) => {
                    settle(&mut streams).await;
                    log!("conn {id}: connection error: {e}");
                    break;
                }
                None => {
                    settle(&mut streams).await;
                    log!("conn {id}: closed");
                    break;
                }
            },
            Some(()) = streams.next(), if !streams.is_empty() => {}
            _ = &mut stop_signal => {
                log!("conn {id}: server stopping");
                conn.abrupt_shutdown(Reason::NO_ERROR);
                let _ = tokio::time::timeout(SHUTDOWN_GRACE, poll_fn(|cx| conn.poll_closed(cx))).await;
                break;
            }
        }
    }
}

/// Polls every stream handler that has already been woken, until none is
/// ready. Handlers whose streams the client just reset observe it here and
/// stop counting as active.
async fn settle(streams: &mut FuturesUnordered<StreamTask>) {
    poll_fn(|cx| loop {
        match streams.poll_next_unpin(cx) {
            // A handler finished; others may still be ready.
            Poll::Ready(Some(())) => continue,
            // Nothing left to run right now (or FuturesUnordered yielded
            // after a long batch, in which case it re-woke us already).
            Poll::Ready(None) | Poll::Pending => return Poll::Ready(()),
        }
    })
    .await
}

/// Accounting for one stream: the per-connection active count (and the
/// server-wide maximum of it), `requests_served` and `resets_received`.
pub(crate) struct StreamGuard {
    active: Arc<AtomicUsize>,
    stats: Arc<Stats>,
    open: bool,
}

impl StreamGuard {
    fn new(active: Arc<AtomicUsize>, stats: Arc<Stats>) -> StreamGuard {
        let now = active.fetch_add(1, Ordering::SeqCst) + 1;
        stats.max_streams_seen.fetch_max(now, Ordering::SeqCst);
        StreamGuard {
            active,
            stats,
            open: true,
        }
    }

    /// Call right *before* queueing the stream's last frame. The stream stops
    /// counting as active before the client can possibly see that frame and
    /// open another stream in its place, so we never over-count.
    pub(crate) fn finish(&mut self, served: bool) {
        if self.open {
            self.open = false;
            self.active.fetch_sub(1, Ordering::SeqCst);
            if served {
                self.stats.requests_served.fetch_add(1, Ordering::SeqCst);
            }
        }
    }

    /// The client reset the stream while it was still active.
    pub(crate) fn peer_reset(&mut self) {
        if self.open {
            self.stats.resets_received.fetch_add(1, Ordering::SeqCst);
            self.finish(false);
        }
    }
}

impl Drop for StreamGuard {
    fn drop(&mut self) {
        self.finish(false);
    }
}
