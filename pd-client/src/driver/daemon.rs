//! `pd-client run`: the requesting-router daemon.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::Context;
use pd_core::duid::Duid;
use pd_core::sys::hooks::HookRunner;
use pd_core::sys::routing::Router;
use tokio::signal::unix::{signal, Signal, SignalKind};

use super::ralinks::RaLinks;
use super::{exec, our_duid, seed, sleep_opt, Upstream, BUF_LEN};
use crate::apply::plan::show;
use crate::apply::Applier;
use crate::config::{Config, Hooks};
use crate::engine::{Client, Effect, EngineConfig, State};
use crate::state::StateDir;

/// How long shutdown waits for the Release exchange and the hooks.
const SHUTDOWN_BUDGET: Duration = Duration::from_secs(10);

struct Daemon {
    cfg_path: PathBuf,
    cfg: Config,
    up: Upstream,
    dir: StateDir,
    duid: Duid,
    engine: Client,
    applier: Applier,
    router: Router,
    hooks: Option<HookRunner>,
    ra: RaLinks,
}

fn hook_runner(h: Option<&Hooks>) -> Option<HookRunner> {
    h.map(|h| HookRunner::new(h.script.clone(), h.timeout))
}

/// Wait for the upstream interface to exist (it may come up after us).
async fn wait_for_upstream(
    name: &str,
    origin: Instant,
    term: &mut Signal,
    int: &mut Signal,
) -> anyhow::Result<Option<Upstream>> {
    let mut warned = false;
    loop {
        match Upstream::open(name, origin) {
            Ok(up) => return Ok(Some(up)),
            Err(e) if pd_core::sys::net::ifindex(name).is_err() => {
                if !warned {
                    tracing::warn!(iface = name, error = %e, "waiting for the upstream interface");
                    warned = true;
                }
            }
            Err(e) => return Err(e),
        }
        tokio::select! {
            _ = tokio::time::sleep(Duration::from_secs(1)) => {}
            _ = term.recv() => return Ok(None),
            _ = int.recv() => return Ok(None),
        }
    }
}

/// Run the daemon until SIGTERM/SIGINT (then release and exit).
pub async fn run(cfg_path: PathBuf, cfg: Config) -> anyhow::Result<()> {
    let origin = Instant::now();
    let mut term = signal(SignalKind::terminate())?;
    let mut int = signal(SignalKind::interrupt())?;
    let mut hup = signal(SignalKind::hangup())?;
    let Some(up) = wait_for_upstream(&cfg.client.interface, origin, &mut term, &mut int).await?
    else {
        return Ok(());
    };
    let dir = StateDir::new(&cfg.client.state_dir);
    let duid = our_duid(&dir, &cfg.client.duid, &up.name)?;
    let saved = match dir.load_lease(&up.name, &up.clock()) {
        Ok(l) => l,
        Err(e) => {
            // A corrupt lease file must not keep the router offline.
            tracing::error!(error = %e, "ignoring the saved lease");
            None
        }
    };
    let router = Router::new().context("cannot open the netlink socket")?;
    let mut applier = Applier::new(&up.name, cfg.downstream.clone(), cfg.hooks.is_some());
    // What the host may still carry from before: withdrawn or re-asserted
    // by the engine's first effects.
    applier.assume(saved.clone());
    let engine_cfg = EngineConfig {
        ifindex: up.ifindex,
        duid: duid.clone(),
        iaid: cfg.client.iaid,
        prefix_length: cfg.client.prefix_length,
        hint: cfg.client.hint,
        rapid_commit: cfg.client.rapid_commit,
        immediate: false,
    };
    let seed = seed();
    let mut d = Daemon {
        hooks: hook_runner(cfg.hooks.as_ref()),
        ra: RaLinks::new(&cfg.downstream, seed),
        engine: Client::new(engine_cfg, seed),
        cfg_path,
        cfg,
        up,
        dir,
        duid,
        applier,
        router,
    };
    tracing::info!(iface = %d.up.name, duid = %d.duid, iaid = d.cfg.client.iaid, restored = saved.is_some(), "pd-client starting");
    let fx = d.engine.start(d.up.now(), saved);
    d.execute(fx).await;
    match exec::reconcile(&d.router, d.applier.desired()).await {
        Ok(n) => tracing::debug!(removed = n, "routes reconciled"),
        Err(e) => tracing::warn!(error = %e, "route reconcile failed"),
    }
    d.ra.resolve(d.up.now());
    let _ = sd_notify::notify(&[sd_notify::NotifyState::Ready]);
    d.serve(&mut term, &mut int, &mut hup).await;
    d.shutdown().await;
    Ok(())
}

impl Daemon {
    async fn execute(&mut self, fx: Vec<Effect>) {
        for e in fx {
            let now = self.up.now();
            match &e {
                Effect::Transmit(t) => {
                    self.up.send(t).await;
                    continue;
                }
                Effect::Save(l) => {
                    if let Err(err) =
                        self.dir
                            .save_lease(&self.up.name, &self.duid, l.as_ref(), &self.up.clock())
                    {
                        tracing::error!(error = %err, "cannot save the lease");
                    }
                    continue;
                }
                Effect::Bound { old, new } => {
                    tracing::info!(iface = %self.up.name, prefixes = %show(&new.prefix_list()), previous = %old.as_ref().map(|o| show(&o.prefix_list())).unwrap_or_default(), server = %new.server_addr, t1 = new.t1, t2 = new.t2, "bound")
                }
                Effect::Extended(l) => {
                    tracing::info!(iface = %self.up.name, prefixes = %show(&l.prefix_list()), t1 = l.t1, t2 = l.t2, "extended")
                }
                Effect::Lost { prefixes, reason } => {
                    tracing::warn!(iface = %self.up.name, prefixes = %show(prefixes), ?reason, "prefixes lost")
                }
                Effect::NoPrefixAvail => {
                    tracing::warn!(iface = %self.up.name, "server has no prefix for us (NoPrefixAvail)")
                }
                Effect::ReleaseDone => tracing::info!(iface = %self.up.name, "release done"),
            }
            let actions = self.applier.on_effect(now, &e);
            for w in &actions.warnings {
                tracing::warn!(iface = %self.up.name, "{w}");
            }
            exec::execute(&self.router, &actions.ops).await;
            if let Some(h) = &self.hooks {
                for call in actions.hooks {
                    h.spawn(call);
                }
            }
            if actions.ra_changed {
                self.ra.changed(now);
            }
        }
    }

    async fn serve(&mut self, term: &mut Signal, int: &mut Signal, hup: &mut Signal) {
        let mut buf = vec![0u8; BUF_LEN];
        let mut icmp = vec![0u8; 2048];
        let mut tick = tokio::time::interval(Duration::from_secs(5));
        loop {
            let wake = [self.engine.poll_timeout(), self.ra.poll_timeout()]
                .into_iter()
                .flatten()
                .min()
                .map(|t| self.up.instant(t));
            let mut fx = Vec::new();
            tokio::select! {
                r = self.up.recv(&mut buf) => match r {
                    Ok(info) => fx = self.up.deliver(&mut self.engine, &info, &buf),
                    Err(e) => tracing::warn!(error = %e, "receive failed"),
                },
                r = self.ra.recv(&mut icmp) => match r {
                    Ok(info) => self.ra.on_icmp(&info, &icmp, self.up.now()),
                    Err(e) => tracing::warn!(error = %e, "icmpv6 receive failed"),
                },
                _ = sleep_opt(wake) => {
                    let now = self.up.now();
                    fx = self.engine.handle_timeout(now);
                    self.ra.on_timeout(&mut self.applier, now).await;
                }
                _ = tick.tick() => self.ra.resolve(self.up.now()),
                _ = term.recv() => break,
                _ = int.recv() => break,
                _ = hup.recv() => self.reload().await,
            }
            self.execute(fx).await;
        }
    }

    /// SIGHUP: re-read the file; downstream, hooks and RAs change at once,
    /// `[client]` changes need a restart.
    async fn reload(&mut self) {
        let cfg = match Config::load(&self.cfg_path) {
            Ok(c) => c,
            Err(e) => {
                tracing::error!(error = %e, "reload failed; keeping the running configuration");
                return;
            }
        };
        if cfg.client != self.cfg.client {
            tracing::warn!("[client] changes take effect after a restart");
        }
        let now = self.up.now();
        let actions = self.applier.set_downstream(cfg.downstream.clone(), now);
        for w in &actions.warnings {
            tracing::warn!("{w}");
        }
        exec::execute(&self.router, &actions.ops).await;
        self.hooks = hook_runner(cfg.hooks.as_ref());
        // Links no longer advertising say goodbye; the others go on.
        self.ra
            .final_ras(&mut self.applier, now, &cfg.downstream)
            .await;
        self.ra = RaLinks::new(&cfg.downstream, seed());
        self.ra.resolve(now);
        self.cfg = cfg;
        tracing::info!(path = %self.cfg_path.display(), "configuration reloaded");
    }

    /// Release the prefixes (RFC 9915 §18.2.7), send the final RAs, wait a
    /// bounded time for the Reply and the hooks.
    async fn shutdown(&mut self) {
        tracing::info!("stopping: releasing the delegation");
        let fx = self.engine.release(self.up.now());
        self.execute(fx).await;
        self.ra
            .final_ras(&mut self.applier, self.up.now(), &[])
            .await;
        let deadline = tokio::time::Instant::now() + SHUTDOWN_BUDGET;
        let mut buf = vec![0u8; BUF_LEN];
        while self.engine.state() == State::Releasing {
            let wake = self
                .engine
                .poll_timeout()
                .map(|t| self.up.instant(t).min(deadline));
            let fx = tokio::select! {
                r = self.up.recv(&mut buf) => match r {
                    Ok(info) => self.up.deliver(&mut self.engine, &info, &buf),
                    Err(_) => Vec::new(),
                },
                _ = sleep_opt(wake.or(Some(deadline))) => {
                    if tokio::time::Instant::now() >= deadline {
                        tracing::warn!("no reply to release before the deadline");
                        break;
                    }
                    self.engine.handle_timeout(self.up.now())
                }
            };
            self.execute(fx).await;
        }
        if let Some(h) = &self.hooks {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            let _ = tokio::time::timeout(left.max(Duration::from_secs(1)), h.wait_idle()).await;
        }
    }
}
