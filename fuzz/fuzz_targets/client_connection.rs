//! The whole client connection fed arbitrary server bytes over an in-memory pipe: one to four
//! requests in flight, the bytes after a valid server preface or raw, in chunks, then EOF, a
//! cancel or timeouts (see `src/session_input.rs` for the input format). A crash is a panic in
//! the library, a hang, an abandoned request, or a broken bound (heap, output, buffering).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    h2client_fuzz::run_client_input(data);
});
