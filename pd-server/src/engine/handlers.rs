//! One function per client message type (RFC 9915 §18.3).

use std::net::SocketAddrV6;

use pd_core::effect::{HookAction, Transmit};
use pd_core::prefix::Prefix;
use pd_core::time::Timestamp;
use pd_core::wire::{
    self, status, Envelope, IaAddr, IaPd, IaPrefix, Message, MsgType, RelayHop, Status,
};

use super::env::MessageNames;
use super::{Drop, Effect, Rx, Server};
use crate::lease::{ClientKey, LeaseState};

/// DNS Recursive Name Server option code (RFC 3646).
const OPTION_DNS_SERVERS: u16 = 23;

/// What to do with the IA_PDs of a message.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// Advertise: choose, commit nothing.
    Offer,
    /// Request / Rapid Commit: choose and bind.
    Bind,
}

pub(super) fn handle(
    s: &mut Server,
    now: Timestamp,
    rx: &Rx,
    env: Envelope,
) -> Result<Vec<Effect>, Drop> {
    let Envelope { relays, msg } = env;
    // RFC 9915 §16: per-type discard rules (client id, server id, IA options).
    wire::check_from_client(&msg, &s.settings.duid).map_err(Drop::Wire)?;
    let cands = candidates(s, rx, &relays);
    let mut fx = Vec::new();
    let reply = match msg.msg_type {
        MsgType::Solicit => {
            // RFC 9915 §18.3.1: Rapid Commit when both sides want it.
            let rapid = msg.rapid_commit && s.settings.rapid_commit;
            let mode = if rapid { Mode::Bind } else { Mode::Offer };
            let names = names(&msg, if rapid { "REPLY" } else { "ADVERTISE" });
            let ias = assign_all(s, now, rx, &msg, &cands, mode, &names, &mut fx);
            let mut r = answer(
                s,
                &msg,
                if rapid {
                    MsgType::Reply
                } else {
                    MsgType::Advertise
                },
            );
            r.rapid_commit = rapid;
            if !rapid {
                r.preference = s.settings.preference;
            }
            r.ia_pd = ias;
            r
        }
        MsgType::Request => {
            // RFC 9915 §18.3.2.
            let names = names(&msg, "REPLY");
            let ias = assign_all(s, now, rx, &msg, &cands, Mode::Bind, &names, &mut fx);
            let mut r = answer(s, &msg, MsgType::Reply);
            r.ia_pd = ias;
            r
        }
        MsgType::Renew | MsgType::Rebind => {
            let names = names(&msg, "REPLY");
            let rebind = msg.msg_type == MsgType::Rebind;
            let ias = msg
                .ia_pd
                .iter()
                .map(|ia| extend(s, now, rx, &msg, ia, &cands, rebind, &names, &mut fx))
                .collect();
            let mut r = answer(s, &msg, MsgType::Reply);
            r.ia_pd = ias;
            r
        }
        MsgType::Release | MsgType::Decline => {
            let release = msg.msg_type == MsgType::Release;
            let mut r = answer(s, &msg, MsgType::Reply);
            r.ia_addr = msg
                .ia_addr
                .iter()
                .map(|ia| ia_addr_status(ia, status::NO_BINDING))
                .collect();
            for ia in &msg.ia_pd {
                let key = key(&msg, ia.iaid)?;
                let bound = s.table.active_of(&key);
                match bound {
                    // RFC 9915 §18.3.7: release the binding's prefix.
                    Some(p) if release => {
                        if let Some(l) = s.table.deactivate(&p, LeaseState::Released) {
                            tracing::info!(prefix = %p, duid = %key.duid, iaid = key.iaid, "lease released");
                            fx.push(Effect::Persist(l.clone()));
                            s.withdraw(&l, HookAction::Delete, now, &mut fx);
                        }
                    }
                    // RFC 9915 §18.3.8: Decline concerns addresses; a bound
                    // IA_PD is left as it is.
                    Some(_) => {}
                    // RFC 9915 §18.3.7/§18.3.8: NoBinding in that IA only.
                    None => r.ia_pd.push(empty_ia(
                        ia.iaid,
                        status::NO_BINDING,
                        "no binding for this IA_PD",
                    )),
                }
            }
            r.status = Some(Status {
                code: status::SUCCESS,
                message: if release {
                    "release received"
                } else {
                    "decline received"
                }
                .into(),
            });
            r
        }
        MsgType::InformationRequest => answer(s, &msg, MsgType::Reply),
        // RFC 9915 §18.3.3: a Confirm with no addresses gets no Reply; we
        // manage no addresses.
        MsgType::Confirm => return Err(Drop::Confirm),
        _ => return Err(Drop::Wire(wire::Discard::UnexpectedType)),
    };
    let reply = fill_addr_ias(reply, &msg);
    fx.push(Effect::Transmit(transmit(rx, relays, reply)));
    Ok(fx)
}

/// The pools that serve this client's link, in configuration order: for a
/// relayed client the pools whose `link` holds the innermost non-zero
/// link-address, for a direct one the pools tied to the ingress interface;
/// then the pools tied to no link.
fn candidates(s: &Server, rx: &Rx, relays: &[RelayHop]) -> Vec<usize> {
    let cfgs = &s.table.cfgs;
    let mut out: Vec<usize> = Vec::with_capacity(cfgs.len());
    if relays.is_empty() {
        out.extend(
            cfgs.iter()
                .enumerate()
                .filter(|(_, c)| c.interface.as_deref() == Some(&*rx.iface))
                .map(|(i, _)| i),
        );
    } else {
        // RFC 9915 §19.1.1: the innermost relay's link-address identifies the
        // client's link; a relay with :: defers to the next one out.
        let link = relays
            .iter()
            .rev()
            .map(|r| r.link_addr)
            .find(|a| !a.is_unspecified());
        if let Some(a) = link {
            out.extend(
                cfgs.iter()
                    .enumerate()
                    .filter(|(_, c)| c.link.is_some_and(|l| l.contains_addr(a)))
                    .map(|(i, _)| i),
            );
        }
    }
    out.extend(
        cfgs.iter()
            .enumerate()
            .filter(|(_, c)| c.interface.is_none() && c.link.is_none())
            .map(|(i, _)| i),
    );
    out
}

fn key(msg: &Message, iaid: u32) -> Result<ClientKey, Drop> {
    let duid = msg
        .client_id
        .clone()
        .ok_or(Drop::Wire(wire::Discard::MissingClientId))?;
    Ok(ClientKey { duid, iaid })
}

fn names(msg: &Message, server: &'static str) -> MessageNames {
    let client = match msg.msg_type {
        MsgType::Solicit => "SOLICIT",
        MsgType::Request => "REQUEST",
        MsgType::Renew => "RENEW",
        MsgType::Rebind => "REBIND",
        MsgType::Release => "RELEASE",
        _ => "",
    };
    MessageNames { client, server }
}

/// The skeleton of our answer: type, xid, client and server ids, DNS.
fn answer(s: &Server, msg: &Message, t: MsgType) -> Message {
    let mut r = Message::new(t, msg.xid);
    r.client_id = msg.client_id.clone();
    r.server_id = Some(s.settings.duid.clone());
    // RFC 9915 §21.7: options the client asked for in its ORO.
    if msg.oro.contains(&OPTION_DNS_SERVERS) {
        r.dns_servers = s.settings.dns_servers.clone();
    }
    r
}

/// RFC 9915 §18.3.1/§18.3.2: IA_NA and IA_TA get NoAddrsAvail (we delegate
/// prefixes only); Release/Decline filled their own.
fn fill_addr_ias(mut r: Message, msg: &Message) -> Message {
    if r.ia_addr.is_empty()
        && !matches!(
            msg.msg_type,
            MsgType::Release | MsgType::Decline | MsgType::InformationRequest
        )
    {
        r.ia_addr = msg
            .ia_addr
            .iter()
            .map(|ia| ia_addr_status(ia, status::NO_ADDRS_AVAIL))
            .collect();
    }
    r
}

fn ia_addr_status(ia: &IaAddr, code: u16) -> IaAddr {
    IaAddr {
        temporary: ia.temporary,
        iaid: ia.iaid,
        t1: 0,
        t2: 0,
        status: Some(Status {
            code,
            message: if code == status::NO_BINDING {
                "no binding"
            } else {
                "this server delegates prefixes only"
            }
            .into(),
        }),
    }
}

fn empty_ia(iaid: u32, code: u16, message: &str) -> IaPd {
    IaPd {
        iaid,
        t1: 0,
        t2: 0,
        prefixes: Vec::new(),
        status: Some(Status {
            code,
            message: message.into(),
        }),
    }
}

/// Candidate pools reordered so those matching the client's length hint
/// come first (RFC 9915 §18.3.1: hints are honoured when possible).
fn by_length_hint(s: &Server, ia: &IaPd, cands: &[usize]) -> Vec<usize> {
    let hint = ia.prefixes.iter().map(|p| p.prefix.len()).find(|l| *l != 0);
    let mut v = cands.to_vec();
    if let Some(len) = hint {
        v.sort_by_key(|&i| {
            s.table
                .cfgs
                .get(i)
                .map(|c| c.delegated_len != len)
                .unwrap_or(true)
        });
    }
    v
}

#[allow(clippy::too_many_arguments)]
fn assign_all(
    s: &mut Server,
    now: Timestamp,
    rx: &Rx,
    msg: &Message,
    cands: &[usize],
    mode: Mode,
    names: &MessageNames,
    fx: &mut Vec<Effect>,
) -> Vec<IaPd> {
    msg.ia_pd
        .iter()
        .map(|ia| match key(msg, ia.iaid) {
            Ok(k) => assign(s, now, rx, &k, ia, cands, mode, names, fx),
            Err(_) => empty_ia(ia.iaid, status::NO_PREFIX_AVAIL, "no client identifier"),
        })
        .collect()
}

/// Choose (and in Bind mode commit) a prefix for one IA_PD.
#[allow(clippy::too_many_arguments)]
fn assign(
    s: &mut Server,
    now: Timestamp,
    rx: &Rx,
    k: &ClientKey,
    ia: &IaPd,
    cands: &[usize],
    mode: Mode,
    names: &MessageNames,
    fx: &mut Vec<Effect>,
) -> IaPd {
    let order = by_length_hint(s, ia, cands);
    let hints: Vec<Prefix> = ia.prefixes.iter().map(|p| p.prefix).collect();
    let Some(choice) = s.table.choose(k, &hints, &order) else {
        // RFC 9915 §18.3.1 / §18.3.2: NoPrefixAvail inside the IA_PD.
        tracing::info!(duid = %k.duid, iaid = k.iaid, iface = %rx.iface, "no prefix available");
        return empty_ia(ia.iaid, status::NO_PREFIX_AVAIL, "no prefixes available");
    };
    bind_or_offer(s, now, rx, k, ia.iaid, choice, mode, names, fx)
}

#[allow(clippy::too_many_arguments)]
fn bind_or_offer(
    s: &mut Server,
    now: Timestamp,
    rx: &Rx,
    k: &ClientKey,
    iaid: u32,
    choice: super::Choice,
    mode: Mode,
    names: &MessageNames,
    fx: &mut Vec<Effect>,
) -> IaPd {
    let Some(cfg) = s.table.cfgs.get(choice.pool).cloned() else {
        return empty_ia(iaid, status::NO_PREFIX_AVAIL, "no prefixes available");
    };
    if mode == Mode::Bind {
        // One prefix per IA_PD: a different active prefix of `k` (e.g. the
        // client moved to a link its old pool does not serve) is released
        // with its effects, so the store and the routes follow the table.
        if let Some(old) = s.table.active_of(k).filter(|p| *p != choice.prefix) {
            if let Some(l) = s.table.deactivate(&old, LeaseState::Released) {
                tracing::info!(prefix = %old, duid = %k.duid, iaid, "binding replaced");
                fx.push(Effect::Persist(l.clone()));
                s.withdraw(&l, HookAction::Delete, now, fx);
            }
        }
        let next_hop = cfg.next_hop.unwrap_or(*rx.src.ip());
        let (lease, new) = s.table.commit(
            k,
            choice,
            now.deadline(cfg.preferred),
            now.deadline(cfg.valid),
            next_hop,
            &rx.iface,
        );
        if new {
            tracing::info!(prefix = %lease.prefix, duid = %k.duid, iaid, via = %next_hop, iface = %rx.iface, "prefix delegated");
        }
        fx.push(Effect::Persist(lease.clone()));
        let action = if new {
            HookAction::Add
        } else {
            HookAction::Update
        };
        s.install(&lease, Some((action, names)), now, fx);
    }
    IaPd {
        iaid,
        t1: cfg.t1,
        t2: cfg.t2,
        prefixes: vec![IaPrefix {
            preferred: cfg.preferred,
            valid: cfg.valid,
            prefix: choice.prefix,
            status: None,
            options: Vec::new(),
        }],
        status: None,
    }
}

/// Renew (RFC 9915 §18.3.4) and Rebind (§18.3.5) of one IA_PD.
#[allow(clippy::too_many_arguments)]
fn extend(
    s: &mut Server,
    now: Timestamp,
    rx: &Rx,
    msg: &Message,
    ia: &IaPd,
    cands: &[usize],
    rebind: bool,
    names: &MessageNames,
    fx: &mut Vec<Effect>,
) -> IaPd {
    let Ok(k) = key(msg, ia.iaid) else {
        return empty_ia(ia.iaid, status::NO_BINDING, "no client identifier");
    };
    let choice = match s.table.active_of(&k) {
        Some(p) => s
            .table
            .pool_of(&p)
            .map(|pool| super::Choice { prefix: p, pool }),
        // §18.3.5: for an unknown binding whose prefix is appropriate for the
        // link (in a pool serving it and free), re-create the binding: the
        // client keeps its prefix after we lost state. Renew (§18.3.4)
        // answers NoBinding instead and the client goes back to Request.
        None if rebind => ia.prefixes.iter().find_map(|p| {
            s.table
                .claimable(&k, &p.prefix, cands)
                .map(|pool| super::Choice {
                    prefix: p.prefix,
                    pool,
                })
        }),
        None => None,
    };
    let Some(choice) = choice else {
        if rebind && !ia.prefixes.is_empty() {
            // §18.3.5: leases not appropriate for the link: lifetimes 0.
            return zero_lifetimes(ia);
        }
        return empty_ia(ia.iaid, status::NO_BINDING, "no binding for this IA_PD");
    };
    let mut out = bind_or_offer(s, now, rx, &k, ia.iaid, choice, Mode::Bind, names, fx);
    // §18.3.4: prefixes the client holds that are not in its binding are
    // returned with lifetimes 0 so it stops using them.
    out.prefixes.extend(
        ia.prefixes
            .iter()
            .filter(|p| p.prefix != choice.prefix && !p.prefix.addr().is_unspecified())
            .map(|p| IaPrefix {
                preferred: 0,
                valid: 0,
                prefix: p.prefix,
                status: None,
                options: Vec::new(),
            }),
    );
    out
}

fn zero_lifetimes(ia: &IaPd) -> IaPd {
    IaPd {
        iaid: ia.iaid,
        t1: 0,
        t2: 0,
        prefixes: ia
            .prefixes
            .iter()
            .filter(|p| !p.prefix.addr().is_unspecified())
            .map(|p| IaPrefix {
                preferred: 0,
                valid: 0,
                prefix: p.prefix,
                status: None,
                options: Vec::new(),
            })
            .collect(),
        status: None,
    }
}

/// Address the reply: straight back to a direct client; to the relay
/// (port 547) wrapped in Relay-Repl with each Interface-Id echoed
/// (RFC 9915 §19.3).
fn transmit(rx: &Rx, relays: Vec<RelayHop>, reply: Message) -> Transmit {
    let relays = relays
        .into_iter()
        .map(|h| RelayHop {
            other: Vec::new(),
            ..h
        })
        .collect();
    let to = SocketAddrV6::new(*rx.src.ip(), rx.src.port(), 0, 0);
    Transmit {
        to,
        ifindex: rx.ifindex,
        envelope: Envelope { relays, msg: reply },
    }
}
