//! OpenStack's `ipv6_ra_mode` × `ipv6_address_mode` table → RA flags.
//!
//! `ipv6_ra_mode` says whether *we* advertise and with which flags;
//! `ipv6_address_mode` says how hosts get addresses. Neutron (its radvd
//! template and its subnet validation) accepts either one alone, or both
//! when they are equal, and rejects two different values.

use std::fmt;
use std::str::FromStr;

/// An IPv6 configuration mode, as OpenStack spells it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Mode {
    /// `slaac`: hosts form addresses from the prefix (RFC 4862).
    Slaac,
    /// `dhcpv6-stateful`: addresses and other configuration from DHCPv6.
    Dhcpv6Stateful,
    /// `dhcpv6-stateless`: SLAAC addresses, other configuration from DHCPv6.
    Dhcpv6Stateless,
}

impl Mode {
    /// Every mode, in a fixed order.
    pub const ALL: [Mode; 3] = [Mode::Slaac, Mode::Dhcpv6Stateful, Mode::Dhcpv6Stateless];

    /// The OpenStack spelling.
    pub const fn as_str(self) -> &'static str {
        match self {
            Mode::Slaac => "slaac",
            Mode::Dhcpv6Stateful => "dhcpv6-stateful",
            Mode::Dhcpv6Stateless => "dhcpv6-stateless",
        }
    }
}

impl fmt::Display for Mode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Mode {
    type Err = ModeError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Mode::ALL
            .into_iter()
            .find(|m| m.as_str() == s)
            .ok_or_else(|| ModeError::Unknown(s.to_string()))
    }
}

/// A mode string that is not one of the three, or an invalid pair.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ModeError {
    /// Not `slaac`, `dhcpv6-stateful` or `dhcpv6-stateless`.
    #[error("{0:?} is not an IPv6 mode: expected slaac, dhcpv6-stateful or dhcpv6-stateless")]
    Unknown(String),
    /// Both modes set, to different values.
    #[error(
        "ipv6_ra_mode {ra_mode} with ipv6_address_mode {address_mode} is not a valid \
         combination: when both are set they must be equal"
    )]
    Mixed {
        /// The `ipv6_ra_mode`.
        ra_mode: Mode,
        /// The `ipv6_address_mode`.
        address_mode: Mode,
    },
}

/// What to advertise on a link.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct RaPlan {
    /// Whether we send RAs at all (false: an external router does, or none).
    pub send_ra: bool,
    /// M flag (RFC 4861 §4.2).
    pub managed: bool,
    /// O flag (RFC 4861 §4.2).
    pub other: bool,
    /// A flag on the advertised prefixes (RFC 4861 §4.6.2).
    pub autonomous: bool,
}

/// The plan for a subnet's `ipv6_ra_mode` and `ipv6_address_mode`.
///
/// - no `ra_mode`: we send no RA (the flags are then false and irrelevant),
///   whatever the address mode says — an external router advertises;
/// - `ra_mode` alone, or both equal: we send RAs with
///   slaac A=1 M=0 O=0, dhcpv6-stateless A=1 M=0 O=1,
///   dhcpv6-stateful A=0 M=1 O=1;
/// - both set and different: [`ModeError::Mixed`].
pub fn ra_plan(ra_mode: Option<Mode>, address_mode: Option<Mode>) -> Result<RaPlan, ModeError> {
    let mode = match (ra_mode, address_mode) {
        (None, _) => return Ok(RaPlan::default()),
        (Some(ra), Some(addr)) if ra != addr => {
            return Err(ModeError::Mixed {
                ra_mode: ra,
                address_mode: addr,
            })
        }
        (Some(ra), _) => ra,
    };
    let (autonomous, managed, other) = match mode {
        Mode::Slaac => (true, false, false),
        // RFC 4861 §4.2: O = other configuration (DNS …) via DHCPv6.
        Mode::Dhcpv6Stateless => (true, false, true),
        // RFC 4861 §4.2: with M set, O is redundant (DHCPv6 returns
        // everything); we set it anyway for hosts that only look at O.
        Mode::Dhcpv6Stateful => (false, true, true),
    };
    Ok(RaPlan {
        send_ra: true,
        managed,
        other,
        autonomous,
    })
}
