//! What one durable lease write costs, three ways, on a fresh store: the
//! journal commit (what pd-server does: one `write` + one `fdatasync` of the
//! lease journal; sled gets the record at the next checkpoint), sled's own
//! flush plus an `fdatasync` of its log (what pd-server did before the
//! journal), and the record into sled's blocks unflushed.

use std::path::Path;
use std::time::Instant;

/// Time `count` single-lease writes per mode and print percentiles (µs).
pub fn run(dir: &Path, count: u32) -> anyhow::Result<()> {
    let (store, clock) = crate::fill::scratch_store(dir)?;
    let mut slot: u64 = 0;
    let mut lease = || {
        slot += 1;
        crate::fill::lease_of(slot)
    };
    for mode in ["unflushed", "journal", "sled-flush+fdatasync"] {
        let mut us = Vec::with_capacity(count as usize);
        for _ in 0..count {
            let l = lease()?;
            let t = Instant::now();
            match mode {
                "unflushed" => store.write_unflushed(clock, &[l], &[])?,
                "journal" => {
                    // What the writer does per commit (it raises the mark
                    // once a second, not per write).
                    store.commit(clock, &[l], &[])?;
                    store.settle()?;
                }
                _ => {
                    store.write_unflushed(clock, &[l], &[])?;
                    store.flush()?;
                }
            }
            us.push(t.elapsed().as_secs_f64() * 1e6);
        }
        us.sort_by(f64::total_cmp);
        let at = |p: f64| {
            let i = ((p / 100.0) * us.len() as f64).ceil() as usize;
            us.get(i.clamp(1, us.len()) - 1)
                .copied()
                .unwrap_or(f64::NAN)
        };
        println!(
            "flush-cost {mode}: {count} single-lease writes, p50 {:.0} us, p99 {:.0} us, max {:.0} us",
            at(50.0),
            at(99.0),
            at(100.0)
        );
    }
    drop(store);
    let _ = std::fs::remove_dir_all(dir);
    Ok(())
}
