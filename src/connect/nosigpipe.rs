//! Sockets whose writes never raise SIGPIPE.
//!
//! Connections are also driven from programs' threads (see `runtime::drive`; the fast path
//! of a request alone on its connection writes from the submitting thread too), where SIGPIPE
//! is not blocked and a C program has its default action (terminate). std sends plain writes
//! to a TCP socket with `MSG_NOSIGNAL`, but vectored writes (`writev`, what the writer and
//! rustls use) and every write to a Unix socket can raise it: a server closing a connection
//! under a write would kill the host program. Every socket write of a connection therefore
//! goes through here, as `send`/`sendmsg` with `MSG_NOSIGNAL`.

use std::io::{self, IoSlice};
use std::os::fd::{AsRawFd, RawFd};
use std::pin::Pin;
use std::task::{ready, Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, Interest, ReadBuf};

/// What a socket of tokio's offers to write to it by hand.
pub(crate) trait Socket: AsyncRead + AsyncWrite + AsRawFd + Unpin {
    /// Ready to write (clears with a `WouldBlock` from [`Socket::try_io_write`]).
    fn poll_writable(&self, cx: &mut Context<'_>) -> Poll<io::Result<()>>;
    /// Runs a non-blocking write, clearing the readiness on `WouldBlock`.
    fn try_io_write(&self, f: &mut dyn FnMut() -> io::Result<usize>) -> io::Result<usize>;
}

impl Socket for tokio::net::TcpStream {
    fn poll_writable(&self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.poll_write_ready(cx)
    }
    fn try_io_write(&self, f: &mut dyn FnMut() -> io::Result<usize>) -> io::Result<usize> {
        self.try_io(Interest::WRITABLE, f)
    }
}

impl Socket for tokio::net::UnixStream {
    fn poll_writable(&self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.poll_write_ready(cx)
    }
    fn try_io_write(&self, f: &mut dyn FnMut() -> io::Result<usize>) -> io::Result<usize> {
        self.try_io(Interest::WRITABLE, f)
    }
}

/// `send(2)` of `buf` with `MSG_NOSIGNAL`.
fn send(fd: RawFd, buf: &[u8]) -> io::Result<usize> {
    // SAFETY: sends from a valid slice of buf.len() bytes on a socket we own.
    let n = unsafe { libc::send(fd, buf.as_ptr().cast(), buf.len(), libc::MSG_NOSIGNAL) };
    if n < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(n as usize)
    }
}

/// `sendmsg(2)` of `bufs` (at most IOV_MAX of them) with `MSG_NOSIGNAL`.
pub(crate) fn send_vectored(fd: RawFd, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
    let count = bufs.len().min(1024);
    // SAFETY: a zeroed msghdr is valid; it points at `count` live IoSlices (ABI-compatible
    // with iovec), which sendmsg only reads, on a socket we own.
    let n = unsafe {
        let mut msg: libc::msghdr = std::mem::zeroed();
        msg.msg_iov = bufs.as_ptr() as *mut libc::iovec;
        msg.msg_iovlen = count as _;
        libc::sendmsg(fd, &msg, libc::MSG_NOSIGNAL)
    };
    if n < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(n as usize)
    }
}

/// Runs one non-blocking send on `sock` when it is writable, retrying on a stale readiness.
fn poll_send<S: Socket>(
    sock: &S,
    cx: &mut Context<'_>,
    send: &mut dyn FnMut(RawFd) -> io::Result<usize>,
) -> Poll<io::Result<usize>> {
    loop {
        ready!(sock.poll_writable(cx))?;
        let fd = sock.as_raw_fd();
        match sock.try_io_write(&mut || send(fd)) {
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => continue,
            r => return Poll::Ready(r),
        }
    }
}

/// A connected socket written with `MSG_NOSIGNAL`.
pub(crate) struct NoSigPipe<S> {
    sock: S,
    /// Gathers buffers into one `sendmsg`. Off under TLS, whose records valgrind reports as
    /// partly undefined (see c-examples/valgrind.supp): a `sendmsg` error names the iovec's
    /// index, which no suppression can match with a wildcard, so TLS sends one record per
    /// `send` (a batch of requests is one record; uploads cost a call per 16 KiB record).
    vectored: bool,
}

impl<S: Socket> NoSigPipe<S> {
    /// Wraps a connected socket; `vectored`: see the field.
    pub(crate) fn new(sock: S, vectored: bool) -> NoSigPipe<S> {
        NoSigPipe { sock, vectored }
    }

    fn poll_send(
        &self,
        cx: &mut Context<'_>,
        send: &mut dyn FnMut(RawFd) -> io::Result<usize>,
    ) -> Poll<io::Result<usize>> {
        poll_send(&self.sock, cx, send)
    }
}

impl<S: Socket> AsyncRead for NoSigPipe<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.sock).poll_read(cx, buf)
    }
}

impl<S: Socket> AsyncWrite for NoSigPipe<S> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.poll_send(cx, &mut |fd| send(fd, buf))
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        if !self.vectored {
            let first = bufs
                .iter()
                .find(|b| !b.is_empty())
                .map_or(&[][..], |b| &**b);
            return self.poll_write(cx, first);
        }
        self.poll_send(cx, &mut |fd| send_vectored(fd, bufs))
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

/// The write half of a plain TCP connection, written with `MSG_NOSIGNAL` (by the writer task,
/// and without blocking by the submitting thread's fast path).
pub(crate) struct TcpWrite(pub(crate) tokio::net::tcp::OwnedWriteHalf);

impl TcpWrite {
    /// Writes what the socket takes now (`WouldBlock` if nothing).
    pub(crate) fn try_write_vectored(&self, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
        let sock = self.0.as_ref();
        let fd = sock.as_raw_fd();
        sock.try_io_write(&mut || send_vectored(fd, bufs))
    }

    fn poll_send(
        &self,
        cx: &mut Context<'_>,
        send: &mut dyn FnMut(RawFd) -> io::Result<usize>,
    ) -> Poll<io::Result<usize>> {
        poll_send(self.0.as_ref(), cx, send)
    }
}

impl AsyncWrite for TcpWrite {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.poll_send(cx, &mut |fd| send(fd, buf))
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        self.poll_send(cx, &mut |fd| send_vectored(fd, bufs))
    }

    fn is_write_vectored(&self) -> bool {
        true
    }

    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_shutdown(cx)
    }
}
