//! pd-client's engine against pd-server's engine, in process, over the real
//! wire codec, with virtual time jumping to the next wake-up.
#![allow(clippy::unwrap_used, clippy::indexing_slicing)]

use std::net::{Ipv6Addr, SocketAddrV6};
use std::sync::Arc;

use pd_client::engine::{Client, Effect, EngineConfig, LostReason, State};
use pd_core::duid::Duid;
use pd_core::time::Timestamp;
use pd_core::wire::{self, MsgType};
use pd_server::config::PoolConfig;
use pd_server::engine::{self as srv, Rx, Server, Settings};

const IFINDEX: u32 = 7;
const CLIENT_LL: Ipv6Addr = Ipv6Addr::new(0xfe80, 0, 0, 0, 0, 0xff, 0xfe00, 2);
const SERVER_LL: Ipv6Addr = Ipv6Addr::new(0xfe80, 0, 0, 0, 0, 0xff, 0xfe00, 1);

struct Pair {
    now: Timestamp,
    client: Client,
    server: Server,
    /// Every client effect other than Transmit, with its time.
    events: Vec<(Timestamp, Effect)>,
    /// Message types seen on the wire, in order.
    wire: Vec<MsgType>,
    /// Drop the client's messages (server unreachable).
    cut: bool,
}

impl Pair {
    fn new(rapid_commit: bool) -> Self {
        let settings = Settings {
            duid: Duid::ll(1, &[2, 0, 0, 0, 0, 1]),
            preference: None,
            rapid_commit,
            dns_servers: vec!["2001:db8::53".parse().unwrap()],
            routes: false,
            hooks: false,
            limits: Default::default(),
        };
        let pool = PoolConfig {
            prefix: "2001:db8::/48".parse().unwrap(),
            delegated_len: 56,
            preferred: 200,
            valid: 300,
            t1: 100,
            t2: 160,
            interface: None,
            link: None,
            next_hop: None,
        };
        let (server, _) = Server::new(settings, vec![pool], vec![], Timestamp::ZERO, vec![]);
        let cfg = EngineConfig {
            ifindex: IFINDEX,
            duid: Duid::ll(1, &[2, 0, 0, 0, 0, 2]),
            iaid: 1,
            prefix_length: Some(56),
            hint: None,
            rapid_commit,
            immediate: false,
        };
        Pair {
            now: Timestamp::ZERO,
            client: Client::new(cfg, 99),
            server,
            events: Vec::new(),
            wire: Vec::new(),
            cut: false,
        }
    }

    /// Carry client effects to the server and the server's answers back,
    /// until nothing is in flight.
    fn pump(&mut self, mut fx: Vec<Effect>) {
        while !fx.is_empty() {
            let mut next = Vec::new();
            for e in fx {
                let Effect::Transmit(t) = e else {
                    self.events.push((self.now, e));
                    continue;
                };
                assert_eq!(*t.to.ip(), wire::ALL_DHCP_RELAY_AGENTS_AND_SERVERS);
                self.wire.push(t.envelope.msg.msg_type);
                if self.cut {
                    continue;
                }
                let bytes = wire::encode(&t.envelope);
                let rx = Rx {
                    src: SocketAddrV6::new(CLIENT_LL, 546, 0, IFINDEX),
                    dst: *t.to.ip(),
                    ifindex: IFINDEX,
                    iface: Arc::from("eth0"),
                };
                for se in self.server.handle_datagram(self.now, &rx, &bytes) {
                    if let srv::Effect::Transmit(r) = se {
                        let env = wire::decode(&wire::encode(&r.envelope)).unwrap();
                        self.wire.push(env.msg.msg_type);
                        let from = SocketAddrV6::new(SERVER_LL, 547, 0, IFINDEX);
                        next.extend(self.client.handle_message(self.now, from, IFINDEX, env.msg));
                    }
                }
            }
            fx = next;
        }
    }

    /// Jump to the next wake-up of either side and run it.
    fn step(&mut self) {
        let t = [self.client.poll_timeout(), self.server.poll_timeout()]
            .into_iter()
            .flatten()
            .min()
            .expect("something is scheduled");
        self.now = self.now.max(t);
        let _ = self.server.handle_timeout(self.now);
        let fx = self.client.handle_timeout(self.now);
        self.pump(fx);
    }

    fn run_until(&mut self, end: Timestamp) {
        while [self.client.poll_timeout(), self.server.poll_timeout()]
            .into_iter()
            .flatten()
            .min()
            .is_some_and(|t| t <= end)
        {
            self.step();
        }
        self.now = end;
    }
}

#[test]
fn four_message_exchange_then_renewals_then_release() {
    let mut p = Pair::new(false);
    let fx = p.client.start(p.now, None);
    p.pump(fx);
    p.run_until(Timestamp::from_secs(5));
    assert_eq!(p.client.state(), State::Bound);
    assert_eq!(
        p.wire,
        vec![
            MsgType::Solicit,
            MsgType::Advertise,
            MsgType::Request,
            MsgType::Reply
        ]
    );
    let lease = p.client.lease().unwrap().clone();
    assert_eq!(lease.prefixes.len(), 1);
    let prefix = lease.prefixes[0].prefix;
    assert_eq!(prefix.len(), 56, "the length hint is honoured");
    assert!("2001:db8::/48"
        .parse::<pd_core::prefix::Prefix>()
        .unwrap()
        .contains(&prefix));
    assert_eq!((lease.t1, lease.t2), (100, 160));
    assert_eq!(
        lease.dns_servers,
        vec!["2001:db8::53".parse::<Ipv6Addr>().unwrap()]
    );
    assert!(matches!(
        &p.events[..],
        [
            (_, Effect::Save(Some(_))),
            (_, Effect::Bound { old: None, .. })
        ]
    ));
    assert_eq!(p.server.lease(&prefix).map(|l| l.prefix), Some(prefix));

    // Three renewals at T1, each extended with the same prefix.
    p.events.clear();
    p.wire.clear();
    p.run_until(Timestamp::from_secs(5 + 3 * 100));
    let extended = p
        .events
        .iter()
        .filter(|(_, e)| matches!(e, Effect::Extended(l) if l.prefix_list() == vec![prefix]))
        .count();
    assert_eq!(extended, 3, "{:?}", p.events);
    assert_eq!(p.wire.iter().filter(|m| **m == MsgType::Renew).count(), 3);
    assert!(!p.wire.contains(&MsgType::Rebind));

    // Release: the server lets the prefix go.
    p.events.clear();
    let fx = p.client.release(p.now);
    p.pump(fx);
    assert!(p.events.iter().any(|(_, e)| *e
        == Effect::Lost {
            prefixes: vec![prefix],
            reason: LostReason::Released
        }));
    assert!(p.events.iter().any(|(_, e)| *e == Effect::ReleaseDone));
    assert_eq!(p.client.state(), State::Idle);
    assert_eq!(p.wire.last(), Some(&MsgType::Reply));
}

#[test]
fn rapid_commit_two_message_exchange() {
    let mut p = Pair::new(true);
    let fx = p.client.start(p.now, None);
    p.pump(fx);
    p.run_until(Timestamp::from_secs(2));
    assert_eq!(p.wire, vec![MsgType::Solicit, MsgType::Reply]);
    assert_eq!(p.client.state(), State::Bound);
}

#[test]
fn server_gone_then_back_rebind_keeps_the_prefix() {
    let mut p = Pair::new(false);
    let fx = p.client.start(p.now, None);
    p.pump(fx);
    p.run_until(Timestamp::from_secs(5));
    let prefix = p.client.lease().unwrap().prefixes[0].prefix;
    let bound_at = p.client.lease().unwrap().updated;
    // The server stops answering before T1: Renews go unanswered until T2.
    p.cut = true;
    p.wire.clear();
    p.run_until(bound_at.add_secs(170));
    assert_eq!(p.client.state(), State::Rebinding);
    assert!(p.wire.contains(&MsgType::Renew) && p.wire.contains(&MsgType::Rebind));
    // Back before the valid lifetime ends: the Rebind is answered.
    p.cut = false;
    p.events.clear();
    p.run_until(bound_at.add_secs(290));
    assert!(
        p.events
            .iter()
            .any(|(_, e)| matches!(e, Effect::Extended(l) if l.prefix_list() == vec![prefix])),
        "{:?}",
        p.events
    );
    assert_eq!(p.client.state(), State::Bound);
}
