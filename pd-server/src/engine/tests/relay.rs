//! Relayed clients: nesting, Interface-Id, pool by link-address, next hop.

use super::*;
use pd_core::wire::RelayHop;

const T0: Timestamp = Timestamp::ZERO;

fn hop(n: u8, link: &str, iid: Option<&[u8]>) -> RelayHop {
    RelayHop {
        hop_count: n,
        link_addr: link.parse().unwrap(),
        peer_addr: ll(100 + n),
        interface_id: iid.map(|x| x.to_vec()),
        other: Vec::new(),
    }
}

fn relay_rx() -> Rx {
    Rx {
        src: SocketAddrV6::new("2001:db8:ffff::7".parse().unwrap(), 40000, 0, 0),
        dst: "2001:db8:ffff::1".parse().unwrap(),
        ifindex: 3,
        iface: Arc::from("eth1"),
    }
}

#[test]
fn relayed_two_deep_picks_pool_by_innermost_link_and_echoes_interface_ids() {
    let text = format!("{CONFIG}\n[[pool]]\nprefix = \"2001:db8:4400::/40\"\ndelegated-length = 56\nlink = \"2001:db8:1::/64\"\n");
    let mut s = server(&text);
    let relays = vec![
        hop(1, "2001:db8:9::1", Some(b"outer")),
        hop(0, "2001:db8:1::1", Some(b"inner")),
    ];
    let m = msg(MsgType::Request, 1, vec![ia(1, &[])]);
    let fx = s.handle_message(T0, &relay_rx(), Envelope { relays, msg: m });
    let tx = fx
        .iter()
        .find_map(|e| match e {
            Effect::Transmit(t) => Some(t.clone()),
            _ => None,
        })
        .unwrap();
    assert_eq!(
        tx.to,
        SocketAddrV6::new("2001:db8:ffff::7".parse().unwrap(), 547, 0, 0)
    );
    assert_eq!(tx.envelope.relays.len(), 2);
    assert_eq!(
        tx.envelope.relays[0].interface_id.as_deref(),
        Some(&b"outer"[..])
    );
    assert_eq!(
        tx.envelope.relays[1].interface_id.as_deref(),
        Some(&b"inner"[..])
    );
    assert_eq!(tx.envelope.relays[1].peer_addr, ll(100));
    assert_eq!(granted(&tx.envelope.msg, 0), p("2001:db8:4400::/56"));
    // The return route goes via the relay that sent us the datagram.
    assert!(fx.iter().any(|e| matches!(e, Effect::RouteAdd(r) if r.gateway == "2001:db8:ffff::7".parse::<Ipv6Addr>().unwrap())));
}

#[test]
fn relayed_from_unknown_link_uses_unrestricted_pools_and_direct_clients_skip_link_pools() {
    let text = format!("{CONFIG}\n[[pool]]\nprefix = \"2001:db8:4400::/40\"\ndelegated-length = 56\nlink = \"2001:db8:1::/64\"\n");
    let mut s = server(&text);
    let fx = s.handle_message(
        T0,
        &relay_rx(),
        Envelope {
            relays: vec![hop(0, "2001:db8:5::1", None)],
            msg: msg(MsgType::Request, 1, vec![ia(1, &[])]),
        },
    );
    assert_eq!(granted(&sent(&fx), 0), p("2001:db8:2222::/64"));
    // A direct client asking for /56 does not get the relay-only pool.
    let m = sent(&s.handle_message(
        T0,
        &rx(2),
        env(msg(MsgType::Request, 2, vec![ia(1, &["::/56"])])),
    ));
    assert_eq!(granted(&m, 0).len(), 64);
}

#[test]
fn interface_pools_serve_their_link_only() {
    let text = CONFIG.replace(
        "valid-lifetime = 7200",
        "valid-lifetime = 7200\ninterface = \"eth2\"",
    );
    let mut s = server(&text);
    let m = sent(&s.handle_message(T0, &rx(1), env(msg(MsgType::Request, 1, vec![ia(1, &[])]))));
    assert_eq!(
        m.ia_pd[0].status.as_ref().unwrap().code,
        pd_core::wire::status::NO_PREFIX_AVAIL
    );
    let mut r = rx(1);
    r.iface = Arc::from("eth2");
    let m = sent(&s.handle_message(T0, &r, env(msg(MsgType::Request, 1, vec![ia(1, &[])]))));
    assert_eq!(granted(&m, 0), p("2001:db8:2222::/64"));
}

#[test]
fn relay_source_port_option_is_honoured() {
    let mut s = server(CONFIG);
    let mut h = hop(0, "2001:db8:1::1", None);
    h.other.push(pd_core::wire::RawOption {
        code: 135,
        data: vec![0x9c, 0x40],
    });
    let fx = s.handle_message(
        T0,
        &relay_rx(),
        Envelope {
            relays: vec![h],
            msg: msg(MsgType::Solicit, 1, vec![ia(1, &[])]),
        },
    );
    let tx = fx
        .iter()
        .find_map(|e| match e {
            Effect::Transmit(t) => Some(t.clone()),
            _ => None,
        })
        .unwrap();
    assert_eq!(tx.to.port(), 40000);
    assert!(tx.envelope.relays[0].other.is_empty());
}
