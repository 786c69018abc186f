//! The global fd → [`Kqueue`] map behind `mach_sim_kqueue` / `mach_sim_kevent`.
//!
//! C gets a *duplicate* of each kqueue's descriptor: the [`Kqueue`] keeps its own, so a C program
//! that releases its kqueue with plain `close()` (or whose number is later reused by another
//! open) never makes us close somebody else's descriptor. Every lookup checks that the number
//! still refers to the file we handed out — same `st_dev`/`st_ino`/`st_mode`/`st_rdev` as at
//! creation and, on Linux, the same open file description as the kqueue's own descriptor
//! (`kcmp(KCMP_FILE)`, when the system allows it). A stale entry is dropped (which releases the
//! kqueue's knotes) and the call fails with `EBADF`, as `kevent(2)` on a closed descriptor does.

use crate::{Kqueue, Task};
use std::collections::BTreeMap;
use std::io;
use std::os::fd::{AsRawFd, RawFd};
use std::sync::{Arc, Mutex, MutexGuard};

/// Identity of an open file as `fstat` reports it.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
struct FileId {
    dev: u64,
    ino: u64,
    mode: u32,
    rdev: u64,
}

/// One kqueue handed to C.
struct Entry {
    kq: Arc<Kqueue>,
    id: FileId,
}

static KQUEUES: Mutex<BTreeMap<RawFd, Entry>> = Mutex::new(BTreeMap::new());

fn map() -> MutexGuard<'static, BTreeMap<RawFd, Entry>> {
    // The map stays consistent even if a holder panicked (no invariant spans an update).
    KQUEUES
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

fn ebadf() -> io::Error {
    io::Error::from_raw_os_error(libc::EBADF)
}

/// `fstat` identity of `fd`.
#[allow(clippy::unnecessary_cast)] // field types differ between Linux, FreeBSD and macOS
fn file_id(fd: RawFd) -> io::Result<FileId> {
    let mut st = std::mem::MaybeUninit::<libc::stat>::uninit();
    // SAFETY: `st` is valid for a write of a `stat`; `fstat` does not keep the pointer.
    if unsafe { libc::fstat(fd, st.as_mut_ptr()) } != 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: `fstat` succeeded, so it initialised `st`.
    let st = unsafe { st.assume_init() };
    Ok(FileId {
        dev: st.st_dev as u64,
        ino: st.st_ino as u64,
        mode: st.st_mode as u32,
        rdev: st.st_rdev as u64,
    })
}

/// Whether `a` and `b` refer to the same open file description. Only Linux can tell
/// (`kcmp`); elsewhere, or when `kcmp` is not permitted, the `fstat` identity is trusted.
fn same_open_file(a: RawFd, b: RawFd) -> bool {
    #[cfg(any(target_os = "linux", target_os = "android"))]
    {
        const KCMP_FILE: libc::c_long = 0;
        // SAFETY: `getpid` has no preconditions.
        let pid = libc::c_long::from(unsafe { libc::getpid() });
        // SAFETY: `kcmp` only compares kernel objects of this process; it reads no user memory.
        let r = unsafe {
            libc::syscall(
                libc::SYS_kcmp,
                pid,
                pid,
                KCMP_FILE,
                libc::c_long::from(a),
                libc::c_long::from(b),
            )
        };
        r != 1 && r != 2 && r != 3
    }
    #[cfg(not(any(target_os = "linux", target_os = "android")))]
    {
        let _ = (a, b);
        true
    }
}

/// Creates a kqueue owned by `task` and returns the descriptor C gets.
pub(crate) fn open(task: &Task) -> io::Result<RawFd> {
    let kq = task.kqueue()?;
    // SAFETY: `F_DUPFD_CLOEXEC` on a descriptor we own has no memory-safety preconditions.
    let fd = unsafe { libc::fcntl(kq.as_raw_fd(), libc::F_DUPFD_CLOEXEC, 0) };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    let id = match file_id(fd) {
        Ok(id) => id,
        Err(e) => {
            // SAFETY: `fd` was just created by us and is not shared with anyone yet.
            unsafe { libc::close(fd) };
            return Err(e);
        }
    };
    // An entry already under this number is stale (C closed it with plain `close()`): dropping
    // it closes only that kqueue's own descriptor.
    let stale = map().insert(
        fd,
        Entry {
            kq: Arc::new(kq),
            id,
        },
    );
    drop(stale);
    Ok(fd)
}

/// Removes and returns the entry for `fd` if `fd` no longer refers to the file we handed out.
fn check(map: &mut BTreeMap<RawFd, Entry>, fd: RawFd) -> Result<(), Option<Entry>> {
    let Some(entry) = map.get(&fd) else {
        return Err(None);
    };
    let valid =
        file_id(fd).is_ok_and(|id| id == entry.id) && same_open_file(fd, entry.kq.as_raw_fd());
    if valid {
        Ok(())
    } else {
        Err(map.remove(&fd))
    }
}

/// The kqueue C knows as `fd` (`EBADF` if unknown or stale).
pub(crate) fn get(fd: RawFd) -> io::Result<Arc<Kqueue>> {
    let mut map = map();
    match check(&mut map, fd) {
        Ok(()) => Ok(map[&fd].kq.clone()),
        Err(stale) => {
            drop(map);
            drop(stale);
            Err(ebadf())
        }
    }
}

/// Closes the kqueue C knows as `fd` (`EBADF` if unknown or stale; a stale number is left alone).
pub(crate) fn close(fd: RawFd) -> io::Result<()> {
    let mut map = map();
    let result = check(&mut map, fd);
    let entry = match result {
        Ok(()) => map.remove(&fd),
        Err(stale) => {
            drop(map);
            drop(stale);
            return Err(ebadf());
        }
    };
    drop(map);
    // SAFETY: `fd` is the duplicate we created in `open` and handed to C, which asked us to close
    // it; it was verified to still be that file.
    unsafe { libc::close(fd) };
    drop(entry);
    Ok(())
}
