//! Checks on Advertise and Reply messages (RFC 9915 §16.3, §16.10, §21.21,
//! §21.22). Pure functions over typed messages.

use pd_core::wire::{status, Discard, IaPd, Message};

pub use pd_core::wire::check_from_server;

/// An IA_PD as the client may use it, or why it was dropped:
/// [`pd_core::wire::sanitize_ia_pd`] (RFC 9915 §21.21: T1 > T2 with both
/// non-zero drops the IA_PD; §21.22: preferred > valid drops the IAPREFIX),
/// and also IAPREFIXes of length 0 (a delegation of the whole address
/// space means nothing) or carrying an error status.
pub fn sanitize_ia_pd(ia: &IaPd) -> Result<IaPd, Discard> {
    let mut out = pd_core::wire::sanitize_ia_pd(ia).ok_or(Discard::BadLifetimes)?;
    out.prefixes.retain(|p| {
        !p.prefix.is_empty() && p.status.as_ref().is_none_or(|s| s.code == status::SUCCESS)
    });
    Ok(out)
}

/// What a message says about our IA_PD.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum IaOutcome {
    /// No usable IA_PD with our IAID (absent, or dropped for this reason).
    Missing(Option<Discard>),
    /// The IA_PD carries this non-success status code.
    Status(u16),
    /// Success, but no prefix with a non-zero valid lifetime.
    Empty(IaPd),
    /// Success with at least one live prefix.
    Prefixes(IaPd),
}

/// Find and sanitize the IA_PD with `iaid` in `msg`.
pub fn our_ia(msg: &Message, iaid: u32) -> IaOutcome {
    let Some(raw) = msg.ia_pd.iter().find(|ia| ia.iaid == iaid) else {
        return IaOutcome::Missing(None);
    };
    let ia = match sanitize_ia_pd(raw) {
        Ok(ia) => ia,
        Err(d) => return IaOutcome::Missing(Some(d)),
    };
    if let Some(s) = ia.status.as_ref().filter(|s| s.code != status::SUCCESS) {
        return IaOutcome::Status(s.code);
    }
    if ia.prefixes.iter().any(|p| p.valid != 0) {
        IaOutcome::Prefixes(ia)
    } else if ia.prefixes.len() < raw.prefixes.len() {
        // Every prefix offered was malformed: as if the IA_PD were absent.
        IaOutcome::Missing(Some(Discard::BadLifetimes))
    } else {
        IaOutcome::Empty(ia)
    }
}

/// The top-level Status Code, SUCCESS when absent.
pub fn top_status(msg: &Message) -> u16 {
    msg.status.as_ref().map_or(status::SUCCESS, |s| s.code)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;
    use pd_core::duid::Duid;
    use pd_core::wire::{IaPrefix, MsgType, Status};

    fn iap(p: &str, preferred: u32, valid: u32) -> IaPrefix {
        IaPrefix {
            preferred,
            valid,
            prefix: p.parse().expect("prefix"),
            status: None,
            options: Vec::new(),
        }
    }

    #[test]
    fn header_checks() {
        let me = Duid::ll(1, &[2, 0, 0, 0, 0, 1]);
        let other = Duid::ll(1, &[2, 0, 0, 0, 0, 2]);
        let mut m = Message::new(MsgType::Reply, [1, 2, 3]);
        assert_eq!(
            check_from_server(&m, &me, [1, 2, 4]),
            Err(Discard::WrongXid)
        );
        assert_eq!(
            check_from_server(&m, &me, [1, 2, 3]),
            Err(Discard::MissingServerId)
        );
        m.server_id = Some(other.clone());
        assert_eq!(
            check_from_server(&m, &me, [1, 2, 3]),
            Err(Discard::MissingClientId)
        );
        m.client_id = Some(other);
        assert_eq!(
            check_from_server(&m, &me, [1, 2, 3]),
            Err(Discard::NotForUs)
        );
        m.client_id = Some(me.clone());
        assert_eq!(check_from_server(&m, &me, [1, 2, 3]), Ok(()));
    }

    #[test]
    fn ia_rules() {
        let mut m = Message::new(MsgType::Reply, [0; 3]);
        assert_eq!(our_ia(&m, 7), IaOutcome::Missing(None));
        let good = IaPd {
            iaid: 7,
            t1: 10,
            t2: 20,
            prefixes: vec![
                iap("2001:db8::/56", 30, 20),
                iap("::/0", 1, 2),
                iap("2001:db8:1::/56", 10, 20),
            ],
            status: None,
        };
        m.ia_pd = vec![
            IaPd {
                iaid: 8,
                ..good.clone()
            },
            good.clone(),
        ];
        match our_ia(&m, 7) {
            IaOutcome::Prefixes(ia) => {
                assert_eq!(ia.prefixes.len(), 1);
                assert_eq!(ia.prefixes[0].prefix.to_string(), "2001:db8:1::/56");
            }
            other => panic!("{other:?}"),
        }
        m.ia_pd = vec![IaPd {
            t1: 21,
            ..good.clone()
        }];
        assert_eq!(
            our_ia(&m, 7),
            IaOutcome::Missing(Some(Discard::BadLifetimes))
        );
        // T2 of 0 lets T1 be anything.
        m.ia_pd = vec![IaPd {
            t1: 21,
            t2: 0,
            ..good.clone()
        }];
        assert!(matches!(our_ia(&m, 7), IaOutcome::Prefixes(_)));
        m.ia_pd = vec![IaPd {
            status: Some(Status {
                code: status::NO_PREFIX_AVAIL,
                message: String::new(),
            }),
            prefixes: vec![],
            ..good.clone()
        }];
        assert_eq!(our_ia(&m, 7), IaOutcome::Status(status::NO_PREFIX_AVAIL));
        m.ia_pd = vec![IaPd {
            prefixes: vec![iap("2001:db8::/56", 0, 0)],
            ..good
        }];
        assert!(matches!(our_ia(&m, 7), IaOutcome::Empty(_)));
    }
}
