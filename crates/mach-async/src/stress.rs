//! Port of NextBSD's `test_evfilt_machport_concurrent.c` (native-filter.md §6) as this
//! project's own code, with the flaws listed there fixed:
//!
//! * attachers register **notify mode** (`fflags = 0`, `EV_ADD|EV_CLEAR`) — the original's
//!   `MACH_RCV_MSG` without a buffer was direct mode and destroyed the movers' messages;
//! * the private set is destroyed for real (`close(name)` / the backend's set destroy), and a
//!   zero-timeout `kevent` afterwards must return nothing (`f_isfd = 1`) or exactly one
//!   `EV_EOF` with `data == 0` for that set (`f_isfd = 0`);
//! * movers send with `COPY_SEND` of the inserted send right and `SEND_TIMEOUT` 0, counting
//!   `MACH_SEND_TIMED_OUT` separately (queues hold 5, so most sends time out);
//! * accounting: after the join every port is drained and **every successful send must be
//!   received exactly once**; all names are closed and the process's descriptor count must
//!   return to its starting value.
//!
//! It uses the backend's raw calls on raw threads (no runtime, no streams), so on a NextBSD host
//! the binary `evfilt-machport-concurrent` exercises the real kernel's filter, lazy per-thread
//! Mach state and knote teardown. The markers match the C test for CI parity:
//! `EVFILT-MACHPORT-CONCURRENT-OK`, `-FAIL`, `-SKIP` (filter or Mach layer missing).

use std::collections::HashSet;
use std::fmt;
use std::sync::{Arc, Barrier, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use mach_abi::{
    KERN_NOT_IN_SET, MACH_MSGH_BITS, MACH_MSG_SUCCESS, MACH_MSG_TYPE_COPY_SEND,
    MACH_MSG_TYPE_MAKE_SEND, MACH_PORT_RIGHT_PORT_SET, MACH_PORT_RIGHT_RECEIVE, MACH_RCV_LARGE,
    MACH_RCV_MSG, MACH_RCV_TIMED_OUT, MACH_RCV_TIMEOUT, MACH_SEND_MSG, MACH_SEND_TIMED_OUT,
    MACH_SEND_TIMEOUT,
};

use crate::buffer::MsgBuf;
use crate::raw_message::{self, RawMessage};
use crate::sys::{Event, Name, Space};
use crate::Error;

/// Parameters of the stress run.
#[derive(Clone, Debug)]
pub struct Config {
    /// Threads attaching/detaching knotes (C test: 6).
    pub attachers: usize,
    /// Threads moving ports in and out of the shared set and sending (C test: 4).
    pub movers: usize,
    /// Ports (C test: 8).
    pub ports: usize,
    /// Iterations per thread (C test: 300).
    pub rounds: usize,
    /// Pause between attach and detach (C test: 50 µs).
    pub attach_pause: Duration,
    /// The space to run in (default: [`Space::current`]).
    pub space: Option<Space>,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            attachers: 6,
            movers: 4,
            ports: 8,
            rounds: 300,
            attach_pause: Duration::from_micros(50),
            space: None,
        }
    }
}

/// Counters of a successful run.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Report {
    /// Knote attach/detach cycles on the shared set.
    pub attaches: u64,
    /// Private sets destroyed under a live knote.
    pub private_sets_destroyed: u64,
    /// `EV_EOF` events seen after those destructions (`f_isfd = 0` kernels report one each).
    pub eof_events: u64,
    /// `move_member` calls (in and out).
    pub moves: u64,
    /// `move_member(port, 0)` answered `KERN_NOT_IN_SET` (another mover was first): expected.
    pub not_in_set: u64,
    /// Sends that succeeded.
    pub sends_ok: u64,
    /// Sends refused with `MACH_SEND_TIMED_OUT` (queue full): expected.
    pub sends_timed_out: u64,
    /// Messages received in the final drain (must equal `sends_ok`).
    pub received: u64,
    /// Open descriptors before and after.
    pub fds_before: usize,
    /// Open descriptors after everything was closed.
    pub fds_after: usize,
    /// Wall time.
    pub elapsed: Duration,
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "attaches={} private_sets_destroyed={} eof_events={} moves={} not_in_set={} sends_ok={} \
             sends_timed_out={} received={} fds={}->{} elapsed={:?}",
            self.attaches,
            self.private_sets_destroyed,
            self.eof_events,
            self.moves,
            self.not_in_set,
            self.sends_ok,
            self.sends_timed_out,
            self.received,
            self.fds_before,
            self.fds_after,
            self.elapsed
        )
    }
}

/// Why the run did not pass.
#[derive(Debug)]
pub enum StressError {
    /// The filter or the Mach layer is missing (`EINVAL`/`ENXIO` on `EV_ADD`, missing traps).
    Skip(Error),
    /// A hard error or an accounting mismatch.
    Fail(String),
}

impl fmt::Display for StressError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StressError::Skip(e) => write!(f, "skipped: {e}"),
            StressError::Fail(s) => write!(f, "failed: {s}"),
        }
    }
}

impl std::error::Error for StressError {}

fn fail(what: impl fmt::Display) -> StressError {
    StressError::Fail(what.to_string())
}

/// Number of open descriptors of this process.
fn count_fds() -> usize {
    // SAFETY: getrlimit writes into a valid struct.
    let limit = unsafe {
        let mut rl: libc::rlimit = std::mem::zeroed();
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut rl) == 0 {
            rl.rlim_cur.min(65_536) as i32
        } else {
            4096
        }
    };
    // SAFETY: F_GETFD on any number is harmless (EBADF for closed ones).
    (0..limit)
        .filter(|&fd| unsafe { libc::fcntl(fd, libc::F_GETFD) } != -1)
        .count()
}

#[derive(Default)]
struct Shared {
    sent: Mutex<HashSet<i32>>,
}

fn header_only(dest: Name, id: i32) -> MsgBuf {
    let raw = RawMessage {
        bits: MACH_MSGH_BITS(MACH_MSG_TYPE_COPY_SEND, 0),
        remote: dest,
        local: 0,
        voucher: 0,
        id,
        descriptors: Vec::new(),
        body: bytes::Bytes::new(),
        trailer: None,
    };
    MsgBuf::from_bytes(&raw_message::encode(&raw))
}

fn attacher(
    space: &Space,
    shared_set: Name,
    rounds: usize,
    pause: Duration,
    report: &mut Report,
) -> Result<(), StressError> {
    for i in 0..rounds {
        let kq = space.kqueue().map_err(|e| fail(format!("kqueue: {e}")))?;
        kq.add_machport(shared_set)
            .map_err(|e| fail(format!("EV_ADD on the shared set: {e}")))?;
        thread::sleep(pause);
        kq.delete_machport(shared_set)
            .map_err(|e| fail(format!("EV_DELETE on the shared set: {e}")))?;
        report.attaches += 1;
        if i % 2 == 0 {
            let private = space
                .allocate(MACH_PORT_RIGHT_PORT_SET)
                .map_err(|e| fail(format!("allocate set: {e}")))?;
            kq.add_machport(private)
                .map_err(|e| fail(format!("EV_ADD on a private set: {e}")))?;
            space
                .destroy_set(private)
                .map_err(|e| fail(format!("destroy private set: {e}")))?;
            report.private_sets_destroyed += 1;
            let mut events = [Event::default(); 4];
            let n = kq
                .collect(&mut events, Some(Duration::ZERO))
                .map_err(|e| fail(format!("kevent: {e}")))?;
            match &events[..n] {
                [] => {}
                [ev] if ev.is_eof() && ev.data == 0 && ev.ident == private as usize => report.eof_events += 1,
                other => {
                    return Err(fail(format!(
                        "after destroying private set {private}: expected nothing or one EV_EOF, got {other:?}"
                    )))
                }
            }
        }
        drop(kq);
    }
    Ok(())
}

fn mover(
    space: &Space,
    me: usize,
    shared_set: Name,
    ports: &[Name],
    rounds: usize,
    shared: &Shared,
    report: &mut Report,
) -> Result<(), StressError> {
    let mut seq: i32 = 0;
    let mut sent = Vec::new();
    for _ in 0..rounds {
        for &p in ports {
            space
                .move_member(p, shared_set)
                .map_err(|e| fail(format!("move_member in: {e}")))?;
            report.moves += 1;
            // Unique id: mover in the top bits, sequence below.
            let id = ((me as i32) << 24) | seq;
            seq += 1;
            let mut buf = header_only(p, id);
            // SAFETY: a 24-byte encoded header in an 8-aligned buffer, exclusively borrowed.
            let mr = unsafe {
                space.mach_msg(
                    buf.header_ptr(),
                    MACH_SEND_MSG | MACH_SEND_TIMEOUT,
                    24,
                    0,
                    0,
                    0,
                )
            }
            .map_err(|e| fail(format!("mach_msg: {e}")))?;
            match mr {
                MACH_MSG_SUCCESS => {
                    report.sends_ok += 1;
                    sent.push(id);
                }
                MACH_SEND_TIMED_OUT => report.sends_timed_out += 1,
                other => return Err(fail(format!("send to port {p}: {other:#x}"))),
            }
            match space.move_member(p, 0) {
                Ok(()) => {}
                Err(Error::Kern {
                    kr: KERN_NOT_IN_SET,
                    ..
                }) => report.not_in_set += 1,
                Err(e) => return Err(fail(format!("move_member out: {e}"))),
            }
            report.moves += 1;
        }
    }
    shared.sent.lock().expect("lock").extend(sent);
    Ok(())
}

fn merge(into: &mut Report, r: &Report) {
    into.attaches += r.attaches;
    into.private_sets_destroyed += r.private_sets_destroyed;
    into.eof_events += r.eof_events;
    into.moves += r.moves;
    into.not_in_set += r.not_in_set;
    into.sends_ok += r.sends_ok;
    into.sends_timed_out += r.sends_timed_out;
}

fn run(config: &Config) -> Result<Report, StressError> {
    crate::sys::mach_available().map_err(StressError::Skip)?;
    let space = config.space.clone().unwrap_or_else(Space::current);
    let start = Instant::now();
    let fds_before = count_fds();

    let shared_set = space
        .allocate(MACH_PORT_RIGHT_PORT_SET)
        .map_err(|e| fail(format!("allocate shared set: {e}")))?;
    let mut ports = Vec::new();
    let cleanup = |ports: &[Name]| {
        for &p in ports {
            let _ = space.destroy_receive(p);
        }
        let _ = space.destroy_set(shared_set);
    };
    for _ in 0..config.ports {
        match space.allocate(MACH_PORT_RIGHT_RECEIVE) {
            Ok(p) => ports.push(p),
            Err(e) => {
                cleanup(&ports);
                return Err(fail(format!("allocate port: {e}")));
            }
        }
        let p = *ports.last().expect("pushed");
        if let Err(e) = space.insert_right(p, p, MACH_MSG_TYPE_MAKE_SEND) {
            cleanup(&ports);
            return Err(fail(format!("insert_right: {e}")));
        }
    }
    // Probe the filter: EINVAL (stock kernel) / ENXIO (filter not registered) mean SKIP.
    {
        let kq = space.kqueue().map_err(|e| fail(format!("kqueue: {e}")))?;
        if let Err(e) = kq.add_machport(shared_set) {
            cleanup(&ports);
            return Err(match e.raw_os_error() {
                Some(libc::EINVAL) | Some(libc::ENXIO) => {
                    StressError::Skip(Error::FilterUnavailable {
                        errno: e.raw_os_error().unwrap_or(0),
                    })
                }
                _ => fail(format!("probe EV_ADD: {e}")),
            });
        }
        let _ = kq.delete_machport(shared_set);
    }

    let shared = Arc::new(Shared::default());
    let barrier = Arc::new(Barrier::new(config.attachers + config.movers));
    let mut handles = Vec::new();
    for _ in 0..config.attachers {
        let (space, barrier, rounds, pause) = (
            space.clone(),
            barrier.clone(),
            config.rounds,
            config.attach_pause,
        );
        handles.push(thread::spawn(move || {
            let mut r = Report::default();
            barrier.wait();
            attacher(&space, shared_set, rounds, pause, &mut r).map(|()| r)
        }));
    }
    for me in 0..config.movers {
        let (space, barrier, shared, ports, rounds) = (
            space.clone(),
            barrier.clone(),
            shared.clone(),
            ports.clone(),
            config.rounds,
        );
        handles.push(thread::spawn(move || {
            let mut r = Report::default();
            barrier.wait();
            mover(&space, me, shared_set, &ports, rounds, &shared, &mut r).map(|()| r)
        }));
    }
    let mut report = Report {
        fds_before,
        ..Report::default()
    };
    let mut first_error = None;
    for h in handles {
        match h.join() {
            Ok(Ok(r)) => merge(&mut report, &r),
            Ok(Err(e)) => {
                first_error.get_or_insert(e);
            }
            Err(_) => {
                first_error.get_or_insert(fail("a thread panicked"));
            }
        }
    }
    if let Some(e) = first_error {
        cleanup(&ports);
        return Err(e);
    }

    // Accounting: drain every port directly (no set, no stream, zero timeout).
    let sent = std::mem::take(&mut *shared.sent.lock().expect("lock"));
    let mut received = HashSet::new();
    let mut duplicates = 0u64;
    let mut buf = MsgBuf::new(256);
    for &p in &ports {
        let _ = space.move_member(p, 0);
        loop {
            buf.set_msgh_size(0);
            let len = buf.len() as u32;
            // SAFETY: 8-aligned buffer valid for `len` bytes, exclusively borrowed.
            let mr = unsafe {
                space.mach_msg(
                    buf.header_ptr(),
                    MACH_RCV_MSG | MACH_RCV_LARGE | MACH_RCV_TIMEOUT,
                    0,
                    len,
                    p,
                    0,
                )
            }
            .map_err(|e| fail(format!("mach_msg: {e}")))?;
            match mr {
                MACH_MSG_SUCCESS => {
                    let id = match raw_message::parse(buf.bytes(), true) {
                        Ok(m) => m.id,
                        Err(e) => {
                            cleanup(&ports);
                            return Err(fail(format!("received a malformed message: {e}")));
                        }
                    };
                    report.received += 1;
                    if !received.insert(id) {
                        duplicates += 1;
                    }
                }
                MACH_RCV_TIMED_OUT => break,
                other => {
                    cleanup(&ports);
                    return Err(fail(format!("drain of port {p}: {other:#x}")));
                }
            }
        }
    }
    cleanup(&ports);
    report.fds_after = count_fds();
    report.elapsed = start.elapsed();
    if duplicates != 0 {
        return Err(fail(format!(
            "{duplicates} messages received twice ({report})"
        )));
    }
    if received != sent || report.received != report.sends_ok {
        let lost = sent.difference(&received).count();
        let extra = received.difference(&sent).count();
        return Err(fail(format!(
            "accounting mismatch: {lost} sent but not received, {extra} unexpected ({report})"
        )));
    }
    if report.fds_after != report.fds_before {
        return Err(fail(format!("descriptor count changed ({report})")));
    }
    Ok(report)
}

/// Runs the stress and prints one marker line: `EVFILT-MACHPORT-CONCURRENT-OK <counters>`,
/// `EVFILT-MACHPORT-CONCURRENT-FAIL <reason>` or `EVFILT-MACHPORT-CONCURRENT-SKIP <reason>`.
pub fn evfilt_machport_concurrent(config: Config) -> Result<Report, StressError> {
    let result = run(&config);
    match &result {
        Ok(r) => println!("EVFILT-MACHPORT-CONCURRENT-OK {r}"),
        Err(StressError::Skip(e)) => println!("EVFILT-MACHPORT-CONCURRENT-SKIP {e}"),
        Err(StressError::Fail(s)) => println!("EVFILT-MACHPORT-CONCURRENT-FAIL {s}"),
    }
    result
}
