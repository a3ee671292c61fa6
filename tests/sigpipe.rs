//! A server that closes a Unix-socket connection under a write must not kill a program whose
//! SIGPIPE has its default action (every C program's), also when the program's own thread
//! runs the connection while it waits (`runtime::drive`), where SIGPIPE is not blocked.
//!
//! Rust test binaries ignore SIGPIPE, so the request runs in a forked child that restores the
//! default action first: a SIGPIPE there ends the child by the signal, which the parent sees.

mod common;

use std::io::{Read, Write};
use std::os::unix::net::UnixListener;
use std::sync::Arc;

use common::*;
use h2client::{Request, Response};

/// Runs `f` in a forked child with SIGPIPE's default action; the child's wait status.
fn in_child_with_sigpipe(f: impl FnOnce() -> i32) -> i32 {
    // SAFETY: the child only runs `f` and leaves with _exit, never returning into the harness.
    let pid = unsafe { libc::fork() };
    assert!(pid >= 0, "fork failed");
    if pid == 0 {
        // SAFETY: restores the default action of one signal in this (child) process.
        unsafe { libc::signal(libc::SIGPIPE, libc::SIG_DFL) };
        let code = std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)).unwrap_or(99);
        // SAFETY: terminates the child without running the parent's atexit handlers.
        unsafe { libc::_exit(code) };
    }
    let mut status = 0;
    // SAFETY: waits for our own child.
    unsafe { libc::waitpid(pid, &mut status, 0) };
    status
}

/// A "server" that reads the client's preface, grants a large window (so the client keeps
/// writing its body) and closes: the client's next writes fail with EPIPE.
fn closing_server(path: &std::path::Path) -> std::thread::JoinHandle<()> {
    let listener = UnixListener::bind(path).expect("bind");
    std::thread::spawn(move || {
        for _ in 0..2 {
            let Ok((s, _)) = listener.accept() else {
                return;
            };
            grant_and_close(s);
        }
    })
}

/// The same over TCP (vectored writes there are `writev`, which raises SIGPIPE too).
fn closing_tcp_server() -> (String, std::thread::JoinHandle<()>) {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let url = format!("http://{}", listener.local_addr().unwrap());
    let h = std::thread::spawn(move || {
        for _ in 0..2 {
            let Ok((s, _)) = listener.accept() else {
                return;
            };
            grant_and_close(s);
        }
    });
    (url, h)
}

fn grant_and_close(mut s: impl Read + Write) {
    {
        {
            let mut preface = [0u8; 24];
            if s.read_exact(&mut preface).is_err() {
                return;
            }
            // SETTINGS(INITIAL_WINDOW_SIZE = 2^31-1), WINDOW_UPDATE(0, 2^31-1-65535).
            let mut out = vec![0, 0, 6, 4, 0, 0, 0, 0, 0, 0, 4, 0x7f, 0xff, 0xff, 0xff];
            out.extend_from_slice(&[0, 0, 4, 8, 0, 0, 0, 0, 0]);
            out.extend_from_slice(&(0x7fff_ffffu32 - 65_535).to_be_bytes());
            let _ = s.write_all(&out);
            std::thread::sleep(std::time::Duration::from_millis(20));
            drop(s);
        }
    }
}

/// Uploads 32 MiB with `c` (the server goes away under it): 0 if the request failed, as it
/// must; the process is what the test watches.
fn upload_into_a_closing_server(c: h2client::Client) -> i32 {
    let mut req = Request::new("POST", "/").unwrap();
    req.set_body(bytes::Bytes::from(vec![b'x'; 32 << 20]));
    let r: h2client::error::Result<Response> = c.execute(Arc::new(req));
    i32::from(r.is_ok())
}

/// The child was not killed (by SIGPIPE) and its request failed.
fn assert_survived(status: i32) {
    assert!(
        libc::WIFEXITED(status),
        "the child was killed by signal {} (SIGPIPE is {})",
        libc::WTERMSIG(status),
        libc::SIGPIPE
    );
    assert_eq!(
        libc::WEXITSTATUS(status),
        0,
        "the request should have failed"
    );
}

#[test]
fn a_tcp_connection_closed_under_a_vectored_write_does_not_raise_sigpipe() {
    let status = in_child_with_sigpipe(|| {
        // The server thread may still wait in accept(): the child's _exit ends it.
        let (url, _server) = closing_tcp_server();
        upload_into_a_closing_server(client_with(&url, |c| c.set_request_timeout_ms(5000)))
    });
    assert_survived(status);
}

#[test]
fn a_unix_socket_closed_under_a_write_does_not_raise_sigpipe_on_the_waiting_thread() {
    let dir = std::env::temp_dir().join(format!("h2c-sigpipe-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("s");
    let _ = std::fs::remove_file(&path);
    let p2 = path.clone();
    let status = in_child_with_sigpipe(move || {
        let _server = closing_server(&p2);
        upload_into_a_closing_server(client_with("http://sigpipe.invalid", |c| {
            c.overrides.unix_socket = Some(p2.clone());
            c.set_request_timeout_ms(5000);
        }))
    });
    let _ = std::fs::remove_dir_all(&dir);
    assert_survived(status);
}
