//! I/O adapters (the `sys` feature): host routing over rtnetlink, DHCPv6 and
//! ICMPv6 sockets, the hook runner. Nothing in here decides protocol matters.

pub mod hooks;
pub mod net;
pub mod routing;
