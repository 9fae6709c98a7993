//! pd-client: a DHCPv6 prefix-delegation client for a requesting router
//! (RFC 9915, RFC 7084).
//!
//! - [`engine`]: the pure client state machine (Solicit … Release);
//! - [`apply`]: what the router does with the delegation (pure planner);
//! - [`config`], [`state`]: the configuration file and the state directory;
//! - [`report`]: what the commands print;
//! - [`driver`], [`cli`]: the async drivers and the command line.

pub mod apply;
pub mod cli;
pub mod config;
pub mod driver;
pub mod engine;
pub mod report;
pub mod state;
