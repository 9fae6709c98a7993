use super::*;
use proptest::prelude::*;

fn p(s: &str) -> Prefix {
    s.parse().expect("valid prefix")
}

#[test]
fn parse_and_display() {
    assert_eq!(p("2001:db8:2222::/48").to_string(), "2001:db8:2222::/48");
    assert!(matches!(
        "2001:db8::1/64".parse::<Prefix>(),
        Err(PrefixError::HostBits(_))
    ));
    assert!(matches!(
        "2001:db8::/129".parse::<Prefix>(),
        Err(PrefixError::Length(129))
    ));
    assert!(matches!(
        "2001:db8::/999999999999".parse::<Prefix>(),
        Err(PrefixError::Syntax(_))
    ));
    assert!(matches!(
        "2001:db8::".parse::<Prefix>(),
        Err(PrefixError::Syntax(_))
    ));
    assert_eq!(
        Prefix::parse_truncating("2001:db8::1/64").map(|x| x.to_string()),
        Ok("2001:db8::/64".into())
    );
}

#[test]
fn slash48_into_slash64() {
    let pool = p("2001:db8:2222::/48");
    assert_eq!(pool.subprefix_count(64), Some(65_536));
    assert_eq!(pool.nth_subprefix(64, 0), Some(p("2001:db8:2222::/64")));
    assert_eq!(pool.nth_subprefix(64, 1), Some(p("2001:db8:2222:1::/64")));
    assert_eq!(
        pool.nth_subprefix(64, 65_535),
        Some(p("2001:db8:2222:ffff::/64"))
    );
    assert_eq!(pool.nth_subprefix(64, 65_536), None);
    assert_eq!(pool.index_of(&p("2001:db8:2222:ff::/64")), Some(255));
    assert_eq!(
        pool.next_after(&p("2001:db8:2222:ff::/64")),
        Some(p("2001:db8:2222:100::/64"))
    );
    assert_eq!(pool.next_after(&p("2001:db8:2222:ffff::/64")), None);
    assert_eq!(pool.index_of(&p("2001:db8:3333::/64")), None);
    assert_eq!(pool.nth_subprefix(40, 0), None);
}

#[test]
fn extreme_lengths() {
    let all = p("::/0");
    assert_eq!(all.subprefix_count(0), Some(1));
    assert_eq!(all.subprefix_count(127), Some(1u128 << 127));
    assert_eq!(all.subprefix_count(128), None); // 2^128 does not fit
    assert_eq!(
        all.nth_subprefix(128, u128::MAX),
        Some(p("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff/128"))
    );
    assert_eq!(all.nth_subprefix(0, 0), Some(all));
    assert_eq!(all.nth_subprefix(0, 1), None);
    assert_eq!(all.index_of(&p("::2/128")), Some(2));
    let host = p("2001:db8::1/128");
    assert_eq!(host.subprefix_count(128), Some(1));
    assert_eq!(host.nth_subprefix(128, 0), Some(host));
    assert_eq!(host.next_after(&host), None);
    assert!(all.contains(&host));
    assert!(!host.contains(&all));
    assert!(host.overlaps(&all));
}

#[test]
fn eui64() {
    let mac = [0x02, 0x00, 0x00, 0x00, 0x00, 0x01];
    assert_eq!(eui64_from_mac(mac), 0x0000_00ff_fe00_0001);
    assert_eq!(
        link_local_from_mac(mac),
        "fe80::ff:fe00:1".parse::<Ipv6Addr>().expect("addr")
    );
    assert_eq!(
        eui64_from_mac([0x00, 0x1b, 0x21, 0x3c, 0x4d, 0x5e]),
        0x021b_21ff_fe3c_4d5e
    );
}

proptest! {
    #[test]
    fn nth_and_index_are_inverse(addr in any::<u128>(), plen in 0u8..=128, extra in 0u8..=128, n in any::<u128>()) {
        let base = Prefix::truncate(Ipv6Addr::from(addr), plen);
        let sub_len = plen.saturating_add(extra).min(128);
        if let Some(sub) = base.nth_subprefix(sub_len, n) {
            prop_assert!(base.contains(&sub));
            prop_assert_eq!(sub.len(), sub_len);
            prop_assert_eq!(base.index_of(&sub), Some(n));
            if let Some(count) = base.subprefix_count(sub_len) {
                prop_assert!(n < count);
            }
        } else if let Some(count) = base.subprefix_count(sub_len) {
            prop_assert!(n >= count);
        }
    }

    #[test]
    fn next_after_is_adjacent(addr in any::<u128>(), plen in 0u8..=128, extra in 0u8..=128) {
        let base = Prefix::truncate(Ipv6Addr::from(addr), plen);
        let sub_len = plen.saturating_add(extra).min(128);
        let sub = Prefix::truncate(Ipv6Addr::from(addr), sub_len);
        let i = base.index_of(&sub).expect("inside");
        match base.next_after(&sub) {
            Some(next) => prop_assert_eq!(base.index_of(&next), Some(i + 1)),
            None => prop_assert_eq!(base.nth_subprefix(sub_len, i.wrapping_add(1)).filter(|_| i != u128::MAX), None),
        }
    }

    #[test]
    fn display_parse_roundtrip(addr in any::<u128>(), len in 0u8..=128) {
        let pfx = Prefix::truncate(Ipv6Addr::from(addr), len);
        prop_assert_eq!(pfx.to_string().parse::<Prefix>(), Ok(pfx));
    }

    #[test]
    fn containment_is_consistent(a in any::<u128>(), la in 0u8..=128, b in any::<u128>(), lb in 0u8..=128) {
        let pa = Prefix::truncate(Ipv6Addr::from(a), la);
        let pb = Prefix::truncate(Ipv6Addr::from(b), lb);
        prop_assert_eq!(pa.contains(&pb), pa.contains_addr(pb.addr()) && pb.len() >= pa.len());
    }
}
