//! The start-up restore: sled iteration on a second thread, feeding the
//! engine build through a bounded channel of batches, so the two overlap
//! (each takes about a second for a million leases).

use std::sync::mpsc::{sync_channel, SyncSender};
use std::time::{Duration, Instant};

use pd_core::time::Timestamp;

use crate::config::{PoolConfig, Reservation};
use crate::engine::{Effect, Server, Settings};
use crate::lease::Lease;
use crate::store::{Clock, SledStore, StoreError};

/// Leases per batch handed from the loader to the build.
pub const BATCH: usize = 4096;
/// Batches in flight (the loader waits when the build falls behind, so at
/// most this many batches are held beyond the table itself).
const IN_FLIGHT: usize = 4;

/// A restored engine.
pub struct Restored {
    /// The engine.
    pub server: Server,
    /// Effects of the restore (routes back, expiries, records to forget).
    pub effects: Vec<Effect>,
    /// Records read from the store.
    pub records: u64,
    /// How long the loader (sled iteration + decoding) ran.
    pub load_time: Duration,
}

/// Load every record of `store` and build the engine from them at `now`.
/// A load error (a damaged store) is returned as such, whatever the build
/// has done meanwhile.
pub fn restore(
    store: &SledStore,
    clock: Clock,
    settings: Settings,
    pools: Vec<PoolConfig>,
    reservations: Vec<Reservation>,
    now: Timestamp,
) -> Result<Restored, StoreError> {
    let hint = store.records_hint();
    let start = Instant::now();
    std::thread::scope(|scope| {
        let (tx, rx) = sync_channel::<Vec<Lease>>(IN_FLIGHT);
        let loader = std::thread::Builder::new()
            .name("pd-restore".into())
            .spawn_scoped(scope, move || {
                let r = feed(store, clock, &tx);
                (r, start.elapsed())
            });
        let Ok(loader) = loader else {
            // No second thread: load, then build.
            let mut all = Vec::with_capacity(hint);
            let records = store.load_each(clock, |l| all.push(l))?;
            let load_time = start.elapsed();
            let (server, effects) =
                Server::with_capacity(settings, pools, reservations, now, all, hint);
            return Ok(Restored {
                server,
                effects,
                records,
                load_time,
            });
        };
        let (server, effects) = Server::with_capacity(
            settings,
            pools,
            reservations,
            now,
            rx.into_iter().flatten(),
            hint,
        );
        let (records, load_time) = match loader.join() {
            Ok((r, t)) => (r?, t),
            Err(panic) => std::panic::resume_unwind(panic),
        };
        Ok(Restored {
            server,
            effects,
            records,
            load_time,
        })
    })
}

/// The loader: every record, in batches, into `tx`.
fn feed(store: &SledStore, clock: Clock, tx: &SyncSender<Vec<Lease>>) -> Result<u64, StoreError> {
    let mut batch = Vec::with_capacity(BATCH);
    let n = store.load_each(clock, |l| {
        batch.push(l);
        if batch.len() >= BATCH {
            // A send fails only if the build is gone; the load goes on to
            // report its own result.
            let _ = tx.send(std::mem::replace(&mut batch, Vec::with_capacity(BATCH)));
        }
    })?;
    if !batch.is_empty() {
        let _ = tx.send(batch);
    }
    Ok(n)
}
