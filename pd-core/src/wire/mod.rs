//! DHCPv6 messages (RFC 9915) behind our own validating boundary.
//!
//! Bytes are walked as TLVs here first (every option length checked, IA_PD,
//! IAPREFIX and Status Code bodies checked, relay nesting limited), and only
//! then handed to dhcproto for the client/server message body. Relay
//! encapsulation (Relay-Forw / Relay-Repl) is ours: dhcproto 0.15 mis-decodes
//! it. Nothing here panics on input; a rejected message yields a [`Discard`].

mod types;
pub use types::*;
