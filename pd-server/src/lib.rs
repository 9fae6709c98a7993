//! pd-server: a DHCPv6 prefix-delegation server (RFC 9915).
//!
//! `config` (pure) → `engine` (pure state machine) → effects executed by
//! `driver` (sockets, sled `store`, routes, hooks).

pub mod cli;
pub mod config;
pub mod control;
pub mod driver;
pub mod engine;
pub mod lease;
pub mod leases_cmd;
pub mod pool;
pub mod store;
pub mod view;
