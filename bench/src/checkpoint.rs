//! What a checkpoint costs per record: pd-server's writer only appends to
//! the journal; when a journal file is full a background thread folds its
//! records into sled block by block and flushes sled. That work happens
//! once per journal file (every ~80,000 records), so a 10-second trial of
//! the rate sections may not include one; this measures it on its own, for
//! the two patterns a server sees: fresh leases (slots from the pool's
//! cursor, dense) and rewrites scattered over the leases already stored.

use std::path::Path;
use std::time::Instant;

use nix::time::{clock_gettime, ClockId};
use pd_server::store::LeaseStore;

/// CPU time of the whole process (every thread, exited ones included), s.
fn cpu_s() -> f64 {
    clock_gettime(ClockId::CLOCK_PROCESS_CPUTIME_ID)
        .map(|t| t.tv_sec() as f64 + t.tv_nsec() as f64 * 1e-9)
        .unwrap_or(f64::NAN)
}

/// Commit `records` records in groups of `group` (as the writer does), then
/// time the checkpoint of them; prints CPU per 1,000 records.
pub fn run(dir: &Path, records: u64, group: usize, rounds: u32) -> anyhow::Result<()> {
    let (store, clock) = crate::fill::scratch_store(dir)?;
    store.load(clock)?;
    let lease = crate::fill::lease_of;
    let mut next_slot = 0u64;
    let mut rng = 0x9e37_79b9_7f4a_7c15u64;
    for pattern in ["fresh", "rewrite"] {
        for round in 1..=rounds {
            let mut buf = Vec::with_capacity(group);
            let c0 = cpu_s();
            for _ in 0..records {
                let slot = if pattern == "fresh" {
                    next_slot += 1;
                    next_slot
                } else {
                    // xorshift over the slots written so far.
                    rng ^= rng << 13;
                    rng ^= rng >> 7;
                    rng ^= rng << 17;
                    1 + rng % next_slot.max(1)
                };
                buf.push(lease(slot)?);
                if buf.len() == group.max(1) {
                    store.durable(store.append(clock, &buf, &[])?);
                    buf.clear();
                }
            }
            store.durable(store.append(clock, &buf, &[])?);
            let (c1, t1) = (cpu_s(), Instant::now());
            store.sync(true)?;
            let (c2, wall) = (cpu_s(), t1.elapsed().as_secs_f64());
            let per1k = |s: f64| s * 1e3 / records as f64 * 1e3;
            println!(
                "checkpoint {pattern} round {round}: {records} records ({} stored), commit cpu {:.2} ms/1k records, checkpoint cpu {:.2} ms/1k records (wall {:.0} ms)",
                next_slot,
                per1k(c1 - c0),
                per1k(c2 - c1),
                wall * 1e3
            );
        }
    }
    drop(store);
    let _ = std::fs::remove_dir_all(dir);
    Ok(())
}
