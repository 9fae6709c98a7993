//! Fill a pd-server lease store with synthetic active leases, in batches.

use std::net::Ipv6Addr;
use std::path::Path;
use std::sync::Arc;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use anyhow::{bail, Context};
use pd_core::duid::Duid;
use pd_core::prefix::Prefix;
use pd_core::time::Timestamp;
use pd_server::lease::{ClientKey, Lease, LeaseState};
use pd_server::store::{Clock, SledStore};

/// Ten years: lifetimes far beyond any benchmark.
const FAR: u64 = 10 * 365 * 86_400;

/// The synthetic client of slot `i`: DUID-LL from a MAC made of `i`, IAID 1,
/// link-local next hop from the same MAC.
pub fn client_of(i: u64) -> (ClientKey, Ipv6Addr) {
    let b = i.to_be_bytes();
    let mac = [0x02, b[3], b[4], b[5], b[6], b[7]];
    let key = ClientKey {
        duid: Duid::ll(1, &mac),
        iaid: 1,
    };
    (key, pd_core::prefix::link_local_from_mac(mac))
}

/// The active lease of slot `slot` of 2001:db8::/32 split into /64s, with
/// the client of [`client_of`] on `s0`, 1 h / 2 h lifetimes (single-lease
/// micro-benchmarks).
pub fn lease_of(slot: u64) -> anyhow::Result<Lease> {
    let pool: Prefix = "2001:db8::/32".parse()?;
    let (client, next_hop) = client_of(slot);
    Ok(Lease {
        prefix: pool
            .nth_subprefix(64, u128::from(slot))
            .context("slot out of range")?,
        client,
        state: LeaseState::Active,
        preferred_until: Timestamp::from_secs(3600),
        valid_until: Timestamp::from_secs(7200),
        next_hop,
        iface: "s0".into(),
    })
}

/// A fresh store in `dir` (whatever was there is removed) and the fixed
/// clock the in-process measurements write with.
pub fn scratch_store(dir: &Path) -> anyhow::Result<(SledStore, Clock)> {
    let _ = std::fs::remove_dir_all(dir);
    std::fs::create_dir_all(dir)?;
    let store = SledStore::open(dir)?;
    let clock = Clock {
        mono: Timestamp::ZERO,
        wall: 1_700_000_000,
    };
    Ok((store, clock))
}

/// Write `count` active leases for slots `0..count` of `pool` split into
/// `/len`s, `batch` per flushed write.
pub fn run(
    state_dir: &Path,
    pool: Prefix,
    len: u8,
    count: u64,
    batch: usize,
    iface: &str,
) -> anyhow::Result<()> {
    let capacity = pool.subprefix_count(len).context("bad delegated length")?;
    if u128::from(count) > capacity {
        bail!("{pool} holds only {capacity} /{len}s, not {count}");
    }
    if count >= 1 << 40 {
        bail!("count too large for the synthetic MAC scheme");
    }
    std::fs::create_dir_all(state_dir)?;
    let store = SledStore::open(state_dir)?;
    let wall = SystemTime::now().duration_since(UNIX_EPOCH)?.as_secs();
    let clock = Clock {
        mono: Timestamp::ZERO,
        wall,
    };
    let iface: Arc<str> = Arc::from(iface);
    let t0 = Instant::now();
    let mut buf = Vec::with_capacity(batch.max(1));
    for i in 0..count {
        let prefix = pool
            .nth_subprefix(len, u128::from(i))
            .context("slot out of range")?;
        let (client, next_hop) = client_of(i);
        buf.push(Lease {
            prefix,
            client,
            state: LeaseState::Active,
            preferred_until: Timestamp::from_secs(FAR / 2),
            valid_until: Timestamp::from_secs(FAR),
            next_hop,
            iface: iface.clone(),
        });
        if buf.len() >= batch.max(1) || i + 1 == count {
            store.write_unflushed(clock, &buf, &[])?;
            buf.clear();
        }
    }
    store.flush()?;
    // The mark a daemon would have written: restores get their capacity hint.
    store.save_mark()?;
    let secs = t0.elapsed().as_secs_f64();
    println!(
        "fill: wrote {count} leases of {pool} /{len} into {} in {secs:.2} s ({:.0}/s)",
        state_dir.display(),
        count as f64 / secs.max(1e-9)
    );
    Ok(())
}
