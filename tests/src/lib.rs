//! Shared fixtures for the integration tests: namespaces, veth pairs, peers.
//!
//! Every fixture fails loudly: a test that cannot set up its namespace
//! panics with the reason, it is never skipped.

use std::future::Future;
use std::process::Command;
use std::time::Duration;

pub mod daemon;
mod link;
pub mod loadgen;
mod netns;

pub use daemon::{
    bin, pd_routes, wait_until, ClientLink, Dhclient, IaPrefix, PdServer, Proc, ServerConfig,
    TempDir,
};
pub use link::{veth, AddrInfo};
pub use netns::{Background, Netns, NsTask};

/// Panic with a clear message unless we are root and `ip` works.
pub fn require_root() {
    assert!(
        nix::unistd::geteuid().is_root(),
        "pd-tests need root (they create network namespaces); run them as root: \
         they are never skipped"
    );
    match Command::new("ip").arg("-V").output() {
        Ok(o) if o.status.success() => {}
        Ok(o) => panic!(
            "`ip -V` failed ({}): install iproute2",
            String::from_utf8_lossy(&o.stderr)
        ),
        Err(e) => panic!("`ip` (iproute2) is missing: {e}"),
    }
}

/// Await `fut`, panicking with `what` if it takes longer than `secs`.
pub async fn within<T>(secs: u64, what: &str, fut: impl Future<Output = T>) -> T {
    match tokio::time::timeout(Duration::from_secs(secs), fut).await {
        Ok(v) => v,
        Err(_) => panic!("timed out after {secs}s: {what}"),
    }
}

/// The link-local address of a MAC written `02:00:00:00:00:01`.
pub fn link_local_of(mac: &str) -> std::net::Ipv6Addr {
    pd_core::prefix::link_local_from_mac(parse_mac(mac))
}

/// Parse `02:00:00:00:00:01` (panics on anything else: test input).
pub fn parse_mac(mac: &str) -> [u8; 6] {
    let bytes: Vec<u8> = mac
        .split(':')
        .map(|b| u8::from_str_radix(b, 16).expect("hex MAC byte"))
        .collect();
    <[u8; 6]>::try_from(bytes.as_slice()).expect("six MAC bytes")
}
