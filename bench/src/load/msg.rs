//! The four messages of a prefix-only exchange, built and read by hand (a
//! load generator must cost less than the server it loads). RFC 9915 §21
//! (options), §21.21 (IA_PD), §21.22 (IA Prefix), §21.13 (Status Code).

/// Message types (RFC 9915 §7.3).
pub const SOLICIT: u8 = 1;
pub const ADVERTISE: u8 = 2;
pub const REQUEST: u8 = 3;
pub const REPLY: u8 = 7;

const OPT_CLIENTID: u16 = 1;
const OPT_SERVERID: u16 = 2;
const OPT_ELAPSED_TIME: u16 = 8;
const OPT_STATUS_CODE: u16 = 13;
const OPT_IA_PD: u16 = 25;
const OPT_IAPREFIX: u16 = 26;

/// The IAID every generated client uses (one IA_PD per client).
const IAID: u32 = 1;

/// A DUID-LL (RFC 9915 §11.4) unique to client `n` of run `tag`.
pub fn duid(tag: u16, n: u32) -> [u8; 10] {
    let [t0, t1] = tag.to_be_bytes();
    let [a, b, c, d] = n.to_be_bytes();
    [0, 3, 0, 1, t0, t1, a, b, c, d]
}

fn option(out: &mut Vec<u8>, code: u16, data: &[u8]) {
    out.extend_from_slice(&code.to_be_bytes());
    out.extend_from_slice(&u16::try_from(data.len()).unwrap_or(u16::MAX).to_be_bytes());
    out.extend_from_slice(data);
}

fn header(out: &mut Vec<u8>, kind: u8, xid: u32, duid: &[u8]) {
    out.clear();
    out.push(kind);
    out.extend_from_slice(&xid.to_be_bytes()[1..]);
    option(out, OPT_CLIENTID, duid);
    option(out, OPT_ELAPSED_TIME, &[0, 0]);
}

/// A Solicit asking for one prefix (IA_PD with T1 = T2 = 0).
pub fn solicit(out: &mut Vec<u8>, xid: u32, duid: &[u8]) {
    header(out, SOLICIT, xid, duid);
    let mut ia = [0u8; 12];
    ia[..4].copy_from_slice(&IAID.to_be_bytes());
    option(out, OPT_IA_PD, &ia);
}

/// A Request for what an Advertise offered: its Server Identifier and its
/// IA_PD, option for option.
pub fn request(out: &mut Vec<u8>, xid: u32, duid: &[u8], adv: &Offer<'_>) {
    header(out, REQUEST, xid, duid);
    option(out, OPT_SERVERID, adv.server_id);
    option(out, OPT_IA_PD, adv.ia_pd);
}

/// What an Advertise or a Reply carries that the generator needs.
#[derive(Debug, PartialEq, Eq)]
pub struct Offer<'a> {
    pub kind: u8,
    pub xid: u32,
    pub server_id: &'a [u8],
    /// The IA_PD option's data.
    pub ia_pd: &'a [u8],
}

/// Options of `data` as (code, body); stops at the first malformed one.
fn options(mut data: &[u8]) -> impl Iterator<Item = (u16, &[u8])> {
    std::iter::from_fn(move || {
        let (head, rest) = data.split_first_chunk::<4>()?;
        let code = u16::from_be_bytes([head[0], head[1]]);
        let len = usize::from(u16::from_be_bytes([head[2], head[3]]));
        let body = rest.get(..len)?;
        data = rest.get(len..).unwrap_or_default();
        Some((code, body))
    })
}

fn status_ok(body: &[u8]) -> bool {
    body.get(..2) == Some(&[0, 0])
}

/// Read a server message: `None` unless it is an Advertise or Reply with a
/// Server Identifier and an IA_PD holding a prefix with a non-zero valid
/// lifetime, and no failure status at the top or in the IA_PD.
pub fn read(msg: &[u8]) -> Option<Offer<'_>> {
    let (&kind, rest) = msg.split_first()?;
    let xid = u32::from_be_bytes([0, *rest.first()?, *rest.get(1)?, *rest.get(2)?]);
    let (mut server_id, mut ia_pd) = (None, None);
    for (code, body) in options(rest.get(3..)?) {
        match code {
            OPT_SERVERID => server_id = Some(body),
            OPT_IA_PD => ia_pd = Some(body),
            OPT_STATUS_CODE if !status_ok(body) => return None,
            _ => {}
        }
    }
    let ia_pd = ia_pd?;
    let mut granted = false;
    for (code, body) in options(ia_pd.get(12..)?) {
        match code {
            OPT_STATUS_CODE if !status_ok(body) => return None,
            OPT_IAPREFIX => granted |= body.get(4..8).is_some_and(|v| v != [0, 0, 0, 0]),
            _ => {}
        }
    }
    (granted && (kind == ADVERTISE || kind == REPLY)).then_some(Offer {
        kind,
        xid,
        server_id: server_id?,
        ia_pd,
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;

    fn ia_pd(valid: u32, status: Option<u16>) -> Vec<u8> {
        let mut ia = vec![0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0];
        let mut p = vec![0, 0, 14, 16];
        p.extend_from_slice(&valid.to_be_bytes());
        p.push(64);
        p.extend_from_slice(&[0x20, 1, 0xd, 0xb8, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0]);
        option(&mut ia, OPT_IAPREFIX, &p);
        if let Some(s) = status {
            option(&mut ia, OPT_STATUS_CODE, &s.to_be_bytes());
        }
        ia
    }

    fn server_msg(kind: u8, ia: &[u8]) -> Vec<u8> {
        let mut m = vec![kind, 0x12, 0x34, 0x56];
        option(&mut m, OPT_CLIENTID, &duid(7, 9));
        option(&mut m, OPT_SERVERID, &[0, 3, 0, 1, 2, 0, 0, 0, 0, 1]);
        option(&mut m, OPT_IA_PD, ia);
        m
    }

    #[test]
    fn a_request_echoes_the_offer() {
        let ia = ia_pd(7200, None);
        let adv_bytes = server_msg(ADVERTISE, &ia);
        let adv = read(&adv_bytes).unwrap();
        assert_eq!(adv.kind, ADVERTISE);
        assert_eq!(adv.xid, 0x123456);
        assert_eq!(adv.ia_pd, &ia[..]);
        let mut out = Vec::new();
        request(&mut out, 0xabcdef, &duid(7, 9), &adv);
        assert_eq!(&out[..4], &[REQUEST, 0xab, 0xcd, 0xef]);
        let opts: Vec<_> = options(&out[4..]).map(|(c, _)| c).collect();
        assert_eq!(
            opts,
            [OPT_CLIENTID, OPT_ELAPSED_TIME, OPT_SERVERID, OPT_IA_PD]
        );
        assert!(out.ends_with(&ia));
    }

    #[test]
    fn a_solicit_is_well_formed() {
        let mut out = Vec::new();
        solicit(&mut out, 0x010203, &duid(1, 2));
        assert_eq!(&out[..4], &[SOLICIT, 1, 2, 3]);
        let opts: Vec<_> = options(&out[4..]).collect();
        assert_eq!(opts.len(), 3);
        assert_eq!(opts[0], (OPT_CLIENTID, &duid(1, 2)[..]));
        assert_eq!(opts[2].0, OPT_IA_PD);
        assert_eq!(opts[2].1.len(), 12);
    }

    #[test]
    fn refusals_and_garbage_are_not_offers() {
        assert!(read(&server_msg(REPLY, &ia_pd(7200, None))).is_some());
        assert!(read(&server_msg(REPLY, &ia_pd(0, None))).is_none());
        assert!(read(&server_msg(REPLY, &ia_pd(7200, Some(6)))).is_none());
        assert!(read(&server_msg(SOLICIT, &ia_pd(7200, None))).is_none());
        let mut top = server_msg(REPLY, &ia_pd(7200, None));
        option(&mut top, OPT_STATUS_CODE, &[0, 2]);
        assert!(read(&top).is_none());
        let whole = server_msg(REPLY, &ia_pd(7200, None));
        for cut in 0..whole.len() {
            // Truncated: never a panic; an IA_PD cut short is no offer.
            let _ = read(&whole[..cut]);
        }
        assert!(read(&[]).is_none());
    }
}
