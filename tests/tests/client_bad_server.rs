//! `pd-client request` against a misbehaving server (a small fake server
//! in the server namespace, written with pd-core's socket and codec): an
//! IA_PD with T1 > T2, an IAPREFIX with preferred > valid (in the Advertise
//! or in the Reply), garbage datagrams, or silence. Every time the client
//! discards what it got, logs why, and exits 3 (no valid answer) once its
//! timeout has passed: an exit code, never a crash.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::sync::Arc;
use std::time::Duration;

use pd_core::duid::Duid;
use pd_core::sys::net::DhcpSocket;
use pd_core::wire::{self, Envelope, IaPd, IaPrefix, Message, MsgType};
use pd_tests::daemon::{ClientConfig, CmdResult, PdClient};
use pd_tests::{ClientLink, Netns, NsTask};

/// What the fake server sends.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Bad {
    /// Advertise whose IA_PD has T1 > T2.
    AdvertiseT1AboveT2,
    /// A good Advertise, then a Reply whose IA_PD has T1 > T2.
    ReplyT1AboveT2,
    /// Advertise whose IAPREFIX has preferred > valid.
    AdvertisePreferredAboveValid,
    /// A good Advertise, then a Reply whose IAPREFIX has preferred > valid.
    ReplyPreferredAboveValid,
    /// Malformed datagrams in answer to every Solicit.
    Garbage,
    /// Nothing at all.
    Silent,
}

/// What the fake server received.
#[derive(Debug, Default)]
struct Seen {
    solicits: u32,
    requests: u32,
    others: u32,
}

/// (T1, T2, preferred, valid).
type Timers = (u32, u32, u32, u32);
const GOOD: Timers = (100, 200, 300, 600);
const T1_ABOVE_T2: Timers = (200, 100, 300, 600);
const PREF_ABOVE_VALID: Timers = (100, 200, 600, 300);

fn server_duid() -> Duid {
    Duid::ll(1, &[2, 0, 0, 0, 0, 1])
}

/// An Advertise or Reply to `req` delegating 2001:db8:4400::/56 with `t`.
fn answer(kind: MsgType, req: &Message, t: Timers) -> Vec<u8> {
    let mut m = Message::new(kind, req.xid);
    m.client_id = req.client_id.clone();
    m.server_id = Some(server_duid());
    let iaid = req.ia_pd.first().map_or(1, |ia| ia.iaid);
    let mut ia = IaPd::new(iaid, t.0, t.1);
    let p = "2001:db8:4400::/56".parse().expect("prefix");
    ia.prefixes.push(IaPrefix::new(p, t.2, t.3));
    m.ia_pd.push(ia);
    wire::try_encode(&Envelope::direct(m)).expect("encode")
}

/// Malformed answers to a Solicit with transaction id `xid`.
fn garbage(xid: [u8; 3]) -> Vec<Vec<u8>> {
    let [x0, x1, x2] = xid;
    let mut out = vec![
        // Shorter than a header.
        vec![2, x0],
        // An option whose length runs past the end.
        vec![2, x0, x1, x2, 0, 1, 0xff, 0xff, 0],
    ];
    // Server Identifier fine, then a 1-byte Status Code (the body must be
    // at least 2 bytes; dhcproto 0.15 panics on this one in debug builds).
    let sid = server_duid();
    let mut m = vec![
        2,
        x0,
        x1,
        x2,
        0,
        2,
        0,
        u8::try_from(sid.as_bytes().len()).expect("len"),
    ];
    m.extend_from_slice(sid.as_bytes());
    m.extend_from_slice(&[0, 13, 0, 1, 0]);
    out.push(m);
    // Pseudo-random bytes after an Advertise header.
    let mut x: u32 = 0x1234_5678;
    let mut r = vec![2, x0, x1, x2];
    for _ in 0..200 {
        x = x.wrapping_mul(1_103_515_245).wrapping_add(12345);
        r.push(x.to_be_bytes()[0]);
    }
    out.push(r);
    out
}

/// Run the fake server on `iface` of `ns` until `stop` is set; returns once
/// it listens.
fn fake_server(ns: &Netns, iface: &str, mode: Bad, stop: Arc<AtomicBool>) -> NsTask<Seen> {
    let iface = iface.to_string();
    let (ready_tx, ready_rx) = mpsc::channel();
    let task = ns.start(move || async move {
        let ifindex = pd_core::sys::net::ifindex(&iface).expect("server interface");
        let sock = DhcpSocket::bind(wire::SERVER_PORT).expect("bind 547");
        sock.join(ifindex).expect("join ff02::1:2");
        ready_tx.send(()).expect("signal ready");
        let mut seen = Seen::default();
        let mut buf = vec![0u8; 65536];
        while !stop.load(Ordering::SeqCst) {
            let info = tokio::select! {
                r = sock.recv(&mut buf) => r.expect("receive"),
                _ = tokio::time::sleep(Duration::from_millis(100)) => continue,
            };
            let bytes = buf.get(..info.len).expect("datagram");
            let Ok(env) = wire::decode(bytes) else {
                seen.others += 1;
                continue;
            };
            let req = env.msg;
            let replies: Vec<Vec<u8>> = match (req.msg_type, mode) {
                (MsgType::Solicit, m) => {
                    seen.solicits += 1;
                    match m {
                        Bad::AdvertiseT1AboveT2 => {
                            vec![answer(MsgType::Advertise, &req, T1_ABOVE_T2)]
                        }
                        Bad::AdvertisePreferredAboveValid => {
                            vec![answer(MsgType::Advertise, &req, PREF_ABOVE_VALID)]
                        }
                        Bad::ReplyT1AboveT2 | Bad::ReplyPreferredAboveValid => {
                            vec![answer(MsgType::Advertise, &req, GOOD)]
                        }
                        Bad::Garbage => garbage(req.xid),
                        Bad::Silent => vec![],
                    }
                }
                (MsgType::Request, m) => {
                    seen.requests += 1;
                    match m {
                        Bad::ReplyT1AboveT2 => vec![answer(MsgType::Reply, &req, T1_ABOVE_T2)],
                        Bad::ReplyPreferredAboveValid => {
                            vec![answer(MsgType::Reply, &req, PREF_ABOVE_VALID)]
                        }
                        _ => vec![],
                    }
                }
                _ => {
                    seen.others += 1;
                    vec![]
                }
            };
            for r in replies {
                sock.send(&r, info.src, info.ifindex).await.expect("send");
            }
        }
        seen
    });
    ready_rx
        .recv_timeout(Duration::from_secs(5))
        .expect("fake server listening");
    task
}

/// Run `request --timeout 3` against a fake server in `mode`; check the
/// exit code, the time it took and that nothing was saved.
fn run(mode: Bad) -> (CmdResult, Seen) {
    let srv = Netns::new("fake");
    let link = ClientLink::new(&srv, 0);
    let stop = Arc::new(AtomicBool::new(false));
    let server = fake_server(&srv, &link.server_if, mode, stop.clone());
    let c = PdClient::new(&link.ns, &ClientConfig::new(&link.client_if));
    let r = c.request(&["--timeout", "3", "--json"]);
    stop.store(true, Ordering::SeqCst);
    let seen = server.join();
    // An exit code (code() panics on a signal), and it is 3.
    r.assert_code(3);
    assert!(
        r.stdout.trim().is_empty(),
        "{mode:?}: stdout {:?}",
        r.stdout
    );
    assert!(
        r.stderr.contains("no server answered within 3 s"),
        "{mode:?}:\n{}",
        r.stderr
    );
    assert!(
        r.elapsed >= Duration::from_secs(3) && r.elapsed < Duration::from_secs(6),
        "{mode:?}: exit after {:?}",
        r.elapsed
    );
    assert!(!r.stderr.contains("panicked"), "{mode:?}:\n{}", r.stderr);
    assert_eq!(
        c.status_json(),
        serde_json::json!([]),
        "{mode:?}: nothing saved"
    );
    assert!(seen.solicits >= 1, "{mode:?}: the server saw {seen:?}");
    (r, seen)
}

fn discards(r: &CmdResult, what: &str, reason: &str) -> usize {
    r.stderr
        .lines()
        .filter(|l| l.contains(what) && l.contains(&format!("reason={reason}")))
        .count()
}

#[test]
fn advertise_with_t1_above_t2_is_discarded() {
    let (r, seen) = run(Bad::AdvertiseT1AboveT2);
    assert!(
        discards(&r, "discarded message", "BadLifetimes") >= 1,
        "{}",
        r.stderr
    );
    // Never acted on: no Request, Solicit retransmitted.
    assert_eq!(seen.requests, 0, "{seen:?}");
    assert!(seen.solicits >= 2, "{seen:?}");
}

#[test]
fn reply_with_t1_above_t2_is_discarded() {
    let (r, seen) = run(Bad::ReplyT1AboveT2);
    assert!(
        seen.requests >= 2,
        "Request retransmitted after the bad Reply: {seen:?}"
    );
    assert!(
        discards(&r, "discarded message", "BadLifetimes") >= 1,
        "{}",
        r.stderr
    );
    assert!(!r.stderr.contains("reply accepted"), "{}", r.stderr);
}

#[test]
fn advertise_with_preferred_above_valid_is_discarded() {
    let (r, seen) = run(Bad::AdvertisePreferredAboveValid);
    assert!(
        discards(&r, "discarded message", "BadLifetimes") >= 1,
        "{}",
        r.stderr
    );
    assert_eq!(seen.requests, 0, "{seen:?}");
    assert!(seen.solicits >= 2, "{seen:?}");
}

#[test]
fn reply_with_preferred_above_valid_is_discarded() {
    let (r, seen) = run(Bad::ReplyPreferredAboveValid);
    assert!(
        seen.requests >= 2,
        "Request retransmitted after the bad Reply: {seen:?}"
    );
    assert!(
        discards(&r, "discarded message", "BadLifetimes") >= 1,
        "{}",
        r.stderr
    );
    assert!(!r.stderr.contains("reply accepted"), "{}", r.stderr);
}

#[test]
fn garbage_datagrams_are_discarded() {
    let (r, seen) = run(Bad::Garbage);
    for reason in ["TooShort", "OptionOverrun", "BadOptionLength"] {
        assert!(
            discards(&r, "discarded datagram", reason) >= 1,
            "no {reason} discard:\n{}",
            r.stderr
        );
    }
    assert_eq!(seen.requests, 0, "{seen:?}");
    assert!(seen.solicits >= 2, "{seen:?}");
}

#[test]
fn silence_ends_in_exit_3() {
    let (r, seen) = run(Bad::Silent);
    assert!(!r.stderr.contains("received"), "{}", r.stderr);
    assert!(seen.solicits >= 2, "Solicit retransmitted: {seen:?}");
    assert_eq!(seen.requests, 0, "{seen:?}");
}
