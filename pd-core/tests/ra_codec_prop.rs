//! RA/RS codec properties: round trips, and no panic on any input.
#![allow(clippy::unwrap_used, clippy::indexing_slicing)]

use std::net::Ipv6Addr;

use pd_core::prefix::Prefix;
use pd_core::ra::{
    decode_ra, decode_rs, encode_ra, encode_rs, PrefixInfo, Rdnss, RouteInfo, RouterAdvert,
    RouterPreference, RouterSolicit,
};
use proptest::prelude::*;

fn prefix() -> impl Strategy<Value = Prefix> {
    (any::<u128>(), 0u8..=128).prop_map(|(bits, len)| Prefix::truncate(Ipv6Addr::from(bits), len))
}

fn preference() -> impl Strategy<Value = RouterPreference> {
    prop_oneof![
        Just(RouterPreference::High),
        Just(RouterPreference::Medium),
        Just(RouterPreference::Low),
    ]
}

fn prefix_info() -> impl Strategy<Value = PrefixInfo> {
    (
        prefix(),
        any::<bool>(),
        any::<bool>(),
        any::<u32>(),
        any::<u32>(),
    )
        .prop_map(
            |(prefix, on_link, autonomous, valid, preferred)| PrefixInfo {
                prefix,
                on_link,
                autonomous,
                valid,
                preferred,
            },
        )
}

fn rdnss() -> impl Strategy<Value = Rdnss> {
    (
        any::<u32>(),
        prop::collection::vec(any::<u128>().prop_map(Ipv6Addr::from), 1..5),
    )
        .prop_map(|(lifetime, servers)| Rdnss { lifetime, servers })
}

fn route() -> impl Strategy<Value = RouteInfo> {
    (prefix(), preference(), any::<u32>()).prop_map(|(prefix, preference, lifetime)| RouteInfo {
        prefix,
        preference,
        lifetime,
    })
}

prop_compose! {
    fn router_advert()(
        cur_hop_limit in any::<u8>(),
        managed in any::<bool>(),
        other in any::<bool>(),
        preference in preference(),
        router_lifetime in any::<u16>(),
        reachable_time in any::<u32>(),
        retrans_timer in any::<u32>(),
        source_lladdr in any::<Option<[u8; 6]>>(),
        mtu in any::<Option<u32>>(),
        prefixes in prop::collection::vec(prefix_info(), 0..4),
        rdnss in prop::collection::vec(rdnss(), 0..3),
        routes in prop::collection::vec(route(), 0..4),
    ) -> RouterAdvert {
        RouterAdvert {
            cur_hop_limit, managed, other, preference, router_lifetime,
            reachable_time, retrans_timer, source_lladdr, mtu, prefixes, rdnss, routes,
        }
    }
}

/// Arbitrary option soup after a valid header: the bytes most likely to
/// reach deep into the option parsers. Known types usually get a length
/// their layout allows; bodies are random and usually as long as claimed.
fn ra_like_bytes() -> impl Strategy<Value = Vec<u8>> {
    let option = (
        prop_oneof![
            Just((1u8, 1u8)),
            Just((1, 2)),
            Just((3, 4)),
            Just((5, 1)),
            (1u8..=3).prop_map(|u| (24, u)),
            (1u8..=3).prop_map(|u| (25, 2 * u + 1)),
            (any::<u8>(), 0u8..6),
        ],
        prop::collection::vec(any::<u8>(), 0..64),
        0u8..4,
    );
    (
        prop::array::uniform16(any::<u8>()),
        prop::collection::vec(option, 0..5),
        prop::collection::vec(any::<u8>(), 0..3),
        any::<bool>(),
    )
        .prop_map(|(mut header, opts, tail, with_tail)| {
            header[0] = 134;
            header[1] = 0;
            let mut out = header.to_vec();
            for ((ty, units), mut body, shape) in opts {
                out.push(ty);
                out.push(units);
                // Shape 0: body as random as generated; otherwise exactly as
                // long as claimed, with a plausible prefix length.
                if shape != 0 {
                    body.resize(usize::from(units).saturating_mul(8).saturating_sub(2), 0);
                    if let Some(len) = body.first_mut() {
                        if ty == 3 || ty == 24 {
                            *len %= 129;
                            if ty == 24 && units < 3 {
                                *len %= if units == 1 { 1 } else { 65 };
                            }
                        }
                    }
                }
                out.extend_from_slice(&body);
            }
            if with_tail {
                out.extend_from_slice(&tail);
            }
            out
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn ra_round_trips(ra in router_advert()) {
        let bytes = encode_ra(&ra);
        prop_assert_eq!(bytes.len() % 8, 0);
        prop_assert_eq!(decode_ra(&bytes), Ok(ra));
    }

    #[test]
    fn rs_round_trips(source_lladdr in any::<Option<[u8; 6]>>()) {
        let rs = RouterSolicit { source_lladdr };
        prop_assert_eq!(decode_rs(&encode_rs(&rs)), Ok(rs));
    }

    #[test]
    fn decode_never_panics_on_arbitrary_bytes(bytes in prop::collection::vec(any::<u8>(), 0..200)) {
        let _ = decode_ra(&bytes);
        let _ = decode_rs(&bytes);
    }

    /// Whatever decodes is canonical after one re-encoding.
    #[test]
    fn decoded_option_soup_re_encodes_stably(bytes in ra_like_bytes()) {
        if let Ok(ra) = decode_ra(&bytes) {
            let again = encode_ra(&ra);
            prop_assert_eq!(decode_ra(&again), Ok(ra));
        }
        let mut rs = bytes.clone();
        rs[0] = 133;
        if let Ok(sol) = decode_rs(&rs) {
            prop_assert_eq!(decode_rs(&encode_rs(&sol)), Ok(sol));
        }
    }

    /// Flipping any byte of a valid RA, or cutting it anywhere, never panics.
    #[test]
    fn mutated_valid_ra_never_panics(
        ra in router_advert(),
        pos in any::<prop::sample::Index>(),
        val in any::<u8>(),
        cut in any::<prop::sample::Index>(),
    ) {
        let mut bytes = encode_ra(&ra);
        let i = pos.index(bytes.len());
        bytes[i] = val;
        let _ = decode_ra(&bytes);
        let n = cut.index(bytes.len() + 1);
        let _ = decode_ra(&bytes[..n]);
    }
}

#[test]
fn option_soup_sometimes_decodes() {
    // Guard for the property above: it must exercise the success path too.
    use proptest::strategy::ValueTree;
    use proptest::test_runner::TestRunner;
    let mut runner = TestRunner::deterministic();
    let strat = ra_like_bytes();
    let (mut ok, mut with_options) = (0, 0);
    for _ in 0..2000 {
        let bytes = strat.new_tree(&mut runner).unwrap().current();
        if let Ok(ra) = decode_ra(&bytes) {
            ok += 1;
            if ra.mtu.is_some()
                || !ra.prefixes.is_empty()
                || !ra.routes.is_empty()
                || !ra.rdnss.is_empty()
            {
                with_options += 1;
            }
        }
    }
    assert!(ok > 100, "only {ok} of 2000 decoded");
    assert!(
        with_options > 20,
        "only {with_options} decoded with known options"
    );
}
