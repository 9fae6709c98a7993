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
    // Two loaders, each over about half of the keys (sled's iterator is
    // the slow part of a restore), feed one build on this thread.
    let mid = store.midpoint()?;
    std::thread::scope(|scope| {
        let (tx, rx) = sync_channel::<Vec<Lease>>(IN_FLIGHT);
        let tx2 = tx.clone();
        // The upper half first: if it cannot start, the lower loader
        // takes every key.
        let upper = mid.and_then(|m| {
            std::thread::Builder::new()
                .name("pd-restore".into())
                .spawn_scoped(scope, move || {
                    (feed(store, m.., clock, &tx2), start.elapsed())
                })
                .ok()
        });
        let lower_end = if upper.is_some() { mid } else { None };
        let lower = std::thread::Builder::new()
            .name("pd-restore".into())
            .spawn_scoped(scope, move || {
                let r = match lower_end {
                    Some(m) => feed(store, ..m, clock, &tx),
                    None => feed(store, .., clock, &tx),
                };
                (r, start.elapsed())
            });
        let (server, effects, mut records, mut load_time) = match lower {
            Ok(lower) => {
                let (server, effects) = Server::with_capacity(
                    settings,
                    pools,
                    reservations,
                    now,
                    rx.into_iter().flatten(),
                    hint,
                );
                let (r, t) = join(lower);
                (server, effects, r?, t)
            }
            Err(_) => {
                // No thread for the lower part: read it here first (the
                // upper loader, if any, waits on the bounded channel).
                let mut part = Vec::with_capacity(hint);
                let range_end =
                    lower_end.map_or(std::ops::Bound::Unbounded, std::ops::Bound::Excluded);
                let n = store.load_part((std::ops::Bound::Unbounded, range_end), clock, |l| {
                    part.push(l)
                })?;
                let t = start.elapsed();
                let (server, effects) = Server::with_capacity(
                    settings,
                    pools,
                    reservations,
                    now,
                    part.into_iter().chain(rx.into_iter().flatten()),
                    hint,
                );
                (server, effects, n, t)
            }
        };
        if let Some(h) = upper {
            let (r, t) = join(h);
            records += r?;
            load_time = load_time.max(t);
        }
        let records = store.loaded(records)?;
        Ok(Restored {
            server,
            effects,
            records,
            load_time,
        })
    })
}

/// Wait for a loader; its panic goes on up.
fn join<T>(h: std::thread::ScopedJoinHandle<'_, T>) -> T {
    match h.join() {
        Ok(v) => v,
        Err(panic) => std::panic::resume_unwind(panic),
    }
}

/// The loader: every record, in batches, into `tx`.
fn feed(
    store: &SledStore,
    range: impl std::ops::RangeBounds<[u8; 17]>,
    clock: Clock,
    tx: &SyncSender<Vec<Lease>>,
) -> Result<u64, StoreError> {
    let mut batch = Vec::with_capacity(BATCH);
    let n = store.load_part(range, clock, |l| {
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
