//! pd-bench: helpers for bench/run.sh.
//!
//! * `fill`: write N active leases straight into a pd-server sled store
//!   (what a server with N bound clients would have on disk).
//! * `restore`: in-process, time what `pd-server run` does at start
//!   (load the store, build the engine), then time one more allocation
//!   (Solicit + Request through the engine, and the durable write).
//! * `flush-cost`: what one durable lease write costs (sled flush vs fdatasync).
//! * `checkpoint`: what folding the journal into sled costs per record.
//! * `latency`: parse a perfdhcp `-x t` report (counts, loss, 4-way latency).
//! * `load`: a prefix-only load generator lighter than perfdhcp (same report).

/// The same allocator as pd-server (see there), so the in-process restore
/// measures what the daemon does.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

mod checkpoint;
mod fill;
mod flushcost;
mod latency;
mod load;
mod restore;

use std::path::PathBuf;

use clap::{Parser, Subcommand};
use pd_core::prefix::Prefix;

/// Command line.
#[derive(Parser)]
#[command(name = "pd-bench", about = "pd benchmark helpers")]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Write COUNT active leases (slots 0..COUNT of the pool) into STATE_DIR/leases.
    Fill {
        /// pd-server state-dir (the store is STATE_DIR/leases).
        #[arg(long)]
        state_dir: PathBuf,
        /// The pool's aggregate, e.g. 2001:db8::/32.
        #[arg(long)]
        pool: Prefix,
        /// Delegated length.
        #[arg(long, default_value_t = 64)]
        delegated_length: u8,
        /// How many leases.
        #[arg(long)]
        count: u64,
        /// Leases per write batch.
        #[arg(long, default_value_t = 10_000)]
        batch: usize,
        /// Interface name recorded in each lease.
        #[arg(long, default_value = "s0")]
        iface: String,
    },
    /// Restore the store of CONFIG in-process, then time one more allocation.
    Restore {
        /// pd-server configuration file (its state-dir holds the store).
        #[arg(long)]
        config: PathBuf,
        /// Allocations to time after the restore.
        #[arg(long, default_value_t = 3)]
        allocations: u32,
        /// Also persist each allocation (one flushed write each).
        #[arg(long)]
        persist: bool,
    },
    /// Time single-lease durable writes: sled flush, + fdatasync, unflushed.
    FlushCost {
        /// A scratch directory (removed before and after).
        #[arg(long)]
        dir: PathBuf,
        /// Writes per mode.
        #[arg(long, default_value_t = 500)]
        count: u32,
    },
    /// Time checkpoints: RECORDS commits of fresh leases, then of rewrites.
    Checkpoint {
        /// A scratch directory (removed before and after).
        #[arg(long)]
        dir: PathBuf,
        /// Records per checkpoint (a journal file holds ~80,000).
        #[arg(long, default_value_t = 80_000)]
        records: u64,
        /// Records per commit.
        #[arg(long, default_value_t = 8)]
        group: usize,
        /// Checkpoints per pattern.
        #[arg(long, default_value_t = 3)]
        rounds: u32,
    },
    /// Run 4-way prefix-only exchanges at RATE/s for DURATION s (new clients).
    Load {
        /// The client-side interface (Solicits go to ff02::1:2 on it).
        #[arg(long)]
        interface: String,
        /// Exchanges started per second.
        #[arg(long)]
        rate: u64,
        /// Seconds of Solicits.
        #[arg(long, default_value_t = 10)]
        duration: u64,
        /// Milliseconds to wait for late Replies after the last Solicit.
        #[arg(long, default_value_t = 1000)]
        wait_ms: u64,
        /// Also write each exchange's times here (one line each: ms since
        /// the first Solicit, then the 4-way, Solicit→Advertise and
        /// Request→Reply latencies in ms), to see where the tail sits.
        #[arg(long)]
        dump: Option<PathBuf>,
    },
    /// Parse a perfdhcp -x t report: counts, loss, 4-way latency percentiles.
    Latency {
        /// The report file ("-" for stdin).
        #[arg(default_value = "-")]
        file: String,
    },
}

fn main() -> anyhow::Result<()> {
    match Cli::parse().cmd {
        Cmd::Fill {
            state_dir,
            pool,
            delegated_length,
            count,
            batch,
            iface,
        } => fill::run(&state_dir, pool, delegated_length, count, batch, &iface),
        Cmd::Restore {
            config,
            allocations,
            persist,
        } => restore::run(&config, allocations, persist),
        Cmd::Latency { file } => latency::run(&file),
        Cmd::Load {
            interface,
            rate,
            duration,
            wait_ms,
            dump,
        } => load::run(&load::Load {
            interface,
            rate,
            duration: std::time::Duration::from_secs(duration),
            wait: std::time::Duration::from_millis(wait_ms),
            dump,
        }),
        Cmd::FlushCost { dir, count } => flushcost::run(&dir, count),
        Cmd::Checkpoint {
            dir,
            records,
            group,
            rounds,
        } => checkpoint::run(&dir, records, group, rounds),
    }
}

/// Peak and current resident set size of this process, kB (VmHWM, VmRSS).
pub fn rss_kb() -> (u64, u64) {
    let text = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let field = |name: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.split_whitespace().next())
            .and_then(|v| v.parse().ok())
            .unwrap_or(0)
    };
    (field("VmHWM:"), field("VmRSS:"))
}
