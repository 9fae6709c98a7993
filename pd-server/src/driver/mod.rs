//! The async driver: sockets, timers, signals, the store, routes and hooks
//! around the pure [`crate::engine::Server`]. Decides nothing itself.

mod exec;
pub mod histogram;
mod hold;
mod pace;
pub mod restore;
mod routes;
mod setup;
mod syncers;
mod writer;

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::Context;
use pd_core::sys::hooks::HookRunner;
use pd_core::sys::net::DhcpSocket;
use pd_core::time::Timestamp;
use tokio::net::UnixListener;
use tokio::signal::unix::{signal, SignalKind};

use crate::config::Config;
use crate::engine::{Effect, Rx, Server, Settings};
use crate::store::{Clock, SledStore};

pub use setup::load_or_create_duid;

/// Datagrams handled per loop turn before the batch is flushed and sent.
const BATCH: usize = 256;

/// Longest a run of hot receive turns goes without yielding to the runtime
/// (each yield polls the reactor: an `epoll_wait`).
const YIELD_EVERY: Duration = Duration::from_millis(1);

/// Datagrams a receive turn should read under load (`pace`): three
/// amortize the wake-up; four cost 0.1–0.4 ms more in the median exchange
/// for 3–4 % less CPU (BENCHMARKS.md §0000000), more only add latency.
const RECEIVE_TARGET: u32 = 3;

/// The running daemon.
pub struct Daemon {
    cfg_path: PathBuf,
    cfg: Config,
    engine: Server,
    store: Arc<SledStore>,
    origin: Instant,
    sock: Arc<DhcpSocket>,
    /// Makes records durable, then sends the Replies waiting for them.
    writer: writer::Writer,
    routes: Option<routes::RouteWorker>,
    hooks: Option<HookRunner>,
    /// Configured interfaces that are up and joined: ifindex → name.
    links: HashMap<u32, Arc<str>>,
    control: UnixListener,
    /// Set when the daemon must stop with an error (the store failed).
    fatal: Option<String>,
}

impl Daemon {
    fn now(&self) -> Timestamp {
        Timestamp::from_millis(u64::try_from(self.origin.elapsed().as_millis()).unwrap_or(u64::MAX))
    }

    fn clock(&self) -> Clock {
        Clock::at(
            self.now(),
            SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .unwrap_or_default(),
        )
    }
}

/// Run the daemon until SIGTERM/SIGINT.
pub async fn run(cfg_path: PathBuf, cfg: Config) -> anyhow::Result<()> {
    let origin = Instant::now();
    setup::state_dir(&cfg.state_dir)?;
    let duid = load_or_create_duid(&cfg.state_dir, cfg.duid.as_ref())?;
    let store = Arc::new(SledStore::open(&cfg.state_dir)?);
    let clock0 = Clock::at(
        Timestamp::ZERO,
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default(),
    );
    let settings = Settings::from_config(&cfg, duid.clone());
    // The store is read on a second thread while the engine is built.
    let restore::Restored {
        server: engine,
        effects: fx,
        records: restored,
        ..
    } = restore::restore(
        &store,
        clock0,
        settings,
        cfg.pools.clone(),
        cfg.reservations.clone(),
        Timestamp::ZERO,
    )
    .context("cannot restore leases")?;
    tracing::info!(records = restored, active = engine.active_count(), duid = %duid, "leases restored");
    let sock =
        Arc::new(DhcpSocket::bind(pd_core::wire::SERVER_PORT).context("cannot bind UDP port 547")?);
    let routes = if cfg.routes.install {
        Some(routes::RouteWorker::start(&engine, cfg.routes.metric).await?)
    } else {
        None
    };
    let hooks = hook_runner(&cfg);
    let control = setup::control_socket(&cfg.control_socket)?;
    let no_flush = std::env::var_os("PD_SERVER_UNSAFE_NO_FLUSH").is_some();
    if no_flush {
        tracing::warn!("PD_SERVER_UNSAFE_NO_FLUSH is set: leases are NOT flushed before replies (benchmarks only)");
    }
    let mode = writer::Mode {
        durable: !no_flush,
        min_interval: Duration::from_micros(cfg.commit_interval_us),
    };
    let writer = writer::Writer::start(store.clone(), sock.clone(), mode)
        .context("cannot start the lease writer thread")?;
    let mut d = Daemon {
        cfg_path,
        cfg,
        engine,
        store,
        origin,
        sock,
        writer,
        routes,
        hooks,
        links: HashMap::new(),
        control,
        fatal: None,
    };
    d.execute(fx).await;
    d.join_links();
    let _ = sd_notify::notify(&[sd_notify::NotifyState::Ready]);
    tracing::info!(interfaces = ?d.cfg.interfaces, "pd-server listening");
    d.serve().await
}

fn hook_runner(cfg: &Config) -> Option<HookRunner> {
    cfg.hooks
        .script
        .clone()
        .map(|s| HookRunner::new(s, Duration::from_secs(cfg.hooks.timeout_secs)))
}

impl Daemon {
    /// Join ff02::1:2 on every configured interface that exists and is not
    /// joined yet (interfaces may appear after start).
    fn join_links(&mut self) {
        for name in self.cfg.interfaces.clone() {
            let Ok(ifindex) = pd_core::sys::net::ifindex(&name) else {
                tracing::warn!(iface = %name, "interface not found; will retry");
                continue;
            };
            if self.links.get(&ifindex).is_some_and(|n| **n == *name) {
                continue;
            }
            match self.sock.join(ifindex) {
                Ok(()) => {
                    tracing::info!(iface = %name, ifindex, "joined ff02::1:2");
                    self.links.retain(|_, n| **n != *name);
                    self.links.insert(ifindex, Arc::from(name.as_str()));
                }
                Err(e) => {
                    tracing::warn!(iface = %name, error = %e, "cannot join ff02::1:2; will retry")
                }
            }
        }
    }

    async fn serve(&mut self) -> anyhow::Result<()> {
        let mut term = signal(SignalKind::terminate())?;
        let mut int = signal(SignalKind::interrupt())?;
        let mut hup = signal(SignalKind::hangup())?;
        let mut tick = tokio::time::interval(Duration::from_secs(5));
        let mut buf = vec![0u8; 65536];
        // One timer for the engine's deadline, moved only when the deadline
        // changes (not re-registered on every datagram).
        let origin = tokio::time::Instant::from_std(self.origin);
        let far = || tokio::time::Instant::now() + Duration::from_secs(86_400);
        let timer = tokio::time::sleep_until(far());
        tokio::pin!(timer);
        let mut armed: Option<Timestamp> = None;
        let mut hot = false;
        let mut yielded = Instant::now();
        let mut pace = pace::Pace::new(
            RECEIVE_TARGET,
            Duration::from_micros(self.cfg.receive_interval_us),
        );
        loop {
            let wake = self.engine.poll_timeout();
            if wake != armed {
                armed = wake;
                // At most a day ahead: a far deadline then fires early, and a
                // spurious handle_timeout is a no-op.
                let at = wake.map_or_else(far, |t| {
                    far().min(origin + Duration::from_millis(t.as_millis().min(1 << 50)))
                });
                timer.as_mut().reset(at);
            }
            let mut fx = Vec::new();
            tokio::select! {
                // Everything else first: under load the last branch is
                // always ready.
                biased;
                _ = term.recv() => break,
                _ = int.recv() => break,
                _ = hup.recv() => fx = self.reload(),
                Some(done) = self.writer.done.recv() => {
                    // Route changes may wait on a full queue: nothing held
                    // waits with them (`driver::hold`).
                    self.flush_held();
                    self.on_done(done).await
                }
                _ = &mut timer, if armed.is_some() => {
                    let now = self.now();
                    fx = self.engine.handle_timeout(now);
                    // Re-arm even if the engine's deadline did not move.
                    armed = None;
                }
                _ = tick.tick() => {
                    self.join_links();
                    if let Err(e) = self.store.poll() {
                        tracing::error!(error = %e, "lease database checkpoint failed; stopping");
                        self.fatal = Some(e.to_string());
                    }
                }
                c = self.control.accept() => {
                    if let Ok((stream, _)) = c {
                        // A slow control client must not hold Replies.
                        self.flush_held();
                        self.control_request(stream).await;
                    }
                }
                r = receive(&self.sock, &mut buf, hot, pace.due(), &mut yielded) => {
                    match r {
                        Ok(first) => {
                            let cold = first.is_some();
                            let mut n = 0;
                            if let Some(info) = first {
                                self.on_datagram(info, &buf, &mut fx);
                                n = 1;
                                hold_off(pace.due());
                            }
                            n += self.read_batch(&mut buf, &mut fx, BATCH - n);
                            // More than the datagram that woke it: under
                            // load, so the next turn sleeps out the pace
                            // instead of waiting on the socket.
                            hot = n > usize::from(cold);
                            if n > 0 {
                                pace.taken(n, Instant::now(), Duration::ZERO);
                            }
                        }
                        Err(e) => tracing::warn!(error = %e, "receive failed"),
                    }
                }
            }
            self.execute(fx).await;
            // A busy loop's jobs wait for the writer's next group
            // (`driver::hold`).
            let next = hot.then(|| pace.due()).flatten();
            if !self.writer.turn_ended(hot, next) {
                self.writer_stopped();
            }
            if self.fatal.is_some() {
                break;
            }
        }
        // Every queued job is committed (and its Replies sent) before the
        // store is checkpointed; the writer raises the mark as it stops.
        for done in self.writer.finish() {
            self.on_done(done).await;
        }
        if self.fatal.is_none() {
            if let Err(e) = self.store.sync(false) {
                tracing::error!(error = %e, "lease database checkpoint failed");
                self.fatal = Some(e.to_string());
            }
        }
        tracing::info!("stopping; leases and routes stay in place for the next start");
        if let Some(h) = &self.hooks {
            let _ = tokio::time::timeout(
                Duration::from_secs(self.cfg.hooks.timeout_secs),
                h.wait_idle(),
            )
            .await;
        }
        if let Some(r) = self.routes.take() {
            r.finish().await;
        }
        let _ = std::fs::remove_file(&self.cfg.control_socket);
        match self.fatal.take() {
            Some(why) => anyhow::bail!(why),
            None => Ok(()),
        }
    }

    /// Read and handle up to `max` queued datagrams; returns how many.
    fn read_batch(&mut self, buf: &mut [u8], fx: &mut Vec<Effect>, max: usize) -> usize {
        let mut n = 0;
        while n < max {
            match self.sock.recv_now(buf) {
                Ok(Some(info)) => {
                    self.on_datagram(info, buf, fx);
                    n += 1;
                }
                Ok(None) => break,
                Err(e) => {
                    tracing::warn!(error = %e, "receive failed");
                    break;
                }
            }
        }
        n
    }

    fn on_datagram(&mut self, info: pd_core::sys::net::RxInfo, buf: &[u8], fx: &mut Vec<Effect>) {
        let Some(iface) = self.links.get(&info.ifindex).cloned() else {
            tracing::debug!(ifindex = info.ifindex, src = %info.src, "datagram on an interface we do not serve");
            return;
        };
        let rx = Rx {
            src: info.src,
            dst: info.dst,
            ifindex: info.ifindex,
            iface,
        };
        let bytes = buf.get(..info.len).unwrap_or_default();
        let now = self.now();
        fx.extend(self.engine.handle_datagram(now, &rx, bytes));
    }

    /// Send what the writer's queue holds before waiting on something else.
    fn flush_held(&mut self) {
        if !self.writer.flush_held() {
            self.writer_stopped();
        }
    }

    fn writer_stopped(&mut self) {
        if self.fatal.is_none() {
            self.fatal = Some("the lease writer stopped".into());
        }
    }

    /// A report of the lease writer.
    async fn on_done(&mut self, done: writer::Done) {
        match done {
            writer::Done::After(fx) => self.run_after(fx).await,
            writer::Done::Failed(why) => {
                if self.fatal.is_none() {
                    self.fatal = Some(format!("lease database write failed: {why}"));
                }
            }
        }
    }

    /// SIGHUP: re-read the config; on error keep the running one.
    fn reload(&mut self) -> Vec<Effect> {
        let cfg = match std::fs::read_to_string(&self.cfg_path)
            .map_err(|e| e.to_string())
            .and_then(|t| crate::config::parse(&t).map_err(|e| e.to_string()))
        {
            Ok(c) => c,
            Err(e) => {
                tracing::error!(config = %self.cfg_path.display(), error = %e, "reload refused; keeping the running configuration");
                return Vec::new();
            }
        };
        if cfg.state_dir != self.cfg.state_dir || cfg.control_socket != self.cfg.control_socket {
            tracing::warn!("state-dir and control-socket changes take effect at the next start");
        }
        let settings = Settings::from_config(&cfg, self.engine.duid().clone());
        let now = self.now();
        let fx = self
            .engine
            .reload(settings, cfg.pools.clone(), cfg.reservations.clone(), now);
        self.hooks = hook_runner(&cfg);
        let keep = (self.cfg.state_dir.clone(), self.cfg.control_socket.clone());
        self.cfg = cfg;
        (self.cfg.state_dir, self.cfg.control_socket) = keep;
        self.links
            .retain(|_, n| self.cfg.interfaces.iter().any(|i| **i == **n));
        self.join_links();
        tracing::info!(
            active = self.engine.active_count(),
            "configuration reloaded"
        );
        fx
    }
}

/// Receive coalescing (`server.receive-interval-us`): when the next
/// receive turn is not due yet (the server is under load, `pace`), wait for
/// it, so that the messages arriving meanwhile are read in this turn, one
/// wake-up for several instead of one each. After a quiet spell a message
/// is read at once. The sleep blocks the loop's thread; nothing else is due
/// within a few hundred microseconds.
/// A receive turn's start. Cold: wait for the next datagram. Hot (the
/// last turn read more than its first datagram): sleep out the pace, let
/// the runtime run (the reactor, timers, other tasks; at most every
/// [`YIELD_EVERY`]), and start the turn
/// without one: it reads what queued meanwhile. Under load that is one
/// wake-up per turn (the sleep's) instead of two (the socket's, then the
/// sleep's).
async fn receive(
    sock: &DhcpSocket,
    buf: &mut [u8],
    hot: bool,
    due: Option<Instant>,
    yielded: &mut Instant,
) -> std::io::Result<Option<pd_core::sys::net::RxInfo>> {
    if hot {
        hold_off(due);
        if yielded.elapsed() >= YIELD_EVERY {
            *yielded = Instant::now();
            tokio::task::yield_now().await;
        }
        return Ok(None);
    }
    sock.recv(buf).await.map(Some)
}

fn hold_off(due: Option<Instant>) {
    if let Some(left) = due.and_then(|t| t.checked_duration_since(Instant::now())) {
        std::thread::sleep(left);
    }
}
