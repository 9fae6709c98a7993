//! Typed Router Advertisement / Router Solicitation messages.

use std::net::Ipv6Addr;

use crate::prefix::Prefix;

/// A default-router or route preference (RFC 4191 §2.1).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum RouterPreference {
    /// 01.
    High,
    /// 00, the default.
    #[default]
    Medium,
    /// 11.
    Low,
}

impl RouterPreference {
    /// The 2-bit wire value (RFC 4191 §2.1).
    pub const fn bits(self) -> u8 {
        match self {
            RouterPreference::High => 0b01,
            RouterPreference::Medium => 0b00,
            RouterPreference::Low => 0b11,
        }
    }

    /// From the low 2 bits of `bits`; `None` for the reserved value 10.
    pub const fn from_bits(bits: u8) -> Option<Self> {
        match bits & 0b11 {
            0b01 => Some(RouterPreference::High),
            0b00 => Some(RouterPreference::Medium),
            0b11 => Some(RouterPreference::Low),
            _ => None,
        }
    }
}

/// A Prefix Information option (RFC 4861 §4.6.2).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct PrefixInfo {
    /// The prefix (bits past its length are cleared on decode, §4.6.2).
    pub prefix: Prefix,
    /// L: the prefix is on-link.
    pub on_link: bool,
    /// A: hosts may form addresses from it by SLAAC (RFC 4862).
    pub autonomous: bool,
    /// Valid lifetime in seconds (0xffffffff = infinity).
    pub valid: u32,
    /// Preferred lifetime in seconds (0xffffffff = infinity).
    pub preferred: u32,
}

/// A Recursive DNS Server option (RFC 8106 §5.1).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Rdnss {
    /// Lifetime in seconds (0 = stop using, 0xffffffff = infinity).
    pub lifetime: u32,
    /// The servers. An empty list is not encoded (RFC 8106 §5.1 needs one).
    pub servers: Vec<Ipv6Addr>,
}

/// A Route Information option (RFC 4191 §2.3).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct RouteInfo {
    /// The more-specific route (bits past its length cleared on decode).
    pub prefix: Prefix,
    /// The route's preference.
    pub preference: RouterPreference,
    /// Route lifetime in seconds (0xffffffff = infinity).
    pub lifetime: u32,
}

/// A Router Advertisement (RFC 4861 §4.2) with the options pd uses.
///
/// Options are encoded in the order source link-layer address, MTU,
/// prefixes, routes, RDNSS; decoding keeps the order within each kind.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct RouterAdvert {
    /// Cur Hop Limit for hosts (0 = unspecified).
    pub cur_hop_limit: u8,
    /// M: addresses are available via DHCPv6.
    pub managed: bool,
    /// O: other configuration is available via DHCPv6.
    pub other: bool,
    /// Default router preference (RFC 4191 §2.2).
    pub preference: RouterPreference,
    /// Router Lifetime in seconds (0 = not a default router).
    pub router_lifetime: u16,
    /// Reachable Time in milliseconds (0 = unspecified).
    pub reachable_time: u32,
    /// Retrans Timer in milliseconds (0 = unspecified).
    pub retrans_timer: u32,
    /// Source Link-Layer Address option (Ethernet, RFC 4861 §4.6.1).
    pub source_lladdr: Option<[u8; 6]>,
    /// MTU option (RFC 4861 §4.6.4).
    pub mtu: Option<u32>,
    /// Prefix Information options.
    pub prefixes: Vec<PrefixInfo>,
    /// RDNSS options.
    pub rdnss: Vec<Rdnss>,
    /// Route Information options.
    pub routes: Vec<RouteInfo>,
}

/// A Router Solicitation (RFC 4861 §4.1).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct RouterSolicit {
    /// Source Link-Layer Address option (Ethernet).
    pub source_lladdr: Option<[u8; 6]>,
}

/// Why bytes are not a valid RA/RS, or a received packet fails the
/// IP-level checks of RFC 4861 §6.1.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum RaError {
    /// Shorter than the fixed header.
    #[error("message is {len} bytes, shorter than its {min}-byte header")]
    Truncated {
        /// Bytes received.
        len: usize,
        /// Header size.
        min: usize,
    },
    /// Not the expected ICMPv6 type.
    #[error("ICMPv6 type {found} where {expected} was expected")]
    Type {
        /// Type received.
        found: u8,
        /// Type wanted.
        expected: u8,
    },
    /// ICMPv6 code not 0 (RFC 4861 §6.1.1, §6.1.2).
    #[error("ICMPv6 code {0} is not 0")]
    Code(u8),
    /// Fewer than 2 bytes left for an option's type and length.
    #[error("{left} stray byte(s) at offset {offset} where an option was expected")]
    OptionHeader {
        /// Offset in the message.
        offset: usize,
        /// Bytes left.
        left: usize,
    },
    /// An option with length 0 (RFC 4861 §6.1.1, §6.1.2).
    #[error("option type {option_type} at offset {offset} has length 0")]
    ZeroLengthOption {
        /// Offset in the message.
        offset: usize,
        /// Option type.
        option_type: u8,
    },
    /// An option running past the end of the message.
    #[error(
        "option type {option_type} at offset {offset} claims {claimed} bytes, only {left} left"
    )]
    OptionOverrun {
        /// Offset in the message.
        offset: usize,
        /// Option type.
        option_type: u8,
        /// Bytes the length field claims.
        claimed: usize,
        /// Bytes left in the message.
        left: usize,
    },
    /// A known option whose length field does not fit its layout.
    #[error(
        "option type {option_type} at offset {offset} has length {units} (x8 octets): {expected}"
    )]
    BadOptionLength {
        /// Offset in the message.
        offset: usize,
        /// Option type.
        option_type: u8,
        /// The length field.
        units: u8,
        /// What the RFC requires.
        expected: &'static str,
    },
    /// A prefix length over 128 in a Prefix Information or Route
    /// Information option.
    #[error("option type {option_type} at offset {offset} has prefix length {len}, over 128")]
    PrefixLength {
        /// Offset in the message.
        offset: usize,
        /// Option type.
        option_type: u8,
        /// The prefix length field.
        len: u8,
    },
    /// Received with an IP hop limit other than 255 (RFC 4861 §6.1).
    #[error("hop limit {0} is not 255: the packet may have crossed a router")]
    HopLimit(u8),
    /// An RA whose IP source is not link-local (RFC 4861 §6.1.2).
    #[error("router advertisement from {0}, which is not a link-local address")]
    SourceNotLinkLocal(Ipv6Addr),
    /// An RS from `::` carrying a source link-layer address (RFC 4861 §6.1.1).
    #[error("router solicitation from the unspecified address carries a link-layer address")]
    UnspecifiedWithLladdr,
}
