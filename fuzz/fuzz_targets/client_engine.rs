//! The sans-IO client fed a script of server datagrams with advancing
//! virtual time, timeouts, releases and restarts.
//!
//! Input: frames of `[time] [op] [len: u16 BE] [len bytes of UDP payload]`
//! (the last frame takes what is left when `len` runs past the end).
//! - `time`: advance by bits 0-6, in 100 ms units, or in 60 s units when
//!   bit 7 is set;
//! - `op` bits 0-1: then 1 = jump to `poll_timeout()` and `handle_timeout`,
//!   2 = `handle_timeout(now)`, 3 = `release(now)`; bit 2: restart (a new
//!   engine started from the lease the effects saved); bit 3: overwrite the
//!   payload's transaction id with the one of our last transmission (so
//!   mutated Advertise/Reply messages reach the state machine); bit 4: the
//!   server answers from a global address; bit 5: received on another
//!   interface.
//!
//! Never panics, and after every step:
//! - every Transmit goes to All_DHCP_Relay_Agents_and_Servers:547 on our
//!   interface, re-encodes and decodes to itself, carries our DUID and IAID
//!   and passes a server's RFC 9915 §16 checks;
//! - the lease the effects saved (`Save`) is the engine's lease, and the
//!   prefixes the effects put in use (`Bound`/`Extended`/`Lost`) are the
//!   lease's;
//! - a lease has prefixes, T1 ≤ T2, and none past its valid lifetime after
//!   `handle_timeout(now)`; Bound/Renewing/Rebinding hold a lease;
//! - an exchange in progress always has a next timeout, and after
//!   `handle_timeout(now)` nothing is due at `now` any more (no busy loop).
#![no_main]

use std::collections::BTreeSet;
use std::net::{Ipv6Addr, SocketAddrV6};

use libfuzzer_sys::fuzz_target;
use pd_client::engine::{Client, Effect, EngineConfig, Lease, State};
use pd_core::duid::Duid;
use pd_core::prefix::Prefix;
use pd_core::time::Timestamp;
use pd_core::wire::{
    check_from_client, decode, try_encode, MsgType, ALL_DHCP_RELAY_AGENTS_AND_SERVERS, SERVER_PORT,
};

const IFINDEX: u32 = 2;
const SEED: u64 = 0x5eed;

/// The synthetic goldens' client: their Advertise/Reply are for us.
fn config() -> EngineConfig {
    EngineConfig {
        ifindex: IFINDEX,
        duid: Duid::llt(1, 0x2a2b_2c2d, &[2, 0, 0, 0, 0, 0x0a]),
        iaid: 1,
        prefix_length: Some(56),
        hint: None,
        rapid_commit: true,
        immediate: false,
    }
}

/// What the effects told the driver.
#[derive(Default)]
struct World {
    saved: Option<Lease>,
    in_use: BTreeSet<Prefix>,
    xid: Option<[u8; 3]>,
}

impl World {
    fn apply(&mut self, c: &Client, fx: &[Effect]) {
        let cfg = c.config();
        for e in fx {
            match e {
                Effect::Transmit(t) => {
                    check_transmit(cfg, t);
                    self.xid = Some(t.envelope.msg.xid);
                }
                Effect::Bound { old, new } => {
                    if let Some(o) = old {
                        for p in o.prefix_list() {
                            self.in_use.remove(&p);
                        }
                    }
                    self.in_use.extend(new.prefix_list());
                }
                Effect::Extended(l) => {
                    let now: BTreeSet<Prefix> = l.prefix_list().into_iter().collect();
                    assert_eq!(self.in_use, now, "Extended changed the prefixes");
                }
                Effect::Lost { prefixes, .. } => {
                    for p in prefixes {
                        self.in_use.remove(p);
                    }
                }
                Effect::Save(l) => self.saved = l.clone(),
                Effect::NoPrefixAvail | Effect::ReleaseDone => {}
            }
        }
    }
}

fn check_transmit(cfg: &EngineConfig, t: &pd_core::effect::Transmit) {
    assert_eq!(
        t.to,
        SocketAddrV6::new(ALL_DHCP_RELAY_AGENTS_AND_SERVERS, SERVER_PORT, 0, 0)
    );
    assert_eq!(t.ifindex, cfg.ifindex);
    assert!(t.envelope.relays.is_empty());
    let bytes = try_encode(&t.envelope).expect("our message encodes");
    assert_eq!(
        decode(&bytes).as_ref(),
        Ok(&t.envelope),
        "our message does not decode to itself"
    );
    let m = &t.envelope.msg;
    assert_eq!(m.client_id.as_ref(), Some(&cfg.duid));
    assert!(m.ia_pd.iter().all(|ia| ia.iaid == cfg.iaid));
    assert!(matches!(
        m.msg_type,
        MsgType::Solicit | MsgType::Request | MsgType::Renew | MsgType::Rebind | MsgType::Release
    ));
    // A server whose DUID is the one we address accepts it (RFC 9915 §16).
    let server = m.server_id.clone().unwrap_or_else(|| Duid::ll(1, &[0; 6]));
    assert_eq!(check_from_client(m, &server), Ok(()), "{m:?}");
}

fn check_state(c: &Client, w: &World, now: Timestamp, after_timeout: bool) {
    assert_eq!(
        w.saved.as_ref(),
        c.lease(),
        "saved lease differs from the engine's"
    );
    let lease_prefixes: BTreeSet<Prefix> = c
        .lease()
        .map(|l| l.prefix_list().into_iter().collect())
        .unwrap_or_default();
    assert_eq!(
        w.in_use, lease_prefixes,
        "prefixes in use differ from the lease"
    );
    if let Some(l) = c.lease() {
        assert!(!l.prefixes.is_empty(), "a lease without prefixes");
        assert!(l.t1 <= l.t2, "T1 {} > T2 {}", l.t1, l.t2);
        assert!(l.prefixes.iter().all(|p| p.preferred <= p.valid));
        if after_timeout {
            assert!(
                l.prefixes.iter().all(|p| p.valid_until() > now),
                "an expired prefix is still held"
            );
        }
    }
    let state = c.state();
    if matches!(state, State::Bound | State::Renewing | State::Rebinding) {
        assert!(c.lease().is_some(), "{state:?} without a lease");
    }
    if matches!(
        state,
        State::Soliciting
            | State::Requesting
            | State::Renewing
            | State::Rebinding
            | State::Releasing
    ) {
        assert!(c.poll_timeout().is_some(), "{state:?} with no timeout");
    }
    if after_timeout {
        if let Some(t) = c.poll_timeout() {
            assert!(t > now, "{state:?}: timeout {t:?} still due at {now:?}");
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let mut now = Timestamp::from_secs(1);
    let mut c = Client::new(config(), SEED);
    let mut w = World::default();
    let fx = c.start(now, None);
    w.apply(&c, &fx);
    check_state(&c, &w, now, false);

    let mut rest = data;
    while let Some((&time, tail)) = rest.split_first() {
        let (op, len, tail) = match tail {
            [op, hi, lo, tail @ ..] => (*op, usize::from(u16::from_be_bytes([*hi, *lo])), tail),
            _ => (0, 0, &[][..]),
        };
        let (payload, tail) = tail.split_at(len.min(tail.len()));
        rest = tail;

        let step = u64::from(time & 0x7f);
        now = if time & 0x80 != 0 {
            now.add_secs(60 * step)
        } else {
            Timestamp::from_millis(now.as_millis().saturating_add(100 * step))
        };
        if op & 0x04 != 0 {
            // Restart: a new engine from what was saved; the driver withdraws
            // nothing it did not see lost, so the prefixes in use carry over
            // only through the saved lease.
            c = Client::new(config(), SEED ^ now.as_millis());
            w.in_use.clear();
            let fx = c.start(now, w.saved.clone());
            w.apply(&c, &fx);
            check_state(&c, &w, now, false);
        }
        match op & 0x03 {
            1 | 2 => {
                if op & 0x03 == 1 {
                    if let Some(t) = c.poll_timeout() {
                        now = now.max(t);
                    }
                }
                let fx = c.handle_timeout(now);
                w.apply(&c, &fx);
                check_state(&c, &w, now, true);
            }
            3 => {
                let fx = c.release(now);
                w.apply(&c, &fx);
                check_state(&c, &w, now, false);
            }
            _ => {}
        }
        let mut payload = payload.to_vec();
        if op & 0x08 != 0 {
            if let (Some(xid), Some(b)) = (w.xid, payload.get_mut(1..4)) {
                b.copy_from_slice(&xid);
            }
        }
        let from = if op & 0x10 != 0 {
            SocketAddrV6::new(
                Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 0x547),
                547,
                0,
                0,
            )
        } else {
            SocketAddrV6::new(
                Ipv6Addr::new(0xfe80, 0, 0, 0, 0, 0xff, 0xfe00, 0x0b),
                547,
                0,
                0,
            )
        };
        let ifindex = if op & 0x20 != 0 { 9 } else { IFINDEX };
        // As the driver does: decode at the boundary, relay messages dropped.
        if let Ok(env) = decode(&payload) {
            if env.relays.is_empty() {
                let fx = c.handle_message(now, from, ifindex, env.msg);
                w.apply(&c, &fx);
                check_state(&c, &w, now, false);
            }
        }
    }
});
