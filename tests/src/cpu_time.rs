//! The calling thread's CPU time, for benchmarks that report records per core.

use std::time::Duration;

/// CPU time (user + system) consumed so far by the calling thread, or the OS error when the
/// clock is unavailable.
pub fn thread_cpu_time() -> std::io::Result<Duration> {
    let mut now = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime only writes the timespec we pass.
    let status = unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut now) };
    if status != 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(Duration::new(now.tv_sec as u64, now.tv_nsec as u32))
}
