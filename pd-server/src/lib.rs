//! pd-server: a DHCPv6 prefix-delegation server (RFC 9915).
//!
//! `config` (pure) → `engine` (pure state machine) → effects executed by
//! `driver` (sockets, sled `store`, routes, hooks).

pub mod config;
pub mod lease;
pub mod pool;
pub mod store;
