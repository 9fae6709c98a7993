//! The checkpoint runs at the lowest CPU priority.
//!
//! Folding a full journal file into sled and flushing sled takes tens of
//! ms of CPU in one go (~0.9 ms per 1,000 records, `pd-bench checkpoint`).
//! At nice 0 on a 2-core machine that core is gone for the loop, the
//! writers and the load meanwhile, and every exchange in the window waits
//! (BENCHMARKS.md §000000: with a checkpoint every 0.7 s, 4,278–12,526
//! exchanges of 100,000 over 2 ms at nice 0, 2,685–8,126 at nice 19).
//! Nothing waits for a checkpoint but the next rotation, so it gets what
//! the daemon's own threads leave: nice 19 (weight 15 against 1,024), the
//! way database engines run compaction in a low-priority pool. It still
//! progresses under full load, only slower. What it cannot lower is its
//! share of the disk: the writers' fdatasyncs still queue behind sled's
//! flush.

/// The nice value of the checkpoint thread.
pub const NICE: i32 = 19;

/// Lower the calling thread (only it: on Linux a thread id names one
/// thread to setpriority(2)) to [`NICE`]. A sandbox that refuses it
/// (a seccomp filter without setpriority) leaves it at the daemon's own
/// priority, which is correct, only less smooth; that is said once.
pub fn lower_this_thread() {
    static WARNED: std::sync::Once = std::sync::Once::new();
    let tid = rustix::thread::gettid();
    if let Err(e) = rustix::process::setpriority_process(Some(tid), NICE) {
        WARNED.call_once(|| {
            tracing::warn!(error = %e, "cannot lower the lease checkpoint's CPU priority (a seccomp filter without setpriority?); checkpoints will compete with replies for the CPU");
        });
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn only_the_calling_thread_is_lowered() {
        let me = rustix::process::getpriority_process(Some(rustix::thread::gettid())).unwrap();
        let child = std::thread::spawn(|| {
            lower_this_thread();
            rustix::process::getpriority_process(Some(rustix::thread::gettid())).unwrap()
        })
        .join()
        .unwrap();
        assert_eq!(child, NICE);
        let after = rustix::process::getpriority_process(Some(rustix::thread::gettid())).unwrap();
        assert_eq!(after, me);
    }
}
