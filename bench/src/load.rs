//! `pd-bench load`: a prefix-only load generator, for the rates at which
//! perfdhcp saturates its core on a 2-core machine (its 4-way latency is
//! then its own queueing, §3 of BENCHMARKS.md).
//!
//! One thread and one socket: Solicits leave on a fixed schedule (exchange
//! `i` at `i / rate` seconds, late ones at once, as perfdhcp does), and each
//! Advertise is answered by a Request at once. A message is timestamped
//! when `send` returns, and when the kernel queued it on the socket
//! (`SO_TIMESTAMPNS`), so that the generator's own scheduling delays on
//! reading do not count as the server's. The 4-way latency (Solicit sent →
//! Reply arrived) still includes the generator's turnaround (Advertise
//! arrived → Request sent); the server's share (Solicit → Advertise plus
//! Request → Reply) is reported beside it. Each exchange is a new client
//! (DUID-LL with a per-run tag), one IA_PD.

mod msg;

use std::io::{ErrorKind, IoSliceMut};
use std::net::{Ipv6Addr, SocketAddrV6, UdpSocket};
use std::os::fd::AsRawFd;
use std::time::{Duration, Instant, SystemTime};

use anyhow::{bail, Context};
use nix::sys::socket::{self, sockopt, ControlMessageOwned, MsgFlags, SockaddrIn6};
use nix::sys::time::TimeSpec;
use pd_core::sys::net::{ALL_DHCP_RELAY_AGENTS_AND_SERVERS, CLIENT_PORT, SERVER_PORT};

use crate::latency::print_report;

/// Exchange numbers are carried in 23 bits of the 24-bit transaction id
/// (the low bit tells Solicit from Request).
const MAX_EXCHANGES: u64 = 1 << 23;

/// What to run.
pub struct Load {
    pub interface: String,
    pub rate: u64,
    pub duration: Duration,
    /// How long to wait for late Replies after the last Solicit.
    pub wait: Duration,
    /// Where to write each exchange's times (`--dump`).
    pub dump: Option<std::path::PathBuf>,
}

/// Receive buffer: a generator descheduled for a few ms must not drop
/// Replies (SO_RCVBUFFORCE: root, which the benchmark is).
const RCVBUF: usize = 8 << 20;

/// Times of one exchange, nanoseconds since the epoch (0 = not yet).
#[derive(Clone, Copy, Default)]
struct Times {
    solicit: u64,
    advertise: u64,
    request: u64,
    reply: u64,
}

/// Run the load and print `key=value` lines (the keys of `pd-bench latency`).
pub fn run(load: &Load) -> anyhow::Result<()> {
    let total = load.rate.saturating_mul(load.duration.as_secs());
    if load.rate == 0 || total == 0 || total > MAX_EXCHANGES {
        bail!("rate x duration must be 1..={MAX_EXCHANGES} exchanges (got {total})");
    }
    let ifindex = pd_core::sys::net::ifindex(&load.interface)
        .with_context(|| format!("interface {}", load.interface))?;
    let sock = UdpSocket::bind(SocketAddrV6::new(Ipv6Addr::UNSPECIFIED, CLIENT_PORT, 0, 0))
        .context("cannot bind UDP port 546")?;
    socket::setsockopt(&sock, sockopt::RcvBufForce, &RCVBUF).context("SO_RCVBUFFORCE")?;
    socket::setsockopt(&sock, sockopt::ReceiveTimestampns, &true).context("SO_TIMESTAMPNS")?;
    let to = SocketAddrV6::new(ALL_DHCP_RELAY_AGENTS_AND_SERVERS, SERVER_PORT, 0, ifindex);
    let tag = run_tag();
    let mut ex = vec![Times::default(); usize::try_from(total)?];
    let mut out = Vec::with_capacity(128);
    let mut buf = [0u8; 2048];
    let start = Instant::now();
    let now = || u64::try_from(start.elapsed().as_nanos()).unwrap_or(u64::MAX);
    let due = |i: u64| u64::try_from(u128::from(i) * 1_000_000_000 / u128::from(load.rate));
    let end = due(total)? + u64::try_from(load.wait.as_nanos())?;
    let (mut next, mut replies) = (0u64, 0u64);
    loop {
        let t = now();
        while next < total && due(next)? <= t {
            msg::solicit(
                &mut out,
                xid(next, 0),
                &msg::duid(tag, u32::try_from(next)?),
            );
            sock.send_to(&out, to).context("cannot send a Solicit")?;
            slot(&mut ex, next)?.solicit = wall_ns();
            next += 1;
        }
        let t = now();
        if t >= end || replies == total {
            break;
        }
        let until = if next < total { due(next)? } else { end };
        let wait = Duration::from_nanos(until.saturating_sub(t).max(1_000));
        sock.set_read_timeout(Some(wait))?;
        let (n, at) = match recv(&sock, &mut buf) {
            Ok(r) => r,
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => continue,
            Err(e) => return Err(e).context("cannot receive"),
        };
        let Some(offer) = buf.get(..n).and_then(msg::read) else {
            continue;
        };
        let Some(i) = exchange_of(offer.xid, next) else {
            continue;
        };
        let duid = msg::duid(tag, u32::try_from(i)?);
        let times = slot(&mut ex, i)?;
        match offer.kind {
            msg::ADVERTISE if offer.xid & 1 == 0 && times.advertise == 0 => {
                times.advertise = at;
                msg::request(&mut out, xid(i, 1), &duid, &offer);
                // To ff02::1:2 like the Solicit (RFC 9915 §18.2.2: no
                // unicast without a Server Unicast option).
                sock.send_to(&out, to).context("cannot send a Request")?;
                times.request = wall_ns();
            }
            msg::REPLY if offer.xid & 1 == 1 && times.request != 0 && times.reply == 0 => {
                times.reply = at;
                replies += 1;
            }
            _ => {}
        }
    }
    let started = ex.get(..usize::try_from(next)?).unwrap_or_default();
    if let Some(path) = &load.dump {
        dump(path, started).with_context(|| format!("cannot write {}", path.display()))?;
    }
    report(started);
    Ok(())
}

/// One datagram: length, and when the kernel queued it (ns since the
/// epoch; now, if the kernel gave no timestamp).
fn recv(sock: &UdpSocket, buf: &mut [u8]) -> std::io::Result<(usize, u64)> {
    let mut cmsg = nix::cmsg_space!(TimeSpec);
    let mut iov = [IoSliceMut::new(buf)];
    let m = socket::recvmsg::<SockaddrIn6>(
        sock.as_raw_fd(),
        &mut iov,
        Some(&mut cmsg),
        MsgFlags::empty(),
    )?;
    let at = m.cmsgs().ok().into_iter().flatten().find_map(|c| match c {
        ControlMessageOwned::ScmTimestampns(t) => {
            let ns = i128::from(t.tv_sec()) * 1_000_000_000 + i128::from(t.tv_nsec());
            u64::try_from(ns).ok()
        }
        _ => None,
    });
    Ok((m.bytes, at.unwrap_or_else(wall_ns)))
}

fn wall_ns() -> u64 {
    let t = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap_or_default();
    u64::try_from(t.as_nanos()).unwrap_or(u64::MAX).max(1)
}

fn slot(ex: &mut [Times], i: u64) -> anyhow::Result<&mut Times> {
    ex.get_mut(usize::try_from(i)?)
        .context("exchange number out of range")
}

/// Transaction id of exchange `i`, phase 0 (Solicit) or 1 (Request).
fn xid(i: u64, phase: u64) -> u32 {
    u32::try_from(((i << 1) | phase) & 0xff_ffff).unwrap_or(0)
}

/// The exchange a transaction id belongs to, among the `started` ones.
fn exchange_of(xid: u32, started: u64) -> Option<u64> {
    let i = u64::from(xid >> 1);
    (i < started).then_some(i)
}

/// Distinct clients in every run (the low bits of the clock, in µs).
fn run_tag() -> u16 {
    u16::try_from((wall_ns() / 1000) & 0xffff).unwrap_or(0)
}

fn ms(from: u64, to: u64) -> f64 {
    to.saturating_sub(from) as f64 / 1e6
}

/// One line per answered exchange: when its Solicit left (ms after the
/// first), its 4-way, Solicit→Advertise and Request→Reply latencies (ms).
fn dump(path: &std::path::Path, ex: &[Times]) -> std::io::Result<()> {
    use std::io::Write;
    let first = ex.first().map_or(0, |t| t.solicit);
    let mut w = std::io::BufWriter::new(std::fs::File::create(path)?);
    for t in ex.iter().filter(|t| t.reply != 0) {
        writeln!(
            w,
            "{:.3} {:.3} {:.3} {:.3}",
            ms(first, t.solicit),
            ms(t.solicit, t.reply),
            ms(t.solicit, t.advertise),
            ms(t.request, t.reply)
        )?;
    }
    w.flush()
}

/// Counts, loss and latency percentiles (the generator's CPU time is
/// measured by bench/lib.sh).
fn report(ex: &[Times]) {
    let sent = ex.len();
    let adv = ex.iter().filter(|t| t.advertise != 0).count();
    let req = ex.iter().filter(|t| t.request != 0).count();
    let done: Vec<&Times> = ex.iter().filter(|t| t.reply != 0).collect();
    let mut four: Vec<f64> = done.iter().map(|t| ms(t.solicit, t.reply)).collect();
    let mut sa: Vec<f64> = ex
        .iter()
        .filter(|t| t.advertise != 0)
        .map(|t| ms(t.solicit, t.advertise))
        .collect();
    let mut rr: Vec<f64> = done.iter().map(|t| ms(t.request, t.reply)).collect();
    let mut server: Vec<f64> = done
        .iter()
        .map(|t| ms(t.solicit, t.advertise) + ms(t.request, t.reply))
        .collect();
    let mut turn: Vec<f64> = done.iter().map(|t| ms(t.advertise, t.request)).collect();
    let counts = [sent, adv, req, done.len()].map(|n| u64::try_from(n).unwrap_or(u64::MAX));
    print_report(
        counts,
        done.len(),
        &mut [
            ("", &mut four),
            ("sa_", &mut sa),
            ("rr_", &mut rr),
            ("server_", &mut server),
            ("turnaround_", &mut turn),
        ],
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transaction_ids_map_back_to_their_exchange() {
        for i in [0u64, 1, 2, 1000, MAX_EXCHANGES - 1] {
            for phase in [0, 1] {
                let x = xid(i, phase);
                assert!(x <= 0xff_ffff);
                assert_eq!(u64::from(x & 1), phase);
                assert_eq!(exchange_of(x, MAX_EXCHANGES), Some(i));
            }
        }
        // A reply for an exchange not started yet is not ours.
        assert_eq!(exchange_of(xid(5, 0), 5), None);
    }
}
