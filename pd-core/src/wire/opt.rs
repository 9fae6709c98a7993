//! DHCPv6 option codes (RFC 9915 §21 and the IANA registry) used by pd.

/// Client Identifier (RFC 9915 §21.2).
pub const CLIENT_ID: u16 = 1;
/// Server Identifier (§21.3).
pub const SERVER_ID: u16 = 2;
/// Identity Association for Non-temporary Addresses (§21.4).
pub const IA_NA: u16 = 3;
/// Identity Association for Temporary Addresses (§21.5).
pub const IA_TA: u16 = 4;
/// IA Address (§21.6).
pub const IAADDR: u16 = 5;
/// Option Request (§21.7).
pub const ORO: u16 = 6;
/// Preference (§21.8).
pub const PREFERENCE: u16 = 7;
/// Elapsed Time (§21.9).
pub const ELAPSED_TIME: u16 = 8;
/// Relay Message (§21.10).
pub const RELAY_MSG: u16 = 9;
/// Status Code (§21.13).
pub const STATUS_CODE: u16 = 13;
/// Rapid Commit (§21.14).
pub const RAPID_COMMIT: u16 = 14;
/// Interface-Id (§21.18).
pub const INTERFACE_ID: u16 = 18;
/// Reconfigure Accept (§21.20).
pub const RECONF_ACCEPT: u16 = 20;
/// DNS Recursive Name Server (RFC 3646).
pub const DNS_SERVERS: u16 = 23;
/// Identity Association for Prefix Delegation (§21.21).
pub const IA_PD: u16 = 25;
/// IA Prefix (§21.22).
pub const IAPREFIX: u16 = 26;
/// SOL_MAX_RT (§21.24).
pub const SOL_MAX_RT: u16 = 82;
/// INF_MAX_RT (§21.25).
pub const INF_MAX_RT: u16 = 83;

/// Codes that [`crate::wire::decode`] maps to typed fields of a client/server
/// message; everything else lands in `Message::other`.
pub const INTERPRETED: [u16; 13] = [
    CLIENT_ID,
    SERVER_ID,
    IA_NA,
    IA_TA,
    ORO,
    PREFERENCE,
    ELAPSED_TIME,
    STATUS_CODE,
    RAPID_COMMIT,
    RECONF_ACCEPT,
    DNS_SERVERS,
    IA_PD,
    SOL_MAX_RT,
];
