//! The client's view of its delegation: prefixes with lifetimes counted from
//! the Reply that last updated each one, and the T1/T2 times.

use std::net::Ipv6Addr;

use pd_core::duid::Duid;
use pd_core::prefix::Prefix;
use pd_core::time::{scale_lifetime, Timestamp, INFINITY};
use pd_core::wire::IaPd;

/// One delegated prefix.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LeasedPrefix {
    /// The prefix.
    pub prefix: Prefix,
    /// Preferred lifetime as received, seconds.
    pub preferred: u32,
    /// Valid lifetime as received, seconds.
    pub valid: u32,
    /// When the Reply carrying these lifetimes arrived (lifetimes count from here).
    pub updated: Timestamp,
}

impl LeasedPrefix {
    /// End of the preferred lifetime.
    pub fn preferred_until(&self) -> Timestamp {
        self.updated.deadline(self.preferred)
    }

    /// End of the valid lifetime.
    pub fn valid_until(&self) -> Timestamp {
        self.updated.deadline(self.valid)
    }

    /// Remaining (preferred, valid) seconds at `now`.
    pub fn remaining(&self, now: Timestamp) -> (u32, u32) {
        (
            now.remaining_secs(self.preferred_until()),
            now.remaining_secs(self.valid_until()),
        )
    }
}

/// The delegation of one IA_PD.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Lease {
    /// IA_PD identifier.
    pub iaid: u32,
    /// DUID of the server that last answered.
    pub server_id: Duid,
    /// Source address of that server's Reply.
    pub server_addr: Ipv6Addr,
    /// Effective T1 (seconds after `updated`), after the 0 → client-choice rule.
    pub t1: u32,
    /// Effective T2 (seconds after `updated`).
    pub t2: u32,
    /// When the last Reply arrived.
    pub updated: Timestamp,
    /// Delegated prefixes (never empty in a lease handed out by the engine).
    pub prefixes: Vec<LeasedPrefix>,
    /// DNS recursive name servers from the server (option 23), if any.
    pub dns_servers: Vec<Ipv6Addr>,
}

impl Lease {
    /// Time to send Renew.
    pub fn renew_at(&self) -> Timestamp {
        self.updated.deadline(self.t1)
    }

    /// Time to send Rebind.
    pub fn rebind_at(&self) -> Timestamp {
        self.updated.deadline(self.t2)
    }

    /// End of the last valid lifetime ([`Timestamp::NEVER`] if any is infinite).
    pub fn expires_at(&self) -> Timestamp {
        self.prefixes
            .iter()
            .map(LeasedPrefix::valid_until)
            .max()
            .unwrap_or(Timestamp::ZERO)
    }

    /// The earliest end of a valid lifetime.
    pub fn first_expiry(&self) -> Option<Timestamp> {
        self.prefixes.iter().map(LeasedPrefix::valid_until).min()
    }

    /// The delegated prefixes, in order.
    pub fn prefix_list(&self) -> Vec<Prefix> {
        self.prefixes.iter().map(|p| p.prefix).collect()
    }

    /// Same set of prefixes (order ignored)?
    pub fn same_prefixes(&self, other: &Lease) -> bool {
        let mut a = self.prefix_list();
        let mut b = other.prefix_list();
        a.sort();
        b.sort();
        a == b
    }

    /// Remove the prefixes whose valid lifetime has ended at `now`; return them.
    pub fn expire(&mut self, now: Timestamp) -> Vec<Prefix> {
        let (gone, kept): (Vec<_>, Vec<_>) = std::mem::take(&mut self.prefixes)
            .into_iter()
            .partition(|p| p.valid_until() <= now);
        self.prefixes = kept;
        gone.into_iter().map(|p| p.prefix).collect()
    }

    /// Apply a (sanitized) IA_PD from a Reply received at `now` to `prev`
    /// (or to nothing), per RFC 9915 §18.2.10.1: add new prefixes, update
    /// the lifetimes of known ones, drop those with valid lifetime 0, leave
    /// the others unchanged. The result may have no prefixes.
    pub fn merge(
        prev: Option<&Lease>,
        now: Timestamp,
        server_id: Duid,
        server_addr: Ipv6Addr,
        ia: &IaPd,
        dns: &[Ipv6Addr],
    ) -> Lease {
        let mut prefixes: Vec<LeasedPrefix> = prev
            .filter(|l| l.iaid == ia.iaid)
            .map(|l| l.prefixes.clone())
            .unwrap_or_default();
        for p in &ia.prefixes {
            prefixes.retain(|q| q.prefix != p.prefix);
            // RFC 9915 §18.2.10.1: discard leases with a valid lifetime of 0.
            if p.valid != 0 {
                prefixes.push(LeasedPrefix {
                    prefix: p.prefix,
                    preferred: p.preferred,
                    valid: p.valid,
                    updated: now,
                });
            }
        }
        // RFC 9915 §18.2.10.1: T1/T2 counted from the reception of the Reply.
        let shortest = prefixes
            .iter()
            .map(|p| {
                let (pref, valid) = p.remaining(now);
                if pref == 0 {
                    valid
                } else {
                    pref
                }
            })
            .min()
            .unwrap_or(INFINITY);
        let (t1, t2) = effective_t1_t2(ia.t1, ia.t2, shortest);
        let dns_servers = if dns.is_empty() {
            prev.map(|l| l.dns_servers.clone()).unwrap_or_default()
        } else {
            dns.to_vec()
        };
        Lease {
            iaid: ia.iaid,
            server_id,
            server_addr,
            t1,
            t2,
            updated: now,
            prefixes,
            dns_servers,
        }
    }
}

/// T1/T2 to use. RFC 9915 §21.21: a T1 or T2 of 0 leaves the time to the
/// client; following §14.2 we use 0.5 and 0.8 of `shortest`, the shortest
/// preferred lifetime of the IA's prefixes (the valid lifetime where a
/// preferred lifetime is 0). T1 never exceeds T2.
pub fn effective_t1_t2(t1: u32, t2: u32, shortest: u32) -> (u32, u32) {
    let t1 = if t1 == 0 {
        scale_lifetime(shortest, 1, 2)
    } else {
        t1
    };
    let t2 = if t2 == 0 {
        scale_lifetime(shortest, 4, 5)
    } else {
        t2
    };
    (t1.min(t2), t2)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;
    use pd_core::wire::IaPrefix;

    fn iap(p: &str, preferred: u32, valid: u32) -> IaPrefix {
        IaPrefix {
            preferred,
            valid,
            prefix: p.parse().expect("prefix"),
            status: None,
            options: Vec::new(),
        }
    }

    fn ia(t1: u32, t2: u32, prefixes: Vec<IaPrefix>) -> IaPd {
        IaPd {
            iaid: 1,
            t1,
            t2,
            prefixes,
            status: None,
        }
    }

    #[test]
    fn zero_t1_t2_use_shortest_preferred() {
        assert_eq!(effective_t1_t2(0, 0, 1000), (500, 800));
        assert_eq!(effective_t1_t2(100, 0, 1000), (100, 800));
        // Only T2 given and smaller than the computed T1: T1 follows it.
        assert_eq!(effective_t1_t2(0, 300, 1000), (300, 300));
        assert_eq!(effective_t1_t2(0, 0, INFINITY), (INFINITY, INFINITY));
        // Through merge: the shortest preferred lifetime; valid where preferred is 0.
        let sid = Duid::ll(1, &[2, 0, 0, 0, 0, 9]);
        let l = Lease::merge(
            None,
            Timestamp::ZERO,
            sid.clone(),
            Ipv6Addr::LOCALHOST,
            &ia(
                0,
                0,
                vec![
                    iap("2001:db8::/56", 4000, 8000),
                    iap("2001:db8:1::/56", 1000, 9000),
                ],
            ),
            &[],
        );
        assert_eq!((l.t1, l.t2), (500, 800));
        let l = Lease::merge(
            None,
            Timestamp::ZERO,
            sid,
            Ipv6Addr::LOCALHOST,
            &ia(0, 0, vec![iap("2001:db8::/56", 0, 1000)]),
            &[],
        );
        assert_eq!((l.t1, l.t2), (500, 800));
    }

    #[test]
    fn merge_adds_updates_drops_and_keeps() {
        let sid = Duid::ll(1, &[2, 0, 0, 0, 0, 9]);
        let a = Ipv6Addr::LOCALHOST;
        let t0 = Timestamp::from_secs(10);
        let first = Lease::merge(
            None,
            t0,
            sid.clone(),
            a,
            &ia(
                100,
                160,
                vec![
                    iap("2001:db8::/56", 200, 300),
                    iap("2001:db8:1::/56", 200, 300),
                ],
            ),
            &[a],
        );
        assert_eq!(first.prefixes.len(), 2);
        assert_eq!(first.renew_at(), Timestamp::from_secs(110));
        assert_eq!(first.rebind_at(), Timestamp::from_secs(170));
        assert_eq!(first.expires_at(), Timestamp::from_secs(310));
        let t1 = Timestamp::from_secs(110);
        let second = Lease::merge(
            Some(&first),
            t1,
            sid,
            a,
            &ia(
                100,
                160,
                vec![iap("2001:db8::/56", 0, 0), iap("2001:db8:2::/56", 200, 300)],
            ),
            &[],
        );
        let list = second.prefix_list();
        // 2001:db8::/56 dropped (valid 0), 2001:db8:1::/56 kept unchanged, :2:: added.
        assert_eq!(list.len(), 2);
        assert_eq!(second.prefixes[0].updated, t0);
        assert_eq!(second.prefixes[1].prefix.to_string(), "2001:db8:2::/56");
        assert_eq!(second.dns_servers, vec![a]);
        assert_eq!(second.first_expiry(), Some(Timestamp::from_secs(310)));
        let mut third = second.clone();
        assert_eq!(third.expire(Timestamp::from_secs(310)).len(), 1);
        assert_eq!(third.prefixes.len(), 1);
        assert!(!third.same_prefixes(&second));
    }
}
