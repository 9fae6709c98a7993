//! Configuration: raw TOML (serde, unknown keys rejected) → validated
//! [`Config`]. Pure: no file system or interface lookups here (interfaces
//! are resolved at run time). Every error names the key and the reason.

use std::net::Ipv6Addr;
use std::path::PathBuf;

use pd_core::duid::Duid;
use pd_core::prefix::Prefix;
use pd_core::time::{scale_lifetime, INFINITY};
use serde::Deserialize;

use crate::pool::MAX_SLOT_BITS;

/// A configuration error: `key` is the TOML path (e.g. `pool[1].t1`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{key}: {reason}")]
pub struct ConfigError {
    /// The offending key.
    pub key: String,
    /// Why it is wrong.
    pub reason: String,
}

fn err(key: impl Into<String>, reason: impl Into<String>) -> ConfigError {
    ConfigError {
        key: key.into(),
        reason: reason.into(),
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct RawConfig {
    server: RawServer,
    #[serde(default)]
    pool: Vec<RawPool>,
    #[serde(default)]
    routes: RawRoutes,
    #[serde(default)]
    hooks: RawHooks,
    #[serde(default)]
    reservation: Vec<RawReservation>,
    #[serde(default)]
    limits: RawLimits,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct RawLimits {
    max_bindings_per_link: Option<u64>,
    new_bindings_per_second: Option<u32>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct RawServer {
    interfaces: Vec<String>,
    state_dir: PathBuf,
    duid: Option<String>,
    preference: Option<u8>,
    #[serde(default)]
    rapid_commit: bool,
    #[serde(default)]
    dns_servers: Vec<Ipv6Addr>,
    log_level: Option<String>,
    control_socket: Option<PathBuf>,
    commit_interval_us: Option<u64>,
    receive_interval_us: Option<u64>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct RawPool {
    prefix: String,
    delegated_length: Option<u8>,
    preferred_lifetime: Option<u32>,
    valid_lifetime: Option<u32>,
    t1: Option<u32>,
    t2: Option<u32>,
    interface: Option<String>,
    link: Option<String>,
    next_hop: Option<Ipv6Addr>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct RawRoutes {
    #[serde(default = "yes")]
    install: bool,
    #[serde(default = "default_metric")]
    metric: u32,
}

impl Default for RawRoutes {
    fn default() -> Self {
        RawRoutes {
            install: true,
            metric: default_metric(),
        }
    }
}

fn yes() -> bool {
    true
}
fn default_metric() -> u32 {
    1024
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct RawHooks {
    script: Option<PathBuf>,
    timeout: Option<u64>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct RawReservation {
    duid: String,
    iaid: Option<u32>,
    prefix: String,
}

/// The validated configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// Listening interfaces (names; resolved at run time).
    pub interfaces: Vec<String>,
    /// Directory of the lease database, the DUID file and the control socket.
    pub state_dir: PathBuf,
    /// Server DUID, if configured (otherwise generated once into state-dir).
    pub duid: Option<Duid>,
    /// Preference option value for Advertise.
    pub preference: Option<u8>,
    /// Allow the Rapid Commit two-message exchange.
    pub rapid_commit: bool,
    /// DNS recursive name servers (option 23) to hand out.
    pub dns_servers: Vec<Ipv6Addr>,
    /// Log filter (tracing `EnvFilter` syntax), if set.
    pub log_level: Option<String>,
    /// Control socket path.
    pub control_socket: PathBuf,
    /// Pools, in configuration order.
    pub pools: Vec<PoolConfig>,
    /// Built-in return routes.
    pub routes: RoutesConfig,
    /// Hook script.
    pub hooks: HooksConfig,
    /// Reservations.
    pub reservations: Vec<Reservation>,
    /// Per-link caps on bindings.
    pub limits: crate::engine::Limits,
    /// Group commit: the longest wait after a lease-journal fdatasync
    /// before the next under load, in microseconds (shorter at high rates;
    /// 0: commit as soon as the last one is done).
    pub commit_interval_us: u64,
    /// Receive coalescing: the longest wait between two receive turns under
    /// load, in microseconds (shorter at high rates; 0: read as soon as a
    /// datagram is there).
    pub receive_interval_us: u64,
}

/// Default of `server.commit-interval-us`: 1.5 ms, so that up to ~3,300
/// Requests/s a group still gathers about five Requests per fdatasync
/// (1 ms until 2026-12-07; 1.5 ms took 6.5 % off the CPU per exchange at
/// 4,500/s for 0.25 ms more at the median: BENCHMARKS.md §00000000).
/// Above that rate the pace's five-record target decides, not this.
pub const DEFAULT_COMMIT_INTERVAL_US: u64 = 1500;
/// Largest `server.commit-interval-us` (10 ms: a Reply waits at most this).
pub const MAX_COMMIT_INTERVAL_US: u64 = 10_000;

/// Default of `server.receive-interval-us`.
pub const DEFAULT_RECEIVE_INTERVAL_US: u64 = 500;
/// Largest `server.receive-interval-us` (2 ms: a message waits at most this
/// before it is read).
pub const MAX_RECEIVE_INTERVAL_US: u64 = 2_000;

/// One `[[pool]]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PoolConfig {
    /// The aggregate.
    pub prefix: Prefix,
    /// Length of the delegated prefixes.
    pub delegated_len: u8,
    /// Preferred lifetime handed out.
    pub preferred: u32,
    /// Valid lifetime handed out.
    pub valid: u32,
    /// T1 handed out.
    pub t1: u32,
    /// T2 handed out.
    pub t2: u32,
    /// Only for clients on this interface (directly attached).
    pub interface: Option<String>,
    /// Only for clients whose innermost relay link-address is inside this.
    pub link: Option<Prefix>,
    /// Fixed next hop for the return routes of this pool.
    pub next_hop: Option<Ipv6Addr>,
}

/// `[routes]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RoutesConfig {
    /// Install return routes through rtnetlink.
    pub install: bool,
    /// Route metric.
    pub metric: u32,
}

/// `[hooks]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HooksConfig {
    /// Script run as `script ACTION`.
    pub script: Option<PathBuf>,
    /// Seconds before a hook is killed.
    pub timeout_secs: u64,
}

/// One `[[reservation]]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reservation {
    /// The client.
    pub duid: Duid,
    /// Only this IA_PD (any IAID of the client when absent).
    pub iaid: Option<u32>,
    /// The prefix kept for it.
    pub prefix: Prefix,
}

/// Linux interface names: 1..=15 bytes, no '/', no whitespace or ':' , not "." / "..".
pub fn valid_ifname(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 15
        && name != "."
        && name != ".."
        && name
            .bytes()
            .all(|b| b.is_ascii_graphic() && b != b'/' && b != b':')
}

fn check_ifname(key: String, name: &str) -> Result<(), ConfigError> {
    if valid_ifname(name) {
        Ok(())
    } else {
        Err(err(
            key,
            format!("{name:?} cannot be a Linux interface name (1 to 15 visible characters, no '/' or ':')"),
        ))
    }
}

/// Parse and validate configuration text.
pub fn parse(text: &str) -> Result<Config, ConfigError> {
    let raw: RawConfig = toml::from_str(text).map_err(|e| {
        let msg = e.message().to_string();
        let key = match e.span() {
            Some(span) => {
                // 1-based: the newlines before the offending text, plus one.
                let line = text
                    .get(..span.start)
                    .map(|t| t.matches('\n').count() + 1)
                    .unwrap_or(0);
                format!("line {line}")
            }
            None => "config".to_string(),
        };
        err(key, msg)
    })?;
    validate(raw)
}

fn validate(raw: RawConfig) -> Result<Config, ConfigError> {
    let s = raw.server;
    if s.interfaces.is_empty() {
        return Err(err("server.interfaces", "at least one interface is needed"));
    }
    for (i, name) in s.interfaces.iter().enumerate() {
        check_ifname(format!("server.interfaces[{i}]"), name)?;
    }
    if !s.state_dir.is_absolute() {
        return Err(err("server.state-dir", "must be an absolute path"));
    }
    let duid = match &s.duid {
        Some(d) => Some(
            d.parse::<Duid>()
                .map_err(|e| err("server.duid", e.to_string()))?,
        ),
        None => None,
    };
    let commit_interval_us = s.commit_interval_us.unwrap_or(DEFAULT_COMMIT_INTERVAL_US);
    if commit_interval_us > MAX_COMMIT_INTERVAL_US {
        return Err(err(
            "server.commit-interval-us",
            format!("{commit_interval_us} is more than {MAX_COMMIT_INTERVAL_US} (every Reply may wait this long for its write)"),
        ));
    }
    let receive_interval_us = s.receive_interval_us.unwrap_or(DEFAULT_RECEIVE_INTERVAL_US);
    if receive_interval_us > MAX_RECEIVE_INTERVAL_US {
        return Err(err(
            "server.receive-interval-us",
            format!("{receive_interval_us} is more than {MAX_RECEIVE_INTERVAL_US} (every message may wait this long before it is read)"),
        ));
    }
    if let Some(filter) = &s.log_level {
        if filter.trim().is_empty() {
            return Err(err("server.log-level", "must not be empty"));
        }
    }
    if raw.pool.is_empty() {
        return Err(err("pool", "at least one [[pool]] is needed"));
    }
    let mut pools: Vec<PoolConfig> = Vec::new();
    for (i, p) in raw.pool.iter().enumerate() {
        let pc = validate_pool(i, p)?;
        if let Some((j, other)) = pools
            .iter()
            .enumerate()
            .find(|(_, o)| o.prefix.overlaps(&pc.prefix))
        {
            return Err(err(
                format!("pool[{i}].prefix"),
                format!("{} overlaps pool[{j}] ({})", pc.prefix, other.prefix),
            ));
        }
        pools.push(pc);
    }
    let mut reservations: Vec<Reservation> = Vec::new();
    for (i, r) in raw.reservation.iter().enumerate() {
        let key = |k: &str| format!("reservation[{i}].{k}");
        let duid = r
            .duid
            .parse::<Duid>()
            .map_err(|e| err(key("duid"), e.to_string()))?;
        let prefix: Prefix = r
            .prefix
            .parse()
            .map_err(|e: pd_core::prefix::PrefixError| err(key("prefix"), e.to_string()))?;
        if !pools
            .iter()
            .any(|p| p.prefix.contains(&prefix) && p.delegated_len == prefix.len())
        {
            return Err(err(
                key("prefix"),
                format!("{prefix} is not a delegated prefix of any pool (it must lie inside a pool and have its delegated-length)"),
            ));
        }
        if reservations.iter().any(|o| o.prefix == prefix) {
            return Err(err(key("prefix"), format!("{prefix} is reserved twice")));
        }
        if reservations
            .iter()
            .any(|o| o.duid == duid && o.iaid == r.iaid)
        {
            return Err(err(
                key("duid"),
                "this client (and IAID) already has a reservation",
            ));
        }
        reservations.push(Reservation {
            duid,
            iaid: r.iaid,
            prefix,
        });
    }
    if let Some(script) = &raw.hooks.script {
        if !script.is_absolute() {
            return Err(err("hooks.script", "must be an absolute path"));
        }
    }
    let timeout_secs = raw.hooks.timeout.unwrap_or(10);
    if timeout_secs == 0 || timeout_secs > 3600 {
        return Err(err("hooks.timeout", "must be 1 to 3600 seconds"));
    }
    let control_socket = s
        .control_socket
        .clone()
        .unwrap_or_else(|| s.state_dir.join("control.sock"));
    Ok(Config {
        interfaces: s.interfaces,
        state_dir: s.state_dir,
        duid,
        preference: s.preference,
        rapid_commit: s.rapid_commit,
        dns_servers: s.dns_servers,
        log_level: s.log_level,
        control_socket,
        pools,
        routes: RoutesConfig {
            install: raw.routes.install,
            metric: raw.routes.metric,
        },
        hooks: HooksConfig {
            script: raw.hooks.script,
            timeout_secs,
        },
        reservations,
        limits: crate::engine::Limits {
            max_bindings_per_link: raw
                .limits
                .max_bindings_per_link
                .unwrap_or(crate::engine::Limits::default().max_bindings_per_link),
            new_bindings_per_second: raw
                .limits
                .new_bindings_per_second
                .unwrap_or(crate::engine::Limits::default().new_bindings_per_second),
        },
        commit_interval_us,
        receive_interval_us,
    })
}

fn validate_pool(i: usize, p: &RawPool) -> Result<PoolConfig, ConfigError> {
    let key = |k: &str| format!("pool[{i}].{k}");
    let prefix: Prefix = p
        .prefix
        .parse()
        .map_err(|e: pd_core::prefix::PrefixError| err(key("prefix"), e.to_string()))?;
    let delegated_len = p.delegated_length.unwrap_or(64);
    if delegated_len > 128 {
        return Err(err(
            key("delegated-length"),
            format!("{delegated_len} is over 128"),
        ));
    }
    if delegated_len <= prefix.len() {
        return Err(err(
            key("delegated-length"),
            format!(
                "{delegated_len} must be longer than the pool's prefix length {}",
                prefix.len()
            ),
        ));
    }
    if delegated_len - prefix.len() > MAX_SLOT_BITS {
        return Err(err(
            key("delegated-length"),
            format!(
                "a /{} split into /{delegated_len}s is more than 2^{MAX_SLOT_BITS} prefixes",
                prefix.len()
            ),
        ));
    }
    let valid = p.valid_lifetime.unwrap_or(7200);
    let preferred = p
        .preferred_lifetime
        .unwrap_or_else(|| scale_lifetime(valid, 1, 2));
    if valid == 0 {
        return Err(err(key("valid-lifetime"), "must be greater than 0"));
    }
    if preferred > valid {
        return Err(err(
            key("preferred-lifetime"),
            format!("{preferred} is greater than valid-lifetime {valid}"),
        ));
    }
    // RFC 9915 §21.21: T1/T2 default to 0.5 and 0.8 of the preferred lifetime.
    let t1 = p.t1.unwrap_or_else(|| scale_lifetime(preferred, 1, 2));
    let t2 = p.t2.unwrap_or_else(|| scale_lifetime(preferred, 4, 5));
    if t1 > t2 {
        return Err(err(key("t1"), format!("{t1} is greater than t2 {t2}")));
    }
    if t2 > valid && t2 != INFINITY {
        return Err(err(
            key("t2"),
            format!("{t2} is greater than valid-lifetime {valid}"),
        ));
    }
    if let Some(name) = &p.interface {
        check_ifname(key("interface"), name)?;
    }
    let link = match &p.link {
        Some(l) => Some(Prefix::parse_truncating(l).map_err(|e| err(key("link"), e.to_string()))?),
        None => None,
    };
    if p.interface.is_some() && link.is_some() {
        return Err(err(key("link"), "set interface or link, not both"));
    }
    Ok(PoolConfig {
        prefix,
        delegated_len,
        preferred,
        valid,
        t1,
        t2,
        interface: p.interface.clone(),
        link,
        next_hop: p.next_hop,
    })
}

#[cfg(test)]
mod tests;
