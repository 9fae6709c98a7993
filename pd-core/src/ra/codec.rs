//! Router Advertisement / Solicitation bytes ⇄ typed messages.
//!
//! The bytes are the ICMPv6 message alone (no IPv6 header): type, code,
//! checksum, body, options. [`encode_ra`] and [`encode_rs`] leave the
//! checksum 0: on a raw `IPPROTO_ICMPV6` socket the kernel computes it on
//! send and verifies it on receive (RFC 3542 §3.1), so [`decode_ra`] and
//! [`decode_rs`] ignore it.
//!
//! # Note for the driver (socket layer)
//!
//! Part of RFC 4861 §6.1 is about the IP header, which these decoders never
//! see. The driver must read the hop limit (`IPV6_RECVHOPLIMIT`) and the
//! source address and pass them to [`check_ra_ip`] / [`check_rs_ip`]; a
//! packet with hop limit other than 255 may have been forwarded from off
//! the link and must be dropped. Sent RAs/RSs must use hop limit 255
//! ([`super::ND_HOP_LIMIT`], `IPV6_MULTICAST_HOPS` / `IPV6_UNICAST_HOPS`).
//!
//! Decoding never panics and never indexes into the input.

use std::net::Ipv6Addr;

use super::message::{
    PrefixInfo, RaError, Rdnss, RouteInfo, RouterAdvert, RouterPreference, RouterSolicit,
};
use super::{ICMPV6_ROUTER_ADVERT, ICMPV6_ROUTER_SOLICIT, ND_HOP_LIMIT};
use crate::prefix::Prefix;

/// Size of the RA header (type through Retrans Timer).
const RA_HEADER: usize = 16;
/// Size of the RS header (type through Reserved).
const RS_HEADER: usize = 8;

/// Source Link-Layer Address (RFC 4861 §4.6.1).
const OPT_SOURCE_LLADDR: u8 = 1;
/// Prefix Information (RFC 4861 §4.6.2).
const OPT_PREFIX_INFO: u8 = 3;
/// MTU (RFC 4861 §4.6.4).
const OPT_MTU: u8 = 5;
/// Route Information (RFC 4191 §2.3).
const OPT_ROUTE_INFO: u8 = 24;
/// Recursive DNS Server (RFC 8106 §5.1).
const OPT_RDNSS: u8 = 25;

/// RA flag bits (RFC 4861 §4.2, RFC 4191 §2.2).
const FLAG_MANAGED: u8 = 0x80;
const FLAG_OTHER: u8 = 0x40;
const PRF_SHIFT: u8 = 3;
/// PIO flag bits (RFC 4861 §4.6.2).
const FLAG_ON_LINK: u8 = 0x80;
const FLAG_AUTONOMOUS: u8 = 0x40;

/// Most servers one RDNSS option can carry: length 1 + 2n must fit a byte.
const RDNSS_MAX_SERVERS: usize = 127;

/// Encode a Router Advertisement (checksum left 0 for the kernel).
///
/// An RDNSS entry with no servers is omitted (RFC 8106 §5.1 needs at least
/// one); one with more than 127 servers is split into several options with
/// the same lifetime. The caller keeps the message within the link MTU
/// (RFC 4861 §6.2.3 allows spreading options over several RAs).
pub fn encode_ra(ra: &RouterAdvert) -> Vec<u8> {
    let mut out = Vec::with_capacity(RA_HEADER + 8 + 8 + 32 * ra.prefixes.len());
    out.extend_from_slice(&[ICMPV6_ROUTER_ADVERT, 0, 0, 0, ra.cur_hop_limit]);
    let mut flags = ra.preference.bits() << PRF_SHIFT;
    if ra.managed {
        flags |= FLAG_MANAGED;
    }
    if ra.other {
        flags |= FLAG_OTHER;
    }
    out.push(flags);
    out.extend_from_slice(&ra.router_lifetime.to_be_bytes());
    out.extend_from_slice(&ra.reachable_time.to_be_bytes());
    out.extend_from_slice(&ra.retrans_timer.to_be_bytes());

    if let Some(mac) = ra.source_lladdr {
        push_option(&mut out, OPT_SOURCE_LLADDR, 1, &[&mac]);
    }
    if let Some(mtu) = ra.mtu {
        push_option(&mut out, OPT_MTU, 1, &[&[0, 0], &mtu.to_be_bytes()]);
    }
    for p in &ra.prefixes {
        let mut pflags = 0;
        if p.on_link {
            pflags |= FLAG_ON_LINK;
        }
        if p.autonomous {
            pflags |= FLAG_AUTONOMOUS;
        }
        push_option(
            &mut out,
            OPT_PREFIX_INFO,
            4,
            &[
                &[p.prefix.len(), pflags],
                &p.valid.to_be_bytes(),
                &p.preferred.to_be_bytes(),
                &[0; 4],
                &p.prefix.addr().octets(),
            ],
        );
    }
    for r in &ra.routes {
        // RFC 4191 §2.3: Length 1 for ::/0, 2 up to /64, 3 beyond.
        let (units, prefix_bytes) = match r.prefix.len() {
            0 => (1, 0),
            1..=64 => (2, 8),
            _ => (3, 16),
        };
        let octets = r.prefix.addr().octets();
        push_option(
            &mut out,
            OPT_ROUTE_INFO,
            units,
            &[
                &[r.prefix.len(), r.preference.bits() << PRF_SHIFT],
                &r.lifetime.to_be_bytes(),
                octets.get(..prefix_bytes).unwrap_or(&[]),
            ],
        );
    }
    for d in &ra.rdnss {
        for chunk in d.servers.chunks(RDNSS_MAX_SERVERS) {
            let mut body = Vec::with_capacity(6 + 16 * chunk.len());
            body.extend_from_slice(&[0, 0]);
            body.extend_from_slice(&d.lifetime.to_be_bytes());
            for s in chunk {
                body.extend_from_slice(&s.octets());
            }
            // chunk.len() <= 127, so 1 + 2n <= 255.
            let n = u8::try_from(chunk.len()).unwrap_or(0);
            push_option(&mut out, OPT_RDNSS, 1 + 2 * n, &[&body]);
        }
    }
    out
}

/// Encode a Router Solicitation (checksum left 0 for the kernel).
pub fn encode_rs(rs: &RouterSolicit) -> Vec<u8> {
    let mut out = vec![ICMPV6_ROUTER_SOLICIT, 0, 0, 0, 0, 0, 0, 0];
    if let Some(mac) = rs.source_lladdr {
        push_option(&mut out, OPT_SOURCE_LLADDR, 1, &[&mac]);
    }
    out
}

/// Append one option of `units` × 8 octets: type, length, the body parts,
/// zero padding to the end.
fn push_option(out: &mut Vec<u8>, ty: u8, units: u8, parts: &[&[u8]]) {
    let end = out.len() + usize::from(units) * 8;
    out.push(ty);
    out.push(units);
    for p in parts {
        out.extend_from_slice(p);
    }
    out.resize(end, 0);
}

/// Decode and validate a Router Advertisement (RFC 4861 §6.1.2, the parts
/// visible in the ICMPv6 message: code 0, length ≥ 16, every option length
/// non-zero and inside the message). Unknown options are skipped.
pub fn decode_ra(bytes: &[u8]) -> Result<RouterAdvert, RaError> {
    let (header, options) = bytes
        .split_first_chunk::<RA_HEADER>()
        .ok_or(RaError::Truncated {
            len: bytes.len(),
            min: RA_HEADER,
        })?;
    let [ty, code, _, _, hop, flags, l0, l1, r0, r1, r2, r3, t0, t1, t2, t3] = *header;
    check_type_code(ty, code, ICMPV6_ROUTER_ADVERT)?;
    let mut ra = RouterAdvert {
        cur_hop_limit: hop,
        managed: flags & FLAG_MANAGED != 0,
        other: flags & FLAG_OTHER != 0,
        // RFC 4191 §2.2: a reserved (10) preference is treated as medium.
        preference: RouterPreference::from_bits(flags >> PRF_SHIFT).unwrap_or_default(),
        router_lifetime: u16::from_be_bytes([l0, l1]),
        reachable_time: u32::from_be_bytes([r0, r1, r2, r3]),
        retrans_timer: u32::from_be_bytes([t0, t1, t2, t3]),
        ..RouterAdvert::default()
    };
    for opt in OptionIter::new(options, RA_HEADER) {
        let opt = opt?;
        match opt.ty {
            // The first one counts; a later duplicate is skipped below.
            OPT_SOURCE_LLADDR if ra.source_lladdr.is_none() => {
                ra.source_lladdr = ethernet_lladdr(&opt);
            }
            OPT_MTU => {
                let mtu = parse_mtu(&opt)?;
                ra.mtu = ra.mtu.or(Some(mtu));
            }
            OPT_PREFIX_INFO => ra.prefixes.push(parse_prefix_info(&opt)?),
            OPT_ROUTE_INFO => {
                if let Some(r) = parse_route_info(&opt)? {
                    ra.routes.push(r);
                }
            }
            OPT_RDNSS => ra.rdnss.push(parse_rdnss(&opt)?),
            // RFC 4861 §4.6: unrecognised options (and duplicates) are skipped.
            _ => {}
        }
    }
    Ok(ra)
}

/// Decode and validate a Router Solicitation (RFC 4861 §6.1.1, the parts
/// visible in the ICMPv6 message: code 0, length ≥ 8, every option length
/// non-zero and inside the message). Unknown options are skipped.
pub fn decode_rs(bytes: &[u8]) -> Result<RouterSolicit, RaError> {
    let (header, options) = bytes
        .split_first_chunk::<RS_HEADER>()
        .ok_or(RaError::Truncated {
            len: bytes.len(),
            min: RS_HEADER,
        })?;
    let [ty, code, ..] = *header;
    check_type_code(ty, code, ICMPV6_ROUTER_SOLICIT)?;
    let mut rs = RouterSolicit::default();
    for opt in OptionIter::new(options, RS_HEADER) {
        let opt = opt?;
        if opt.ty == OPT_SOURCE_LLADDR && rs.source_lladdr.is_none() {
            rs.source_lladdr = ethernet_lladdr(&opt);
        }
    }
    Ok(rs)
}

/// The IP-level checks of RFC 4861 §6.1.2 for a received RA: hop limit 255
/// and a link-local source. (The checksum is the kernel's.)
pub fn check_ra_ip(source: Ipv6Addr, hop_limit: u8) -> Result<(), RaError> {
    if hop_limit != ND_HOP_LIMIT {
        return Err(RaError::HopLimit(hop_limit));
    }
    // RFC 4861 §6.1.2: IP Source Address is a link-local address (fe80::/10).
    if u128::from(source) >> 118 != 0xfe80 >> 6 {
        return Err(RaError::SourceNotLinkLocal(source));
    }
    Ok(())
}

/// The IP-level checks of RFC 4861 §6.1.1 for a received RS: hop limit 255,
/// and no source link-layer address when the source is `::`.
pub fn check_rs_ip(source: Ipv6Addr, hop_limit: u8, rs: &RouterSolicit) -> Result<(), RaError> {
    if hop_limit != ND_HOP_LIMIT {
        return Err(RaError::HopLimit(hop_limit));
    }
    if source.is_unspecified() && rs.source_lladdr.is_some() {
        return Err(RaError::UnspecifiedWithLladdr);
    }
    Ok(())
}

fn check_type_code(ty: u8, code: u8, expected: u8) -> Result<(), RaError> {
    if ty != expected {
        return Err(RaError::Type {
            found: ty,
            expected,
        });
    }
    if code != 0 {
        return Err(RaError::Code(code));
    }
    Ok(())
}

/// One option as found on the wire.
struct RawOption<'a> {
    /// Offset of its type byte in the message.
    offset: usize,
    ty: u8,
    /// The length field (units of 8 octets, non-zero).
    units: u8,
    /// Everything after the type and length bytes.
    body: &'a [u8],
}

impl RawOption<'_> {
    fn bad_length(&self, expected: &'static str) -> RaError {
        RaError::BadOptionLength {
            offset: self.offset,
            option_type: self.ty,
            units: self.units,
            expected,
        }
    }
}

/// Walks the TLV options; stops after the first error.
struct OptionIter<'a> {
    rest: &'a [u8],
    offset: usize,
}

impl<'a> OptionIter<'a> {
    fn new(rest: &'a [u8], offset: usize) -> Self {
        OptionIter { rest, offset }
    }

    fn next_option(&mut self) -> Result<RawOption<'a>, RaError> {
        let offset = self.offset;
        let Some(&[ty, units]) = self.rest.first_chunk::<2>() else {
            return Err(RaError::OptionHeader {
                offset,
                left: self.rest.len(),
            });
        };
        // RFC 4861 §6.1.1, §6.1.2: every option has a length greater than zero.
        if units == 0 {
            return Err(RaError::ZeroLengthOption {
                offset,
                option_type: ty,
            });
        }
        let claimed = usize::from(units) * 8;
        let Some((opt, tail)) = self.rest.split_at_checked(claimed) else {
            return Err(RaError::OptionOverrun {
                offset,
                option_type: ty,
                claimed,
                left: self.rest.len(),
            });
        };
        self.rest = tail;
        self.offset += claimed;
        Ok(RawOption {
            offset,
            ty,
            units,
            body: opt.get(2..).unwrap_or(&[]),
        })
    }
}

impl<'a> Iterator for OptionIter<'a> {
    type Item = Result<RawOption<'a>, RaError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.rest.is_empty() {
            return None;
        }
        let r = self.next_option();
        if r.is_err() {
            self.rest = &[];
        }
        Some(r)
    }
}

/// Take the next `N` bytes off the front of `buf`.
fn take<const N: usize>(buf: &mut &[u8]) -> Option<[u8; N]> {
    let (head, tail) = buf.split_first_chunk::<N>()?;
    *buf = tail;
    Some(*head)
}

/// An Ethernet Source Link-Layer Address (length 1, RFC 4861 §4.6.1 and
/// RFC 2464 §6); another length belongs to another link type and is skipped.
fn ethernet_lladdr(opt: &RawOption<'_>) -> Option<[u8; 6]> {
    if opt.units != 1 {
        return None;
    }
    opt.body.first_chunk::<6>().copied()
}

/// MTU option: length 1, reserved, MTU (RFC 4861 §4.6.4).
fn parse_mtu(opt: &RawOption<'_>) -> Result<u32, RaError> {
    const EXPECTED: &str = "an MTU option has length 1";
    if opt.units != 1 {
        return Err(opt.bad_length(EXPECTED));
    }
    let mut b = opt.body;
    let _reserved = take::<2>(&mut b).ok_or_else(|| opt.bad_length(EXPECTED))?;
    let mtu = take::<4>(&mut b).ok_or_else(|| opt.bad_length(EXPECTED))?;
    Ok(u32::from_be_bytes(mtu))
}

/// Prefix Information option: length 4 (RFC 4861 §4.6.2).
fn parse_prefix_info(opt: &RawOption<'_>) -> Result<PrefixInfo, RaError> {
    const EXPECTED: &str = "a prefix information option has length 4";
    let bad = || opt.bad_length(EXPECTED);
    if opt.units != 4 {
        return Err(bad());
    }
    let mut b = opt.body;
    let [len, flags] = take::<2>(&mut b).ok_or_else(bad)?;
    let valid = u32::from_be_bytes(take::<4>(&mut b).ok_or_else(bad)?);
    let preferred = u32::from_be_bytes(take::<4>(&mut b).ok_or_else(bad)?);
    let _reserved2 = take::<4>(&mut b).ok_or_else(bad)?;
    let addr = take::<16>(&mut b).ok_or_else(bad)?;
    Ok(PrefixInfo {
        prefix: prefix_from(opt, addr, len)?,
        on_link: flags & FLAG_ON_LINK != 0,
        autonomous: flags & FLAG_AUTONOMOUS != 0,
        valid,
        preferred,
    })
}

/// Route Information option (RFC 4191 §2.3). `Ok(None)` when the RFC says
/// to ignore the option.
fn parse_route_info(opt: &RawOption<'_>) -> Result<Option<RouteInfo>, RaError> {
    let mut b = opt.body;
    let bad = |e| opt.bad_length(e);
    let [len, flags] =
        take::<2>(&mut b).ok_or_else(|| bad("a route information option has length 1 to 3"))?;
    let lifetime = u32::from_be_bytes(
        take::<4>(&mut b).ok_or_else(|| bad("a route information option has length 1 to 3"))?,
    );
    // RFC 4191 §2.3: Length is 1, 2 or 3; over 64 bits needs 3, over 0
    // needs 2 or 3; the prefix length is at most 128.
    if len > 128 {
        return Err(RaError::PrefixLength {
            offset: opt.offset,
            option_type: opt.ty,
            len,
        });
    }
    match (opt.units, len) {
        (1, 0) | (2, 0..=64) | (3, _) => {}
        (1..=3, _) => {
            return Err(bad(
                "a route information option needs length 2 for a prefix up to /64, 3 beyond",
            ))
        }
        _ => return Err(bad("a route information option has length 1 to 3")),
    }
    // RFC 4191 §2.3: a reserved (10) route preference means ignore the option.
    let Some(preference) = RouterPreference::from_bits(flags >> PRF_SHIFT) else {
        return Ok(None);
    };
    // The prefix field is 0, 8 or 16 bytes; missing low bytes are zero.
    let mut addr = [0u8; 16];
    for (dst, src) in addr.iter_mut().zip(b) {
        *dst = *src;
    }
    Ok(Some(RouteInfo {
        prefix: prefix_from(opt, addr, len)?,
        preference,
        lifetime,
    }))
}

/// RDNSS option: length 3, 5, 7, … (RFC 8106 §5.1).
fn parse_rdnss(opt: &RawOption<'_>) -> Result<Rdnss, RaError> {
    const EXPECTED: &str = "an RDNSS option has an odd length of at least 3";
    if opt.units < 3 || opt.units % 2 == 0 {
        return Err(opt.bad_length(EXPECTED));
    }
    let mut b = opt.body;
    let _reserved = take::<2>(&mut b).ok_or_else(|| opt.bad_length(EXPECTED))?;
    let lifetime = u32::from_be_bytes(take::<4>(&mut b).ok_or_else(|| opt.bad_length(EXPECTED))?);
    let servers = b
        .chunks_exact(16)
        .filter_map(|c| c.first_chunk::<16>().map(|a| Ipv6Addr::from(*a)))
        .collect();
    Ok(Rdnss { lifetime, servers })
}

/// A prefix from its wire bytes. RFC 4861 §4.6.2 and RFC 4191 §2.3: bits
/// past the prefix length are ignored by the receiver.
fn prefix_from(opt: &RawOption<'_>, addr: [u8; 16], len: u8) -> Result<Prefix, RaError> {
    if len > 128 {
        return Err(RaError::PrefixLength {
            offset: opt.offset,
            option_type: opt.ty,
            len,
        });
    }
    Ok(Prefix::truncate(Ipv6Addr::from(addr), len))
}
