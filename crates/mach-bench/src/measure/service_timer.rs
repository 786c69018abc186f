//! The slow handler's service time in the async server: [`ServiceTimer`].
//!
//! The old server's handler blocks its thread for the service time (`std::thread::sleep`: one
//! kernel timer, then its own thread is woken). The async server's handler must wait as
//! precisely and with the same one wake-up, without blocking the event thread:
//!
//! - tokio's `sleep` is not precise enough: its millisecond wheel, and `epoll_wait`'s
//!   millisecond timeout, turn 1 ms into about 2;
//! - a timer thread completing deadlines is precise, but each completion is a second wake-up
//!   (the timer thread's, then the event thread's through tokio's unpark), which the old server
//!   does not pay: on this 2-core VM a cross-thread wake-up costs tens of microseconds.
//!
//! So on Linux the service timer is a `timerfd` on the event thread's own `epoll` set: one
//! kernel timer armed for the earliest pending deadline, which wakes the event thread itself,
//! as the old server's sleep wakes its thread. Neither kind of timer has timer slack (the old
//! server's thread sets its slack to 1 ns, [`precise_sleeps`]; a `timerfd` has none), so both
//! handlers wait the same time, and both measure what they took.
//!
//! Elsewhere (the native backends' hosts, where the bench is compiled and run only by hand) the
//! timer is the thread.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};
use tokio::sync::oneshot;

/// Pending completions, shared by the waiters and whatever completes them.
#[derive(Default)]
struct Deadlines {
    /// Earliest first (a min-heap through `Reverse`).
    due: BinaryHeap<Reverse<(Instant, u64)>>,
    /// Who to tell, by id.
    waiting: HashMap<u64, oneshot::Sender<()>>,
    /// The last id handed out.
    last_id: u64,
}

impl Deadlines {
    /// Registers a completion at `at`; the receiver completes then.
    fn add(&mut self, at: Instant) -> oneshot::Receiver<()> {
        let (tx, rx) = oneshot::channel();
        self.last_id += 1;
        self.due.push(Reverse((at, self.last_id)));
        self.waiting.insert(self.last_id, tx);
        rx
    }

    /// Completes every deadline at or before `now`; returns the next one, if any.
    fn complete_due(&mut self, now: Instant) -> Option<Instant> {
        while let Some(&Reverse((at, id))) = self.due.peek() {
            if at > now {
                return Some(at);
            }
            self.due.pop();
            if let Some(done) = self.waiting.remove(&id) {
                let _ = done.send(());
            }
        }
        None
    }

    fn earliest(&self) -> Option<Instant> {
        self.due.peek().map(|r| r.0 .0)
    }
}

fn lock(m: &Mutex<Deadlines>) -> MutexGuard<'_, Deadlines> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// Registers a completion `d` from now; `rearm` runs, under the lock, when it is the new
/// earliest deadline (whatever completes deadlines must then wake sooner).
fn register(
    deadlines: &Mutex<Deadlines>,
    d: Duration,
    rearm: impl FnOnce(Instant),
) -> oneshot::Receiver<()> {
    let at = Instant::now() + d;
    let mut deadlines = lock(deadlines);
    let earliest = deadlines.earliest().map_or(true, |first| at < first);
    let done = deadlines.add(at);
    if earliest {
        rearm(at);
    }
    done
}

/// Makes the calling thread's sleeps as precise as a `timerfd` (Linux: timer slack 1 ns, where
/// the default 50 µs is added to every `nanosleep`). A no-op elsewhere.
pub fn precise_sleeps() {
    #[cfg(any(target_os = "linux", target_os = "android"))]
    // SAFETY: prctl(PR_SET_TIMERSLACK) takes an integer and changes only this thread's slack.
    unsafe {
        libc::prctl(libc::PR_SET_TIMERSLACK, 1 as libc::c_ulong);
    }
}

#[cfg(any(target_os = "linux", target_os = "android"))]
pub use on_loop::ServiceTimer;
#[cfg(not(any(target_os = "linux", target_os = "android")))]
pub use thread::ServiceTimer;

#[cfg(any(target_os = "linux", target_os = "android"))]
mod on_loop {
    use super::{lock, Deadlines};
    use std::future::Future;
    use std::io;
    use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
    use std::sync::{Arc, Mutex};
    use std::time::{Duration, Instant};
    use tokio::io::unix::AsyncFd;
    use tokio::task::JoinHandle;

    /// Completes waits on the event thread it was started on, through one `timerfd` in that
    /// thread's `epoll` set (see the module docs).
    pub struct ServiceTimer {
        shared: Arc<Shared>,
        driver: JoinHandle<()>,
    }

    struct Shared {
        deadlines: Mutex<Deadlines>,
        /// The `timerfd`, armed for the earliest pending deadline.
        fd: Arc<OwnedFd>,
    }

    impl Shared {
        /// Arms the timer for `at` (relative to now; a past `at` fires at once), or disarms it.
        fn arm(&self, at: Option<Instant>) {
            let value = match at {
                // A zero it_value disarms: a due deadline fires in 1 ns instead.
                Some(at) => at
                    .saturating_duration_since(Instant::now())
                    .max(Duration::from_nanos(1)),
                None => Duration::ZERO,
            };
            let spec = libc::itimerspec {
                it_interval: libc::timespec {
                    tv_sec: 0,
                    tv_nsec: 0,
                },
                it_value: libc::timespec {
                    tv_sec: value.as_secs() as libc::time_t,
                    tv_nsec: value.subsec_nanos() as libc::c_long,
                },
            };
            // SAFETY: settime on a timerfd we own, with a valid itimerspec; the old value is
            // not asked for. It cannot fail for a valid descriptor and a normalized value.
            unsafe {
                libc::timerfd_settime(self.fd.as_raw_fd(), 0, &spec, std::ptr::null_mut());
            }
        }
    }

    impl ServiceTimer {
        /// Starts the timer on the runtime of `handle` (the event thread whose handlers wait).
        pub fn start_on(handle: &tokio::runtime::Handle) -> io::Result<ServiceTimer> {
            // SAFETY: plain syscall; the result is checked.
            let fd = unsafe {
                libc::timerfd_create(
                    libc::CLOCK_MONOTONIC,
                    libc::TFD_NONBLOCK | libc::TFD_CLOEXEC,
                )
            };
            if fd < 0 {
                return Err(io::Error::last_os_error());
            }
            // SAFETY: a fresh descriptor we own.
            let fd = Arc::new(unsafe { OwnedFd::from_raw_fd(fd) });
            let shared = Arc::new(Shared {
                deadlines: Mutex::default(),
                fd: fd.clone(),
            });
            let registered = {
                let _entered = handle.enter();
                // SAFETY: the `Arc<OwnedFd>` keeps the descriptor open until the `AsyncFd` (the
                // driver task) and every handle of the timer are gone; nothing closes or
                // replaces it before.
                unsafe { AsyncFd::register_with_interest(fd, tokio::io::Interest::READABLE) }
                    .map_err(|e| e.into_parts().1)?
            };
            let driver = handle.spawn(drive(registered, shared.clone()));
            Ok(ServiceTimer { shared, driver })
        }

        /// Completes after `d` (from now).
        pub fn wait(&self, d: Duration) -> impl Future<Output = ()> {
            let done = super::register(&self.shared.deadlines, d, |at| self.shared.arm(Some(at)));
            async move {
                let _ = done.await;
            }
        }
    }

    /// Waits for the timer to fire, completes what is due and re-arms for the next deadline.
    async fn drive(fd: AsyncFd<Arc<OwnedFd>>, shared: Arc<Shared>) {
        loop {
            let Ok(mut ready) = fd.readable().await else {
                return;
            };
            let mut expirations = [0u8; 8];
            // Readiness is cleared only when the read finds the timer not expired.
            let read = ready.try_io(|fd| {
                // SAFETY: reads 8 bytes into a local from a nonblocking timerfd we own.
                let n = unsafe {
                    libc::read(
                        fd.get_ref().as_raw_fd(),
                        expirations.as_mut_ptr().cast(),
                        expirations.len(),
                    )
                };
                if n < 0 {
                    Err(io::Error::last_os_error())
                } else {
                    Ok(())
                }
            });
            if read.is_err() {
                continue; // not expired (WouldBlock: readiness cleared) — wait again
            }
            let mut deadlines = lock(&shared.deadlines);
            let next = deadlines.complete_due(Instant::now());
            shared.arm(next);
        }
    }

    impl Drop for ServiceTimer {
        fn drop(&mut self) {
            // Pending waits end (their senders drop with the state when the last handle goes).
            self.driver.abort();
        }
    }
}

#[cfg(not(any(target_os = "linux", target_os = "android")))]
mod thread {
    use super::{lock, Deadlines};
    use std::future::Future;
    use std::sync::{Arc, Condvar, Mutex};
    use std::time::{Duration, Instant};

    /// Completes waits from a thread of its own (see the module docs).
    pub struct ServiceTimer {
        shared: Arc<Shared>,
        thread: Option<std::thread::JoinHandle<()>>,
    }

    #[derive(Default)]
    struct Shared {
        deadlines: Mutex<Deadlines>,
        changed: Condvar,
        stop: std::sync::atomic::AtomicBool,
    }

    impl ServiceTimer {
        /// Starts the timer thread (`handle` is not needed on this platform).
        pub fn start_on(_handle: &tokio::runtime::Handle) -> std::io::Result<ServiceTimer> {
            let shared = Arc::new(Shared::default());
            let s = shared.clone();
            let thread = std::thread::Builder::new()
                .name("service-timer".into())
                .spawn(move || {
                    super::precise_sleeps();
                    let mut deadlines = lock(&s.deadlines);
                    while !s.stop.load(std::sync::atomic::Ordering::Acquire) {
                        deadlines = match deadlines.complete_due(Instant::now()) {
                            Some(at) => {
                                let left = at.saturating_duration_since(Instant::now());
                                s.changed
                                    .wait_timeout(deadlines, left)
                                    .unwrap_or_else(|p| p.into_inner())
                                    .0
                            }
                            None => s.changed.wait(deadlines).unwrap_or_else(|p| p.into_inner()),
                        };
                    }
                })?;
            Ok(ServiceTimer {
                shared,
                thread: Some(thread),
            })
        }

        /// Completes after `d` (from now).
        pub fn wait(&self, d: Duration) -> impl Future<Output = ()> {
            // Only a new earliest deadline needs the thread: otherwise it already waits for an
            // earlier one, and recomputes after it.
            let done = super::register(&self.shared.deadlines, d, |_| {
                self.shared.changed.notify_one()
            });
            async move {
                let _ = done.await;
            }
        }
    }

    impl Drop for ServiceTimer {
        fn drop(&mut self) {
            self.shared
                .stop
                .store(true, std::sync::atomic::Ordering::Release);
            // Taken under the lock, so the thread is either before its check or waiting.
            drop(lock(&self.shared.deadlines));
            self.shared.changed.notify_one();
            if let Some(t) = self.thread.take() {
                let _ = t.join();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn deadlines_complete_in_order_and_name_the_next() {
        let mut d = Deadlines::default();
        let t0 = Instant::now();
        let mut late = d.add(t0 + Duration::from_millis(3));
        let mut early = d.add(t0 + Duration::from_millis(1));
        assert_eq!(d.earliest(), Some(t0 + Duration::from_millis(1)));
        assert_eq!(d.complete_due(t0), Some(t0 + Duration::from_millis(1)));
        assert!(early.try_recv().is_err(), "completed before its deadline");
        assert_eq!(
            d.complete_due(t0 + Duration::from_millis(2)),
            Some(t0 + Duration::from_millis(3))
        );
        assert!(early.try_recv().is_ok());
        assert!(late.try_recv().is_err());
        assert_eq!(d.complete_due(t0 + Duration::from_millis(3)), None);
        assert!(late.try_recv().is_ok());
    }

    #[test]
    fn the_service_timer_completes_no_earlier_than_asked() {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let timer = ServiceTimer::start_on(rt.handle()).unwrap();
        let start = Instant::now();
        let (a, b) = (
            timer.wait(Duration::from_millis(3)),
            timer.wait(Duration::from_millis(1)),
        );
        let (first, second) = rt.block_on(async {
            let b = async {
                b.await;
                start.elapsed()
            };
            let a = async {
                a.await;
                start.elapsed()
            };
            tokio::time::timeout(Duration::from_secs(10), async { futures::join!(b, a) })
                .await
                .expect("the service timer did not complete two waits within 10 s")
        });
        assert!(
            first >= Duration::from_millis(1),
            "1 ms wait took {first:?}"
        );
        assert!(
            second >= Duration::from_millis(3),
            "3 ms wait took {second:?}"
        );
        drop(timer);
    }
}
