//! What the process and the machine look like: resident memory, thread count, file-descriptor
//! limit, cores, load, `uname`, the date.
//!
//! Linux reads `/proc/self/statm` and `/proc/self/task`; FreeBSD (NextBSD) asks `sysctl` for the
//! process's `kinfo_proc`; macOS uses `proc_pidinfo`. Anywhere else resident memory falls back
//! to `getrusage`'s peak and the thread count is unknown.

use std::time::{SystemTime, UNIX_EPOCH};

/// Resident set size of this process in bytes, if the platform can tell.
pub fn rss_bytes() -> Option<u64> {
    imp::rss_bytes()
}

/// Number of threads of this process, if the platform can tell.
pub fn thread_count() -> Option<u64> {
    imp::thread_count()
}

/// Hands free heap pages back to the kernel (glibc `malloc_trim`), so that an RSS delta
/// measured next is not absorbed by memory an earlier phase freed. No-op elsewhere.
pub fn release_free_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim only walks the allocator's own free lists; it takes no pointers.
    unsafe {
        libc::malloc_trim(0);
    }
}

/// Raises the soft `RLIMIT_NOFILE` to at least `want` descriptors when the hard limit allows
/// (raising the hard limit too when the process may). Returns the soft limit in force.
pub fn raise_fd_limit(want: u64) -> std::io::Result<u64> {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: `lim` is a valid, writable rlimit.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) } != 0 {
        return Err(std::io::Error::last_os_error());
    }
    let want = want as libc::rlim_t;
    if lim.rlim_cur >= want {
        return Ok(rlim_u64(lim.rlim_cur));
    }
    if lim.rlim_max < want {
        let raised = libc::rlimit {
            rlim_cur: want,
            rlim_max: want,
        };
        // SAFETY: `raised` is a valid rlimit; failure (not privileged) is reported by the return.
        if unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &raised) } == 0 {
            return Ok(want as u64);
        }
    }
    let soft = libc::rlimit {
        rlim_cur: want.min(lim.rlim_max),
        rlim_max: lim.rlim_max,
    };
    // SAFETY: `soft` is a valid rlimit no higher than the hard limit.
    if unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &soft) } != 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(rlim_u64(soft.rlim_cur))
}

/// `rlim_t` is `u64` on Linux and macOS, `i64` on FreeBSD.
#[allow(clippy::unnecessary_cast)]
fn rlim_u64(v: libc::rlim_t) -> u64 {
    v as u64
}

/// CPU time the calling thread has used so far (`CLOCK_THREAD_CPUTIME_ID`): what a design costs,
/// unlike its wall-clock rate, barely depends on what else the machine runs.
pub fn thread_cpu_time() -> Option<std::time::Duration> {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime writes one timespec into a local we own.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    (rc == 0).then(|| std::time::Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32))
}

/// Times the calling thread has entered the kernel the bench runs on (every trap, a
/// send-and-receive `mach_msg` twice), where the backend can count them: the simulated kernel
/// does (`mach_sim::thread_kernel_entries`); on a native kernel it is `None`.
pub fn thread_kernel_calls() -> Option<u64> {
    #[cfg(mach_backend = "sim")]
    {
        Some(mach_sim::thread_kernel_entries())
    }
    #[cfg(not(mach_backend = "sim"))]
    {
        None
    }
}

/// Whether the backend counts kernel calls ([`thread_kernel_calls`] is `Some`).
pub fn counts_kernel_calls() -> bool {
    thread_kernel_calls().is_some()
}

/// Number of CPUs this process may use.
pub fn cores() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// The 1-, 5- and 15-minute load averages.
pub fn load_average() -> Option<[f64; 3]> {
    let mut avg = [0f64; 3];
    // SAFETY: `avg` has room for the 3 values requested.
    let n = unsafe { libc::getloadavg(avg.as_mut_ptr(), 3) };
    (n == 3).then_some(avg)
}

/// `uname -srvm`-style description of the machine.
pub fn uname() -> String {
    // SAFETY: utsname is plain bytes; all-zero is a valid value.
    let mut u: libc::utsname = unsafe { std::mem::zeroed() };
    // SAFETY: `u` is a valid, writable utsname.
    if unsafe { libc::uname(&mut u) } != 0 {
        return "unknown".to_string();
    }
    let field = |f: &[libc::c_char]| -> String {
        let bytes: Vec<u8> = f
            .iter()
            .take_while(|&&c| c != 0)
            .map(|&c| c as u8)
            .collect();
        String::from_utf8_lossy(&bytes).into_owned()
    };
    format!(
        "{} {} {} {}",
        field(&u.sysname),
        field(&u.release),
        field(&u.version),
        field(&u.machine)
    )
}

/// The current UTC date and time as `YYYY-MM-DD HH:MM UTC`.
pub fn utc_now() -> String {
    let secs = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    utc_string(secs)
}

/// Formats seconds since the Unix epoch as `YYYY-MM-DD HH:MM UTC` (proleptic Gregorian).
pub fn utc_string(unix_secs: u64) -> String {
    let days = (unix_secs / 86_400) as i64;
    let rem = unix_secs % 86_400;
    let (y, m, d) = civil_from_days(days);
    format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02} UTC",
        rem / 3600,
        rem % 3600 / 60
    )
}

/// Days since 1970-01-01 to (year, month, day), Howard Hinnant's era-based algorithm.
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

#[cfg(target_os = "linux")]
mod imp {
    pub(super) fn rss_bytes() -> Option<u64> {
        let statm = std::fs::read_to_string("/proc/self/statm").ok()?;
        let resident_pages: u64 = statm.split_whitespace().nth(1)?.parse().ok()?;
        Some(resident_pages * page_size())
    }

    pub(super) fn thread_count() -> Option<u64> {
        Some(std::fs::read_dir("/proc/self/task").ok()?.count() as u64)
    }

    fn page_size() -> u64 {
        // SAFETY: sysconf has no memory-safety preconditions.
        let n = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
        if n > 0 {
            n as u64
        } else {
            4096
        }
    }
}

#[cfg(target_os = "freebsd")]
mod imp {
    fn kinfo() -> Option<libc::kinfo_proc> {
        let mut mib = [
            libc::CTL_KERN,
            libc::KERN_PROC,
            libc::KERN_PROC_PID,
            // SAFETY: getpid has no preconditions.
            unsafe { libc::getpid() },
        ];
        // SAFETY: kinfo_proc is plain data; all-zero is a valid value.
        let mut kp: libc::kinfo_proc = unsafe { std::mem::zeroed() };
        let mut len = std::mem::size_of::<libc::kinfo_proc>();
        // SAFETY: `mib` names 4 valid integers, `kp` is writable for `len` bytes.
        let rc = unsafe {
            libc::sysctl(
                mib.as_mut_ptr(),
                mib.len() as libc::c_uint,
                (&mut kp as *mut libc::kinfo_proc).cast(),
                &mut len,
                std::ptr::null(),
                0,
            )
        };
        (rc == 0 && len == std::mem::size_of::<libc::kinfo_proc>()).then_some(kp)
    }

    pub(super) fn rss_bytes() -> Option<u64> {
        // SAFETY: sysconf has no memory-safety preconditions.
        let page = unsafe { libc::sysconf(libc::_SC_PAGESIZE) }.max(4096) as u64;
        Some(kinfo()?.ki_rssize.max(0) as u64 * page)
    }

    pub(super) fn thread_count() -> Option<u64> {
        Some(kinfo()?.ki_numthreads.max(0) as u64)
    }
}

#[cfg(target_os = "macos")]
mod imp {
    fn task_info() -> Option<libc::proc_taskinfo> {
        // SAFETY: proc_taskinfo is plain data; all-zero is a valid value.
        let mut info: libc::proc_taskinfo = unsafe { std::mem::zeroed() };
        let size = std::mem::size_of::<libc::proc_taskinfo>() as libc::c_int;
        // SAFETY: `info` is writable for `size` bytes; getpid has no preconditions.
        let n = unsafe {
            libc::proc_pidinfo(
                libc::getpid(),
                libc::PROC_PIDTASKINFO,
                0,
                (&mut info as *mut libc::proc_taskinfo).cast(),
                size,
            )
        };
        (n == size).then_some(info)
    }

    pub(super) fn rss_bytes() -> Option<u64> {
        Some(task_info()?.pti_resident_size)
    }

    pub(super) fn thread_count() -> Option<u64> {
        Some(task_info()?.pti_threadnum.max(0) as u64)
    }
}

#[cfg(not(any(target_os = "linux", target_os = "freebsd", target_os = "macos")))]
mod imp {
    /// Peak (not current) RSS: the best `getrusage` offers. Deltas of a growing process are still
    /// meaningful; shrinkage is invisible.
    pub(super) fn rss_bytes() -> Option<u64> {
        // SAFETY: rusage is plain data; all-zero is a valid value.
        let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
        // SAFETY: `ru` is a valid, writable rusage.
        if unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut ru) } != 0 {
            return None;
        }
        Some(ru.ru_maxrss.max(0) as u64 * 1024)
    }

    pub(super) fn thread_count() -> Option<u64> {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_format_as_utc() {
        assert_eq!(utc_string(0), "1970-01-01 00:00 UTC");
        assert_eq!(utc_string(951_782_400), "2000-02-29 00:00 UTC");
        assert_eq!(utc_string(1_709_210_096), "2024-02-29 12:34 UTC");
        assert_eq!(utc_string(4_102_444_799), "2099-12-31 23:59 UTC");
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn threads_and_rss_follow_the_process() {
        // Other tests come and go in parallel, so only a lower bound is solid: this thread plus
        // the 16 parked ones below.
        let (tx, rx) = std::sync::mpsc::channel::<()>();
        let rx = std::sync::Arc::new(std::sync::Mutex::new(rx));
        let barrier = std::sync::Arc::new(std::sync::Barrier::new(17));
        let parked: Vec<_> = (0..16)
            .map(|_| {
                let (rx, barrier) = (rx.clone(), barrier.clone());
                std::thread::spawn(move || {
                    barrier.wait();
                    let _ = rx.lock().unwrap().recv();
                })
            })
            .collect();
        barrier.wait();
        assert!(thread_count().unwrap() >= 17);
        drop(tx);
        for t in parked {
            t.join().unwrap();
        }

        let rss0 = rss_bytes().unwrap();
        let block: Vec<u8> = vec![1u8; 32 << 20];
        let rss1 = rss_bytes().unwrap();
        assert!(rss1 >= rss0 + (16 << 20), "{rss0} -> {rss1}");
        drop(block);
    }

    #[test]
    fn fd_limit_is_at_least_what_was_there() {
        let n = raise_fd_limit(64).unwrap();
        assert!(n >= 64);
    }

    #[test]
    fn machine_description_is_not_empty() {
        assert!(cores() >= 1);
        assert!(!uname().is_empty());
    }
}
