//! pd-client: a DHCPv6 prefix-delegation client for a requesting router
//! (RFC 9915, RFC 7084).
//!
//! [`engine`] is the pure state machine; the driver, configuration, state
//! files and the apply layer build on it.

pub mod apply;
pub mod config;
pub mod engine;
pub mod state;
