//! Encoding: typed envelope → datagram, written straight into one buffer.
//!
//! Options come out in ascending code order at every level (RFC 9915 gives
//! option order no meaning; one canonical order makes `decode ∘ encode`
//! stable), same-code options in their given order, and a typed field
//! before kept raw options of the same code. Every option's length is
//! patched in when its body is done and checked against 65,535 octets
//! (RFC 9915 §21.1) innermost first, so an over-long body is refused, never
//! truncated. The bytes equal what dhcproto 0.15 writes for the same message
//! (`tests/wire_prop.rs` checks it against dhcproto as an oracle); we no
//! longer go through dhcproto because building its option model cost more
//! than the rest of the exchange (BENCHMARKS.md §00000).

use super::decode::{RELAY_FORW, RELAY_REPL};
use super::opt;
use super::types::{Envelope, IaAddr, IaPd, IaPrefix, Message, MsgType, RawOption, Status};

/// Why an [`Envelope`] cannot be put on the wire.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EncodeError {
    /// An option body would exceed 65,535 octets (RFC 9915 §21.1).
    #[error("option {0} would be longer than 65535 octets")]
    OptionTooLong(u16),
    /// `MsgType::Other(12|13)`: relay types belong in `Envelope::relays`.
    #[error("message type {0} is a relay type; relays go in Envelope::relays")]
    RelayType(u8),
}

/// Encode an envelope: relays outermost first, each a Relay-Repl when the
/// inner message is a server message (Advertise, Reply, Reconfigure) and a
/// Relay-Forw otherwise (RFC 9915 §9, §19.3).
pub fn try_encode(env: &Envelope) -> Result<Vec<u8>, EncodeError> {
    let code = env.msg.msg_type.code();
    if matches!(env.msg.msg_type, MsgType::Other(RELAY_FORW | RELAY_REPL)) {
        return Err(EncodeError::RelayType(code));
    }
    let relay_type = if env.msg.msg_type.is_from_server() {
        RELAY_REPL
    } else {
        RELAY_FORW
    };
    let mut out = Out {
        buf: Vec::with_capacity(256 + 64 * env.relays.len()),
    };
    // RFC 9915 §9.1/§9.2: each relay header, then its options; the Relay
    // Message option holds the next relay in, or the message.
    let mut open = Vec::with_capacity(env.relays.len());
    for hop in &env.relays {
        out.buf.extend_from_slice(&[relay_type, hop.hop_count]);
        out.buf.extend_from_slice(&hop.link_addr.octets());
        out.buf.extend_from_slice(&hop.peer_addr.octets());
        let mut rest = Raws::new(&hop.other);
        rest.until(&mut out, opt::RELAY_MSG)?;
        open.push((hop, rest, out.open(opt::RELAY_MSG)));
    }
    message(&mut out, &env.msg)?;
    for (hop, mut rest, at) in open.into_iter().rev() {
        out.close(at, opt::RELAY_MSG)?;
        rest.until(&mut out, opt::INTERFACE_ID)?;
        if let Some(id) = &hop.interface_id {
            out.option(opt::INTERFACE_ID, id)?;
        }
        rest.finish(&mut out)?;
    }
    Ok(out.buf)
}

/// [`try_encode`], or an empty datagram if the envelope cannot be
/// represented (an option over 65,535 octets, a relay type as message type):
/// engines never build such messages. Never panics.
pub fn encode(env: &Envelope) -> Vec<u8> {
    try_encode(env).unwrap_or_default()
}

/// A client/server message (RFC 9915 §8): type, transaction id, options.
fn message(out: &mut Out, msg: &Message) -> Result<(), EncodeError> {
    out.buf.push(msg.msg_type.code());
    out.buf.extend_from_slice(&msg.xid);
    let mut rest = Raws::new(&msg.other);
    rest.until(out, opt::CLIENT_ID)?;
    if let Some(d) = &msg.client_id {
        out.option(opt::CLIENT_ID, d.as_bytes())?;
    }
    rest.until(out, opt::SERVER_ID)?;
    if let Some(d) = &msg.server_id {
        out.option(opt::SERVER_ID, d.as_bytes())?;
    }
    rest.until(out, opt::IA_NA)?;
    for ia in msg.ia_addr.iter().filter(|ia| !ia.temporary) {
        ia_addr(out, ia)?;
    }
    rest.until(out, opt::IA_TA)?;
    for ia in msg.ia_addr.iter().filter(|ia| ia.temporary) {
        ia_addr(out, ia)?;
    }
    rest.until(out, opt::ORO)?;
    if !msg.oro.is_empty() {
        let at = out.open(opt::ORO);
        for c in &msg.oro {
            out.buf.extend_from_slice(&c.to_be_bytes());
        }
        out.close(at, opt::ORO)?;
    }
    rest.until(out, opt::PREFERENCE)?;
    if let Some(p) = msg.preference {
        out.option(opt::PREFERENCE, &[p])?;
    }
    rest.until(out, opt::ELAPSED_TIME)?;
    if let Some(e) = msg.elapsed {
        out.option(opt::ELAPSED_TIME, &e.to_be_bytes())?;
    }
    rest.until(out, opt::STATUS_CODE)?;
    status(out, &msg.status)?;
    rest.until(out, opt::RAPID_COMMIT)?;
    if msg.rapid_commit {
        out.option(opt::RAPID_COMMIT, &[])?;
    }
    rest.until(out, opt::RECONF_ACCEPT)?;
    if msg.reconfigure_accept {
        out.option(opt::RECONF_ACCEPT, &[])?;
    }
    rest.until(out, opt::DNS_SERVERS)?;
    if !msg.dns_servers.is_empty() {
        let at = out.open(opt::DNS_SERVERS);
        for a in &msg.dns_servers {
            out.buf.extend_from_slice(&a.octets());
        }
        out.close(at, opt::DNS_SERVERS)?;
    }
    rest.until(out, opt::IA_PD)?;
    for ia in &msg.ia_pd {
        ia_pd(out, ia)?;
    }
    rest.until(out, opt::SOL_MAX_RT)?;
    if let Some(t) = msg.sol_max_rt {
        out.option(opt::SOL_MAX_RT, &t.to_be_bytes())?;
    }
    rest.finish(out)
}

/// IA_NA (RFC 9915 §21.4: IAID, T1, T2) or IA_TA (§21.5: IAID only).
fn ia_addr(out: &mut Out, ia: &IaAddr) -> Result<(), EncodeError> {
    let code = if ia.temporary { opt::IA_TA } else { opt::IA_NA };
    let at = out.open(code);
    out.buf.extend_from_slice(&ia.iaid.to_be_bytes());
    if !ia.temporary {
        out.buf.extend_from_slice(&ia.t1.to_be_bytes());
        out.buf.extend_from_slice(&ia.t2.to_be_bytes());
    }
    status(out, &ia.status)?;
    out.close(at, code)
}

/// IA_PD (RFC 9915 §21.21): IAID, T1, T2, then Status Code (13) before the
/// IA Prefixes (26).
fn ia_pd(out: &mut Out, ia: &IaPd) -> Result<(), EncodeError> {
    let at = out.open(opt::IA_PD);
    out.buf.extend_from_slice(&ia.iaid.to_be_bytes());
    out.buf.extend_from_slice(&ia.t1.to_be_bytes());
    out.buf.extend_from_slice(&ia.t2.to_be_bytes());
    status(out, &ia.status)?;
    for p in &ia.prefixes {
        ia_prefix(out, p)?;
    }
    out.close(at, opt::IA_PD)
}

/// IA Prefix (RFC 9915 §21.22): preferred, valid, length, prefix, options.
fn ia_prefix(out: &mut Out, p: &IaPrefix) -> Result<(), EncodeError> {
    let at = out.open(opt::IAPREFIX);
    out.buf.extend_from_slice(&p.preferred.to_be_bytes());
    out.buf.extend_from_slice(&p.valid.to_be_bytes());
    out.buf.push(p.prefix.len());
    out.buf.extend_from_slice(&p.prefix.addr().octets());
    let mut rest = Raws::new(&p.options);
    rest.until(out, opt::STATUS_CODE)?;
    status(out, &p.status)?;
    rest.finish(out)?;
    out.close(at, opt::IAPREFIX)
}

/// Status Code (RFC 9915 §21.13): code, then the UTF-8 message.
fn status(out: &mut Out, s: &Option<Status>) -> Result<(), EncodeError> {
    let Some(s) = s else { return Ok(()) };
    let at = out.open(opt::STATUS_CODE);
    out.buf.extend_from_slice(&s.code.to_be_bytes());
    out.buf.extend_from_slice(s.message.as_bytes());
    out.close(at, opt::STATUS_CODE)
}

/// The datagram being written.
struct Out {
    buf: Vec<u8>,
}

impl Out {
    /// Start option `code`; the length is patched in by [`Out::close`].
    fn open(&mut self, code: u16) -> usize {
        self.buf.extend_from_slice(&code.to_be_bytes());
        self.buf.extend_from_slice(&[0, 0]);
        self.buf.len()
    }

    /// End the option whose body began at `at`.
    fn close(&mut self, at: usize, code: u16) -> Result<(), EncodeError> {
        let len = self.buf.len().saturating_sub(at);
        let len = u16::try_from(len).map_err(|_| EncodeError::OptionTooLong(code))?;
        if let Some(slot) = self.buf.get_mut(at.saturating_sub(2)..at) {
            slot.copy_from_slice(&len.to_be_bytes());
        }
        Ok(())
    }

    /// A whole option.
    fn option(&mut self, code: u16, body: &[u8]) -> Result<(), EncodeError> {
        let at = self.open(code);
        self.buf.extend_from_slice(body);
        self.close(at, code)
    }
}

/// Kept raw options of one container, handed out in stable code order so
/// they interleave with the typed ones. Lists we built or decoded are
/// already in order and are walked in place; others are sorted once.
struct Raws<'a> {
    list: RawList<'a>,
    next: usize,
}

enum RawList<'a> {
    Sorted(&'a [RawOption]),
    Refs(Vec<&'a RawOption>),
}

impl<'a> Raws<'a> {
    fn new(list: &'a [RawOption]) -> Self {
        let list = if list.is_sorted_by_key(|o| o.code) {
            RawList::Sorted(list)
        } else {
            let mut refs: Vec<&RawOption> = list.iter().collect();
            refs.sort_by_key(|o| o.code); // stable
            RawList::Refs(refs)
        };
        Raws { list, next: 0 }
    }

    fn get(&self, i: usize) -> Option<&'a RawOption> {
        match &self.list {
            RawList::Sorted(s) => s.get(i),
            RawList::Refs(r) => r.get(i).copied(),
        }
    }

    /// Write the options with a code below `code`.
    fn until(&mut self, out: &mut Out, code: u16) -> Result<(), EncodeError> {
        self.write_while(out, |c| c < code)
    }

    /// Write all that are left.
    fn finish(&mut self, out: &mut Out) -> Result<(), EncodeError> {
        self.write_while(out, |_| true)
    }

    fn write_while(
        &mut self,
        out: &mut Out,
        take: impl Fn(u16) -> bool,
    ) -> Result<(), EncodeError> {
        while let Some(o) = self.get(self.next).filter(|o| take(o.code)) {
            out.option(o.code, &o.data)?;
            self.next += 1;
        }
        Ok(())
    }
}
