//! In-process restore and allocation timing: what `pd-server run` does at
//! start (load the sled store, build the engine), then Solicit + Request for
//! new clients through the engine, optionally with the durable write.
//!
//! Diagnostics: `PD_BENCH_LOAD_ONLY=1` only iterates the store (sled's own
//! memory and time, nothing kept); `PD_BENCH_DROP=1` drops the engine after
//! the restore and reports RSS again (what the engine itself held).

use std::net::SocketAddrV6;
use std::path::Path;
use std::sync::Arc;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use anyhow::{bail, Context};
use pd_core::duid::Duid;
use pd_core::prefix::Prefix;
use pd_core::time::Timestamp;
use pd_core::wire::{self, Envelope, IaPd, IaPrefix, Message, MsgType};
use pd_server::driver::restore;
use pd_server::engine::{Effect, Rx, Settings};
use pd_server::lease::Lease;
use pd_server::store::{Clock, LeaseStore, SledStore};

/// Restore the store named by the config, report times and memory, then
/// time `allocations` new clients.
pub fn run(config: &Path, allocations: u32, persist: bool) -> anyhow::Result<()> {
    let text = std::fs::read_to_string(config)
        .with_context(|| format!("cannot read {}", config.display()))?;
    let cfg = pd_server::config::parse(&text)?;
    let origin = Instant::now();
    let wall = SystemTime::now().duration_since(UNIX_EPOCH)?.as_secs();
    let clock0 = Clock {
        mono: Timestamp::ZERO,
        wall,
    };
    let store = SledStore::open(&cfg.state_dir)?;
    let t_open = origin.elapsed().as_secs_f64();
    let rss_open = crate::rss_kb().1;
    if std::env::var_os("PD_BENCH_LOAD_ONLY").is_some() {
        let mut n = 0u64;
        store.load_each(clock0, |_| n += 1)?;
        let (hwm, rss) = crate::rss_kb();
        println!(
            "load only: {n} in {:.3} s vmhwm_kb={hwm} vmrss_kb={rss}",
            origin.elapsed().as_secs_f64() - t_open
        );
        return Ok(());
    }
    let server_duid = Duid::ll(1, &[2, 0, 0, 0, 0, 0xaa]);
    let settings = Settings::from_config(&cfg, server_duid.clone());
    // What the daemon does: sled iteration on a second thread feeding the
    // engine build (they overlap, so load and build are one figure).
    let restored = restore::restore(
        &store,
        clock0,
        settings,
        cfg.pools.clone(),
        cfg.reservations.clone(),
        Timestamp::ZERO,
    )?;
    let t_build = origin.elapsed().as_secs_f64();
    let records = restored.records;
    let t_loader = restored.load_time.as_secs_f64();
    let mut engine = restored.server;
    drop(restored.effects);
    let (hwm, rss) = crate::rss_kb();
    println!(
        "restore: records={records} active={} open_s={t_open:.3} load_build_s={:.3} (load and build overlap; loader thread alone: {:.3} s, build after the last batch: {:.3} s) total_s={t_build:.3} vmhwm_kb={hwm} vmrss_kb={rss}",
        engine.active_count(),
        t_build - t_open,
        t_loader,
        (t_build - t_open - t_loader).max(0.0),
    );
    println!("memory: rss_kb after open={rss_open} after engine built={rss}");
    println!(
        "sizes: Lease={} Prefix={} ClientKey={} LinkKey={} table record={} bytes (a DUID over {} bytes adds a heap block)",
        std::mem::size_of::<Lease>(),
        std::mem::size_of::<Prefix>(),
        std::mem::size_of::<pd_server::lease::ClientKey>(),
        std::mem::size_of::<pd_server::engine::LinkKey>(),
        pd_server::engine::Table::RECORD_BYTES,
        pd_server::engine::Table::INLINE_DUID,
    );
    if std::env::var_os("PD_BENCH_DROP").is_some() {
        drop(engine);
        println!("after dropping the engine: vmrss_kb={}", crate::rss_kb().1);
        return Ok(());
    }
    let now = || Timestamp::from_millis(u64::try_from(origin.elapsed().as_millis()).unwrap_or(0));
    // Client DUIDs new to this store on every run (a known client would get
    // its existing binding back, which is not an allocation).
    let run_id = wall.to_be_bytes();
    for k in 0..allocations {
        let client = Duid::en(99_999, &[&run_id[..], &k.to_be_bytes()[..]].concat());
        let rx = Rx {
            src: SocketAddrV6::new(
                pd_core::prefix::link_local_from_mac([2, 9, 9, 9, 9, 9]),
                546,
                0,
                0,
            ),
            dst: "ff02::1:2".parse()?,
            ifindex: 2,
            iface: Arc::from("s0"),
        };
        let sol = request_bytes(MsgType::Solicit, &client, None, None);
        let t = Instant::now();
        let fx = engine.handle_datagram(now(), &rx, &sol);
        let solicit_us = t.elapsed().as_secs_f64() * 1e6;
        let Some(offered) = first_prefix(&fx) else {
            bail!("no prefix advertised to client {k} (pool full?)");
        };
        let req = request_bytes(MsgType::Request, &client, Some(&server_duid), Some(offered));
        let t = Instant::now();
        let fx = engine.handle_datagram(now(), &rx, &req);
        let request_us = t.elapsed().as_secs_f64() * 1e6;
        let granted = first_prefix(&fx).context("Request not granted")?;
        let mut persist_us = 0.0;
        if persist {
            let puts: Vec<Lease> = fx
                .iter()
                .filter_map(|e| match e {
                    Effect::Persist(l) => Some(l.clone()),
                    _ => None,
                })
                .collect();
            let clock = Clock {
                mono: now(),
                wall: SystemTime::now().duration_since(UNIX_EPOCH)?.as_secs(),
            };
            let t = Instant::now();
            store.write(clock, &puts, &[])?;
            persist_us = t.elapsed().as_secs_f64() * 1e6;
        }
        println!(
            "alloc[{k}]: prefix={granted} solicit_us={solicit_us:.1} request_us={request_us:.1} persist_us={persist_us:.1} total_us={:.1}",
            solicit_us + request_us + persist_us
        );
    }
    Ok(())
}

/// Encoded Solicit or Request for `client`, one IA_PD (IAID 1), with the
/// offered prefix echoed as perfdhcp and dhclient do.
fn request_bytes(
    t: MsgType,
    client: &Duid,
    server: Option<&Duid>,
    offered: Option<Prefix>,
) -> Vec<u8> {
    let mut m = Message::new(t, [1, 2, 3]);
    m.client_id = Some(client.clone());
    m.server_id = server.cloned();
    m.elapsed = Some(0);
    let mut ia = IaPd::new(1, 0, 0);
    if let Some(p) = offered {
        ia.prefixes.push(IaPrefix::new(p, 0, 0));
    }
    m.ia_pd = vec![ia];
    wire::encode(&Envelope {
        relays: Vec::new(),
        msg: m,
    })
}

/// The first delegated prefix in the reply among the effects.
fn first_prefix(fx: &[Effect]) -> Option<Prefix> {
    fx.iter().find_map(|e| match e {
        Effect::Transmit(t) => t
            .envelope
            .msg
            .ia_pd
            .first()
            .and_then(|ia| ia.prefixes.first())
            .filter(|p| p.status.is_none() && p.valid > 0)
            .map(|p| p.prefix),
        _ => None,
    })
}
