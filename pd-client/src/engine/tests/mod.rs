//! Scenario tests with virtual time and a fixed seed.
#![allow(clippy::unwrap_used, clippy::indexing_slicing)]

mod bound;
mod restart;
mod solicit;

use std::net::{Ipv6Addr, SocketAddrV6};

use pd_core::duid::Duid;
use pd_core::time::Timestamp;
use pd_core::wire::{self, IaPd, IaPrefix, Message, MsgType, Status};

use super::{Client, Effect, EngineConfig};

pub(super) const IFINDEX: u32 = 3;
pub(super) const IAID: u32 = 0x0a0b_0c0d;

pub(super) fn client_duid() -> Duid {
    Duid::ll(1, &[2, 0, 0, 0, 0, 1])
}

pub(super) fn server_duid(n: u8) -> Duid {
    Duid::ll(1, &[2, 0, 0, 0, 0xee, n])
}

pub(super) fn server_addr(n: u8) -> SocketAddrV6 {
    SocketAddrV6::new(
        Ipv6Addr::new(0xfe80, 0, 0, 0, 0, 0, 0, u16::from(n)),
        547,
        0,
        IFINDEX,
    )
}

pub(super) fn cfg() -> EngineConfig {
    EngineConfig {
        ifindex: IFINDEX,
        duid: client_duid(),
        iaid: IAID,
        prefix_length: Some(56),
        hint: None,
        rapid_commit: false,
        immediate: false,
    }
}

pub(super) fn iap(p: &str, preferred: u32, valid: u32) -> IaPrefix {
    IaPrefix {
        preferred,
        valid,
        prefix: p.parse().unwrap(),
        status: None,
        options: Vec::new(),
    }
}

pub(super) fn status(code: u16) -> Option<Status> {
    Some(Status {
        code,
        message: String::new(),
    })
}

/// A server message answering `to` from server `n`.
pub(super) fn answer(t: MsgType, to: &Message, n: u8, ia: Option<IaPd>) -> Message {
    let mut m = Message::new(t, to.xid);
    m.client_id = to.client_id.clone();
    m.server_id = Some(server_duid(n));
    m.ia_pd = ia.into_iter().collect();
    m
}

pub(super) fn ia(t1: u32, t2: u32, prefixes: Vec<IaPrefix>) -> IaPd {
    IaPd {
        iaid: IAID,
        t1,
        t2,
        prefixes,
        status: None,
    }
}

/// The messages transmitted, checking where they go.
pub(super) fn transmits(effects: &[Effect]) -> Vec<Message> {
    effects
        .iter()
        .filter_map(|e| match e {
            Effect::Transmit(t) => {
                assert_eq!(*t.to.ip(), wire::ALL_DHCP_RELAY_AGENTS_AND_SERVERS);
                assert_eq!(t.to.port(), 547);
                assert_eq!(t.ifindex, IFINDEX);
                assert!(t.envelope.relays.is_empty());
                Some(t.envelope.msg.clone())
            }
            _ => None,
        })
        .collect()
}

/// The client under test, with a virtual clock.
pub(super) struct H {
    pub c: Client,
    pub now: Timestamp,
}

impl H {
    pub fn new(cfg: EngineConfig, seed: u64) -> Self {
        H {
            c: Client::new(cfg, seed),
            now: Timestamp::ZERO,
        }
    }

    /// Jump to the next timer and run it.
    pub fn step(&mut self) -> Vec<Effect> {
        let t = self.c.poll_timeout().expect("a timer is armed");
        assert!(t >= self.now, "timer in the past: {t:?} < {:?}", self.now);
        self.now = t;
        self.c.handle_timeout(t)
    }

    /// Run timers until one transmits; return its time and message.
    pub fn next_tx(&mut self) -> (Timestamp, Message) {
        for _ in 0..1000 {
            let tx = transmits(&self.step());
            if let Some(m) = tx.into_iter().next() {
                return (self.now, m);
            }
        }
        panic!("no transmission");
    }

    /// Deliver a message from server `n` now.
    pub fn recv(&mut self, n: u8, m: Message) -> Vec<Effect> {
        self.c.handle_message(self.now, server_addr(n), IFINDEX, m)
    }

    /// Advance the clock without reaching a timer.
    pub fn wait_ms(&mut self, ms: u64) {
        let t = self.now.add(std::time::Duration::from_millis(ms));
        if let Some(next) = self.c.poll_timeout() {
            assert!(t < next, "waiting past a timer");
        }
        self.now = t;
    }

    /// Solicit → Advertise → Request → Reply, returning the Reply's effects.
    pub fn bind(&mut self, reply_ia: IaPd) -> Vec<Effect> {
        let effects = self.c.start(self.now, None);
        let sol = match transmits(&effects).into_iter().next() {
            Some(m) => m,
            None => self.next_tx().1,
        };
        assert_eq!(sol.msg_type, MsgType::Solicit);
        let mut adv = answer(MsgType::Advertise, &sol, 1, Some(reply_ia.clone()));
        adv.preference = Some(255);
        let req = transmits(&self.recv(1, adv)).pop().expect("request");
        assert_eq!(req.msg_type, MsgType::Request);
        self.wait_ms(5);
        self.recv(1, answer(MsgType::Reply, &req, 1, Some(reply_ia)))
    }
}
