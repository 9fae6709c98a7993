//! One netlink worker for return routes: route requests are queued to it
//! (bounded) so the DHCP loop never waits on the kernel. Reconciles at start:
//! routes with our protocol number that match no active lease are removed
//! (RFC 9818 LPD-5: routes follow leases).

use std::collections::{HashMap, HashSet};

use pd_core::effect::RouteKind;
use pd_core::sys::routing::{RouteSpec, Router, RTPROT_PD};
use tokio::sync::mpsc;

use crate::engine::{ReturnRoute, Server};

enum Op {
    Add(ReturnRoute),
    Del(ReturnRoute),
}

/// Handle to the worker task.
pub struct RouteWorker {
    tx: mpsc::Sender<Op>,
    task: tokio::task::JoinHandle<()>,
}

impl RouteWorker {
    /// Open netlink, reconcile against the engine's active leases, start.
    pub async fn start(engine: &Server, metric: u32) -> anyhow::Result<Self> {
        let router = Router::new()?;
        let mut w = Worker {
            router,
            metric,
            index: HashMap::new(),
        };
        w.reconcile(engine).await;
        let (tx, mut rx) = mpsc::channel::<Op>(65_536);
        let task = tokio::spawn(async move {
            while let Some(op) = rx.recv().await {
                match op {
                    Op::Add(r) => w.apply(&r, true).await,
                    Op::Del(r) => w.apply(&r, false).await,
                }
            }
        });
        Ok(RouteWorker { tx, task })
    }

    /// Queue a route install.
    pub async fn add(&self, r: ReturnRoute) {
        let _ = self.tx.send(Op::Add(r)).await;
    }

    /// Queue a route withdrawal.
    pub async fn del(&self, r: ReturnRoute) {
        let _ = self.tx.send(Op::Del(r)).await;
    }

    /// Drain the queue and stop.
    pub async fn finish(self) {
        drop(self.tx);
        let _ = self.task.await;
    }
}

struct Worker {
    router: Router,
    metric: u32,
    index: HashMap<String, u32>,
}

impl Worker {
    async fn ifindex(&mut self, name: &str) -> Option<u32> {
        if let Some(i) = self.index.get(name) {
            return Some(*i);
        }
        let i = self.router.link_index(name).await.ok().flatten()?;
        self.index.insert(name.to_string(), i);
        Some(i)
    }

    async fn spec(&mut self, r: &ReturnRoute) -> Option<RouteSpec> {
        let ifindex = self.ifindex(&r.iface).await?;
        Some(RouteSpec {
            dst: r.prefix,
            kind: RouteKind::Via {
                gateway: r.gateway,
                ifindex,
            },
            metric: self.metric,
            protocol: RTPROT_PD,
        })
    }

    async fn apply(&mut self, r: &ReturnRoute, add: bool) {
        let Some(spec) = self.spec(r).await else {
            tracing::warn!(prefix = %r.prefix, iface = %r.iface, "interface not found; return route not changed");
            return;
        };
        let res = if add {
            self.router.route_replace(&spec).await
        } else {
            self.router.route_delete(&spec).await
        };
        match res {
            Ok(()) => tracing::debug!(route = %spec, add, "return route updated"),
            Err(e) => {
                // The interface may have been recreated: forget its index.
                self.index.remove(&*r.iface);
                tracing::warn!(error = %e, "return route change failed");
            }
        }
    }

    async fn reconcile(&mut self, engine: &Server) {
        let mut want: HashSet<RouteSpec> = HashSet::new();
        let live: Vec<ReturnRoute> = engine
            .leases()
            .filter(|l| l.state == crate::lease::LeaseState::Active)
            .map(|l| ReturnRoute {
                prefix: l.prefix,
                gateway: l.next_hop,
                iface: l.iface.clone(),
            })
            .collect();
        for r in &live {
            if let Some(s) = self.spec(r).await {
                want.insert(s);
            }
        }
        match self.router.routes_by_protocol(RTPROT_PD).await {
            Ok(have) => {
                for s in have.iter().filter(|s| !want.contains(s)) {
                    tracing::info!(route = %s, "removing a return route that matches no lease");
                    if let Err(e) = self.router.route_delete(s).await {
                        tracing::warn!(error = %e, "stale route removal failed");
                    }
                }
            }
            Err(e) => tracing::warn!(error = %e, "cannot list our routes"),
        }
        for s in &want {
            if let Err(e) = self.router.route_replace(s).await {
                tracing::warn!(error = %e, "return route restore failed");
            }
        }
    }
}
