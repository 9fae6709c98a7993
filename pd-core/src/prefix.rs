//! IPv6 prefix arithmetic: containment, aligned sub-prefixes, EUI-64.
//!
//! Every operation is checked for every length 0..=128: no shift ever
//! overflows and nothing panics.

use std::fmt;
use std::net::Ipv6Addr;
use std::str::FromStr;

/// An IPv6 prefix with its host bits cleared.
///
/// Stored as 16 big-endian octets + length (17 bytes, alignment 1: a u128
/// would make it 32), since servers keep millions of them; the order is the
/// numeric one.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Prefix {
    bits: [u8; 16],
    len: u8,
}

impl fmt::Debug for Prefix {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Prefix({self})")
    }
}

/// Why a prefix could not be built or parsed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PrefixError {
    /// Length over 128.
    #[error("prefix length {0} is over 128")]
    Length(u32),
    /// Bits set past the prefix length.
    #[error("{0} has bits set past its prefix length")]
    HostBits(String),
    /// Not `address/length`.
    #[error("{0:?} is not an IPv6 prefix (expected address/length)")]
    Syntax(String),
}

/// Mask of the first `len` bits (len 0..=128).
fn mask(len: u8) -> u128 {
    match len {
        0 => 0,
        l if l >= 128 => u128::MAX,
        l => u128::MAX << (128 - u32::from(l)),
    }
}

impl Prefix {
    /// `addr/len`, rejecting a length over 128 or host bits set.
    pub fn new(addr: Ipv6Addr, len: u8) -> Result<Self, PrefixError> {
        if len > 128 {
            return Err(PrefixError::Length(len.into()));
        }
        let bits = u128::from(addr);
        if bits & !mask(len) != 0 {
            return Err(PrefixError::HostBits(format!("{addr}/{len}")));
        }
        Ok(Prefix::raw(bits, len))
    }

    /// `addr/len` with any host bits cleared (len clamped to 128).
    pub fn truncate(addr: Ipv6Addr, len: u8) -> Self {
        let len = len.min(128);
        Prefix::raw(u128::from(addr) & mask(len), len)
    }

    fn raw(bits: u128, len: u8) -> Self {
        Prefix {
            bits: bits.to_be_bytes(),
            len,
        }
    }

    fn n(&self) -> u128 {
        u128::from_be_bytes(self.bits)
    }

    /// The network address.
    pub fn addr(&self) -> Ipv6Addr {
        Ipv6Addr::from(self.bits)
    }

    /// The prefix length.
    pub fn len(&self) -> u8 {
        self.len
    }

    /// True for `::/0`-style zero-length prefixes.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Does this prefix contain `addr`?
    pub fn contains_addr(&self, addr: Ipv6Addr) -> bool {
        u128::from(addr) & mask(self.len) == self.n()
    }

    /// Does this prefix contain `other` (equal counts)?
    pub fn contains(&self, other: &Prefix) -> bool {
        other.len >= self.len && other.n() & mask(self.len) == self.n()
    }

    /// Do the two prefixes share any address?
    pub fn overlaps(&self, other: &Prefix) -> bool {
        self.contains(other) || other.contains(self)
    }

    /// How many aligned sub-prefixes of length `len` fit in this one;
    /// `None` if `len` is shorter than ours, over 128, or the count is 2^128.
    pub fn subprefix_count(&self, len: u8) -> Option<u128> {
        if len < self.len || len > 128 {
            return None;
        }
        1u128.checked_shl(u32::from(len - self.len))
    }

    /// The `n`-th (from 0) aligned sub-prefix of length `len`, if it exists.
    pub fn nth_subprefix(&self, len: u8, n: u128) -> Option<Prefix> {
        if len < self.len || len > 128 {
            return None;
        }
        let span = u32::from(len - self.len);
        // n must fit in `span` bits.
        if span < 128 && n >> span != 0 {
            return None;
        }
        let host = u32::from(128 - len);
        let offset = if host == 128 { 0 } else { n.checked_shl(host)? };
        Some(Prefix::raw(self.n() | offset, len))
    }

    /// The index of `sub` among our sub-prefixes of its length, if it is one.
    pub fn index_of(&self, sub: &Prefix) -> Option<u128> {
        if !self.contains(sub) {
            return None;
        }
        let host = u32::from(128 - sub.len);
        let rel = sub.n() & !mask(self.len);
        Some(if host >= 128 { 0 } else { rel >> host })
    }

    /// The aligned sub-prefix after `sub` (same length) inside this one.
    pub fn next_after(&self, sub: &Prefix) -> Option<Prefix> {
        let i = self.index_of(sub)?;
        self.nth_subprefix(sub.len, i.checked_add(1)?)
    }

    /// The address `base | iid` inside this prefix, from a 64-bit interface id.
    pub fn with_iid(&self, iid: u64) -> Ipv6Addr {
        Ipv6Addr::from(self.n() | (u128::from(iid) & !mask(self.len)))
    }

    /// Parse `addr/len` leniently, clearing host bits (for operator input
    /// where `2001:db8::1/64` means the /64).
    pub fn parse_truncating(s: &str) -> Result<Self, PrefixError> {
        let (a, l) = split(s)?;
        Ok(Prefix::truncate(a, l))
    }
}

fn split(s: &str) -> Result<(Ipv6Addr, u8), PrefixError> {
    let (a, l) = s
        .trim()
        .split_once('/')
        .ok_or_else(|| PrefixError::Syntax(s.to_string()))?;
    let addr: Ipv6Addr = a.parse().map_err(|_| PrefixError::Syntax(s.to_string()))?;
    let len: u32 = l.parse().map_err(|_| PrefixError::Syntax(s.to_string()))?;
    let len = u8::try_from(len).map_err(|_| PrefixError::Length(len))?;
    if len > 128 {
        return Err(PrefixError::Length(len.into()));
    }
    Ok((addr, len))
}

impl FromStr for Prefix {
    type Err = PrefixError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (a, l) = split(s)?;
        Prefix::new(a, l)
    }
}

impl fmt::Display for Prefix {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.addr(), self.len)
    }
}

/// The modified EUI-64 interface identifier of a 48-bit MAC (RFC 4291 §2.5.1,
/// appendix A): `ff:fe` in the middle and the universal/local bit flipped.
pub fn eui64_from_mac(mac: [u8; 6]) -> u64 {
    let [a, b, c, d, e, f] = mac;
    u64::from_be_bytes([a ^ 0x02, b, c, 0xff, 0xfe, d, e, f])
}

/// The link-local address `fe80::/64` + EUI-64 of a MAC.
pub fn link_local_from_mac(mac: [u8; 6]) -> Ipv6Addr {
    let ll = Prefix::raw(0xfe80u128 << 112, 64);
    ll.with_iid(eui64_from_mac(mac))
}

#[cfg(test)]
mod tests;
