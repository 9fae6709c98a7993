//! The messages the client sends (RFC 9915 §18.2). Elapsed Time is filled in
//! per transmission by the exchange.

use pd_core::duid::Duid;
use pd_core::prefix::Prefix;
use pd_core::wire::{IaPd, IaPrefix, Message, MsgType};

/// DNS Recursive Name Server option (RFC 3646).
pub const OPTION_DNS_SERVERS: u16 = 23;
/// SOL_MAX_RT option (RFC 9915 §21.24).
pub const OPTION_SOL_MAX_RT: u16 = 82;

/// An IAPREFIX carrying only a prefix: lifetimes 0 (RFC 9915 §18.2: the
/// client sets lifetimes in client messages to 0, meaning no preference).
pub fn hint_prefix(prefix: Prefix) -> IaPrefix {
    IaPrefix {
        preferred: 0,
        valid: 0,
        prefix,
        status: None,
        options: Vec::new(),
    }
}

/// An IA_PD with T1 = T2 = 0 and these prefixes.
pub fn ia_pd(iaid: u32, prefixes: &[Prefix]) -> IaPd {
    IaPd {
        iaid,
        t1: 0,
        t2: 0,
        prefixes: prefixes.iter().copied().map(hint_prefix).collect(),
        status: None,
    }
}

fn base(t: MsgType, xid: [u8; 3], duid: &Duid, ia: IaPd, oro: bool) -> Message {
    let mut m = Message::new(t, xid);
    m.client_id = Some(duid.clone());
    m.ia_pd = vec![ia];
    if oro {
        // RFC 9915 §21.24: SOL_MAX_RT is requested in Solicit, Request, Renew
        // and Rebind; DNS servers for the downstream RAs.
        m.oro = vec![OPTION_DNS_SERVERS, OPTION_SOL_MAX_RT];
    }
    m
}

/// Solicit (§18.2.1) with the prefix hints (`::/len` for a length-only hint).
pub fn solicit(
    xid: [u8; 3],
    duid: &Duid,
    iaid: u32,
    hints: &[Prefix],
    rapid_commit: bool,
) -> Message {
    let mut m = base(MsgType::Solicit, xid, duid, ia_pd(iaid, hints), true);
    m.rapid_commit = rapid_commit;
    m
}

/// Request (§18.2.2) to `server` for the offered prefixes.
pub fn request(
    xid: [u8; 3],
    duid: &Duid,
    server: &Duid,
    iaid: u32,
    prefixes: &[Prefix],
) -> Message {
    let mut m = base(MsgType::Request, xid, duid, ia_pd(iaid, prefixes), true);
    m.server_id = Some(server.clone());
    m
}

/// Renew (§18.2.4) to `server` for the prefixes held.
pub fn renew(xid: [u8; 3], duid: &Duid, server: &Duid, iaid: u32, prefixes: &[Prefix]) -> Message {
    let mut m = base(MsgType::Renew, xid, duid, ia_pd(iaid, prefixes), true);
    m.server_id = Some(server.clone());
    m
}

/// Rebind (§18.2.5): like Renew but to any server (no Server Identifier).
pub fn rebind(xid: [u8; 3], duid: &Duid, iaid: u32, prefixes: &[Prefix]) -> Message {
    base(MsgType::Rebind, xid, duid, ia_pd(iaid, prefixes), true)
}

/// Release (§18.2.7) of the prefixes to `server`.
pub fn release(
    xid: [u8; 3],
    duid: &Duid,
    server: &Duid,
    iaid: u32,
    prefixes: &[Prefix],
) -> Message {
    let mut m = base(MsgType::Release, xid, duid, ia_pd(iaid, prefixes), false);
    m.server_id = Some(server.clone());
    m
}
