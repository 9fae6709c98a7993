//! Decoding: our own TLV walk over the whole datagram, every length checked.
//!
//! dhcproto never sees received bytes: mapping from its model would cost more
//! than it gives (it re-sorts options, decodes Relay Message wrongly, stops at
//! the first malformed option and panics on several short options), so the
//! typed [`Message`] is built straight from the validated walk.

use std::net::Ipv6Addr;

use super::opt;
use super::tlv::{Options, Reader};
use super::types::{
    Discard, Envelope, IaAddr, IaPd, IaPrefix, Message, MsgType, RawOption, RelayHop, Status,
    HOP_COUNT_LIMIT,
};
use crate::duid::Duid;
use crate::prefix::Prefix;

/// Relay-Forw message type (RFC 9915 §7.3).
pub(crate) const RELAY_FORW: u8 = 12;
/// Relay-Repl message type (RFC 9915 §7.3).
pub(crate) const RELAY_REPL: u8 = 13;

/// Decode one DHCPv6 datagram (UDP payload) into its relay chain and message.
///
/// Framing is checked completely before anything is built: the header, every
/// option length against its container, the fixed parts of IA_NA (12), IA_TA
/// (4), IAADDR (24), IA_PD (12), IAPREFIX (25), Status Code (≥ 2), Elapsed
/// Time (2), Preference (1), Rapid Commit and Reconfigure Accept (0),
/// SOL_MAX_RT (4), ORO (even) and DNS servers (multiple of 16); DUIDs are
/// checked with [`Duid::from_bytes`]. Choices where the RFC leaves room:
/// - an option we map to a single field (Client/Server ID, ORO, Preference,
///   Elapsed Time, Status Code, Rapid Commit, Reconfigure Accept, DNS
///   servers, SOL_MAX_RT; Status Code inside an IA or IAPREFIX; Relay
///   Message and Interface-Id in a relay) appearing twice is
///   [`Discard::DuplicateOption`];
/// - a Status Code message that is not UTF-8 is decoded lossily (U+FFFD);
/// - IAPREFIX length over 128 is [`Discard::BadPrefix`]; host bits set past
///   the length are cleared (clients send sloppy hints);
/// - options inside IA_PD other than IAPREFIX and Status Code, and the
///   IAADDRs inside IA_NA/IA_TA, are framing-checked and then ignored;
/// - kept options (`other`, `options`) and IA_NA/IA_TA come out in the
///   order [`super::encode`] writes them: ascending option code, wire order
///   within a code (we give option order no meaning), so
///   `decode(encode(decode(x))) == decode(x)` for every accepted `x`;
/// - every relay of one datagram must have the same type, and a Relay-Repl
///   must carry a server message (Advertise, Reply, Reconfigure), a
///   Relay-Forw any other ([`Discard::UnexpectedType`] otherwise).
///
/// Semantic checks (who may send what, T1 ≤ T2, …) are in
/// [`super::check_from_client`], [`super::check_from_server`] and
/// [`super::sanitize_ia_pd`].
pub fn decode(bytes: &[u8]) -> Result<Envelope, Discard> {
    let mut relays = Vec::new();
    let mut relay_type = None;
    let mut cur = bytes;
    loop {
        let ty = *cur.first().ok_or(Discard::TooShort)?;
        if ty != RELAY_FORW && ty != RELAY_REPL {
            let msg = decode_message(cur)?;
            // RFC 9915 §19.1 / §19.3: servers answer a Relay-Forw with a
            // Relay-Repl; a relay never forwards server messages upstream.
            if let Some(rt) = relay_type {
                if (rt == RELAY_REPL) != msg.msg_type.is_from_server() {
                    return Err(Discard::UnexpectedType);
                }
            }
            return Ok(Envelope { relays, msg });
        }
        // RFC 9915 §7.6, §19.1.2: at most HOP_COUNT_LIMIT relays.
        if relays.len() >= usize::from(HOP_COUNT_LIMIT) {
            return Err(Discard::TooManyHops);
        }
        if relay_type.is_some_and(|rt| rt != ty) {
            return Err(Discard::UnexpectedType);
        }
        relay_type = Some(ty);
        let (hop, inner) = decode_relay(cur)?;
        relays.push(hop);
        cur = inner;
    }
}

/// One relay header (RFC 9915 §9.1/§9.2): the hop and the Relay Message body.
fn decode_relay(bytes: &[u8]) -> Result<(RelayHop, &[u8]), Discard> {
    let mut r = Reader::new(bytes);
    let _msg_type = r.u8(Discard::TooShort)?;
    let hop_count = r.u8(Discard::TooShort)?;
    let link_addr = r.addr(Discard::TooShort)?;
    let peer_addr = r.addr(Discard::TooShort)?;
    let mut inner = None;
    let mut interface_id = None;
    let mut other = Vec::new();
    for o in Options::new(r.rest()) {
        let (code, body) = o?;
        match code {
            opt::RELAY_MSG => set_once(&mut inner, body)?,
            opt::INTERFACE_ID => set_once(&mut interface_id, body.to_vec())?,
            _ => other.push(raw(code, body)),
        }
    }
    // RFC 9915 §9.1: a relay message always carries a Relay Message option.
    let inner = inner.ok_or(Discard::NoRelayMessage)?;
    other.sort_by_key(|o| o.code);
    let hop = RelayHop {
        hop_count,
        link_addr,
        peer_addr,
        interface_id,
        other,
    };
    Ok((hop, inner))
}

/// A client/server message (RFC 9915 §8): type, transaction id, options.
fn decode_message(bytes: &[u8]) -> Result<Message, Discard> {
    let mut r = Reader::new(bytes);
    let msg_type = MsgType::from_code(r.u8(Discard::TooShort)?);
    let xid = r.array::<3>(Discard::TooShort)?;
    let mut m = Message::new(msg_type, xid);
    let mut oro = None;
    let mut dns = None;
    let mut rapid = None;
    let mut reconf = None;
    for o in Options::new(r.rest()) {
        let (code, body) = o?;
        match code {
            opt::CLIENT_ID => set_once(&mut m.client_id, duid(body)?)?,
            opt::SERVER_ID => set_once(&mut m.server_id, duid(body)?)?,
            opt::IA_NA => m.ia_addr.push(ia_addr(body, false)?),
            opt::IA_TA => m.ia_addr.push(ia_addr(body, true)?),
            opt::IA_PD => m.ia_pd.push(ia_pd(body)?),
            opt::ORO => set_once(&mut oro, codes(body)?)?,
            opt::PREFERENCE => set_once(&mut m.preference, u8::from_be_bytes(fixed(body)?))?,
            opt::ELAPSED_TIME => set_once(&mut m.elapsed, u16::from_be_bytes(fixed(body)?))?,
            opt::STATUS_CODE => set_once(&mut m.status, status(body)?)?,
            opt::RAPID_COMMIT => set_once(&mut rapid, fixed::<0>(body)?)?,
            opt::RECONF_ACCEPT => set_once(&mut reconf, fixed::<0>(body)?)?,
            opt::DNS_SERVERS => set_once(&mut dns, addrs(body)?)?,
            opt::SOL_MAX_RT => set_once(&mut m.sol_max_rt, u32::from_be_bytes(fixed(body)?))?,
            _ => m.other.push(raw(code, body)),
        }
    }
    m.oro = oro.unwrap_or_default();
    m.dns_servers = dns.unwrap_or_default();
    m.rapid_commit = rapid.is_some();
    m.reconfigure_accept = reconf.is_some();
    m.other.sort_by_key(|o| o.code);
    m.ia_addr.sort_by_key(|ia| ia.temporary);
    Ok(m)
}

/// IA_PD (RFC 9915 §21.21): IAID, T1, T2 (12 octets), then options.
fn ia_pd(body: &[u8]) -> Result<IaPd, Discard> {
    let mut r = Reader::new(body);
    let mut ia = IaPd::new(
        r.u32(Discard::BadOptionLength)?,
        r.u32(Discard::BadOptionLength)?,
        r.u32(Discard::BadOptionLength)?,
    );
    for o in Options::new(r.rest()) {
        let (code, body) = o?;
        match code {
            opt::IAPREFIX => ia.prefixes.push(ia_prefix(body)?),
            opt::STATUS_CODE => set_once(&mut ia.status, status(body)?)?,
            _ => {}
        }
    }
    Ok(ia)
}

/// IAPREFIX (RFC 9915 §21.22): preferred, valid, length, prefix (25 octets).
fn ia_prefix(body: &[u8]) -> Result<IaPrefix, Discard> {
    let mut r = Reader::new(body);
    let preferred = r.u32(Discard::BadOptionLength)?;
    let valid = r.u32(Discard::BadOptionLength)?;
    let len = r.u8(Discard::BadOptionLength)?;
    let addr = r.addr(Discard::BadOptionLength)?;
    if len > 128 {
        return Err(Discard::BadPrefix);
    }
    // Host bits past the length are cleared: hints are often sloppy.
    let mut p = IaPrefix::new(Prefix::truncate(addr, len), preferred, valid);
    for o in Options::new(r.rest()) {
        let (code, body) = o?;
        match code {
            opt::STATUS_CODE => set_once(&mut p.status, status(body)?)?,
            _ => p.options.push(raw(code, body)),
        }
    }
    p.options.sort_by_key(|o| o.code);
    Ok(p)
}

/// IA_NA (RFC 9915 §21.4, 12 fixed octets) or IA_TA (§21.5, 4 fixed octets).
fn ia_addr(body: &[u8], temporary: bool) -> Result<IaAddr, Discard> {
    let mut r = Reader::new(body);
    let iaid = r.u32(Discard::BadOptionLength)?;
    let (t1, t2) = if temporary {
        (0, 0)
    } else {
        (
            r.u32(Discard::BadOptionLength)?,
            r.u32(Discard::BadOptionLength)?,
        )
    };
    let mut status_opt = None;
    for o in Options::new(r.rest()) {
        let (code, body) = o?;
        match code {
            opt::STATUS_CODE => set_once(&mut status_opt, status(body)?)?,
            // RFC 9915 §21.6: IAADDR is 24 fixed octets, then options.
            opt::IAADDR => {
                let mut a = Reader::new(body);
                a.array::<24>(Discard::BadOptionLength)?;
                for o in Options::new(a.rest()) {
                    let (code, body) = o?;
                    if code == opt::STATUS_CODE {
                        status(body)?;
                    }
                }
            }
            _ => {}
        }
    }
    Ok(IaAddr {
        temporary,
        iaid,
        t1,
        t2,
        status: status_opt,
    })
}

/// Status Code (RFC 9915 §21.13): 2-octet code, then a UTF-8 message
/// (decoded lossily: it is for humans only).
fn status(body: &[u8]) -> Result<Status, Discard> {
    let mut r = Reader::new(body);
    let code = r.u16(Discard::BadOptionLength)?;
    Ok(Status::new(code, String::from_utf8_lossy(r.rest())))
}

fn duid(body: &[u8]) -> Result<Duid, Discard> {
    Duid::from_bytes(body).map_err(|_| Discard::BadDuid)
}

/// A body of exactly `N` octets.
fn fixed<const N: usize>(body: &[u8]) -> Result<[u8; N], Discard> {
    body.try_into().map_err(|_| Discard::BadOptionLength)
}

/// ORO (RFC 9915 §21.7): a list of 2-octet option codes.
fn codes(body: &[u8]) -> Result<Vec<u16>, Discard> {
    if body.len() % 2 != 0 {
        return Err(Discard::BadOptionLength);
    }
    Ok(body
        .chunks_exact(2)
        .filter_map(|c| c.try_into().ok())
        .map(u16::from_be_bytes)
        .collect())
}

/// DNS Recursive Name Server (RFC 3646 §3): a list of IPv6 addresses.
fn addrs(body: &[u8]) -> Result<Vec<Ipv6Addr>, Discard> {
    if body.len() % 16 != 0 {
        return Err(Discard::BadOptionLength);
    }
    Ok(body
        .chunks_exact(16)
        .filter_map(|c| <[u8; 16]>::try_from(c).ok())
        .map(Ipv6Addr::from)
        .collect())
}

fn raw(code: u16, body: &[u8]) -> RawOption {
    RawOption {
        code,
        data: body.to_vec(),
    }
}

/// Fill a singleton slot; a second occurrence is a duplicate.
fn set_once<T>(slot: &mut Option<T>, value: T) -> Result<(), Discard> {
    if slot.is_some() {
        return Err(Discard::DuplicateOption);
    }
    *slot = Some(value);
    Ok(())
}
