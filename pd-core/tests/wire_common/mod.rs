//! Helpers shared by the wire_* integration tests.
#![allow(dead_code, clippy::unwrap_used, clippy::indexing_slicing)]

use pd_core::duid::Duid;

/// Every golden under tests/golden (name without `.hex`).
pub const SYNTHETIC: [&str; 11] = [
    "solicit-hint",
    "advertise",
    "request",
    "reply",
    "reply-noprefixavail",
    "renew",
    "rebind",
    "release",
    "information-request",
    "relay-forw-2",
    "relay-repl-2",
];
/// Goldens captured from dhclient and Kea by tests/capture/capture.sh.
pub const CAPTURED: [&str; 6] = [
    "dhclient-solicit",
    "kea-advertise",
    "dhclient-request",
    "kea-reply",
    "dhclient-release",
    "kea-reply-release",
];

/// The bytes of tests/golden/NAME.hex ('#' comments and whitespace ignored).
pub fn golden(name: &str) -> Vec<u8> {
    let path = format!("{}/tests/golden/{name}.hex", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    let hex: String = text
        .lines()
        .map(|l| l.split('#').next().unwrap_or(""))
        .flat_map(|l| l.split_whitespace())
        .collect();
    hex::decode(&hex).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// The synthetic goldens' client DUID: DUID-LLT, Ethernet, 0x2a2b2c2d, 02:00:00:00:00:0a.
pub fn syn_client() -> Duid {
    Duid::llt(1, 0x2a2b_2c2d, &[2, 0, 0, 0, 0, 0x0a])
}

/// The synthetic goldens' server DUID: DUID-LL, Ethernet, 02:00:00:00:00:0b.
pub fn syn_server() -> Duid {
    Duid::ll(1, &[2, 0, 0, 0, 0, 0x0b])
}

/// dhclient's DUID in the capture (seeded by capture.sh): DUID-LL 02:00:00:00:00:02.
pub fn dhclient_duid() -> Duid {
    Duid::ll(1, &[2, 0, 0, 0, 0, 2])
}

/// Kea's server DUID in the capture (capture.sh config): DUID-LL 02:00:00:00:00:01.
pub fn kea_duid() -> Duid {
    Duid::ll(1, &[2, 0, 0, 0, 0, 1])
}
