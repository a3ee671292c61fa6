//! Shared helpers for the integration tests.
#![allow(dead_code)]

pub mod capi;
pub mod proxy;
pub mod rawserver;

use std::sync::Arc;

use h2client::{Client, Config, Request, Response};
pub use h2client_testserver::{Options, Server};

/// Starts the project's test server with default options.
pub fn server() -> Server {
    Server::start(Options::default()).expect("start test server")
}

/// Starts the test server with `f` applied to the options.
pub fn server_with(f: impl FnOnce(&mut Options)) -> Server {
    let mut o = Options::default();
    f(&mut o);
    Server::start(o).expect("start test server")
}

/// A client for `url` with `f` applied to a default config.
pub fn client_with(url: &str, f: impl FnOnce(&mut Config)) -> Client {
    let mut c = Config::default();
    f(&mut c);
    Client::new(url, c).expect("client")
}

/// GET `path`.
pub fn get(c: &Client, path: &str) -> h2client::error::Result<Response> {
    c.execute(Arc::new(Request::new("GET", path).expect("request")))
}

/// The test server's /bytes/N pattern.
pub fn pattern(n: usize) -> Vec<u8> {
    (0..n).map(|i| b'a' + (i % 26) as u8).collect()
}

/// Reads a streaming call's whole body.
pub fn read_all(call: &h2client::client::Call) -> Vec<u8> {
    let mut out = Vec::new();
    let mut buf = vec![0u8; 64 << 10];
    loop {
        let n = call.read(&mut buf).unwrap();
        if n == 0 {
            return out;
        }
        out.extend_from_slice(&buf[..n]);
    }
}

/// Waits up to `within` for `f` to hold (polling every few milliseconds): for state the
/// library changes on its own threads after a call returns (a connection closing).
pub fn eventually(within: std::time::Duration, mut f: impl FnMut() -> bool) -> bool {
    let deadline = std::time::Instant::now() + within;
    loop {
        if f() {
            return true;
        }
        if std::time::Instant::now() > deadline {
            return false;
        }
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
}
