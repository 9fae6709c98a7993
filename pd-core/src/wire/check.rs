//! RFC 9915 §16 message validation: what a server accepts from clients and
//! what a client accepts from servers, after decoding.

use super::types::{Discard, IaPd, Message, MsgType};
use crate::duid::Duid;

/// The checks a server applies to a message from a client (RFC 9915 §16).
///
/// T1/T2 and IAPREFIX lifetimes sent by a client are hints only: RFC 9915
/// §21.21 says the server MUST ignore T1/T2 received from a client, so an
/// IA_PD with T1 > T2 (or an IAPREFIX with preferred > valid) is accepted
/// here and the engine simply does not use those values.
pub fn check_from_client(msg: &Message, server_duid: &Duid) -> Result<(), Discard> {
    match msg.msg_type {
        // RFC 9915 §16.2 (Solicit), §16.5 (Confirm), §16.7 (Rebind): discard
        // without a Client Identifier or with a Server Identifier.
        MsgType::Solicit | MsgType::Confirm | MsgType::Rebind => {
            require_client_id(msg)?;
            if msg.server_id.is_some() {
                return Err(Discard::UnexpectedServerId);
            }
            Ok(())
        }
        // RFC 9915 §16.4 (Request), §16.6 (Renew), §16.8 (Decline), §16.9
        // (Release): discard without a Client Identifier, without a Server
        // Identifier, or with a Server Identifier that is not ours.
        MsgType::Request | MsgType::Renew | MsgType::Decline | MsgType::Release => {
            require_client_id(msg)?;
            match &msg.server_id {
                None => Err(Discard::MissingServerId),
                Some(id) if id != server_duid => Err(Discard::NotForUs),
                Some(_) => Ok(()),
            }
        }
        // RFC 9915 §16.12: discard if a Server Identifier is present and not
        // ours, or if the message carries an IA option.
        MsgType::InformationRequest => {
            if msg.server_id.as_ref().is_some_and(|id| id != server_duid) {
                return Err(Discard::NotForUs);
            }
            if !msg.ia_pd.is_empty() || !msg.ia_addr.is_empty() {
                return Err(Discard::ForbiddenOption);
            }
            Ok(())
        }
        // RFC 9915 §16: servers discard Advertise, Reply, Reconfigure (sent
        // only by servers) and types they do not implement.
        MsgType::Advertise | MsgType::Reply | MsgType::Reconfigure | MsgType::Other(_) => {
            Err(Discard::UnexpectedType)
        }
    }
}

fn require_client_id(msg: &Message) -> Result<(), Discard> {
    msg.client_id
        .as_ref()
        .map(|_| ())
        .ok_or(Discard::MissingClientId)
}

/// The checks a client applies to an Advertise or Reply (RFC 9915 §16.3,
/// §16.10): type, transaction id, Server Identifier present, Client
/// Identifier present and ours. Reconfigure is not supported: it is
/// [`Discard::UnexpectedType`] like every other type.
pub fn check_from_server(msg: &Message, client_duid: &Duid, xid: [u8; 3]) -> Result<(), Discard> {
    if !matches!(msg.msg_type, MsgType::Advertise | MsgType::Reply) {
        return Err(Discard::UnexpectedType);
    }
    // RFC 9915 §16.3 / §16.10: discard on a transaction-id mismatch, a
    // missing Server Identifier, a missing or foreign Client Identifier.
    if msg.xid != xid {
        return Err(Discard::WrongXid);
    }
    if msg.server_id.is_none() {
        return Err(Discard::MissingServerId);
    }
    match &msg.client_id {
        None => Err(Discard::MissingClientId),
        Some(id) if id != client_duid => Err(Discard::NotForUs),
        Some(_) => Ok(()),
    }
}

/// What a client keeps of an IA_PD received from a server: `None` if T1 > T2
/// with T2 non-zero (RFC 9915 §21.21: discard the IA_PD, process the rest of
/// the message), otherwise the IA_PD without the IAPREFIXes whose preferred
/// lifetime exceeds the valid lifetime (§21.22). An IA_PD left with no
/// prefixes is still returned (its status may matter).
pub fn sanitize_ia_pd(ia: &IaPd) -> Option<IaPd> {
    if ia.t2 != 0 && ia.t1 > ia.t2 {
        return None;
    }
    let mut out = ia.clone();
    out.prefixes.retain(|p| p.preferred <= p.valid);
    Some(out)
}
