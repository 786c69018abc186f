//! A `MachRecvStream`'s kqueue descriptor (on the simulated kernel: an eventfd, registered with
//! tokio) is close-on-exec. Its own test binary, so that no other test opens descriptors while
//! this one reads the process's descriptor table.
#![cfg(all(target_os = "linux", mach_backend = "sim"))]

mod common;

use common::*;
use mach_async::MachRecvStream;

/// The process's open eventfd descriptors (the simulated kqueues and tokio's waker).
fn eventfds() -> Vec<i32> {
    std::fs::read_dir("/proc/self/fd")
        .expect("read /proc/self/fd")
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok())
        .filter(|fd: &i32| {
            std::fs::read_link(format!("/proc/self/fd/{fd}"))
                .is_ok_and(|target| target.to_string_lossy() == "anon_inode:[eventfd]")
        })
        .collect()
}

#[test]
fn a_streams_kqueue_descriptor_is_close_on_exec() {
    let fx = fixture();
    let rt = current_thread_rt();
    let (port, sender) = fx.connect();
    let before = eventfds();
    let stream = rt.block_on(async { MachRecvStream::new(port).unwrap() });
    let after = eventfds();
    let new: Vec<i32> = after
        .iter()
        .filter(|fd| !before.contains(fd))
        .copied()
        .collect();
    assert_eq!(new.len(), 1, "the stream's kqueue: one new eventfd");
    for fd in after {
        // SAFETY: F_GETFD only reads the flags of a descriptor that is open.
        let flags = unsafe { libc::fcntl(fd, libc::F_GETFD) };
        assert!(
            flags >= 0 && flags & libc::FD_CLOEXEC != 0,
            "eventfd {fd} is not close-on-exec{}",
            if new.contains(&fd) {
                " (the stream's kqueue)"
            } else {
                ""
            }
        );
    }
    drop(stream);
    drop(rt);
    drop(sender);
    fx.kernel.assert_no_leaks();
}
