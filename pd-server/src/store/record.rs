//! The record format: the key and value of one lease in sled and in the
//! journal, and the clock pair that turns monotonic deadlines into wall
//! times and back.

use std::net::Ipv6Addr;
use std::sync::Arc;

use pd_core::duid::Duid;
use pd_core::prefix::Prefix;
use pd_core::time::Timestamp;

use super::StoreError;
use crate::lease::{ClientKey, Lease, LeaseState};

/// Version octet of the value layout.
const VERSION: u8 = 1;

/// The pair of clocks read once by the driver: monotonic `mono` and the
/// wall clock `wall` (Unix seconds) at the same moment.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Clock {
    /// Monotonic now.
    pub mono: Timestamp,
    /// Wall-clock now, Unix seconds.
    pub wall: u64,
}

/// Wall-clock value meaning "never" (infinite lifetime).
pub(super) const WALL_NEVER: u64 = u64::MAX;

impl Clock {
    /// The pair for monotonic `mono` read at wall time `since_epoch`, made
    /// exact: the monotonic side is moved to the next whole wall second, so
    /// conversions lose nothing across restarts (a deadline moves by at
    /// most half a second once, when it is rounded to whole seconds).
    pub fn at(mono: Timestamp, since_epoch: std::time::Duration) -> Clock {
        let frac = u64::from(since_epoch.subsec_millis());
        let (pad, carry) = if frac == 0 { (0, 0) } else { (1000 - frac, 1) };
        Clock {
            mono: Timestamp::from_millis(mono.as_millis().saturating_add(pad)),
            wall: since_epoch.as_secs().saturating_add(carry),
        }
    }

    /// Monotonic → Unix seconds.
    pub fn to_wall(&self, t: Timestamp) -> u64 {
        if t == Timestamp::NEVER {
            return WALL_NEVER;
        }
        let delta_ms = i128::from(t.as_millis()) - i128::from(self.mono.as_millis());
        // Rounded to the nearest second.
        let secs = i128::from(self.wall) + (delta_ms + 500).div_euclid(1000);
        u64::try_from(secs.max(0)).unwrap_or(WALL_NEVER - 1)
    }

    /// Unix seconds → monotonic (a past time maps to the past, floor 0).
    pub fn to_mono(&self, wall: u64) -> Timestamp {
        if wall == WALL_NEVER {
            return Timestamp::NEVER;
        }
        let delta_s = i128::from(wall) - i128::from(self.wall);
        let ms = i128::from(self.mono.as_millis()) + delta_s * 1000;
        Timestamp::from_millis(u64::try_from(ms.max(0)).unwrap_or(u64::MAX - 1))
    }
}

/// Key: 16 address octets + length: sorts by address.
pub fn key(p: &Prefix) -> [u8; 17] {
    let mut k = [0u8; 17];
    let (a, l) = k.split_at_mut(16);
    a.copy_from_slice(&p.addr().octets());
    l.copy_from_slice(&[p.len()]);
    k
}

/// Value layout (version 1): version, state, iaid(4), preferred-until(8),
/// valid-until(8) in Unix seconds (u64::MAX = never), next hop(16),
/// iface length(1) + iface, DUID length(1) + DUID.
pub fn encode(l: &Lease, clock: Clock) -> Vec<u8> {
    let mut v = Vec::with_capacity(40 + l.iface.len() + l.client.duid.as_bytes().len());
    v.push(VERSION);
    v.push(match l.state {
        LeaseState::Active => 0,
        LeaseState::Released => 1,
        LeaseState::Expired => 2,
    });
    v.extend_from_slice(&l.client.iaid.to_be_bytes());
    v.extend_from_slice(&clock.to_wall(l.preferred_until).to_be_bytes());
    v.extend_from_slice(&clock.to_wall(l.valid_until).to_be_bytes());
    v.extend_from_slice(&l.next_hop.octets());
    let iface = l.iface.as_bytes();
    let iface = iface.get(..iface.len().min(255)).unwrap_or_default();
    v.push(iface.len() as u8);
    v.extend_from_slice(iface);
    let duid = l.client.duid.as_bytes();
    v.push(duid.len().min(255) as u8);
    v.extend_from_slice(duid.get(..duid.len().min(255)).unwrap_or_default());
    v
}

/// A cursor over a record's bytes that never panics.
struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        if self.0.len() < n {
            return None;
        }
        let (a, b) = self.0.split_at(n);
        self.0 = b;
        Some(a)
    }
    fn array<const N: usize>(&mut self) -> Option<[u8; N]> {
        self.take(N)?.try_into().ok()
    }
    fn u8(&mut self) -> Option<u8> {
        Some(self.array::<1>()?[0])
    }
}

/// Decode one record; any defect is a [`StoreError::Corrupt`] naming the key.
pub fn decode(k: &[u8], v: &[u8], clock: Clock) -> Result<Lease, StoreError> {
    decode_with(k, v, clock, &mut None)
}

/// [`decode`], sharing the interface name with the previous record when it
/// is the same (a restore of a million leases on a few links then makes a
/// few `Arc<str>`s, not a million).
pub(super) fn decode_with(
    k: &[u8],
    v: &[u8],
    clock: Clock,
    iface_cache: &mut Option<Arc<str>>,
) -> Result<Lease, StoreError> {
    let corrupt = |reason| StoreError::Corrupt {
        key: k.iter().map(|b| format!("{b:02x}")).collect(),
        reason,
    };
    let kb: [u8; 17] = k.try_into().map_err(|_| corrupt("key is not 17 octets"))?;
    let (a, l) = kb.split_at(16);
    let addr: [u8; 16] = a.try_into().map_err(|_| corrupt("key"))?;
    let len = l.first().copied().unwrap_or(255);
    let prefix =
        Prefix::new(Ipv6Addr::from(addr), len).map_err(|_| corrupt("bad prefix in key"))?;
    let mut r = Reader(v);
    if r.u8() != Some(VERSION) {
        return Err(corrupt("unknown record version"));
    }
    let state = match r.u8() {
        Some(0) => LeaseState::Active,
        Some(1) => LeaseState::Released,
        Some(2) => LeaseState::Expired,
        _ => return Err(corrupt("bad state")),
    };
    let trunc = || corrupt("record truncated");
    let iaid = u32::from_be_bytes(r.array().ok_or_else(trunc)?);
    let preferred = u64::from_be_bytes(r.array().ok_or_else(trunc)?);
    let valid = u64::from_be_bytes(r.array().ok_or_else(trunc)?);
    let next_hop = Ipv6Addr::from(r.array::<16>().ok_or_else(trunc)?);
    let n = usize::from(r.u8().ok_or_else(trunc)?);
    let iface = std::str::from_utf8(r.take(n).ok_or_else(trunc)?)
        .map_err(|_| corrupt("interface name is not UTF-8"))?;
    let n = usize::from(r.u8().ok_or_else(trunc)?);
    let duid = Duid::from_bytes(r.take(n).ok_or_else(trunc)?).map_err(|_| corrupt("bad DUID"))?;
    if !r.0.is_empty() {
        return Err(corrupt("trailing bytes"));
    }
    Ok(Lease {
        prefix,
        client: ClientKey { duid, iaid },
        state,
        preferred_until: clock.to_mono(preferred),
        valid_until: clock.to_mono(valid),
        next_hop,
        iface: match iface_cache {
            Some(a) if **a == *iface => a.clone(),
            _ => {
                let a: Arc<str> = Arc::from(iface);
                *iface_cache = Some(a.clone());
                a
            }
        },
    })
}
