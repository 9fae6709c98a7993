//! Engine bugs found by `fuzz/` (target `server_engine`), one test each,
//! written as the scenario the minimised crash input played.
#![allow(clippy::unwrap_used, clippy::indexing_slicing, clippy::expect_used)]

use std::collections::HashMap;
use std::net::{Ipv6Addr, SocketAddrV6};
use std::sync::Arc;

use pd_core::duid::Duid;
use pd_core::effect::HookAction;
use pd_core::prefix::Prefix;
use pd_core::time::Timestamp;
use pd_core::wire::{self, Envelope, IaPd, Message, MsgType};
use pd_server::config;
use pd_server::engine::{Effect, Rx, Server, Settings};
use pd_server::lease::{Lease, LeaseState};

/// One pool tied to eth1, one serving any link.
const CONFIG: &str = r#"
[server]
interfaces = ["eth1", "eth2"]
state-dir = "/nonexistent"

[hooks]
script = "/bin/true"

[[pool]]
prefix = "2001:db8:1::/60"
delegated-length = 64
preferred-lifetime = 30
valid-lifetime = 60
interface = "eth1"

[[pool]]
prefix = "2001:db8:2222::/56"
delegated-length = 60
preferred-lifetime = 3600
valid-lifetime = 7200
"#;

fn server_duid() -> Duid {
    Duid::ll(1, &[2, 0, 0, 0, 0, 0x0b])
}

fn client() -> Duid {
    Duid::ll(1, &[2, 0, 0, 0, 0, 2])
}

fn boot(now: Timestamp, leases: Vec<Lease>) -> (Server, Vec<Effect>) {
    let cfg = config::parse(CONFIG).expect("config");
    let settings = Settings::from_config(&cfg, server_duid());
    Server::new(settings, cfg.pools, cfg.reservations, now, leases)
}

fn rx(iface: &str, ifindex: u32) -> Rx {
    Rx {
        src: SocketAddrV6::new("fe80::ff:fe00:2".parse().unwrap(), 546, 0, 0),
        dst: "ff02::1:2".parse().unwrap(),
        ifindex,
        iface: Arc::from(iface),
    }
}

fn request(xid: u8) -> Vec<u8> {
    let mut m = Message::new(MsgType::Request, [xid, 0, 0]);
    m.client_id = Some(client());
    m.server_id = Some(server_duid());
    m.ia_pd.push(IaPd::new(2, 0, 0));
    wire::encode(&Envelope::direct(m))
}

fn granted(fx: &[Effect]) -> Prefix {
    fx.iter()
        .find_map(|e| match e {
            Effect::Transmit(t) => Some(t.envelope.msg.ia_pd[0].prefixes[0].prefix),
            _ => None,
        })
        .expect("a Reply")
}

/// The store and routes the effects describe, applied in order.
#[derive(Default)]
struct World {
    store: HashMap<Prefix, Lease>,
    routes: HashMap<Prefix, Ipv6Addr>,
}

impl World {
    fn apply(&mut self, fx: &[Effect]) {
        for e in fx {
            match e {
                Effect::Persist(l) => {
                    self.store.insert(l.prefix, l.clone());
                }
                Effect::Forget(p) => {
                    self.store.remove(p);
                }
                Effect::RouteAdd(r) => {
                    self.routes.insert(r.prefix, r.gateway);
                }
                Effect::RouteDel(r) => {
                    self.routes.remove(&r.prefix);
                }
                _ => {}
            }
        }
    }

    fn matches(&self, s: &Server) {
        let table: HashMap<Prefix, Lease> = s.leases().map(|l| (l.prefix, l.clone())).collect();
        assert_eq!(self.store, table, "the store differs from the table");
        let live: HashMap<Prefix, Ipv6Addr> = s
            .leases()
            .filter(|l| l.state == LeaseState::Active)
            .map(|l| (l.prefix, l.next_hop))
            .collect();
        assert_eq!(
            self.routes, live,
            "the routes differ from the active leases"
        );
    }
}

/// Crash input 1 (fuzz/README.md): a client bound on eth1 sends a Request
/// from eth2, whose only pool is another one. The engine gave it a new
/// prefix and silently released the old one in memory only: no Persist, no
/// RouteDel, no hook. The store kept both prefixes Active for one IA_PD (a
/// restart then kept whichever it read first and forgot the other) and the
/// old route stayed while the prefix went back to the pool.
#[test]
fn a_replaced_binding_is_persisted_released_and_its_route_withdrawn() {
    let t0 = Timestamp::ZERO;
    let (mut s, fx) = boot(t0, Vec::new());
    let mut world = World::default();
    world.apply(&fx);

    let fx = s.handle_datagram(t0, &rx("eth1", 3), &request(1));
    let old = granted(&fx);
    assert_eq!(old, "2001:db8:1::/64".parse().unwrap());
    world.apply(&fx);
    world.matches(&s);

    let t1 = Timestamp::from_secs(10);
    let fx = s.handle_datagram(t1, &rx("eth2", 4), &request(2));
    let new = granted(&fx);
    assert_eq!(new, "2001:db8:2222::/60".parse().unwrap());
    let pos = |f: &dyn Fn(&Effect) -> bool| fx.iter().position(f).expect("effect present");
    let persist_old = pos(
        &|e| matches!(e, Effect::Persist(l) if l.prefix == old && l.state == LeaseState::Released),
    );
    let route_del = pos(&|e| matches!(e, Effect::RouteDel(r) if r.prefix == old));
    let hook = pos(&|e| matches!(e, Effect::Hook(h) if h.action == HookAction::Delete));
    let transmit = pos(&|e| matches!(e, Effect::Transmit(_)));
    assert!(persist_old < transmit && route_del < transmit && hook < transmit);
    world.apply(&fx);
    world.matches(&s);
    assert_eq!(s.lease(&old).unwrap().state, LeaseState::Released);
    assert_eq!(s.active_count(), 1);

    // A restart from what was persisted keeps the new binding, forgets nothing.
    let (s2, fx) = boot(t1, world.store.values().cloned().collect());
    assert!(!fx.iter().any(|e| matches!(e, Effect::Forget(_))), "{fx:?}");
    assert_eq!(s2.lease(&new).unwrap().state, LeaseState::Active);
    assert_eq!(s2.lease(&old).unwrap().state, LeaseState::Released);
    assert_eq!(s2.active_count(), 1);
}
