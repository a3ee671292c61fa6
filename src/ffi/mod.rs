//! The C API. Thin by design: null checks, conversions and error codes; the work happens in
//! the safe modules. Every entry point's body is `entry!(its_name, || ...)` (see `enter`):
//! panics are caught there, so none crosses into C, and misuse messages get the C name;
//! pointer arguments are checked with `try_ref!`/`try_mut!`, which return the function's
//! `Fallback` value. A unit test checks every exported function against this.
//!
//! Conventions (documented in the header):
//! - functions returning `h2_result` return `H2_OK` (0) or an `H2_E_*` code and record the
//!   failure for the calling thread (`h2_last_error`, `h2_last_error_message`);
//! - constructors return NULL on failure, with the same record;
//! - every `_free` accepts NULL.

#![allow(non_camel_case_types)]
// The safety contract of every function is the same and is stated once, in the header's
// preamble: each pointer argument is NULL or points to a live object of its type (strings
// NUL-terminated, buffers of the stated length), and objects are freed once.
#![allow(clippy::missing_safety_doc)]

pub mod call;
pub mod client;
pub mod config;
pub mod error;
pub mod events;
pub mod global;
pub mod info;
pub mod log;
pub mod queue;
pub mod redirect;
pub mod request;
pub mod response;

use std::cell::RefCell;
use std::ffi::{c_char, CStr};

use crate::error::{Error, ErrorKind};

pub use call::*;
pub use client::*;
pub use config::*;
pub use error::*;
pub use events::*;
pub use global::*;
pub use info::*;
pub use log::*;
pub use queue::*;
pub use redirect::*;
pub use request::*;
pub use response::*;

pub(crate) use queue::Posting;
pub(crate) use response::{field_at, find};

/// Result code of the C API: `H2_OK` or one of the `H2_E_*` codes.
pub type h2_result = u32;

/// Success.
pub const H2_OK: h2_result = 0;
/// A NULL pointer, an invalid header name or value, an out-of-range option.
pub const H2_E_INVALID_ARGUMENT: h2_result = 1;
/// The base URL could not be parsed or uses an unsupported scheme.
pub const H2_E_INVALID_URL: h2_result = 2;
/// The TCP connection could not be established (refused, unreachable, name not found).
pub const H2_E_CONNECT: h2_result = 3;
/// A timeout expired (connect, request, keepalive PING, SETTINGS ack, write stall, a thread
/// in `h2_global_cleanup`); the message says which.
pub const H2_E_TIMEOUT: h2_result = 4;
/// An HTTP/2 protocol violation, detected by us or reported by the server; see the HTTP/2
/// error code in `h2_error_info.h2_error`.
pub const H2_E_PROTOCOL: h2_result = 5;
/// The server reset the stream with RST_STREAM.
pub const H2_E_STREAM_RESET: h2_result = 6;
/// The server closed the connection with GOAWAY before completing the request.
pub const H2_E_GOAWAY: h2_result = 7;
/// The transport failed: connection reset, closed by the peer, write error.
pub const H2_E_CONNECTION: h2_result = 8;
/// The client was closed (`h2_client_free`) while the request was waiting, or the library was
/// shut down (`h2_global_cleanup`).
pub const H2_E_CLOSED: h2_result = 9;
/// The request was cancelled.
pub const H2_E_CANCELED: h2_result = 10;
/// A header list exceeded a limit (the server's for requests, ours for responses).
pub const H2_E_HEADERS_TOO_LARGE: h2_result = 11;
/// The response body exceeded `max_response_body`.
pub const H2_E_BODY_TOO_LARGE: h2_result = 12;
/// The server refused the request (REFUSED_STREAM) every time it was retried.
pub const H2_E_REFUSED: h2_result = 13;
/// A blocking function (or `h2_global_cleanup`) was called from a library thread (a
/// callback), where it would deadlock.
pub const H2_E_WRONG_THREAD: h2_result = 14;
/// An internal error (a bug in h2client): a panic was caught.
pub const H2_E_INTERNAL: h2_result = 15;
/// TLS failed: handshake, certificate, or ALPN.
pub const H2_E_TLS: h2_result = 16;
/// A client created before fork() was used in the child process.
pub const H2_E_FORKED: h2_result = 17;
/// Following redirects, one more than the maximum (h2_config_set_follow_redirects) was met;
/// the message names the chain of URLs.
pub const H2_E_TOO_MANY_REDIRECTS: h2_result = 18;
/// The proxy refused or failed the tunnel: a non-2xx answer to CONNECT (the status and reason
/// are in the message; 407: proxy authentication required), a SOCKS5 failure, or an unusable
/// proxy in the environment. The request was not sent (processed NO).
pub const H2_E_PROXY: h2_result = 19;
/// The response body could not be decoded from its `content-encoding`
/// (`h2_config_set_accept_encoding`): corrupt or truncated data, a zstd window over 8 MiB;
/// the message names the coding. The server answered (processed YES); a buffered call gets no
/// response, a streamed one fails at the read that met the bad data (its stream is reset).
pub const H2_E_DECODE: h2_result = 20;
/// A host name could not be resolved (the origin's, or the proxy's: the message says which):
/// the resolver found no such name, or no address of the configured IP version
/// (`h2_config_set_ip_version`). Nothing was sent (processed NO).
pub const H2_E_RESOLVE: h2_result = 21;
/// Not an error of the call: a non-blocking function (`h2_call_try_wait_headers`,
/// `h2_call_try_read`) found nothing ready yet. Arm `h2_call_notify` and try again once its
/// completion is posted.
pub const H2_E_AGAIN: h2_result = 22;

thread_local! {
    static LAST_ERROR: RefCell<Option<Error>> = const { RefCell::new(None) };
}

/// Records `e` as the calling thread's last error and returns its code. A misuse (an invalid
/// argument, a blocking call on a library thread) is prefixed with the name of the entry point
/// that was called (`"h2_call_read: ..."`): the core's messages do not know the C names.
pub(crate) fn fail(mut e: Error) -> h2_result {
    let code = e.kind as u32;
    if matches!(e.kind, ErrorKind::InvalidArgument | ErrorKind::WrongThread) {
        if let Some(name) = crate::panics::current_entry() {
            if !e.message.starts_with(name) {
                e.message = format!("{name}: {}", e.message).into();
            }
        }
    }
    LAST_ERROR.with(|l| *l.borrow_mut() = Some(e));
    code
}

/// Records an invalid-argument error.
pub(crate) fn invalid(msg: &str) -> h2_result {
    fail(Error::invalid(msg))
}

pub(crate) fn with_last_error<T>(f: impl FnOnce(Option<&Error>) -> T) -> T {
    LAST_ERROR.with(|l| f(l.borrow().as_ref()))
}

/// What an entry point returns when it cannot do its work (a NULL argument, a caught panic),
/// given the `H2_E_*` code it recorded: that code for functions returning `h2_result`, else a
/// neutral value (0, NULL, false, -1 for a file descriptor).
pub(crate) trait Fallback {
    /// The value for a failure recorded as `code`.
    fn fallback(code: h2_result) -> Self;
}

impl Fallback for h2_result {
    fn fallback(code: h2_result) -> Self {
        code
    }
}

macro_rules! fallback_is {
    ($($t:ty => $v:expr),* $(,)?) => {
        $(impl Fallback for $t {
            fn fallback(_: h2_result) -> Self {
                $v
            }
        })*
    };
}

fallback_is! {
    () => (),
    bool => false,
    u16 => 0,
    usize => 0,
    i32 => -1,
}

impl<T> Fallback for *const T {
    fn fallback(_: h2_result) -> Self {
        std::ptr::null()
    }
}

impl<T> Fallback for *mut T {
    fn fallback(_: h2_result) -> Self {
        std::ptr::null_mut()
    }
}

/// The boundary every entry point goes through (via [`entry!`]): runs `f` as the entry point
/// `name` (whose name then prefixes misuse messages), turning a panic into a recorded
/// `H2_E_INTERNAL` (with the panic's message; nothing is printed on the host's stderr) and the
/// function's [`Fallback`] value.
pub(crate) fn enter<T: Fallback>(name: &'static str, f: impl FnOnce() -> T) -> T {
    let r = crate::panics::catch_in(Some(name), || {
        #[cfg(test)]
        tests::maybe_panic(name);
        f()
    });
    match r {
        Ok(v) => v,
        Err(msg) => T::fallback(fail(crate::panics::internal(name, &msg))),
    }
}

/// The body of every `extern "C"` function: `entry!(fn_name, || body)`. Catches panics (see
/// [`enter`]); `fn_name` must be the function's own name (a test checks it, and that every
/// exported function starts with this).
macro_rules! entry {
    ($name:ident, $body:expr) => {
        $crate::ffi::enter(stringify!($name), $body)
    };
}
pub(crate) use entry;

/// `try_ref!(p)`: the object behind pointer argument `p`, or, if `p` is NULL, an early
/// return (from the `entry!` closure) of the function's [`Fallback`] value with
/// `H2_E_INVALID_ARGUMENT` ("p is NULL") recorded.
macro_rules! try_ref {
    ($p:ident) => {{
        let p = $p;
        // SAFETY: a pointer argument is NULL or points to a live object of its type (the
        // header's contract for every function).
        match unsafe { p.as_ref() } {
            Some(r) => r,
            None => {
                return $crate::ffi::Fallback::fallback($crate::ffi::invalid(concat!(
                    stringify!($p),
                    " is NULL"
                )))
            }
        }
    }};
}
pub(crate) use try_ref;

/// `try_mut!(p)`: as [`try_ref!`], mutably (an object the caller does not share meanwhile).
macro_rules! try_mut {
    ($p:ident) => {{
        let p = $p;
        // SAFETY: a pointer argument is NULL or points to a live object of its type that no
        // other thread uses during the call (the header's contract).
        match unsafe { p.as_mut() } {
            Some(r) => r,
            None => {
                return $crate::ffi::Fallback::fallback($crate::ffi::invalid(concat!(
                    stringify!($p),
                    " is NULL"
                )))
            }
        }
    }};
}
pub(crate) use try_mut;

/// Runs `f` inside an entry point, turning a panic into `H2_E_INTERNAL` (recorded): for a
/// step that must not unwind past cleanup that follows it.
pub(crate) fn guard(f: impl FnOnce() -> h2_result) -> h2_result {
    match crate::panics::catch(f) {
        Ok(r) => r,
        Err(msg) => {
            let who = crate::panics::current_entry().unwrap_or("h2client");
            fail(crate::panics::internal(who, &msg))
        }
    }
}

/// Borrows a NUL-terminated C string; `Err` (recorded) if NULL or not UTF-8.
///
/// # Safety
/// `p` must be NULL or point to a NUL-terminated string valid for the call.
pub(crate) unsafe fn c_str<'a>(p: *const c_char, what: &str) -> Result<&'a str, h2_result> {
    if p.is_null() {
        return Err(invalid(&format!("{what} is NULL")));
    }
    // SAFETY: the caller guarantees p is a valid NUL-terminated string.
    let s = unsafe { CStr::from_ptr(p) };
    s.to_str()
        .map_err(|_| invalid(&format!("{what} is not valid UTF-8")))
}

/// Borrows a C string's bytes; `Err` (recorded) if NULL.
///
/// # Safety
/// `p` must be NULL or point to a NUL-terminated string valid for the call.
pub(crate) unsafe fn c_bytes<'a>(p: *const c_char, what: &str) -> Result<&'a [u8], h2_result> {
    if p.is_null() {
        return Err(invalid(&format!("{what} is NULL")));
    }
    // SAFETY: the caller guarantees p is a valid NUL-terminated string.
    Ok(unsafe { CStr::from_ptr(p) }.to_bytes())
}

/// Borrows `len` bytes at `p`; NULL is allowed only with `len == 0`.
///
/// # Safety
/// `p` must be NULL or valid for reads of `len` bytes for the call.
pub(crate) unsafe fn c_slice<'a>(
    p: *const u8,
    len: usize,
    what: &str,
) -> Result<&'a [u8], h2_result> {
    if len == 0 {
        return Ok(&[]);
    }
    if p.is_null() {
        return Err(invalid(&format!("{what} is NULL but its length is {len}")));
    }
    if len > isize::MAX as usize {
        return Err(invalid(&format!("{what} length {len} is too large")));
    }
    // SAFETY: p is non-null and the caller guarantees len readable bytes.
    Ok(unsafe { std::slice::from_raw_parts(p, len) })
}

/// Writes `v` to `*out` if `out` is not NULL.
///
/// # Safety
/// `out` must be NULL or valid for a write of `T`.
pub(crate) unsafe fn put<T>(out: *mut T, v: T) {
    if !out.is_null() {
        // SAFETY: non-null and the caller guarantees it is writable.
        unsafe { out.write(v) };
    }
}

/// The `struct_size` of the caller's `out` (see `deliver_sized`), checked: fails (recorded)
/// if `out` (the argument named `arg`) is NULL or its `struct_size` is less than
/// `first_version`. For a function that checks its out-struct before it does its work.
///
/// # Safety
/// `out` must be NULL or point to a struct that starts with a readable `usize`.
pub(crate) unsafe fn sized_room<T>(
    out: *mut T,
    arg: &str,
    first_version: usize,
    type_name: &str,
) -> Result<usize, h2_result> {
    if out.is_null() {
        return Err(invalid(&format!("{arg} is NULL")));
    }
    // SAFETY: out is non-NULL and starts with the caller's struct_size (caller contract).
    let have = unsafe { out.cast::<usize>().read_unaligned() };
    if have < first_version {
        return Err(invalid(&format!(
            "{arg}->struct_size is {have}: set it to sizeof({type_name}) ({})",
            std::mem::size_of::<T>()
        )));
    }
    Ok(have)
}

/// Copies `value` to the caller's `out`, a struct that starts with its `struct_size` (the
/// `h2_request_info` convention): as much of it as the caller's `struct_size` holds, which is
/// then set to the bytes filled in. Fails (recorded) if `out` is NULL or its `struct_size` is
/// less than `first_version` (the size of the struct's first version).
///
/// # Safety
/// `T` must be `repr(C)` with a `usize` first field; `out` must be NULL or point to a writable
/// struct of at least its `struct_size` bytes.
pub(crate) unsafe fn deliver_sized<T: Copy>(
    out: *mut T,
    value: T,
    first_version: usize,
    type_name: &str,
) -> h2_result {
    // SAFETY: as this function's (caller contract).
    let have = match unsafe { sized_room(out, "out", first_version, type_name) } {
        Ok(have) => have,
        Err(rc) => return rc,
    };
    let n = have.min(std::mem::size_of::<T>());
    // SAFETY: the caller's struct holds `have` >= n writable bytes (caller contract); `value`
    // is a local of at least n bytes; they do not overlap. Then its first field, a usize.
    unsafe {
        std::ptr::copy_nonoverlapping((&value as *const T).cast::<u8>(), out.cast::<u8>(), n);
        out.cast::<usize>().write_unaligned(n);
    }
    H2_OK
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use std::cell::Cell;

    thread_local! {
        /// An entry point that panics on this thread when entered (to test the boundary).
        static PANIC_IN: Cell<Option<&'static str>> = const { Cell::new(None) };
    }

    pub(crate) fn maybe_panic(name: &str) {
        if PANIC_IN.with(Cell::get) == Some(name) {
            panic!("injected panic in {name}");
        }
    }

    /// Runs `f` with entry point `name` made to panic when entered.
    pub(crate) fn panicking<T>(name: &'static str, f: impl FnOnce() -> T) -> T {
        PANIC_IN.with(|p| p.set(Some(name)));
        let r = f();
        PANIC_IN.with(|p| p.set(None));
        r
    }

    /// The last error's code and message.
    pub(crate) fn last() -> (h2_result, String) {
        with_last_error(|e| {
            let e = e.expect("an error was recorded");
            (e.kind as u32, e.message.to_string())
        })
    }

    /// What the boundary check found in one source file.
    #[derive(Default, Debug)]
    struct Scan {
        /// Exported functions (`#[no_mangle]` and `extern "C"`).
        exported: Vec<String>,
        /// Problems: an exported function whose body does not start with `entry!(its_name,`,
        /// an `extern "C" fn` definition that is not exported, a `#[no_mangle]` item that is
        /// not a `pub extern "C" fn`.
        problems: Vec<String>,
    }

    fn ident_at(s: &str) -> &str {
        let end = s
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .unwrap_or(s.len());
        &s[..end]
    }

    /// Skips whitespace and `//` comment lines.
    fn skip_blank(mut s: &str) -> &str {
        loop {
            s = s.trim_start();
            match s.strip_prefix("//") {
                Some(rest) => s = rest.split_once('\n').map_or("", |(_, r)| r),
                None => return s,
            }
        }
    }

    fn scan(src: &str) -> Scan {
        let mut out = Scan::default();
        let mut rest = src;
        while let Some(i) = rest.find("#[no_mangle]") {
            rest = &rest[i + "#[no_mangle]".len()..];
            let item = skip_blank(rest);
            let Some(sig) = item
                .strip_prefix("pub unsafe extern \"C\" fn ")
                .or_else(|| item.strip_prefix("pub extern \"C\" fn "))
            else {
                let line = item.lines().next().unwrap_or("");
                out.problems.push(format!("#[no_mangle] on `{line}`"));
                continue;
            };
            let name = ident_at(sig).to_string();
            let body = sig.find('{').map_or("", |b| skip_blank(&sig[b + 1..]));
            if !body.starts_with(&format!("entry!({name},")) {
                out.problems
                    .push(format!("{name} does not start with entry!({name}, ...)"));
            }
            out.exported.push(name);
        }
        // Every `extern "C" fn` with a name (not a function pointer type) is exported.
        for (i, _) in src.match_indices("extern \"C\" fn ") {
            let name = ident_at(&src[i + "extern \"C\" fn ".len()..]);
            if !name.is_empty() && !out.exported.iter().any(|e| e == name) {
                out.problems
                    .push(format!("{name} is extern \"C\" but not #[no_mangle]"));
            }
        }
        out
    }

    /// The functions the header declares.
    fn header_functions(h: &str) -> Vec<String> {
        // Drop comments: their text names functions too.
        let mut code = String::new();
        let mut rest = h;
        while let Some(i) = rest.find("/*") {
            code.push_str(&rest[..i]);
            rest = rest[i..].split_once("*/").map_or("", |(_, r)| r);
        }
        code.push_str(rest);
        let code: String = code
            .lines()
            .filter(|l| !l.trim_start().starts_with("//") && !l.trim_start().starts_with('#'))
            .collect::<Vec<_>>()
            .join("\n");
        let mut names = Vec::new();
        for (i, _) in code.match_indices("h2_") {
            let before = code[..i].chars().next_back();
            if before.is_some_and(|c| c.is_ascii_alphanumeric() || c == '_') {
                continue;
            }
            let name = ident_at(&code[i..]);
            if code[i + name.len()..].starts_with('(') {
                names.push(name.to_string());
            }
        }
        names
    }

    fn read(path: &str) -> String {
        let p = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(path);
        std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
    }

    /// Every function of the C API goes through the boundary (`entry!`): a panic in any of them
    /// becomes H2_E_INTERNAL instead of aborting the process; and the functions of src/ffi are
    /// exactly those of the header.
    #[test]
    fn every_exported_function_goes_through_entry() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src/ffi");
        let mut exported = Vec::new();
        let mut problems = Vec::new();
        let mut files: Vec<_> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|x| x == "rs"))
            .collect();
        files.sort();
        assert!(files.len() >= 9, "{files:?}");
        for f in &files {
            let text = std::fs::read_to_string(f).unwrap();
            // Unit tests (like this one) are not part of the library.
            let code = text.split("\n#[cfg(test)]\n").next().unwrap_or("");
            let s = scan(code);
            exported.extend(s.exported);
            problems.extend(
                s.problems
                    .into_iter()
                    .map(|p| format!("{}: {p}", f.display())),
            );
        }
        assert!(problems.is_empty(), "{problems:#?}");
        let mut declared = header_functions(&read("include/h2client.h"));
        exported.sort();
        declared.sort();
        assert!(exported.len() >= 80, "{exported:?}");
        assert_eq!(exported, declared, "src/ffi and include/h2client.h differ");
    }

    /// The checker itself finds an unguarded function, a wrong name, a non-exported one.
    #[test]
    fn the_boundary_check_can_fail() {
        let src = r#"
#[no_mangle]
pub unsafe extern "C" fn h2_good(p: *const u8) -> u16 {
    // comment
    entry!(h2_good, || 1)
}
#[no_mangle]
pub unsafe extern "C" fn h2_bare(p: *const u8) -> u16 {
    unsafe { *p as u16 }
}
#[no_mangle]
pub extern "C" fn h2_copied() -> u16 {
    entry!(h2_good, || 1)
}
pub unsafe extern "C" fn h2_hidden() {}
pub type h2_cb = Option<unsafe extern "C" fn(x: *mut u8)>;
"#;
        let s = scan(src);
        assert_eq!(s.exported, ["h2_good", "h2_bare", "h2_copied"]);
        assert_eq!(s.problems.len(), 3, "{:#?}", s.problems);
        assert!(s.problems[0].starts_with("h2_bare "));
        assert!(s.problems[1].starts_with("h2_copied "));
        assert!(s.problems[2].starts_with("h2_hidden "));
        let h =
            "/** h2_doc(x) */\nuint16_t h2_good(const uint8_t *p);\nconst char *h2_name(void);\n\
                 typedef void (*h2_cb)(uint8_t *x);\n";
        assert_eq!(header_functions(h), ["h2_good", "h2_name"]);
    }

    /// The header's `H2_E_*` codes are those of the table in src/error.rs, no more (each
    /// constant of the table is checked at compile time).
    #[test]
    fn header_codes_are_the_tables() {
        let h = read("include/h2client.h");
        let mut found = Vec::new();
        for line in h.lines() {
            if let Some(def) = line.strip_prefix("#define H2_E_") {
                let (name, value) = def.split_once(' ').expect("#define NAME VALUE");
                let code: u32 = value.trim().parse().expect("a number");
                found.push((format!("H2_E_{name}"), code));
            }
        }
        let table: Vec<_> = ErrorKind::ALL
            .iter()
            .map(|k| (k.c_name().to_string(), *k as u32))
            .collect();
        assert_eq!(found, table);
    }

    /// Accessors that returned values without the boundary (a panic there aborted the
    /// process) now give their fallback and record H2_E_INTERNAL.
    #[test]
    fn a_panic_in_an_accessor_is_caught() {
        use std::ptr::{null, null_mut};
        // SAFETY: NULL arguments are allowed; the panic is injected on entry.
        unsafe {
            assert_eq!(panicking("h2_call_status", || h2_call_status(null())), 0);
            let (code, msg) = last();
            assert_eq!(code, H2_E_INTERNAL);
            assert!(
                msg.starts_with("internal error in h2_call_status "),
                "{msg}"
            );
            assert!(msg.contains("injected panic"), "{msg}");
            assert!(!panicking("h2_call_is_done", || h2_call_is_done(null())));
            assert_eq!(
                panicking("h2_response_header_count", || h2_response_header_count(
                    null()
                )),
                0
            );
            assert_eq!(panicking("h2_queue_fd", || h2_queue_fd(null())), -1);
            let mut len = 7;
            assert!(panicking("h2_response_body", || h2_response_body(null(), &mut len)).is_null());
            panicking("h2_request_free", || h2_request_free(null_mut()));
            let msg = last().1;
            assert!(
                msg.starts_with("internal error in h2_request_free (a bug in h2client"),
                "{msg}"
            );
            assert!(panicking("h2_version", || h2_version()).is_null());
            // Without the injected panic they work.
            assert_eq!(h2_call_status(null()), 0);
            assert_eq!(
                last(),
                (H2_E_INVALID_ARGUMENT, "h2_call_status: c is NULL".into())
            );
            assert!(!h2_version().is_null());
        }
    }

    #[test]
    fn guard_catches_panics() {
        let r = guard(|| panic!("boom"));
        assert_eq!(r, H2_E_INTERNAL);
        with_last_error(|e| assert!(e.unwrap().message.contains("boom")));
    }

    #[test]
    fn a_panic_gives_each_return_type_its_fallback() {
        fn ok<T: Fallback>(v: T) -> T {
            v
        }
        assert_eq!(enter("t", || -> h2_result { panic!("a") }), H2_E_INTERNAL);
        assert_eq!(enter("t", || -> usize { panic!("b") }), 0);
        assert_eq!(enter("t", || -> i32 { panic!("c") }), -1);
        assert!(!enter("t", || -> bool { panic!("d") }));
        assert!(enter("t", || -> *const u8 { panic!("e") }).is_null());
        let (code, msg) = last();
        assert_eq!(code, H2_E_INTERNAL);
        assert!(
            msg.contains("internal error in t ") && msg.contains("e (at "),
            "{msg}"
        );
        assert_eq!(enter("t", || ok(7usize)), 7);
    }

    #[test]
    fn misuse_messages_name_the_entry_point_once() {
        enter("h2_x", || invalid("p is NULL"));
        assert_eq!(last().1, "h2_x: p is NULL");
        enter("h2_x", || enter("h2_y", || invalid("q is NULL")));
        assert_eq!(last().1, "h2_y: q is NULL");
        enter("h2_x", || invalid("h2_x: already named"));
        assert_eq!(last().1, "h2_x: already named");
        // Failures of the request are not the caller's misuse: not prefixed.
        enter("h2_x", || fail(Error::new(ErrorKind::Timeout, "timed out")));
        assert_eq!(last().1, "timed out");
        // Outside an entry point nothing is added.
        invalid("bare");
        assert_eq!(last().1, "bare");
    }
}
