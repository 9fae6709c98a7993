//! The ipv6_ra_mode × ipv6_address_mode table, every cell.
#![allow(clippy::unwrap_used, clippy::indexing_slicing)]

use pd_core::ra::{ra_plan, Mode, ModeError, RaPlan};

const NO_RA: RaPlan = RaPlan {
    send_ra: false,
    managed: false,
    other: false,
    autonomous: false,
};
const SLAAC: RaPlan = RaPlan {
    send_ra: true,
    managed: false,
    other: false,
    autonomous: true,
};
const STATELESS: RaPlan = RaPlan {
    send_ra: true,
    managed: false,
    other: true,
    autonomous: true,
};
const STATEFUL: RaPlan = RaPlan {
    send_ra: true,
    managed: true,
    other: true,
    autonomous: false,
};

/// (ipv6_ra_mode, ipv6_address_mode, expected plan).
type Cell = (Option<Mode>, Option<Mode>, Result<RaPlan, ModeError>);

fn mixed(ra_mode: Mode, address_mode: Mode) -> Result<RaPlan, ModeError> {
    Err(ModeError::Mixed {
        ra_mode,
        address_mode,
    })
}

#[test]
fn every_cell_of_the_table() {
    use Mode::*;
    let table: [Cell; 16] = [
        // ra_mode unset: never our RA, whatever the address mode.
        (None, None, Ok(NO_RA)),
        (None, Some(Slaac), Ok(NO_RA)),
        (None, Some(Dhcpv6Stateful), Ok(NO_RA)),
        (None, Some(Dhcpv6Stateless), Ok(NO_RA)),
        // ra_mode slaac.
        (Some(Slaac), None, Ok(SLAAC)),
        (Some(Slaac), Some(Slaac), Ok(SLAAC)),
        (
            Some(Slaac),
            Some(Dhcpv6Stateful),
            mixed(Slaac, Dhcpv6Stateful),
        ),
        (
            Some(Slaac),
            Some(Dhcpv6Stateless),
            mixed(Slaac, Dhcpv6Stateless),
        ),
        // ra_mode dhcpv6-stateful.
        (Some(Dhcpv6Stateful), None, Ok(STATEFUL)),
        (
            Some(Dhcpv6Stateful),
            Some(Slaac),
            mixed(Dhcpv6Stateful, Slaac),
        ),
        (Some(Dhcpv6Stateful), Some(Dhcpv6Stateful), Ok(STATEFUL)),
        (
            Some(Dhcpv6Stateful),
            Some(Dhcpv6Stateless),
            mixed(Dhcpv6Stateful, Dhcpv6Stateless),
        ),
        // ra_mode dhcpv6-stateless.
        (Some(Dhcpv6Stateless), None, Ok(STATELESS)),
        (
            Some(Dhcpv6Stateless),
            Some(Slaac),
            mixed(Dhcpv6Stateless, Slaac),
        ),
        (
            Some(Dhcpv6Stateless),
            Some(Dhcpv6Stateful),
            mixed(Dhcpv6Stateless, Dhcpv6Stateful),
        ),
        (Some(Dhcpv6Stateless), Some(Dhcpv6Stateless), Ok(STATELESS)),
    ];
    // The table really is the whole 4 x 4 product, each pair once.
    let all = [
        None,
        Some(Slaac),
        Some(Dhcpv6Stateful),
        Some(Dhcpv6Stateless),
    ];
    for ra in all {
        for addr in all {
            let n = table
                .iter()
                .filter(|(r, a, _)| *r == ra && *a == addr)
                .count();
            assert_eq!(n, 1, "cell ({ra:?}, {addr:?}) listed {n} times");
        }
    }
    for (ra, addr, want) in table {
        assert_eq!(
            ra_plan(ra, addr),
            want,
            "ra_mode {ra:?}, address_mode {addr:?}"
        );
    }
}

#[test]
fn parse_and_display_round_trip() {
    for (s, m) in [
        ("slaac", Mode::Slaac),
        ("dhcpv6-stateful", Mode::Dhcpv6Stateful),
        ("dhcpv6-stateless", Mode::Dhcpv6Stateless),
    ] {
        assert_eq!(s.parse::<Mode>(), Ok(m));
        assert_eq!(m.to_string(), s);
    }
}

#[test]
fn unknown_mode_strings_are_rejected_clearly() {
    for bad in [
        "",
        "SLAAC",
        "dhcpv6",
        "stateful",
        " slaac",
        "dhcpv6_stateless",
    ] {
        let err = bad.parse::<Mode>().unwrap_err();
        assert_eq!(err, ModeError::Unknown(bad.to_string()));
        let msg = err.to_string();
        assert!(
            msg.contains("slaac, dhcpv6-stateful or dhcpv6-stateless"),
            "{msg}"
        );
    }
}

#[test]
fn mixed_error_names_both_modes() {
    let err = ra_plan(Some(Mode::Slaac), Some(Mode::Dhcpv6Stateful)).unwrap_err();
    assert_eq!(
        err.to_string(),
        "ipv6_ra_mode slaac with ipv6_address_mode dhcpv6-stateful is not a valid \
         combination: when both are set they must be equal"
    );
}
