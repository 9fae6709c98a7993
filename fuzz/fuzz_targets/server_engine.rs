//! The sans-IO server fed a script of datagrams with advancing virtual time.
//!
//! Input: frames of `[ctl] [src] [len: u16 BE] [len bytes of UDP payload]`
//! (the last frame takes what is left when `len` runs past the end).
//! - `ctl` bits 0-4: advance time by that many × 5 s before the frame;
//!   bit 5: jump to `poll_timeout()` first; bit 6: call `handle_timeout`;
//!   bit 7: `reload` with the same configuration (a SIGHUP).
//! - `src` bits 6-7 choose the sender: a direct client on eth1, a direct
//!   client on eth2 (no pool tied to it), a relay (2001:db8:a::1, port 547)
//!   on eth1, a global address on eth1; bits 0-5 vary the address.
//!
//! Never panics, and after every step:
//! - exactly one of: one Transmit, or the drop counter up by one;
//! - every Transmit goes back to the sender (a Relay-Repl to port 547 unless
//!   the relay asked otherwise, RFC 8357), re-encodes and decodes to itself;
//! - every prefix a Reply grants (valid > 0) is bound to that client's IA_PD
//!   in the table, and an Advertise never offers another client's prefix;
//! - no two active leases overlap, no IA_PD holds two, each sits in a pool
//!   with the pool's delegated length, and `active_count` agrees;
//! - the store the effects describe (Persist/Forget applied in order) equals
//!   the table, and the routes they describe (RouteAdd/RouteDel) are exactly
//!   the active leases' return routes;
//! - after `handle_timeout(now)` no active lease has ended, and
//!   `poll_timeout()` is the earliest end of an active lease.
#![no_main]

use std::collections::{HashMap, HashSet};
use std::net::{Ipv6Addr, SocketAddrV6};
use std::sync::{Arc, OnceLock};

use libfuzzer_sys::fuzz_target;
use pd_core::duid::Duid;
use pd_core::prefix::Prefix;
use pd_core::time::Timestamp;
use pd_core::wire::{decode, try_encode, Envelope, MsgType};
use pd_server::config::{self, Config};
use pd_server::engine::{Effect, Rx, Server, Settings};
use pd_server::lease::{ClientKey, Lease, LeaseState};

/// Small pools so they run out; short lifetimes so leases expire; one pool
/// per way of choosing (interface, relay link, any link); a reservation for
/// the synthetic goldens' client; Rapid Commit on.
const CONFIG: &str = r#"
[server]
interfaces = ["eth1", "eth2"]
state-dir = "/nonexistent"
preference = 255
rapid-commit = true
dns-servers = ["2001:db8::53"]

[[pool]]
prefix = "2001:db8:1::/60"
delegated-length = 64
preferred-lifetime = 30
valid-lifetime = 60
interface = "eth1"

[[pool]]
prefix = "2001:db8:4400::/52"
delegated-length = 56
preferred-lifetime = 100
valid-lifetime = 200
link = "2001:db8:a::/64"

[[pool]]
prefix = "2001:db8:2222::/56"
delegated-length = 60
preferred-lifetime = 4294967295
valid-lifetime = 4294967295

[[reservation]]
duid = "00:01:00:01:2a:2b:2c:2d:02:00:00:00:00:0a"
prefix = "2001:db8:1:5::/64"
"#;

/// The synthetic goldens' server DUID, so their Request/Renew/Release are for us.
fn server_duid() -> Duid {
    Duid::ll(1, &[2, 0, 0, 0, 0, 0x0b])
}

fn config() -> &'static Config {
    static CFG: OnceLock<Config> = OnceLock::new();
    CFG.get_or_init(|| config::parse(CONFIG).expect("fuzz config is valid"))
}

fn settings(cfg: &Config) -> Settings {
    let mut s = Settings::from_config(cfg, server_duid());
    s.hooks = true;
    s.routes = true;
    s
}

fn rx(src: u8) -> Rx {
    let n = u16::from(src & 0x3f);
    let (ip, port, ifindex, iface) = match src >> 6 {
        0 => (
            Ipv6Addr::new(0xfe80, 0, 0, 0, 0, 0xff, 0xfe00, n),
            546,
            3,
            "eth1",
        ),
        1 => (
            Ipv6Addr::new(0xfe80, 0, 0, 0, 0, 0xff, 0xfe00, n),
            546,
            4,
            "eth2",
        ),
        2 => (
            Ipv6Addr::new(0x2001, 0xdb8, 0xa, 0, 0, 0, 0, 1 + n),
            547,
            3,
            "eth1",
        ),
        _ => (
            Ipv6Addr::new(0x2001, 0xdb8, 0xffff, 0, 0, 0, 0, n),
            546,
            3,
            "eth1",
        ),
    };
    Rx {
        src: SocketAddrV6::new(ip, port, 0, 0),
        dst: "ff02::1:2".parse().expect("address"),
        ifindex,
        iface: Arc::from(iface),
    }
}

/// What the effects say the store and the routing table hold.
#[derive(Default)]
struct World {
    store: HashMap<Prefix, Lease>,
    routes: HashMap<Prefix, (Ipv6Addr, Arc<str>)>,
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
                    self.routes.insert(r.prefix, (r.gateway, r.iface.clone()));
                }
                Effect::RouteDel(r) => {
                    self.routes.remove(&r.prefix);
                }
                Effect::Transmit(_) | Effect::Hook(_) => {}
            }
        }
    }
}

fn normalise(mut env: Envelope) -> Envelope {
    env.msg.other.sort_by_key(|o| o.code);
    env.msg.ia_addr.sort_by_key(|ia| ia.temporary);
    for ia in &mut env.msg.ia_pd {
        for p in &mut ia.prefixes {
            p.options.sort_by_key(|o| o.code);
        }
    }
    for hop in &mut env.relays {
        hop.other.sort_by_key(|o| o.code);
    }
    env
}

/// Table-wide invariants (see the module doc).
fn check_table(s: &Server, world: &World, cfg: &Config, now: Timestamp, after_timeout: bool) {
    let active: Vec<Lease> = s
        .leases()
        .filter(|l| l.state == LeaseState::Active)
        .collect();
    assert_eq!(s.active_count(), active.len(), "active_count disagrees");
    let mut keys: HashSet<&ClientKey> = HashSet::new();
    for (i, a) in active.iter().enumerate() {
        assert!(
            keys.insert(&a.client),
            "IA_PD {:?} holds two prefixes",
            a.client
        );
        for b in active.iter().skip(i + 1) {
            assert!(
                !a.prefix.overlaps(&b.prefix),
                "{} ({:?}) overlaps {} ({:?})",
                a.prefix,
                a.client,
                b.prefix,
                b.client
            );
        }
        assert!(
            cfg.pools
                .iter()
                .any(|p| p.prefix.contains(&a.prefix) && p.delegated_len == a.prefix.len()),
            "{} is in no pool",
            a.prefix
        );
        if after_timeout {
            assert!(a.valid_until > now, "{} outlived handle_timeout", a.prefix);
        }
    }
    let earliest = active.iter().map(|l| l.valid_until).min();
    assert_eq!(
        s.poll_timeout(),
        earliest,
        "poll_timeout is not the earliest end"
    );

    let table: HashMap<Prefix, Lease> = s.leases().map(|l| (l.prefix, l)).collect();
    assert_eq!(
        world.store, table,
        "persisted records differ from the table"
    );
    let routes: HashMap<Prefix, (Ipv6Addr, Arc<str>)> = active
        .iter()
        .map(|l| (l.prefix, (l.next_hop, l.iface.clone())))
        .collect();
    assert_eq!(
        world.routes, routes,
        "installed routes differ from the active leases"
    );
}

/// Per-datagram invariants on the effects.
fn check_answer(s: &Server, rx: &Rx, payload: &[u8], fx: &[Effect], drops_before: u64) {
    let tx: Vec<_> = fx
        .iter()
        .filter_map(|e| match e {
            Effect::Transmit(t) => Some(t),
            _ => None,
        })
        .collect();
    let dropped = s.drop_total() - drops_before;
    assert!(
        (tx.len() == 1 && dropped == 0) || (tx.is_empty() && dropped == 1),
        "{} transmits and {dropped} drops for one datagram",
        tx.len()
    );
    // RFC 9915 §19.3: a Relay-Repl goes to port 547 unless the relay sent a
    // Relay Source Port option (RFC 8357 §5.2); a direct reply to the source.
    let port = match decode(payload).map(|e| e.relays) {
        Ok(r)
            if r.first()
                .is_some_and(|h| !h.other.iter().any(|o| o.code == 135)) =>
        {
            547
        }
        _ => rx.src.port(),
    };
    let to = SocketAddrV6::new(*rx.src.ip(), port, 0, 0);
    for t in tx {
        assert_eq!(t.to, to, "reply not sent back to the sender");
        assert_eq!(t.ifindex, rx.ifindex);
        let bytes = try_encode(&t.envelope).expect("our reply encodes");
        assert_eq!(
            decode(&bytes),
            Ok(normalise(t.envelope.clone())),
            "our reply does not decode to itself"
        );
        let m = &t.envelope.msg;
        // An Information-Request may come without a Client Identifier
        // (RFC 9915 §18.2.6); every IA_PD-bearing message has one (§16).
        let Some(client) = m.client_id.clone() else {
            assert!(m.ia_pd.is_empty(), "IA_PD answered without a client id");
            continue;
        };
        for ia in &m.ia_pd {
            let key = ClientKey {
                duid: client.clone(),
                iaid: ia.iaid,
            };
            for p in ia.prefixes.iter().filter(|p| p.valid > 0) {
                let lease = s.lease(&p.prefix);
                let lease = lease.as_ref();
                match m.msg_type {
                    MsgType::Reply => assert!(
                        lease.is_some_and(|l| l.state == LeaseState::Active && l.client == key),
                        "Reply grants {} to {key:?} but the table has {lease:?}",
                        p.prefix
                    ),
                    MsgType::Advertise => assert!(
                        !lease.is_some_and(|l| l.state == LeaseState::Active && l.client != key),
                        "Advertise offers {} to {key:?}, bound to {lease:?}",
                        p.prefix
                    ),
                    other => panic!("unexpected reply type {other:?} with prefixes"),
                }
            }
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let cfg = config();
    let mut now = Timestamp::ZERO;
    let (mut server, fx) = Server::new(
        settings(cfg),
        cfg.pools.clone(),
        cfg.reservations.clone(),
        now,
        Vec::new(),
    );
    let mut world = World::default();
    world.apply(&fx);
    let mut rest = data;
    while let Some((&ctl, tail)) = rest.split_first() {
        let (src, len, tail) = match tail {
            [src, hi, lo, tail @ ..] => (*src, usize::from(u16::from_be_bytes([*hi, *lo])), tail),
            _ => (0, 0, &[][..]),
        };
        let (payload, tail) = tail.split_at(len.min(tail.len()));
        rest = tail;

        now = now.add_secs(5 * u64::from(ctl & 0x1f));
        if ctl & 0x20 != 0 {
            if let Some(t) = server.poll_timeout() {
                if t > now && t != Timestamp::NEVER {
                    now = t;
                }
            }
        }
        if ctl & 0x40 != 0 {
            let fx = server.handle_timeout(now);
            world.apply(&fx);
            check_table(&server, &world, cfg, now, true);
        }
        if ctl & 0x80 != 0 {
            let fx = server.reload(
                settings(cfg),
                cfg.pools.clone(),
                cfg.reservations.clone(),
                now,
            );
            world.apply(&fx);
            check_table(&server, &world, cfg, now, false);
        }
        let rx = rx(src);
        let before = server.drop_total();
        let fx = server.handle_datagram(now, &rx, payload);
        world.apply(&fx);
        check_answer(&server, &rx, payload, &fx, before);
        check_table(&server, &world, cfg, now, false);
    }
});
