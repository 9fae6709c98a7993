//! Per-interface IPv6 sysctls under /proc/sys/net/ipv6/conf.
//!
//! Written with blocking `std::fs` on purpose: /proc/sys/net resolves to the
//! network namespace of the *calling thread*, and a tokio blocking-pool
//! thread may live in another one. The writes are tiny.

use std::path::PathBuf;

use super::RoutingError;

/// Linux IFNAMSIZ minus the terminating NUL.
const IFNAME_MAX: usize = 15;

/// Refuse names that are not Linux interface names (and so could escape
/// the sysctl directory): empty, too long, `.`/`..`, `/`, whitespace, NUL.
pub(crate) fn check_ifname(name: &str) -> Result<(), RoutingError> {
    let bad = name.is_empty()
        || name.len() > IFNAME_MAX
        || name == "."
        || name == ".."
        || name
            .chars()
            .any(|c| c == '/' || c == ':' || c.is_whitespace() || c.is_control());
    if bad {
        Err(RoutingError::InterfaceName(name.to_string()))
    } else {
        Ok(())
    }
}

fn conf_path(ifname: &str, key: &str) -> Result<PathBuf, RoutingError> {
    check_ifname(ifname)?;
    Ok(PathBuf::from("/proc/sys/net/ipv6/conf")
        .join(ifname)
        .join(key))
}

fn write_flag(ifname: &str, key: &str, on: bool) -> Result<(), RoutingError> {
    let path = conf_path(ifname, key)?;
    std::fs::write(&path, if on { "1\n" } else { "0\n" }).map_err(|source| RoutingError::Sysctl {
        path: path.display().to_string(),
        source,
    })
}

/// Turn proxy NDP on or off on `ifname` (net.ipv6.conf.IF.proxy_ndp).
pub fn set_proxy_ndp(ifname: &str, on: bool) -> Result<(), RoutingError> {
    write_flag(ifname, "proxy_ndp", on)
}

/// Turn IPv6 forwarding on or off on `ifname` (net.ipv6.conf.IF.forwarding;
/// `all` applies to every interface).
pub fn set_forwarding(ifname: &str, on: bool) -> Result<(), RoutingError> {
    write_flag(ifname, "forwarding", on)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn interface_names_are_checked() {
        for ok in ["eth0", "veth-a", "all", "default", "a.b", "x12345678901234"] {
            assert!(check_ifname(ok).is_ok(), "{ok}");
        }
        for bad in [
            "",
            ".",
            "..",
            "../x",
            "a/b",
            "a b",
            "x1234567890123456",
            "a\0",
            "eth0:1",
        ] {
            assert!(
                matches!(check_ifname(bad), Err(RoutingError::InterfaceName(_))),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn paths_stay_under_conf() {
        assert_eq!(
            conf_path("eth0", "proxy_ndp").ok(),
            Some(PathBuf::from("/proc/sys/net/ipv6/conf/eth0/proxy_ndp"))
        );
        assert!(conf_path("..", "forwarding").is_err());
    }
}
