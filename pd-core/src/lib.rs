//! pd-core: the shared core of pd-server and pd-client.
//!
//! Everything outside [`sys`] is pure: no clock, socket, file, environment
//! variable or random source. The I/O adapters live in [`sys`], behind the
//! `sys` cargo feature, so the pure core cannot reach them by accident.

pub mod duid;
pub mod effect;
pub mod prefix;
pub mod ra;
pub mod rand;
pub mod time;
pub mod wire;

#[cfg(feature = "sys")]
pub mod sys;
