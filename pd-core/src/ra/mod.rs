//! Router Solicitation / Advertisement (RFC 4861, 8106, 4191) and the
//! OpenStack RA/address mode table.
//!
//! - [`message`]: the typed messages ([`RouterAdvert`], [`RouterSolicit`])
//!   and their errors;
//! - [`codec`]: bytes ⇄ messages ([`encode_ra`], [`decode_ra`],
//!   [`encode_rs`], [`decode_rs`]) plus the IP-level receive checks the
//!   socket layer must apply ([`check_ra_ip`], [`check_rs_ip`]);
//! - [`mode`]: `ipv6_ra_mode` × `ipv6_address_mode` → [`RaPlan`] (A/M/O);
//! - [`schedule`]: when to send multicast RAs on one interface
//!   ([`RaSchedule`], RFC 4861 §6.2.4 and §6.2.6), sans-IO.
//!
//! Everything here is pure: no socket, no clock, no entropy source.

pub mod codec;
pub mod message;
pub mod mode;
pub mod schedule;

pub use codec::{check_ra_ip, check_rs_ip, decode_ra, decode_rs, encode_ra, encode_rs};
pub use message::{
    PrefixInfo, RaError, Rdnss, RouteInfo, RouterAdvert, RouterPreference, RouterSolicit,
};
pub use mode::{ra_plan, Mode, ModeError, RaPlan};
pub use schedule::{RaSchedule, RaTimers, RaTimersError};

/// ICMPv6 type of a Router Solicitation (RFC 4861 §4.1).
pub const ICMPV6_ROUTER_SOLICIT: u8 = 133;
/// ICMPv6 type of a Router Advertisement (RFC 4861 §4.2).
pub const ICMPV6_ROUTER_ADVERT: u8 = 134;
/// The hop limit every Neighbor Discovery message is sent and received with
/// (RFC 4861 §6.1.1, §6.1.2).
pub const ND_HOP_LIMIT: u8 = 255;
