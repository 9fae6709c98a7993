//! `pd-client request` and `pd-client release`.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use pd_core::prefix::Prefix;

use super::{our_duid, seed, sleep_opt, Upstream, BUF_LEN};
use crate::config::{check_ifname, iaid_from_name, DuidSpec};
use crate::engine::{Client, Effect, EngineConfig, Lease, State};
use crate::report::LeaseReport;
use crate::state::StateDir;

/// Arguments of `pd-client request`.
#[derive(Clone, Debug)]
pub struct RequestArgs {
    /// Upstream interface.
    pub interface: String,
    /// Prefix-length hint.
    pub prefix_length: Option<u8>,
    /// Prefix hint text.
    pub hint: Option<String>,
    /// IAID.
    pub iaid: Option<u32>,
    /// Rapid Commit.
    pub rapid_commit: bool,
    /// Give up after this long.
    pub timeout: Duration,
    /// State directory.
    pub state_dir: PathBuf,
}

/// How `request` ended.
#[derive(Clone, Debug)]
pub enum RequestOutcome {
    /// A lease (saved), as printed.
    Bound(LeaseReport),
    /// The server(s) had no prefix for us.
    NoPrefixAvail,
    /// Nothing usable before the timeout.
    Timeout,
}

impl RequestOutcome {
    /// The process exit code: 0, 2 or 3.
    pub fn exit_code(&self) -> u8 {
        match self {
            RequestOutcome::Bound(_) => 0,
            RequestOutcome::NoPrefixAvail => 2,
            RequestOutcome::Timeout => 3,
        }
    }
}

/// Obtain a prefix once: immediate Solicit, Request, Reply; save the lease.
pub async fn request(args: RequestArgs) -> anyhow::Result<RequestOutcome> {
    check_ifname("--interface", &args.interface)?;
    if let Some(l) = args.prefix_length {
        if !(1..=128).contains(&l) {
            bail!("--prefix-length: {l} is not in 1..=128");
        }
    }
    let hint: Option<Prefix> = args
        .hint
        .as_deref()
        .map(|h| h.parse().with_context(|| format!("--hint {h}")))
        .transpose()?;
    let origin = Instant::now();
    let dir = StateDir::new(&args.state_dir);
    let up = Upstream::open(&args.interface, origin)?;
    let duid = our_duid(&dir, &DuidSpec::Ll, &up.name)?;
    // Without a hint, ask for the prefix we had (RFC 7084 WPD-6: hints help
    // the server keep the same delegation).
    let saved_hint = match (&hint, args.prefix_length) {
        (None, None) => dir
            .load_lease(&up.name, &up.clock())
            .ok()
            .flatten()
            .and_then(|l| l.prefixes.first().map(|p| p.prefix)),
        _ => None,
    };
    let cfg = EngineConfig {
        ifindex: up.ifindex,
        duid: duid.clone(),
        iaid: args.iaid.unwrap_or_else(|| iaid_from_name(&up.name)),
        prefix_length: args.prefix_length,
        hint: hint.or(saved_hint),
        rapid_commit: args.rapid_commit,
        immediate: true,
    };
    let mut engine = Client::new(cfg, seed());
    let deadline = tokio::time::Instant::now() + args.timeout;
    let mut buf = vec![0u8; BUF_LEN];
    let mut fx = engine.start(up.now(), None);
    loop {
        for e in fx.drain(..) {
            match e {
                Effect::Transmit(t) => up.send(&t).await,
                Effect::Save(l) => dir.save_lease(&up.name, &duid, l.as_ref(), &up.clock())?,
                Effect::Bound { new, .. } | Effect::Extended(new) => {
                    // Lifetimes as granted (counted from the Reply).
                    return Ok(RequestOutcome::Bound(LeaseReport::new(
                        &up.name,
                        &new,
                        new.updated,
                    )));
                }
                Effect::NoPrefixAvail => return Ok(RequestOutcome::NoPrefixAvail),
                Effect::Lost { .. } | Effect::ReleaseDone => {}
            }
        }
        let wake = engine
            .poll_timeout()
            .map(|t| up.instant(t).min(deadline))
            .unwrap_or(deadline);
        tokio::select! {
            r = up.recv(&mut buf) => match r {
                Ok(info) => fx = up.deliver(&mut engine, &info, &buf),
                Err(e) => tracing::warn!(error = %e, "receive failed"),
            },
            _ = sleep_opt(Some(wake)) => {
                if tokio::time::Instant::now() >= deadline {
                    return Ok(RequestOutcome::Timeout);
                }
                fx = engine.handle_timeout(up.now());
            }
        }
    }
}

/// Release the saved lease of `interface` (RFC 9915 §18.2.7): Release to
/// its server, up to REL_MAX_RC transmissions, then forget it.
pub async fn release(interface: &str, state_dir: PathBuf) -> anyhow::Result<Vec<Prefix>> {
    check_ifname("--interface", interface)?;
    let origin = Instant::now();
    let dir = StateDir::new(state_dir);
    let up = Upstream::open(interface, origin)?;
    let Some(rec) = dir.load_record(interface)? else {
        bail!("no saved lease for {interface} in {}", dir.path().display());
    };
    let duid = rec
        .client_duid()
        .map_err(|e| anyhow::anyhow!("{}: {e}", dir.lease_path(interface).display()))?;
    let mut lease: Lease = rec
        .to_lease(&up.clock())
        .map_err(|e| anyhow::anyhow!("{}: {e}", dir.lease_path(interface).display()))?;
    let prefixes = lease.prefix_list();
    lease.expire(up.now());
    if lease.prefixes.is_empty() {
        tracing::info!(
            iface = interface,
            "saved lease already expired; removing it"
        );
        dir.save_lease(interface, &duid, None, &up.clock())?;
        return Ok(prefixes);
    }
    let cfg = EngineConfig {
        ifindex: up.ifindex,
        duid: duid.clone(),
        iaid: lease.iaid,
        prefix_length: None,
        hint: None,
        rapid_commit: false,
        immediate: true,
    };
    let mut engine = Client::new(cfg, seed());
    engine.adopt(lease);
    let mut fx = engine.release(up.now());
    let mut buf = vec![0u8; BUF_LEN];
    loop {
        for e in fx.drain(..) {
            match e {
                Effect::Transmit(t) => up.send(&t).await,
                Effect::Save(l) => dir.save_lease(interface, &duid, l.as_ref(), &up.clock())?,
                Effect::ReleaseDone => return Ok(prefixes),
                _ => {}
            }
        }
        if engine.state() == State::Idle {
            return Ok(prefixes);
        }
        let wake = engine.poll_timeout().map(|t| up.instant(t));
        tokio::select! {
            r = up.recv(&mut buf) => match r {
                Ok(info) => fx = up.deliver(&mut engine, &info, &buf),
                Err(e) => tracing::warn!(error = %e, "receive failed"),
            },
            _ = sleep_opt(wake) => fx = engine.handle_timeout(up.now()),
        }
    }
}
