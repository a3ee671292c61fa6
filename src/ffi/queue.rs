//! `h2_queue`: completions without a thread per request; and the delivery of a submitted
//! call's completion to its queue or callback.

use std::ffi::c_void;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use super::{entry, fail, h2_call, h2_result, invalid, try_ref, H2_OK};
use crate::error::{Error, ErrorKind};
use crate::exchange::{Exchange, OnComplete};
use crate::queue::{Completion, Queue};

/// A completion queue. Any number of clients and calls may post to one queue; completions
/// come out in completion order. Thread-safe.
pub struct h2_queue {
    pub(crate) inner: Arc<Queue>,
}

/// One completed call.
#[repr(C)]
pub struct h2_completion {
    /// The tag given to `h2_client_submit`.
    pub tag: u64,
    /// The call (take its response with `h2_call_response`, then `h2_call_free` it).
    pub call: *mut h2_call,
    /// H2_OK if a response arrived (any HTTP status), else the H2_E_* code of the failure.
    pub result: h2_result,
}

/// Called when a call submitted with `h2_client_submit_cb` completes.
pub type h2_done_fn =
    Option<unsafe extern "C" fn(userdata: *mut c_void, call: *mut h2_call, result: h2_result)>;

/// A new completion queue, or NULL (with H2_E_INTERNAL recorded) if no eventfd can be made.
#[no_mangle]
pub extern "C" fn h2_queue_new() -> *mut h2_queue {
    entry!(h2_queue_new, || match Queue::new() {
        Ok(q) => Box::into_raw(Box::new(h2_queue { inner: Arc::new(q) })),
        Err(e) => {
            fail(e);
            std::ptr::null_mut()
        }
    })
}

/// Frees a queue (NULL allowed). Completions still to come for its calls are dropped; free
/// the calls themselves with `h2_call_free`.
#[no_mangle]
pub unsafe extern "C" fn h2_queue_free(q: *mut h2_queue) {
    entry!(h2_queue_free, || {
        if !q.is_null() {
            // SAFETY: q came from h2_queue_new and is freed once (caller contract).
            drop(unsafe { Box::from_raw(q) });
        }
    })
}

/// A file descriptor (an eventfd) that is readable exactly while completions are pending
/// (level-triggered): add it to epoll/poll/select and call `h2_queue_poll` when it is
/// readable. Do not read or close it. -1 if `q` is NULL.
#[no_mangle]
pub unsafe extern "C" fn h2_queue_fd(q: *const h2_queue) -> i32 {
    entry!(h2_queue_fd, || { try_ref!(q).inner.fd() })
}

/// Takes up to `max` completions into `out`, in completion order, waiting up to `timeout_ms`
/// for the first one (0 = do not wait, -1 = wait forever). Returns how many were stored (0 on
/// timeout or on error, with the error recorded: NULL arguments, or a waiting poll from a
/// library callback, H2_E_WRONG_THREAD).
#[no_mangle]
pub unsafe extern "C" fn h2_queue_poll(
    q: *mut h2_queue,
    out: *mut h2_completion,
    max: usize,
    timeout_ms: i32,
) -> usize {
    entry!(h2_queue_poll, || {
        let q = try_ref!(q);
        if max == 0 {
            return 0;
        }
        if out.is_null() || max > isize::MAX as usize / std::mem::size_of::<h2_completion>() {
            invalid("out is NULL or max is too large");
            return 0;
        }
        let timeout = match timeout_ms {
            t if t < 0 => None,
            t => Some(Duration::from_millis(t as u64)),
        };
        if timeout != Some(Duration::ZERO) {
            if let Err(e) = crate::client::check_thread("waiting for a completion") {
                fail(e);
                return 0;
            }
        }
        let mut got = Vec::with_capacity(max.min(1024));
        if let Err(e) = q.inner.poll(max, timeout, &mut got) {
            fail(e);
            return 0;
        }
        for (i, c) in got.iter().enumerate() {
            // SAFETY: out has room for max entries (caller contract) and i < max.
            unsafe {
                out.add(i).write(h2_completion {
                    tag: c.tag,
                    call: c.call as *mut h2_call,
                    result: c.result,
                })
            };
        }
        got.len()
    })
}

/// Where a submitted call's completion goes.
pub(crate) enum Target {
    Queue {
        q: Arc<Queue>,
        tag: u64,
    },
    Callback {
        f: unsafe extern "C" fn(*mut c_void, *mut h2_call, h2_result),
        userdata: usize,
    },
}

const FREED: usize = usize::MAX;

/// Delivers one call's completion once its handle is known, and never after it was freed.
/// The handle's address is only known after the call exists, and a request can fail before
/// that (inside the submit): such an early completion is held until `bind`.
pub(crate) struct Posting {
    state: Mutex<(usize, Option<h2_result>)>,
    pub(crate) target: Target,
}

impl Posting {
    pub(crate) fn new(target: Target) -> Arc<Posting> {
        Arc::new(Posting {
            state: Mutex::new((0, None)),
            target,
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, (usize, Option<h2_result>)> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The call completed with `code`.
    pub(crate) fn notify(self: &Arc<Self>, code: h2_result) {
        let mut st = self.lock();
        match st.0 {
            0 => st.1 = Some(code),
            FREED => {}
            call => self.deliver(st, call, code),
        }
    }

    /// The call's handle now exists.
    pub(crate) fn bind(self: &Arc<Self>, call: usize) {
        let mut st = self.lock();
        st.0 = call;
        if let Some(code) = st.1.take() {
            self.deliver(st, call, code);
        }
    }

    /// The call is being freed: nothing more may reference it.
    pub(crate) fn detach(&self, call: usize) {
        self.lock().0 = FREED;
        if let Target::Queue { q, .. } = &self.target {
            q.forget(call);
        }
    }

    fn deliver(
        self: &Arc<Self>,
        st: std::sync::MutexGuard<'_, (usize, Option<h2_result>)>,
        call: usize,
        code: h2_result,
    ) {
        match &self.target {
            // Pushed under our lock, so a concurrent detach either comes first (nothing is
            // pushed) or removes what was pushed.
            Target::Queue { q, tag } => q.push(Completion {
                tag: *tag,
                call,
                result: code,
            }),
            Target::Callback { f, userdata } => {
                drop(st);
                let (f, ud) = (*f, *userdata);
                let run = move || {
                    // SAFETY: the caller registered f for these arguments.
                    let _ = std::panic::catch_unwind(|| unsafe {
                        f(ud as *mut c_void, call as *mut h2_call, code)
                    });
                };
                // Callbacks always run on a library thread: also when the request failed at
                // once on the caller's thread, and when a program's thread waiting for its
                // own request drives the connection that completed this one.
                if crate::runtime::on_library_thread() {
                    run();
                } else {
                    let me = self.clone();
                    let spawned = crate::runtime::spawn_blocking(move || {
                        if me.lock().0 != FREED {
                            run();
                        }
                    });
                    if spawned.is_err() {
                        fail(Error::new(
                            ErrorKind::Internal,
                            "could not run the completion callback",
                        ));
                    }
                }
            }
        }
    }
}

impl OnComplete for Posting {
    fn completed(self: Arc<Self>, _ex: &Exchange, failed: Option<ErrorKind>) {
        self.notify(completion_code(failed));
    }
}

/// The code a finished call reports.
pub(crate) fn completion_code(failed: Option<ErrorKind>) -> h2_result {
    failed.map_or(H2_OK, |k| k as u32)
}
