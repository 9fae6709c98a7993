//! The encoder's oracle: the same envelope written through dhcproto 0.15
//! (the client/server message) and a plain relay wrapper, as pd encoded
//! until our own encoder replaced it. `wire_prop.rs` checks that both write
//! the same bytes. Only for messages whose every option fits (the caller
//! checks that our encoder accepted it first: dhcproto casts lengths).

use dhcproto::v6::{self, DhcpOption, DhcpOptions, OptionCode, UnknownOption};
use dhcproto::{Decodable, Decoder, Encodable, Encoder};
use pd_core::wire::{opt, Envelope, IaAddr, IaPd, IaPrefix, Message, RelayHop, Status};

/// Relay-Forw / Relay-Repl (RFC 9915 §7.3).
const RELAY_FORW: u8 = 12;
const RELAY_REPL: u8 = 13;

pub fn encode(env: &Envelope) -> Vec<u8> {
    let mut bytes = message(&env.msg);
    let relay_type = if env.msg.msg_type.is_from_server() {
        RELAY_REPL
    } else {
        RELAY_FORW
    };
    for hop in env.relays.iter().rev() {
        bytes = relay(hop, relay_type, &bytes);
    }
    bytes
}

fn relay(hop: &RelayHop, relay_type: u8, inner: &[u8]) -> Vec<u8> {
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
        out.extend_from_slice(&code.to_be_bytes());
        out.extend_from_slice(&u16::try_from(body.len()).unwrap().to_be_bytes());
        out.extend_from_slice(body);
    }
    out
}

fn message(msg: &Message) -> Vec<u8> {
    let [a, b, c] = msg.xid;
    let mut dm = v6::Message::decode(&mut Decoder::new(&[msg.msg_type.code(), a, b, c])).unwrap();
    dm.set_opts(to_options(message_options(msg)));
    let mut buf = Vec::new();
    dm.encode(&mut Encoder::new(&mut buf)).unwrap();
    buf
}

/// In code order; dhcproto's `insert` puts a new option before equal codes,
/// so insert in reverse to keep same-code options in order.
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
