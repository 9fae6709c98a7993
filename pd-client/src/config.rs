//! Daemon configuration: raw TOML (serde, `deny_unknown_fields`) → validated
//! [`Config`]. Validation is pure; interface lookups happen at run time.
//!
//! ```toml
//! [client]
//! interface = "wan0"          # upstream interface (required)
//! state-dir = "/var/lib/pd-client"
//! prefix-length = 56          # length hint, sent as ::/56
//! hint = "2001:db8:ab00::/56" # or a full prefix hint
//! iaid = 1                    # default: FNV-1a-32 of the interface name
//! duid-type = "ll"            # ll | llt | en | uuid  (or: duid = "00:03:00:01:…")
//! duid-enterprise = 32473     # required with duid-type = "en"
//! rapid-commit = false
//!
//! [[downstream]]
//! interface = "lan0"
//! subnet-id = 0               # default: position in this list
//! address = "::1"             # interface id of the router address
//! ra = true
//! ra-mode = "slaac"           # slaac | dhcpv6-stateful | dhcpv6-stateless
//! address-mode = "slaac"
//! dns = ["2001:db8::53"]
//! mtu = 1500
//!
//! [hooks]
//! script = "/etc/pd-client/hook"
//! timeout = 10                # seconds
//! ```

use std::collections::HashSet;
use std::net::Ipv6Addr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use pd_core::duid::Duid;
use pd_core::prefix::Prefix;
use pd_core::ra::{ra_plan, Mode, RaPlan};
use serde::Deserialize;

/// Default state directory.
pub const DEFAULT_STATE_DIR: &str = "/var/lib/pd-client";
/// Default hook timeout, seconds.
pub const DEFAULT_HOOK_TIMEOUT: u64 = 10;

/// Why a configuration was refused.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("{path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The error.
        source: std::io::Error,
    },
    /// Not valid TOML, an unknown key, or a value of the wrong type.
    #[error("{path}: {message}")]
    Syntax {
        /// The file (or "<string>").
        path: String,
        /// The parser's message (names the key and line).
        message: String,
    },
    /// A value that parses but is not acceptable.
    #[error("{key}: {reason}")]
    Invalid {
        /// The key, e.g. `downstream[1].subnet-id`.
        key: String,
        /// Why.
        reason: String,
    },
}

fn invalid(key: impl Into<String>, reason: impl Into<String>) -> ConfigError {
    ConfigError::Invalid {
        key: key.into(),
        reason: reason.into(),
    }
}

// ---- raw ---------------------------------------------------------------

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct RawConfig {
    client: RawClient,
    #[serde(default)]
    downstream: Vec<RawDownstream>,
    hooks: Option<RawHooks>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct RawClient {
    interface: String,
    state_dir: Option<PathBuf>,
    prefix_length: Option<u32>,
    hint: Option<String>,
    iaid: Option<u32>,
    duid_type: Option<String>,
    duid: Option<String>,
    duid_enterprise: Option<u32>,
    #[serde(default)]
    rapid_commit: bool,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct RawDownstream {
    interface: String,
    subnet_id: Option<u64>,
    address: Option<String>,
    ra: Option<bool>,
    ra_mode: Option<String>,
    address_mode: Option<String>,
    #[serde(default)]
    dns: Vec<String>,
    mtu: Option<u32>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct RawHooks {
    script: PathBuf,
    timeout: Option<u64>,
}

// ---- validated -----------------------------------------------------------

/// How to obtain our DUID.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DuidSpec {
    /// DUID-LL from the upstream MAC (default; RFC 7084 W-5 stable).
    Ll,
    /// DUID-LLT from the upstream MAC and the creation time.
    Llt,
    /// DUID-EN: this enterprise number, identifier from /etc/machine-id.
    En(u32),
    /// DUID-UUID (RFC 6355) from /etc/machine-id.
    Uuid,
    /// Exactly this DUID.
    Fixed(Duid),
}

/// The upstream side.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClientConfig {
    /// Upstream interface name.
    pub interface: String,
    /// Where the lease and DUID files live.
    pub state_dir: PathBuf,
    /// Prefix-length hint.
    pub prefix_length: Option<u8>,
    /// Prefix hint.
    pub hint: Option<Prefix>,
    /// IA_PD identifier.
    pub iaid: u32,
    /// DUID source.
    pub duid: DuidSpec,
    /// Ask for Rapid Commit.
    pub rapid_commit: bool,
}

/// One downstream (LAN) interface.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Downstream {
    /// Interface name.
    pub interface: String,
    /// Which /64 of the delegation (0-based).
    pub subnet_id: u64,
    /// Interface id of the router's address in that /64.
    pub iid: u64,
    /// `ra-mode` (OpenStack's ipv6_ra_mode); `None` when `ra = false`.
    pub ra_mode: Option<Mode>,
    /// `address-mode` (ipv6_address_mode), if given.
    pub address_mode: Option<Mode>,
    /// What to advertise (send_ra false: no RAs on this interface).
    pub ra_plan: RaPlan,
    /// RDNSS servers (empty: the server's DNS option, if any).
    pub dns: Vec<Ipv6Addr>,
    /// MTU option value.
    pub mtu: Option<u32>,
}

/// The hook script.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Hooks {
    /// Executable path.
    pub script: PathBuf,
    /// Kill it after this long.
    pub timeout: Duration,
}

/// A validated configuration.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Config {
    /// Upstream.
    pub client: ClientConfig,
    /// Downstream interfaces.
    pub downstream: Vec<Downstream>,
    /// Hook script, if any.
    pub hooks: Option<Hooks>,
}

/// FNV-1a (32 bit) of an interface name: the default IAID. Stable across
/// reboots and independent of interface index order (RFC 9915 §12: the IAID
/// must stay the same across restarts).
pub fn iaid_from_name(name: &str) -> u32 {
    name.bytes().fold(0x811c_9dc5u32, |h, b| {
        (h ^ u32::from(b)).wrapping_mul(0x0100_0193)
    })
}

/// Check a Linux interface name (1..=15 bytes, no '/', whitespace or NUL).
pub fn check_ifname(key: &str, name: &str) -> Result<(), ConfigError> {
    let bad = name.is_empty()
        || name.len() > 15
        || name == "."
        || name == ".."
        || name
            .bytes()
            .any(|b| b == b'/' || b == 0 || b.is_ascii_whitespace());
    if bad {
        return Err(invalid(
            key,
            format!("{name:?} is not a valid interface name"),
        ));
    }
    Ok(())
}

impl Config {
    /// Read and validate a file.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        Self::parse(&text, &path.display().to_string())
    }

    /// Parse and validate TOML text; `origin` names it in errors.
    pub fn parse(text: &str, origin: &str) -> Result<Config, ConfigError> {
        let raw: RawConfig = toml::from_str(text).map_err(|e| ConfigError::Syntax {
            path: origin.to_string(),
            message: e.to_string(),
        })?;
        validate(raw)
    }
}

fn validate(raw: RawConfig) -> Result<Config, ConfigError> {
    let c = raw.client;
    check_ifname("client.interface", &c.interface)?;
    let prefix_length = c
        .prefix_length
        .map(|l| {
            u8::try_from(l)
                .ok()
                .filter(|l| (1..=128).contains(l))
                .ok_or_else(|| invalid("client.prefix-length", format!("{l} is not in 1..=128")))
        })
        .transpose()?;
    let hint = c
        .hint
        .as_deref()
        .map(|h| {
            h.parse::<Prefix>()
                .map_err(|e| invalid("client.hint", e.to_string()))
        })
        .transpose()?;
    if let Some(h) = hint {
        if h.is_empty() {
            return Err(invalid("client.hint", "a /0 hint means nothing"));
        }
        if prefix_length.is_some_and(|l| l != h.len()) {
            return Err(invalid(
                "client.prefix-length",
                format!("contradicts client.hint {h}; give one of them"),
            ));
        }
    }
    let duid = match (c.duid.as_deref(), c.duid_type.as_deref()) {
        (Some(_), Some(_)) => {
            return Err(invalid(
                "client.duid",
                "give either duid or duid-type, not both",
            ));
        }
        (Some(d), None) => DuidSpec::Fixed(
            d.parse()
                .map_err(|e: pd_core::duid::DuidError| invalid("client.duid", e.to_string()))?,
        ),
        (None, None | Some("ll")) => DuidSpec::Ll,
        (None, Some("llt")) => DuidSpec::Llt,
        (None, Some("uuid")) => DuidSpec::Uuid,
        (None, Some("en")) => DuidSpec::En(c.duid_enterprise.ok_or_else(|| {
            invalid("client.duid-enterprise", "required with duid-type = \"en\"")
        })?),
        (None, Some(other)) => {
            return Err(invalid(
                "client.duid-type",
                format!("{other:?} is not one of ll, llt, en, uuid"),
            ));
        }
    };
    if c.duid_enterprise.is_some() && !matches!(duid, DuidSpec::En(_)) {
        return Err(invalid(
            "client.duid-enterprise",
            "only used with duid-type = \"en\"",
        ));
    }
    let client = ClientConfig {
        iaid: c.iaid.unwrap_or_else(|| iaid_from_name(&c.interface)),
        interface: c.interface,
        state_dir: c
            .state_dir
            .unwrap_or_else(|| PathBuf::from(DEFAULT_STATE_DIR)),
        prefix_length,
        hint,
        duid,
        rapid_commit: c.rapid_commit,
    };
    if client.state_dir.as_os_str().is_empty() {
        return Err(invalid("client.state-dir", "must not be empty"));
    }
    let mut downstream = Vec::new();
    let mut names = HashSet::new();
    let mut ids = HashSet::new();
    for (i, d) in raw.downstream.into_iter().enumerate() {
        let k = |f: &str| format!("downstream[{i}].{f}");
        check_ifname(&k("interface"), &d.interface)?;
        if d.interface == client.interface {
            return Err(invalid(k("interface"), "is the upstream interface"));
        }
        if !names.insert(d.interface.clone()) {
            return Err(invalid(
                k("interface"),
                format!("{} is listed twice", d.interface),
            ));
        }
        let subnet_id = d.subnet_id.unwrap_or(i as u64);
        if !ids.insert(subnet_id) {
            return Err(invalid(
                k("subnet-id"),
                format!("{subnet_id} is used twice"),
            ));
        }
        let iid = match d.address.as_deref() {
            None => 1,
            Some(a) => {
                let addr: Ipv6Addr = a.parse().map_err(|_| {
                    invalid(
                        k("address"),
                        format!("{a:?} is not an IPv6 interface id like \"::1\""),
                    )
                })?;
                let v = u128::from(addr);
                let iid = u64::try_from(v).map_err(|_| {
                    invalid(
                        k("address"),
                        format!("{a} has bits in the upper 64 (give an interface id like ::1)"),
                    )
                })?;
                if iid == 0 {
                    return Err(invalid(k("address"), "the interface id must not be ::"));
                }
                iid
            }
        };
        let mode = |key: &str, v: Option<&str>| {
            v.map(|m| {
                m.parse::<Mode>()
                    .map_err(|e| invalid(k(key), e.to_string()))
            })
            .transpose()
        };
        let ra_mode = mode("ra-mode", d.ra_mode.as_deref())?;
        let address_mode = mode("address-mode", d.address_mode.as_deref())?;
        let ra = d.ra.unwrap_or(true);
        if !ra && ra_mode.is_some() {
            return Err(invalid(k("ra-mode"), "given with ra = false"));
        }
        // With ra = true the RA mode defaults to the address mode, else slaac.
        let ra_mode = ra.then(|| ra_mode.or(address_mode).unwrap_or(Mode::Slaac));
        let ra_plan = ra_plan(ra_mode, address_mode)
            .map_err(|e| invalid(k("address-mode"), e.to_string()))?;
        let dns = d
            .dns
            .iter()
            .map(|s| {
                s.parse::<Ipv6Addr>()
                    .map_err(|_| invalid(k("dns"), format!("{s:?} is not an IPv6 address")))
            })
            .collect::<Result<Vec<_>, _>>()?;
        if let Some(m) = d.mtu {
            if !(1280..=65535).contains(&m) {
                return Err(invalid(k("mtu"), format!("{m} is not in 1280..=65535")));
            }
        }
        downstream.push(Downstream {
            interface: d.interface,
            subnet_id,
            iid,
            ra_mode,
            address_mode,
            ra_plan,
            dns,
            mtu: d.mtu,
        });
    }
    let hooks = raw
        .hooks
        .map(|h| {
            if !h.script.is_absolute() {
                return Err(invalid("hooks.script", "must be an absolute path"));
            }
            let t = h.timeout.unwrap_or(DEFAULT_HOOK_TIMEOUT);
            if !(1..=3600).contains(&t) {
                return Err(invalid(
                    "hooks.timeout",
                    format!("{t} is not in 1..=3600 seconds"),
                ));
            }
            Ok(Hooks {
                script: h.script,
                timeout: Duration::from_secs(t),
            })
        })
        .transpose()?;
    Ok(Config {
        client,
        downstream,
        hooks,
    })
}

#[cfg(test)]
mod tests;
