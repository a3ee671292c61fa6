//! Lifetimes a C programmer relies on: no event callback runs once `h2_client_free` has
//! returned, and freeing a client from its own event callback does not deadlock.

mod common;

use common::capi::cs;

use std::ffi::c_void;
use std::ptr::null_mut;
use std::sync::atomic::{AtomicBool, AtomicPtr, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use common::*;
use h2client::ffi::*;

/// What the callbacks record (the C program's userdata).
#[derive(Default)]
struct Seen {
    /// Set right after `h2_client_free` returned: the userdata is "freed" from then on.
    freed: AtomicBool,
    /// Callbacks that started or were still running after that.
    after_free: AtomicUsize,
    /// Callbacks that ran at all.
    calls: AtomicUsize,
}

/// A slow observer: it sleeps 50 ms on each connection event, then checks the userdata is
/// still "alive", as a C callback would touch its userdata.
unsafe extern "C" fn slow_event(ud: *mut c_void, ev: *const h2_event) {
    // SAFETY: ud is the test's leaked Seen; ev is valid during the callback.
    let (seen, ev) = unsafe { (&*(ud as *const Seen), &*ev) };
    if seen.freed.load(Ordering::SeqCst) {
        seen.after_free.fetch_add(1, Ordering::SeqCst);
    }
    seen.calls.fetch_add(1, Ordering::SeqCst);
    if matches!(
        ev.kind,
        H2_EVENT_CLOSED | H2_EVENT_CONNECTED | H2_EVENT_SETTINGS
    ) {
        std::thread::sleep(Duration::from_millis(50));
    }
    if seen.freed.load(Ordering::SeqCst) {
        seen.after_free.fetch_add(1, Ordering::SeqCst);
    }
}

#[test]
fn no_event_callback_runs_after_client_free() {
    let s = server();
    let url = cs(&s.url());
    let mut total = 0;
    for _ in 0..12 {
        let seen: &'static Seen = Box::leak(Box::default());
        unsafe {
            let cfg = h2_config_new();
            h2_config_set_event_callback(cfg, Some(slow_event), seen as *const Seen as *mut c_void);
            let client = h2_client_new(url.as_ptr(), cfg);
            h2_config_free(cfg);
            assert!(!client.is_null());
            let req = h2_request_new(cs("GET").as_ptr(), cs("/").as_ptr());
            let mut resp = null_mut();
            assert_eq!(h2_client_do(client, req, &mut resp), H2_OK);
            h2_response_free(resp);
            h2_request_free(req);
            h2_client_free(client);
        }
        seen.freed.store(true, Ordering::SeqCst);
        // Long enough for a late Closed callback (50 ms asleep) to show itself.
        std::thread::sleep(Duration::from_millis(120));
        assert_eq!(
            seen.after_free.load(Ordering::SeqCst),
            0,
            "an event callback ran after h2_client_free returned"
        );
        total += seen.calls.load(Ordering::SeqCst);
    }
    assert!(total > 0, "no event was delivered at all");
}

/// The client the freeing callback frees, and whether it did.
struct SelfFree {
    client: AtomicPtr<h2_client>,
    done: AtomicBool,
}

unsafe extern "C" fn free_on_closed(ud: *mut c_void, ev: *const h2_event) {
    // SAFETY: ud is the test's leaked SelfFree; ev is valid during the callback.
    let (st, ev) = unsafe { (&*(ud as *const SelfFree), &*ev) };
    if ev.kind != H2_EVENT_CLOSED {
        return;
    }
    let c = st.client.swap(null_mut(), Ordering::SeqCst);
    if !c.is_null() {
        // SAFETY: the client is live and nothing else uses it any more.
        unsafe { h2_client_free(c) };
        st.done.store(true, Ordering::SeqCst);
    }
}

#[test]
fn client_free_from_its_own_event_callback_returns() {
    let s = server();
    let st: &'static SelfFree = Box::leak(Box::new(SelfFree {
        client: AtomicPtr::new(null_mut()),
        done: AtomicBool::new(false),
    }));
    unsafe {
        let cfg = h2_config_new();
        h2_config_set_event_callback(
            cfg,
            Some(free_on_closed),
            st as *const SelfFree as *mut c_void,
        );
        // The connection closes itself once idle, which emits Closed on a library thread.
        h2_config_set_idle_timeout_ms(cfg, 100);
        let client = h2_client_new(cs(&s.url()).as_ptr(), cfg);
        h2_config_free(cfg);
        assert!(!client.is_null());
        st.client.store(client, Ordering::SeqCst);
        let req = h2_request_new(cs("GET").as_ptr(), cs("/").as_ptr());
        let mut resp = null_mut();
        assert_eq!(h2_client_do(client, req, &mut resp), H2_OK);
        h2_response_free(resp);
        h2_request_free(req);
    }
    let until = Instant::now() + Duration::from_secs(5);
    while !st.done.load(Ordering::SeqCst) && Instant::now() < until {
        std::thread::sleep(Duration::from_millis(5));
    }
    assert!(
        st.done.load(Ordering::SeqCst),
        "h2_client_free from the client's own callback did not return"
    );
}
