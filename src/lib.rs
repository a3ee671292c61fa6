//! h2client: an HTTP/2 client with a C ABI.
//!
//! The C API lives in [`ffi`] (and `include/h2client.h`); everything else is plain safe Rust
//! that the tests drive directly:
//! [`frame`] and [`hpack`] are pure codecs, [`conn`] runs one connection (a reader and a writer
//! task), [`pool`] manages a client's connections, [`client`] is the blocking request path.

#![forbid(unsafe_op_in_unsafe_fn)]
#![warn(missing_docs)]

mod bodypool;
pub mod client;
pub mod config;
#[cfg(feature = "testing")]
pub mod conn;
#[cfg(not(feature = "testing"))]
mod conn;
mod connect;
mod counters;
pub use connect::IpFamily;
pub mod decode;
pub(crate) mod diagnose;
pub mod error;
pub mod events;
#[cfg(feature = "testing")]
pub mod exchange;
#[cfg(not(feature = "testing"))]
mod exchange;
pub mod ffi;
pub mod frame;
pub mod headers;
pub mod hpack;
pub(crate) mod info;
pub mod log;
pub mod overrides;
mod panics;
#[cfg(feature = "testing")]
pub mod pool;
#[cfg(not(feature = "testing"))]
mod pool;
mod prehashed;
pub mod proxy;
pub mod queue;
pub mod redirect;
pub mod request;
pub mod response;
#[cfg(feature = "testing")]
pub mod runtime;
#[cfg(not(feature = "testing"))]
mod runtime;
pub mod tls;
pub mod url;

pub use client::Client;
pub use config::Config;
pub use error::{Error, ErrorKind, Origin, Processed, Reason};
pub use request::Request;
pub use response::Response;

/// The allocator of the library's own allocations (C code keeps using malloc).
#[cfg(feature = "fast-alloc")]
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;
