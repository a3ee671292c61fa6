//! A completion queue: calls submitted with a queue post their completion here, and a program
//! collects them with `poll`, or waits for the queue's file descriptor (an eventfd) to become
//! readable in its own event loop (epoll, poll, libuv, Ruby's IO.select, Go's netpoller).
//!
//! The fd is level-triggered by construction: it is readable exactly while completions are
//! pending, because the eventfd counter is set when the queue goes from empty to non-empty and
//! cleared when `poll` empties it, both under the queue's lock.

use std::cell::RefCell;
use std::collections::VecDeque;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::sync::atomic::Ordering;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use crate::error::{Error, ErrorKind, Result};

/// One finished call.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Completion {
    /// The caller's tag.
    pub tag: u64,
    /// The caller's handle of the call (an opaque pointer value to us).
    pub call: usize,
    /// `H2_OK` or the `H2_E_*` code the call ended with.
    pub result: u32,
}

/// The queue.
pub struct Queue {
    /// The fork generation the queue was made in: its eventfd is shared with that process.
    gen: usize,
    items: Mutex<Items>,
    cv: Condvar,
    fd: OwnedFd,
    /// The runtime of the latest request submitted to this queue (`usize::MAX`: none yet): a
    /// thread waiting in `poll` drives it.
    runtime: std::sync::atomic::AtomicUsize,
    /// `items.q.len()`, stored under the lock at each change: lets [`Queue::forget`] skip the
    /// lock when nothing waits.
    len: std::sync::atomic::AtomicUsize,
}

/// The completions and how many threads wait in `poll` (notify only then: a futex wake is a
/// syscall).
#[derive(Default)]
struct Items {
    q: VecDeque<Completion>,
    waiters: u32,
    /// Pollers driving a runtime until a completion arrives.
    wakers: Vec<std::task::Waker>,
    /// Someone asked for the fd: from then on it mirrors the queue. Until then nobody can be
    /// watching it, so the two syscalls per batch are skipped.
    armed: bool,
    /// The eventfd counter is non-zero.
    signaled: bool,
}

thread_local! {
    /// Queues that got completions during the current [`batch`] on this thread.
    static DEFERRED: RefCell<Option<Vec<Arc<Queue>>>> = const { RefCell::new(None) };
}

/// Runs `f` (a connection's handling of one read: many streams may complete) and wakes each
/// queue's pollers once at the end instead of once per completion: one wake-up per batch,
/// and no poller woken while the completing thread still holds per-call locks.
pub fn batch<R>(f: impl FnOnce() -> R) -> R {
    let outer = DEFERRED.with(|d| {
        let mut d = d.borrow_mut();
        if d.is_some() {
            true
        } else {
            *d = Some(Vec::new());
            false
        }
    });
    let r = f();
    if !outer {
        let list = DEFERRED.with(|d| d.borrow_mut().take()).unwrap_or_default();
        for q in list {
            let items = lock(&q.items);
            q.kick_locked(items);
        }
    }
    r
}

fn lock(m: &Mutex<Items>) -> MutexGuard<'_, Items> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl Queue {
    /// A new, empty queue with its eventfd.
    pub fn new() -> Result<Queue> {
        // SAFETY: eventfd has no memory-safety preconditions; the result is checked.
        let fd = unsafe { libc::eventfd(0, libc::EFD_NONBLOCK | libc::EFD_CLOEXEC) };
        if fd < 0 {
            return Err(Error::new(
                ErrorKind::Internal,
                format!("eventfd failed: {}", std::io::Error::last_os_error()),
            ));
        }
        // SAFETY: fd is a freshly created descriptor that nothing else owns.
        let fd = unsafe { OwnedFd::from_raw_fd(fd) };
        Ok(Queue {
            gen: crate::runtime::generation(),
            items: Mutex::new(Items::default()),
            cv: Condvar::new(),
            runtime: std::sync::atomic::AtomicUsize::new(usize::MAX),
            len: std::sync::atomic::AtomicUsize::new(0),
            fd,
        })
    }

    /// The descriptor that is readable while completions are pending.
    pub fn fd(&self) -> RawFd {
        let mut items = lock(&self.items);
        if !items.armed {
            items.armed = true;
            if !items.q.is_empty() {
                self.signal();
                items.signaled = true;
            }
        }
        self.fd.as_raw_fd()
    }

    fn signal(&self) {
        let one: u64 = 1;
        // SAFETY: writes 8 bytes from a valid u64 to our own eventfd.
        let _ = unsafe { libc::write(self.fd.as_raw_fd(), (&one as *const u64).cast(), 8) };
    }

    fn clear(&self) {
        let mut v: u64 = 0;
        // SAFETY: reads 8 bytes into a valid u64 from our own non-blocking eventfd.
        let _ = unsafe { libc::read(self.fd.as_raw_fd(), (&mut v as *mut u64).cast(), 8) };
    }

    /// Posts a completion (from any thread). Inside [`batch`] the wake-up of pollers (the
    /// condvar and the eventfd) is deferred to the end of the batch.
    pub fn push(self: &Arc<Self>, c: Completion) {
        let deferred = DEFERRED.with(|d| {
            let mut d = d.borrow_mut();
            match d.as_mut() {
                Some(list) => {
                    if !list.iter().any(|q| Arc::ptr_eq(q, self)) {
                        list.push(self.clone());
                    }
                    true
                }
                None => false,
            }
        });
        let mut items = lock(&self.items);
        items.q.push_back(c);
        self.len.store(items.q.len(), Ordering::Release);
        if !deferred {
            self.kick_locked(items);
        }
    }

    /// Makes the fd readable and wakes one poller if completions are pending.
    fn kick_locked(&self, mut items: MutexGuard<'_, Items>) {
        if items.q.is_empty() {
            return;
        }
        if items.armed && !items.signaled {
            self.signal();
            items.signaled = true;
        }
        for w in items.wakers.drain(..) {
            w.wake();
        }
        let wake = items.waiters > 0;
        drop(items);
        if wake {
            self.cv.notify_one();
        }
    }

    /// Takes up to `max` completions in completion order, waiting up to `timeout` for the
    /// first (`None` = forever, zero = not at all).
    pub fn poll(
        &self,
        max: usize,
        timeout: Option<Duration>,
        out: &mut Vec<Completion>,
    ) -> Result<()> {
        crate::runtime::check_fork(self.gen, "this queue")?;
        if max == 0 {
            return Ok(());
        }
        let deadline = timeout.map(|t| Instant::now() + t);
        let mut items = lock(&self.items);
        let mut drivable = timeout != Some(Duration::ZERO);
        while items.q.is_empty() {
            let now = Instant::now();
            if deadline.is_some_and(|d| now >= d) {
                return Ok(());
            }
            let rt = self.runtime.load(std::sync::atomic::Ordering::Relaxed);
            if drivable && rt != usize::MAX {
                // Drive the runtime the requests live on while waiting (see
                // `runtime::drive`): completions then arrive without a thread hand-off.
                drop(items);
                let arrived = std::future::poll_fn(|cx| {
                    let mut items = lock(&self.items);
                    if !items.q.is_empty() {
                        return std::task::Poll::Ready(());
                    }
                    if !items.wakers.iter().any(|w| w.will_wake(cx.waker())) {
                        items.wakers.push(cx.waker().clone());
                    }
                    std::task::Poll::Pending
                });
                let drove = crate::runtime::drive(rt, deadline, arrived);
                items = lock(&self.items);
                match drove {
                    crate::runtime::Drove::Done(()) => {}
                    crate::runtime::Drove::TimedOut => return self.take(items, max, out),
                    crate::runtime::Drove::Unavailable => drivable = false,
                }
                continue;
            }
            items.waiters += 1;
            items = match deadline {
                None => self.cv.wait(items).unwrap_or_else(|e| e.into_inner()),
                Some(d) => {
                    self.cv
                        .wait_timeout(items, d - now)
                        .unwrap_or_else(|e| e.into_inner())
                        .0
                }
            };
            items.waiters -= 1;
        }
        self.take(items, max, out)
    }

    /// Whether someone asked for the queue's fd (it is then watched outside the library).
    pub(crate) fn is_armed(&self) -> bool {
        lock(&self.items).armed
    }

    /// The runtime the latest request submitted to this queue lives on.
    pub(crate) fn set_runtime(&self, idx: Option<usize>) {
        if let Some(i) = idx {
            self.runtime.store(i, std::sync::atomic::Ordering::Relaxed);
        }
    }

    /// Takes up to `max` completions.
    fn take(
        &self,
        mut items: MutexGuard<'_, Items>,
        max: usize,
        out: &mut Vec<Completion>,
    ) -> Result<()> {
        let n = max.min(items.q.len());
        out.extend(items.q.drain(..n));
        self.len.store(items.q.len(), Ordering::Release);
        if items.q.is_empty() && items.signaled {
            self.clear();
            items.signaled = false;
        }
        Ok(())
    }

    /// Removes the pending completions of a call that is being freed.
    pub fn forget(&self, call: usize) {
        // A completion of `call` was pushed before its poster let the call's free proceed
        // (the poster's lock orders the two), so an empty queue seen here has none of it.
        if self.len.load(Ordering::Acquire) == 0 {
            return;
        }
        let mut items = lock(&self.items);
        let had = !items.q.is_empty();
        items.q.retain(|c| c.call != call);
        self.len.store(items.q.len(), Ordering::Release);
        if had && items.q.is_empty() && items.signaled {
            self.clear();
            items.signaled = false;
        }
    }

    /// Completions waiting.
    pub fn len(&self) -> usize {
        lock(&self.items).q.len()
    }

    /// Whether none is waiting.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn readable(fd: RawFd) -> bool {
        let mut p = libc::pollfd {
            fd,
            events: libc::POLLIN,
            revents: 0,
        };
        // SAFETY: one valid pollfd.
        unsafe { libc::poll(&mut p, 1, 0) == 1 }
    }

    #[test]
    fn fd_is_level_triggered() {
        let q = Arc::new(Queue::new().unwrap());
        assert!(!readable(q.fd()));
        for t in 0..3 {
            q.push(Completion {
                tag: t,
                call: 1,
                result: 0,
            });
        }
        assert!(readable(q.fd()));
        let mut out = Vec::new();
        q.poll(2, Some(Duration::ZERO), &mut out).unwrap();
        assert_eq!(out.iter().map(|c| c.tag).collect::<Vec<_>>(), [0, 1]);
        assert!(readable(q.fd()), "one left");
        q.poll(10, Some(Duration::ZERO), &mut out).unwrap();
        assert_eq!(out.len(), 3);
        assert!(!readable(q.fd()));
    }

    #[test]
    fn fd_asked_for_late_still_reflects_the_queue() {
        let q = Arc::new(Queue::new().unwrap());
        q.push(Completion {
            tag: 1,
            call: 1,
            result: 0,
        });
        assert!(readable(q.fd()), "armed with a completion pending");
        let mut out = Vec::new();
        q.poll(1, Some(Duration::ZERO), &mut out).unwrap();
        assert!(!readable(q.fd()));
    }

    #[test]
    fn batch_defers_wakeups_to_its_end() {
        let q = Arc::new(Queue::new().unwrap());
        let fd = q.fd();
        batch(|| {
            q.push(Completion {
                tag: 1,
                call: 1,
                result: 0,
            });
            q.push(Completion {
                tag: 2,
                call: 2,
                result: 0,
            });
            assert!(!readable(fd), "not signalled inside the batch");
        });
        assert!(readable(fd));
        let mut out = Vec::new();
        q.poll(10, Some(Duration::ZERO), &mut out).unwrap();
        assert_eq!(out.len(), 2);
        assert!(!readable(fd));
    }

    #[test]
    fn poll_waits_and_times_out() {
        let q = Arc::new(Queue::new().unwrap());
        let mut out = Vec::new();
        let t0 = Instant::now();
        q.poll(1, Some(Duration::from_millis(30)), &mut out)
            .unwrap();
        assert!(out.is_empty());
        assert!(t0.elapsed() >= Duration::from_millis(30));
        let q2 = q.clone();
        let th = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(20));
            q2.push(Completion {
                tag: 9,
                call: 2,
                result: 4,
            });
        });
        q.poll(1, None, &mut out).unwrap();
        assert_eq!(out[0].tag, 9);
        th.join().unwrap();
    }

    #[test]
    fn forget_drops_a_calls_completions() {
        let q = Arc::new(Queue::new().unwrap());
        q.push(Completion {
            tag: 1,
            call: 10,
            result: 0,
        });
        q.forget(10);
        assert!(q.is_empty());
        assert!(!readable(q.fd()));
    }
}
