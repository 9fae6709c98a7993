//! Encoding: the client/server message through dhcproto, relay headers ours.
//!
//! Every length is checked here before dhcproto sees the message (its encoder
//! casts lengths to u16 and overflows on large bodies). Options come out in
//! ascending code order at every level (dhcproto sorts them; our relay
//! headers follow the same rule), same-code options in their given order.

use dhcproto::v6::{self, DhcpOption, DhcpOptions, OptionCode, UnknownOption};
use dhcproto::{Decodable, Decoder, Encodable, Encoder};

use super::decode::{RELAY_FORW, RELAY_REPL};
use super::opt;
use super::types::{
    Envelope, IaAddr, IaPd, IaPrefix, Message, MsgType, RawOption, RelayHop, Status,
};

/// Why an [`Envelope`] cannot be put on the wire.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EncodeError {
    /// An option body would exceed 65,535 octets (RFC 9915 §21.1).
    #[error("option {0} would be longer than 65535 octets")]
    OptionTooLong(u16),
    /// `MsgType::Other(12|13)`: relay types belong in `Envelope::relays`.
    #[error("message type {0} is a relay type; relays go in Envelope::relays")]
    RelayType(u8),
    /// dhcproto refused the (already checked) message.
    #[error("dhcproto could not encode the message: {0}")]
    Encoder(String),
}

/// Encode an envelope: relays outermost first, each a Relay-Repl when the
/// inner message is a server message (Advertise, Reply, Reconfigure) and a
/// Relay-Forw otherwise (RFC 9915 §9, §19.3).
pub fn try_encode(env: &Envelope) -> Result<Vec<u8>, EncodeError> {
    let mut bytes = encode_message(&env.msg)?;
    let relay_type = if env.msg.msg_type.is_from_server() {
        RELAY_REPL
    } else {
        RELAY_FORW
    };
    for hop in env.relays.iter().rev() {
        bytes = encode_relay(hop, relay_type, &bytes)?;
    }
    Ok(bytes)
}

/// [`try_encode`], or an empty datagram if the envelope cannot be
/// represented (an option over 65,535 octets, a relay type as message type):
/// engines never build such messages. Never panics.
pub fn encode(env: &Envelope) -> Vec<u8> {
    try_encode(env).unwrap_or_default()
}

/// One relay header (RFC 9915 §9.1/§9.2) around `inner`.
fn encode_relay(hop: &RelayHop, relay_type: u8, inner: &[u8]) -> Result<Vec<u8>, EncodeError> {
    let mut opts: Vec<(u16, &[u8])> = vec![(opt::RELAY_MSG, inner)];
    if let Some(id) = &hop.interface_id {
        opts.push((opt::INTERFACE_ID, id));
    }
    opts.extend(hop.other.iter().map(|o| (o.code, o.data.as_slice())));
    opts.sort_by_key(|(code, _)| *code); // stable
    let mut out = vec![relay_type, hop.hop_count];
    out.extend_from_slice(&hop.link_addr.octets());
    out.extend_from_slice(&hop.peer_addr.octets());
    for (code, body) in opts {
        let len = u16::try_from(body.len()).map_err(|_| EncodeError::OptionTooLong(code))?;
        out.extend_from_slice(&code.to_be_bytes());
        out.extend_from_slice(&len.to_be_bytes());
        out.extend_from_slice(body);
    }
    Ok(out)
}

/// A client/server message through dhcproto.
fn encode_message(msg: &Message) -> Result<Vec<u8>, EncodeError> {
    let code = msg.msg_type.code();
    if matches!(msg.msg_type, MsgType::Other(RELAY_FORW | RELAY_REPL)) {
        return Err(EncodeError::RelayType(code));
    }
    check_lengths(msg)?;
    let mut dm = empty_message(code, msg.xid)?;
    dm.set_opts(to_options(message_options(msg)));
    let mut buf = Vec::new();
    dm.encode(&mut Encoder::new(&mut buf))
        .map_err(|e| EncodeError::Encoder(e.to_string()))?;
    Ok(buf)
}

/// An option-less dhcproto message built from its 4-octet header.
/// (`v6::Message::new_with_id` would do, but it evaluates `Default`, which
/// draws a random xid it then throws away; this path touches no RNG.)
fn empty_message(code: u8, xid: [u8; 3]) -> Result<v6::Message, EncodeError> {
    let [a, b, c] = xid;
    v6::Message::decode(&mut Decoder::new(&[code, a, b, c]))
        .map_err(|e| EncodeError::Encoder(e.to_string()))
}

/// Our options in code order; dhcproto's `insert` puts a new option before
/// equal codes, so insert in reverse to keep same-code options in order.
fn to_options(mut list: Vec<DhcpOption>) -> DhcpOptions {
    list.sort_by_key(|o| u16::from(OptionCode::from(o))); // stable
    let mut opts = DhcpOptions::new();
    for o in list.into_iter().rev() {
        opts.insert(o);
    }
    opts
}

fn message_options(msg: &Message) -> Vec<DhcpOption> {
    let mut v = Vec::new();
    if let Some(d) = &msg.client_id {
        v.push(DhcpOption::ClientId(d.as_bytes().to_vec()));
    }
    if let Some(d) = &msg.server_id {
        v.push(DhcpOption::ServerId(d.as_bytes().to_vec()));
    }
    v.extend(msg.ia_addr.iter().map(ia_addr));
    if !msg.oro.is_empty() {
        let opts = msg.oro.iter().map(|&c| OptionCode::from(c)).collect();
        v.push(DhcpOption::ORO(v6::ORO { opts }));
    }
    if let Some(p) = msg.preference {
        v.push(DhcpOption::Preference(p));
    }
    if let Some(e) = msg.elapsed {
        v.push(DhcpOption::ElapsedTime(e));
    }
    if let Some(s) = &msg.status {
        v.push(status(s));
    }
    if msg.rapid_commit {
        v.push(DhcpOption::RapidCommit);
    }
    if msg.reconfigure_accept {
        v.push(DhcpOption::ReconfAccept);
    }
    if !msg.dns_servers.is_empty() {
        v.push(DhcpOption::DomainNameServers(msg.dns_servers.clone()));
    }
    v.extend(msg.ia_pd.iter().map(ia_pd));
    if let Some(t) = msg.sol_max_rt {
        v.push(unknown(opt::SOL_MAX_RT, t.to_be_bytes().to_vec()));
    }
    v.extend(msg.other.iter().map(|o| unknown(o.code, o.data.clone())));
    v
}

fn ia_addr(ia: &IaAddr) -> DhcpOption {
    let opts = to_options(ia.status.iter().map(status).collect());
    if ia.temporary {
        DhcpOption::IATA(v6::IATA { id: ia.iaid, opts })
    } else {
        DhcpOption::IANA(v6::IANA {
            id: ia.iaid,
            t1: ia.t1,
            t2: ia.t2,
            opts,
        })
    }
}

fn ia_pd(ia: &IaPd) -> DhcpOption {
    let mut list: Vec<DhcpOption> = ia.status.iter().map(status).collect();
    list.extend(ia.prefixes.iter().map(ia_prefix));
    DhcpOption::IAPD(v6::IAPD {
        id: ia.iaid,
        t1: ia.t1,
        t2: ia.t2,
        opts: to_options(list),
    })
}

fn ia_prefix(p: &IaPrefix) -> DhcpOption {
    let mut list: Vec<DhcpOption> = p.status.iter().map(status).collect();
    list.extend(p.options.iter().map(|o| unknown(o.code, o.data.clone())));
    DhcpOption::IAPrefix(v6::IAPrefix {
        preferred_lifetime: p.preferred,
        valid_lifetime: p.valid,
        prefix_len: p.prefix.len(),
        prefix_ip: p.prefix.addr(),
        opts: to_options(list),
    })
}

fn status(s: &Status) -> DhcpOption {
    DhcpOption::StatusCode(v6::StatusCode {
        status: s.code.into(),
        msg: s.message.clone(),
    })
}

fn unknown(code: u16, data: Vec<u8>) -> DhcpOption {
    DhcpOption::Unknown(UnknownOption::new(OptionCode::from(code), data))
}

/// Every option body must fit its 16-bit length (checked bottom-up, before
/// dhcproto's unchecked `as u16` casts see it).
fn check_lengths(msg: &Message) -> Result<(), EncodeError> {
    let fits = |code: u16, len: usize| {
        if len > usize::from(u16::MAX) {
            Err(EncodeError::OptionTooLong(code))
        } else {
            Ok(len)
        }
    };
    let status_len = |s: &Option<Status>| -> Result<usize, EncodeError> {
        match s {
            Some(s) => Ok(4 + fits(opt::STATUS_CODE, 2 + s.message.len())?),
            None => Ok(0),
        }
    };
    let raw_len =
        |o: &RawOption| -> Result<usize, EncodeError> { Ok(4 + fits(o.code, o.data.len())?) };
    for d in msg.client_id.iter().chain(msg.server_id.iter()) {
        fits(opt::CLIENT_ID, d.as_bytes().len())?;
    }
    for ia in &msg.ia_addr {
        fits(opt::IA_NA, 12 + status_len(&ia.status)?)?;
    }
    fits(opt::ORO, msg.oro.len().saturating_mul(2))?;
    status_len(&msg.status)?;
    fits(opt::DNS_SERVERS, msg.dns_servers.len().saturating_mul(16))?;
    for ia in &msg.ia_pd {
        let mut len = 12 + status_len(&ia.status)?;
        for p in &ia.prefixes {
            let mut plen = 25 + status_len(&p.status)?;
            for o in &p.options {
                plen = plen.saturating_add(raw_len(o)?);
            }
            len = len.saturating_add(4 + fits(opt::IAPREFIX, plen)?);
        }
        fits(opt::IA_PD, len)?;
    }
    for o in &msg.other {
        raw_len(o)?;
    }
    Ok(())
}
