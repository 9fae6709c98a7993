//! DHCPv6 messages (RFC 9915) behind our own validating boundary.
//!
//! Bytes are walked as TLVs here first (every option length checked, IA_PD,
//! IAPREFIX and Status Code bodies checked, relay nesting limited) and the
//! typed [`Message`] is built from that walk: dhcproto never sees received
//! bytes. Encoding is ours too, straight into one buffer, every length
//! checked; it writes the bytes dhcproto 0.15 wrote for the same message
//! (dhcproto stays as the test oracle) at a sixth of the instructions.
//! Relay encapsulation (Relay-Forw / Relay-Repl) is ours both ways.
//! Options are encoded in ascending code order. Nothing here panics on
//! input; a rejected message yields a [`Discard`].

mod check;
mod decode;
mod encode;
pub mod opt;
mod tlv;
mod types;

pub use check::{check_from_client, check_from_server, sanitize_ia_pd};
pub use decode::decode;
pub use encode::{encode, try_encode, EncodeError};
pub use types::*;

#[cfg(test)]
mod tests;
