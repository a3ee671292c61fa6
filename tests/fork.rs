//! fork(): a client made in the parent fails fast in the child with `Forked`; the child builds
//! its own runtime and clients; the parent is unaffected.

mod common;

use common::*;
use h2client::ErrorKind;

/// Runs `f` in a forked child and returns its exit status.
fn in_child(f: impl FnOnce() -> i32) -> i32 {
    // SAFETY: the child only runs `f` (which uses the library's fork support) and exits with
    // _exit, never returning into the test harness.
    let pid = unsafe { libc::fork() };
    assert!(pid >= 0, "fork failed");
    if pid == 0 {
        let code = std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)).unwrap_or(99);
        // SAFETY: terminates the child without running the parent's atexit handlers.
        unsafe { libc::_exit(code) };
    }
    let mut status = 0;
    // SAFETY: waits for our own child.
    unsafe { libc::waitpid(pid, &mut status, 0) };
    assert!(
        libc::WIFEXITED(status),
        "child did not exit normally: {status}"
    );
    libc::WEXITSTATUS(status)
}

#[test]
fn fork_child_uses_its_own_clients() {
    let s = server();
    let parent = client_with(&s.url(), |c| c.set_request_timeout_ms(3000));
    assert_eq!(get(&parent, "/").unwrap().status(), 200);
    let url = s.url();
    let parent = std::sync::Arc::new(parent);
    let parent2 = parent.clone();
    let doomed = client_with(&s.url(), |_| {});
    assert_eq!(get(&doomed, "/").unwrap().status(), 200);
    let code = in_child(move || {
        // The parent's client fails fast instead of hanging on threads that do not exist.
        match get(&parent2, "/") {
            Err(e) if e.kind == ErrorKind::Forked => {}
            other => {
                eprintln!("parent client in child: {:?}", other.map(|r| r.status()));
                return 1;
            }
        }
        // A new client works: the runtime is rebuilt lazily in the child.
        let child = client_with(&url, |_| {});
        match get(&child, "/bytes/100000") {
            Ok(r) if r.body() == pattern(100_000).as_slice() => {}
            other => {
                eprintln!("child client: {:?}", other.map(|r| r.status()));
                return 2;
            }
        }
        drop(child);
        // Dropping (a handle to) the parent's client in the child leaks it instead of
        // touching the parent's runtime.
        drop(parent2);
        // The last reference to a parent's client: its drop must leak, not tear down.
        drop(doomed);
        0
    });
    assert_eq!(code, 0);
    // The parent is unaffected.
    let r = get(&parent, "/bytes/1000").unwrap();
    assert_eq!(r.body(), pattern(1000).as_slice());
}
