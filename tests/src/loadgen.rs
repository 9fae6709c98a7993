//! A DHCPv6-PD load generator for the tests: many simulated requesting
//! routers over one UDP socket (port 546) inside a namespace, each doing
//! Solicit → Advertise → Request → Reply, recording every prefix a Reply
//! granted. Used by the crash-safety test: what a client was told it has
//! must survive a server crash.

use std::collections::HashMap;
use std::net::SocketAddrV6;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use pd_core::duid::Duid;
use pd_core::prefix::Prefix;
use pd_core::sys::net::DhcpSocket;
use pd_core::wire::{self, Envelope, IaPd, IaPrefix, Message, MsgType};

/// A binding a Reply acknowledged.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Acked {
    /// Client DUID.
    pub duid: Duid,
    /// IAID.
    pub iaid: u32,
    /// The prefix the Reply granted.
    pub prefix: Prefix,
}

/// What a run did.
#[derive(Debug, Default)]
pub struct LoadReport {
    /// Every binding a Reply granted, in order.
    pub acked: Vec<Acked>,
    /// Solicits sent.
    pub solicits: u64,
    /// Requests sent.
    pub requests: u64,
    /// Exchanges abandoned (no answer in time).
    pub abandoned: u64,
}

enum Step {
    Soliciting,
    Requesting,
}

struct Pending {
    duid: Duid,
    step: Step,
    since: Instant,
}

const SERVER: SocketAddrV6 = SocketAddrV6::new(wire::ALL_DHCP_RELAY_AGENTS_AND_SERVERS, 547, 0, 0);

/// Run `window` concurrent clients (DUID-EN 9 / `tag` / counter) on
/// interface `ifindex` until `stop` is set; an exchange unanswered for
/// 300 ms is abandoned and a new client starts.
pub async fn run(ifindex: u32, tag: u16, window: usize, stop: Arc<AtomicBool>) -> LoadReport {
    let sock = DhcpSocket::bind(546).expect("bind [::]:546");
    let mut report = LoadReport::default();
    let mut pending: HashMap<[u8; 3], Pending> = HashMap::new();
    let mut next: u32 = 0;
    let mut buf = vec![0u8; 65536];
    while !stop.load(Ordering::SeqCst) {
        while pending.len() < window {
            next += 1;
            let mut id = tag.to_be_bytes().to_vec();
            id.extend_from_slice(&next.to_be_bytes());
            let duid = Duid::en(9, &id);
            let xid = xid_of(next, 0);
            let mut m = Message::new(MsgType::Solicit, xid);
            m.client_id = Some(duid.clone());
            m.elapsed = Some(0);
            m.ia_pd = vec![IaPd::new(1, 0, 0)];
            send(&sock, ifindex, m).await;
            report.solicits += 1;
            pending.insert(
                xid,
                Pending {
                    duid,
                    step: Step::Soliciting,
                    since: Instant::now(),
                },
            );
        }
        match tokio::time::timeout(Duration::from_millis(50), sock.recv(&mut buf)).await {
            Ok(Ok(info)) => {
                let Ok(env) = wire::decode(buf.get(..info.len).unwrap_or_default()) else {
                    continue;
                };
                let msg = env.msg;
                let Some(p) = pending.remove(&msg.xid) else {
                    continue;
                };
                let granted = msg
                    .ia_pd
                    .first()
                    .and_then(|ia| ia.prefixes.first())
                    .map(|x| x.prefix);
                match (p.step, msg.msg_type, granted) {
                    (Step::Soliciting, MsgType::Advertise, Some(offer)) => {
                        let xid = [msg.xid[0], msg.xid[1], msg.xid[2] ^ 0x80];
                        let mut r = Message::new(MsgType::Request, xid);
                        r.client_id = Some(p.duid.clone());
                        r.server_id = msg.server_id.clone();
                        r.elapsed = Some(0);
                        let mut ia = IaPd::new(1, 0, 0);
                        ia.prefixes.push(IaPrefix::new(offer, 0, 0));
                        r.ia_pd = vec![ia];
                        send(&sock, ifindex, r).await;
                        report.requests += 1;
                        pending.insert(
                            xid,
                            Pending {
                                duid: p.duid,
                                step: Step::Requesting,
                                since: Instant::now(),
                            },
                        );
                    }
                    (Step::Requesting, MsgType::Reply, Some(prefix)) => {
                        report.acked.push(Acked {
                            duid: p.duid,
                            iaid: 1,
                            prefix,
                        });
                    }
                    _ => report.abandoned += 1,
                }
            }
            Ok(Err(e)) => panic!("loadgen receive: {e}"),
            Err(_) => {}
        }
        let before = pending.len();
        pending.retain(|_, p| p.since.elapsed() < Duration::from_millis(300));
        report.abandoned += (before - pending.len()) as u64;
    }
    report
}

/// Renew each binding once (with the server's DUID); returns, per binding,
/// the prefix the Reply carried with a non-zero valid lifetime (None: no
/// answer to six tries or no such prefix). From an ephemeral port (pd-server answers the
/// source port), so another client on port 546 in the namespace cannot
/// take the replies.
pub async fn renew_all(ifindex: u32, server_duid: &Duid, acked: &[Acked]) -> Vec<Option<Prefix>> {
    let sock = DhcpSocket::bind(0).expect("bind an ephemeral port");
    let mut buf = vec![0u8; 65536];
    let mut out = Vec::with_capacity(acked.len());
    for (i, a) in acked.iter().enumerate() {
        let xid = xid_of(u32::try_from(i).unwrap_or(0), 0x40);
        let mut m = Message::new(MsgType::Renew, xid);
        m.client_id = Some(a.duid.clone());
        m.server_id = Some(server_duid.clone());
        m.elapsed = Some(0);
        let mut ia = IaPd::new(a.iaid, 0, 0);
        ia.prefixes.push(IaPrefix::new(a.prefix, 0, 0));
        m.ia_pd = vec![ia];
        let mut got = None;
        'tries: for _ in 0..6 {
            send(&sock, ifindex, m.clone()).await;
            let deadline = tokio::time::Instant::now() + Duration::from_millis(500);
            while let Ok(Ok(info)) = tokio::time::timeout_at(deadline, sock.recv(&mut buf)).await {
                let Ok(env) = wire::decode(buf.get(..info.len).unwrap_or_default()) else {
                    continue;
                };
                if env.msg.xid == xid && env.msg.msg_type == MsgType::Reply {
                    got = env
                        .msg
                        .ia_pd
                        .iter()
                        .flat_map(|ia| ia.prefixes.iter())
                        .find(|p| p.valid > 0)
                        .map(|p| p.prefix);
                    break 'tries;
                }
            }
        }
        out.push(got);
    }
    out
}

fn xid_of(n: u32, salt: u8) -> [u8; 3] {
    let b = n.to_be_bytes();
    [b[1] ^ salt, b[2], b[3] & 0x7f]
}

async fn send(sock: &DhcpSocket, ifindex: u32, m: Message) {
    let bytes = wire::encode(&Envelope::direct(m));
    sock.send(&bytes, SERVER, ifindex)
        .await
        .expect("send to ff02::1:2");
}
