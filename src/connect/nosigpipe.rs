//! A Unix socket whose writes never raise SIGPIPE.
//!
//! Connections are also driven from programs' threads (see `runtime::drive`), where SIGPIPE
//! is not blocked and a C program has its default action (terminate). std's TCP streams send
//! with `MSG_NOSIGNAL`; its Unix streams `write(2)`, so a write to a Unix socket the peer
//! closed would kill the host program. This sends with `MSG_NOSIGNAL` instead.

use std::io;
use std::os::fd::AsRawFd;
use std::pin::Pin;
use std::task::{ready, Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, Interest, ReadBuf};
use tokio::net::UnixStream;

/// A connected Unix stream socket, written with `send(MSG_NOSIGNAL)`.
pub(crate) struct NoSigPipe {
    sock: UnixStream,
    /// Gathers buffers into one `sendmsg` (h2c). Off under TLS, whose records valgrind
    /// reports as partly undefined (see c-examples/valgrind.supp): one `send` per record keeps
    /// that false positive to one suppressible call name.
    vectored: bool,
}

impl AsyncRead for NoSigPipe {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.sock).poll_read(cx, buf)
    }
}

impl NoSigPipe {
    /// Wraps a connected socket; `vectored`: see the field.
    pub(crate) fn new(sock: UnixStream, vectored: bool) -> NoSigPipe {
        NoSigPipe { sock, vectored }
    }

    /// Runs one non-blocking `send` flavour when the socket is writable, retrying on a stale
    /// readiness.
    fn poll_send(
        &self,
        cx: &mut Context<'_>,
        mut send: impl FnMut(std::os::fd::RawFd) -> isize,
    ) -> Poll<io::Result<usize>> {
        let sock = &self.sock;
        loop {
            ready!(sock.poll_write_ready(cx))?;
            let fd = sock.as_raw_fd();
            let sent = sock.try_io(Interest::WRITABLE, || {
                let n = send(fd);
                if n < 0 {
                    Err(io::Error::last_os_error())
                } else {
                    Ok(n as usize)
                }
            });
            match sent {
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => continue,
                r => return Poll::Ready(r),
            }
        }
    }
}

impl AsyncWrite for NoSigPipe {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.poll_send(cx, |fd| {
            // SAFETY: sends from a valid slice of buf.len() bytes on our own socket.
            unsafe { libc::send(fd, buf.as_ptr().cast(), buf.len(), libc::MSG_NOSIGNAL) }
        })
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        if !self.vectored {
            let first = bufs
                .iter()
                .find(|b| !b.is_empty())
                .map_or(&[][..], |b| &**b);
            return self.poll_write(cx, first);
        }
        // IoSlice is ABI-compatible with iovec; at most IOV_MAX (1024) of them per call.
        let count = bufs.len().min(1024);
        self.poll_send(cx, |fd| {
            // SAFETY: a zeroed msghdr is valid; it points at `count` live IoSlices (iovecs),
            // which sendmsg only reads, on our own socket.
            unsafe {
                let mut msg: libc::msghdr = std::mem::zeroed();
                msg.msg_iov = bufs.as_ptr() as *mut libc::iovec;
                msg.msg_iovlen = count as _;
                libc::sendmsg(fd, &msg, libc::MSG_NOSIGNAL)
            }
        })
    }

    fn is_write_vectored(&self) -> bool {
        self.vectored
    }

    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.sock).poll_shutdown(cx)
    }
}
