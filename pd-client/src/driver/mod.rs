//! The async drivers around the pure engine: the one-shot commands
//! (`request`, `release`) and the daemon (`run`). They read the clock and
//! the sockets, execute effects in order, and decide nothing themselves.

mod daemon;
mod exec;
mod oneshot;
mod ralinks;

use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};
use std::net::SocketAddrV6;
use std::path::Path;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::Context;
use pd_core::duid::Duid;
use pd_core::effect::Transmit;
use pd_core::sys::net::{DhcpSocket, RxInfo};
use pd_core::time::Timestamp;

use crate::config::DuidSpec;
use crate::engine::{Client, Effect};
use crate::state::{parse_machine_id, Clock, DuidInputs, StateDir};

pub use daemon::run;
pub use oneshot::{release, request, RequestArgs, RequestOutcome};

/// Largest DHCPv6 datagram we accept.
const BUF_LEN: usize = 65536;

/// A seed for the engine's generator: the standard library's per-process
/// random hasher keys, mixed with the time and the process id.
pub fn seed() -> u64 {
    let mut h = RandomState::new().build_hasher();
    h.write_u128(
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0),
    );
    h.write_u32(std::process::id());
    h.finish()
}

/// The 48-bit MAC of `iface` from sysfs, if it has one.
pub fn read_mac(iface: &str) -> Option<[u8; 6]> {
    let text =
        std::fs::read_to_string(Path::new("/sys/class/net").join(iface).join("address")).ok()?;
    let mut out = [0u8; 6];
    let mut parts = text.trim().split(':');
    for o in out.iter_mut() {
        *o = u8::from_str_radix(parts.next()?, 16).ok()?;
    }
    (parts.next().is_none() && out != [0; 6]).then_some(out)
}

/// Our DUID for `iface`: fixed, or the state directory's, created once.
pub fn our_duid(dir: &StateDir, spec: &DuidSpec, iface: &str) -> anyhow::Result<Duid> {
    let inputs = DuidInputs {
        mac: read_mac(iface),
        unix_secs: SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0),
        machine_id: std::fs::read_to_string("/etc/machine-id")
            .ok()
            .and_then(|t| parse_machine_id(&t)),
    };
    Ok(dir.load_or_create_duid(spec, &inputs)?)
}

/// The upstream link: its DHCPv6 client socket and the monotonic origin.
pub struct Upstream {
    /// Interface name.
    pub name: String,
    /// Interface index.
    pub ifindex: u32,
    sock: DhcpSocket,
    origin: Instant,
}

impl Upstream {
    /// Bind UDP port 546 for `name` (must exist).
    pub fn open(name: &str, origin: Instant) -> anyhow::Result<Self> {
        let ifindex = pd_core::sys::net::ifindex(name)
            .with_context(|| format!("interface {name} not found"))?;
        let sock =
            DhcpSocket::bind(pd_core::wire::CLIENT_PORT).context("cannot bind UDP port 546")?;
        Ok(Upstream {
            name: name.to_string(),
            ifindex,
            sock,
            origin,
        })
    }

    /// Monotonic now.
    pub fn now(&self) -> Timestamp {
        now_since(self.origin)
    }

    /// The clock pair for the state files.
    pub fn clock(&self) -> Clock {
        Clock {
            mono: self.now(),
            unix_ms: SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
                .unwrap_or(0),
        }
    }

    /// The tokio instant of monotonic `t`.
    pub fn instant(&self, t: Timestamp) -> tokio::time::Instant {
        let ms = t.as_millis().saturating_sub(self.now().as_millis());
        tokio::time::Instant::now() + Duration::from_millis(ms.min(86_400_000))
    }

    /// Encode and send one message.
    pub async fn send(&self, t: &Transmit) {
        let bytes = match pd_core::wire::try_encode(&t.envelope) {
            Ok(b) => b,
            Err(e) => {
                tracing::error!(error = %e, "cannot encode message");
                return;
            }
        };
        let ifindex = if t.ifindex == 0 {
            self.ifindex
        } else {
            t.ifindex
        };
        let to = SocketAddrV6::new(*t.to.ip(), t.to.port(), 0, ifindex);
        match self.sock.send(&bytes, to, ifindex).await {
            Ok(_) => tracing::debug!(
                iface = %self.name,
                kind = ?t.envelope.msg.msg_type,
                xid = ?t.envelope.msg.xid,
                elapsed = ?t.envelope.msg.elapsed,
                "sent"
            ),
            // A tentative link-local address or a link going down: the
            // retransmission timer tries again.
            Err(e) => tracing::warn!(iface = %self.name, error = %e, "send failed"),
        }
    }

    /// Wait for the next datagram.
    pub async fn recv(&self, buf: &mut [u8]) -> std::io::Result<RxInfo> {
        self.sock.recv(buf).await
    }

    /// Decode a datagram and hand it to the engine.
    pub fn deliver(&self, engine: &mut Client, info: &RxInfo, buf: &[u8]) -> Vec<Effect> {
        if info.ifindex != 0 && info.ifindex != self.ifindex {
            return Vec::new();
        }
        let Some(bytes) = buf.get(..info.len) else {
            return Vec::new();
        };
        match pd_core::wire::decode(bytes) {
            Ok(env) if env.relays.is_empty() => {
                tracing::debug!(iface = %self.name, from = %info.src, kind = ?env.msg.msg_type, xid = ?env.msg.xid, "received");
                engine.handle_message(self.now(), info.src, info.ifindex, env.msg)
            }
            Ok(_) => {
                tracing::debug!(from = %info.src, "discarded relay message");
                Vec::new()
            }
            Err(reason) => {
                tracing::debug!(from = %info.src, ?reason, "discarded datagram");
                Vec::new()
            }
        }
    }
}

/// Milliseconds since `origin` as a [`Timestamp`].
pub fn now_since(origin: Instant) -> Timestamp {
    Timestamp::from_millis(u64::try_from(origin.elapsed().as_millis()).unwrap_or(u64::MAX))
}

/// Sleep until `at`, or forever.
pub async fn sleep_opt(at: Option<tokio::time::Instant>) {
    match at {
        Some(t) => tokio::time::sleep_until(t).await,
        None => std::future::pending().await,
    }
}
