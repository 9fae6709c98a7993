//! `sys::net` sockets across a veth pair between two namespaces.
#![allow(clippy::indexing_slicing)]

use std::net::{Ipv6Addr, SocketAddrV6};

use pd_core::sys::net::{
    DhcpSocket, IcmpSocket, ALL_DHCP_RELAY_AGENTS_AND_SERVERS, ALL_ROUTERS, CLIENT_PORT,
    SERVER_PORT,
};
use pd_tests::{link_local_of, veth, within, Netns};
use tokio::sync::oneshot;

const MAC_S: &str = "02:00:00:00:00:01";
const MAC_C: &str = "02:00:00:00:00:02";

/// Server namespace (s0) ↔ client namespace (c0), link-locals usable.
struct Pair {
    srv: Netns,
    cli: Netns,
    s_idx: u32,
    c_idx: u32,
    s_ll: Ipv6Addr,
    c_ll: Ipv6Addr,
}

fn pair(tag: &str) -> Pair {
    let srv = Netns::new(&format!("{tag}s"));
    let cli = Netns::new(&format!("{tag}c"));
    veth(&srv, "s0", MAC_S, &cli, "c0", MAC_C);
    let (s_ll, c_ll) = (link_local_of(MAC_S), link_local_of(MAC_C));
    srv.wait_addr("s0", s_ll);
    cli.wait_addr("c0", c_ll);
    Pair {
        s_idx: srv.ifindex("s0"),
        c_idx: cli.ifindex("c0"),
        srv,
        cli,
        s_ll,
        c_ll,
    }
}

#[test]
fn dhcp_multicast_in_unicast_reply_out_and_drain() {
    let p = pair("udp");
    let (ready_tx, ready_rx) = oneshot::channel::<()>();
    let (sent_tx, sent_rx) = oneshot::channel::<()>();
    let (s_idx, c_idx, s_ll, c_ll) = (p.s_idx, p.c_idx, p.s_ll, p.c_ll);

    let server = p.srv.start(move || async move {
        let sock = DhcpSocket::bind(SERVER_PORT).expect("bind 547");
        sock.join(s_idx).expect("join ff02::1:2");
        sock.join(s_idx).expect("joining twice is fine");
        ready_tx.send(()).expect("client waiting");
        let mut buf = vec![0u8; 65535];
        let info = within(10, "server recv", sock.recv(&mut buf))
            .await
            .expect("recv");
        assert_eq!(&buf[..info.len], b"solicit");
        assert_eq!(info.ifindex, s_idx);
        assert_eq!(*info.src.ip(), c_ll);
        assert_eq!(info.src.port(), CLIENT_PORT);
        assert_eq!(info.dst, ALL_DHCP_RELAY_AGENTS_AND_SERVERS);
        sock.send(b"advertise", info.src, info.ifindex)
            .await
            .expect("reply");

        // A batch queued while we were away drains with try_recv, in order.
        within(10, "client batch", sent_rx)
            .await
            .expect("client sent batch");
        let mut got = Vec::new();
        while let Some(i) = sock.try_recv(&mut buf).expect("try_recv") {
            got.push(buf[..i.len].to_vec());
        }
        assert_eq!(got, vec![b"m1".to_vec(), b"m2".to_vec(), b"m3".to_vec()]);
        assert!(sock.try_recv(&mut buf).expect("try_recv").is_none());
    });

    let client = p.cli.start(move || async move {
        within(10, "server ready", ready_rx)
            .await
            .expect("server up");
        let sock = DhcpSocket::bind(CLIENT_PORT).expect("bind 546");
        let to = SocketAddrV6::new(ALL_DHCP_RELAY_AGENTS_AND_SERVERS, SERVER_PORT, 0, 0);
        sock.send(b"solicit", to, c_idx)
            .await
            .expect("send multicast");
        let mut buf = vec![0u8; 65535];
        let info = within(10, "client recv", sock.recv(&mut buf))
            .await
            .expect("recv");
        assert_eq!(&buf[..info.len], b"advertise");
        assert_eq!(*info.src.ip(), s_ll);
        assert_eq!(info.src.port(), SERVER_PORT);
        assert_eq!(info.dst, c_ll);
        assert_eq!(info.ifindex, c_idx);
        for m in [&b"m1"[..], b"m2", b"m3"] {
            sock.send(m, to, c_idx).await.expect("send batch");
        }
        // Let them cross the link before telling the server to look.
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
        sent_tx.send(()).expect("server waiting");
    });
    client.join();
    server.join();
}

/// An RS: type 133, code 0, checksum (kernel), reserved carrying a marker.
fn rs(marker: u8) -> [u8; 8] {
    [133, 0, 0, 0, 0, 0, 0, marker]
}

#[test]
fn icmp_rs_hop_limit_255_and_ra_back() {
    let p = pair("icmp");
    let (ready_tx, ready_rx) = oneshot::channel::<()>();
    let (s_idx, c_idx, s_ll, c_ll) = (p.s_idx, p.c_idx, p.s_ll, p.c_ll);

    let server = p.srv.start(move || async move {
        let sock = IcmpSocket::new().expect("icmp socket");
        sock.join_all_routers(s_idx).expect("join ff02::2");
        sock.join_all_routers(s_idx).expect("joining twice is fine");
        ready_tx.send(()).expect("client waiting");
        let mut buf = [0u8; 1500];
        let info = loop {
            let i = within(10, "rs", sock.recv(&mut buf)).await.expect("recv");
            if buf[0] == 133 {
                break i;
            }
        };
        // The hop-limit-64 RS sent first never shows up.
        // (bytes 2..4 are the checksum the kernel filled in)
        assert_eq!(info.len, 8);
        assert_eq!(buf[4..8], rs(2)[4..8], "first RS seen");
        assert_ne!(buf[2..4], [0, 0], "checksum filled in");
        assert_eq!(info.hop_limit, 255);
        assert_eq!(info.src, c_ll);
        assert_eq!(info.dst, ALL_ROUTERS);
        assert_eq!(info.ifindex, s_idx);
        // Answer with a (minimal) RA, unicast from our link-local.
        let ra = [134, 0, 0, 0, 64, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0];
        sock.send(&ra, info.src, info.ifindex, Some(s_ll))
            .await
            .expect("send ra");
    });

    let client = p.cli.start(move || async move {
        let sock = IcmpSocket::new().expect("icmp socket");
        within(10, "server ready", ready_rx)
            .await
            .expect("server up");
        // An RS with hop limit 64: not from this link as far as ND goes.
        let low = socket2::Socket::new(
            socket2::Domain::IPV6,
            socket2::Type::RAW,
            Some(socket2::Protocol::ICMPV6),
        )
        .expect("raw socket");
        low.set_multicast_hops_v6(64).expect("hops");
        low.set_multicast_if_v6(c_idx).expect("multicast if");
        let dst = SocketAddrV6::new(ALL_ROUTERS, 0, 0, c_idx);
        low.send_to(&rs(1), &dst.into()).expect("send hop-64 rs");
        sock.send(&rs(2), ALL_ROUTERS, c_idx, None)
            .await
            .expect("send rs");
        let mut buf = [0u8; 1500];
        let info = loop {
            let i = within(10, "ra", sock.recv(&mut buf)).await.expect("recv");
            if buf[0] == 134 {
                break i;
            }
        };
        assert_eq!(info.len, 16);
        assert_eq!(info.hop_limit, 255);
        assert_eq!(info.src, s_ll);
        assert_eq!(info.dst, c_ll);
        assert_eq!(info.ifindex, c_idx);
    });
    client.join();
    server.join();
}
