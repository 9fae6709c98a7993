//! Engine scenarios with virtual time: no sockets, no clock, no disk.
#![allow(clippy::unwrap_used, clippy::indexing_slicing, clippy::expect_used)]

mod exchange;
mod flood;
mod lifecycle;
mod relay;

use std::net::{Ipv6Addr, SocketAddrV6};
use std::sync::Arc;

use pd_core::duid::Duid;
use pd_core::prefix::Prefix;
use pd_core::time::Timestamp;
use pd_core::wire::{Envelope, IaAddr, IaPd, IaPrefix, Message, MsgType};

use super::{Effect, Rx, Server, Settings};
use crate::config;
use crate::lease::Lease;

pub const CONFIG: &str = r#"
[server]
interfaces = ["eth1"]
state-dir = "/var/lib/pd-server"
preference = 7
dns-servers = ["2001:db8::53"]

[[pool]]
prefix = "2001:db8:2222::/48"
delegated-length = 64
preferred-lifetime = 3600
valid-lifetime = 7200
"#;

pub fn server_duid() -> Duid {
    Duid::ll(1, &[2, 0, 0, 0, 0, 0xaa])
}

pub fn client(n: u8) -> Duid {
    Duid::ll(1, &[2, 0, 0, 0, 0, n])
}

pub fn boot(text: &str, now: Timestamp, leases: Vec<Lease>) -> (Server, Vec<Effect>) {
    let cfg = config::parse(text).expect("config");
    let mut settings = Settings::from_config(&cfg, server_duid());
    settings.hooks = true;
    Server::new(settings, cfg.pools, cfg.reservations, now, leases)
}

pub fn server(text: &str) -> Server {
    boot(text, Timestamp::ZERO, Vec::new()).0
}

pub fn rx(n: u8) -> Rx {
    Rx {
        src: SocketAddrV6::new(ll(n), 546, 0, 0),
        dst: "ff02::1:2".parse().unwrap(),
        ifindex: 3,
        iface: Arc::from("eth1"),
    }
}

pub fn ll(n: u8) -> Ipv6Addr {
    Ipv6Addr::new(0xfe80, 0, 0, 0, 0, 0xff, 0xfe00, u16::from(n))
}

pub fn p(s: &str) -> Prefix {
    s.parse().unwrap()
}

pub fn ia(iaid: u32, hints: &[&str]) -> IaPd {
    IaPd {
        iaid,
        t1: 0,
        t2: 0,
        prefixes: hints
            .iter()
            .map(|h| IaPrefix {
                preferred: 0,
                valid: 0,
                prefix: Prefix::parse_truncating(h).unwrap(),
                status: None,
                options: Vec::new(),
            })
            .collect(),
        status: None,
    }
}

pub fn msg(t: MsgType, n: u8, ias: Vec<IaPd>) -> Message {
    let mut m = Message::new(t, [n, 0x12, 0x34]);
    m.client_id = Some(client(n));
    if matches!(
        t,
        MsgType::Request | MsgType::Renew | MsgType::Release | MsgType::Decline
    ) {
        m.server_id = Some(server_duid());
    }
    m.ia_pd = ias;
    m.elapsed = Some(0);
    m
}

pub fn env(m: Message) -> Envelope {
    Envelope {
        relays: Vec::new(),
        msg: m,
    }
}

pub fn ia_na(iaid: u32) -> IaAddr {
    IaAddr {
        temporary: false,
        iaid,
        t1: 0,
        t2: 0,
        status: None,
    }
}

/// The one message the effects transmit.
pub fn sent(fx: &[Effect]) -> Message {
    let tx: Vec<_> = fx
        .iter()
        .filter_map(|e| match e {
            Effect::Transmit(t) => Some(t),
            _ => None,
        })
        .collect();
    assert_eq!(tx.len(), 1, "expected one transmit in {fx:#?}");
    tx[0].envelope.msg.clone()
}

/// The first delegated prefix of IA_PD `i` of a reply.
pub fn granted(m: &Message, i: usize) -> Prefix {
    m.ia_pd[i].prefixes[0].prefix
}

/// Index of the first effect matching `f` (to check ordering).
pub fn pos(fx: &[Effect], f: impl Fn(&Effect) -> bool) -> usize {
    fx.iter()
        .position(f)
        .unwrap_or_else(|| panic!("effect not found in {fx:#?}"))
}

/// Solicit + Request for client n; returns the granted prefix.
pub fn bind(s: &mut Server, now: Timestamp, n: u8, iaid: u32) -> Prefix {
    let adv = sent(&s.handle_message(
        now,
        &rx(n),
        env(msg(MsgType::Solicit, n, vec![ia(iaid, &[])])),
    ));
    let offered = granted(&adv, 0);
    let rep = sent(&s.handle_message(
        now,
        &rx(n),
        env(msg(
            MsgType::Request,
            n,
            vec![ia(iaid, &[&offered.to_string()])],
        )),
    ));
    assert_eq!(rep.msg_type, MsgType::Reply);
    granted(&rep, 0)
}
