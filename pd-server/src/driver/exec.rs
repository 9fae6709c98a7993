//! Executing one loop turn's effects: Advertises at once; records, with the
//! Replies, routes and hooks that wait for them, through the lease writer.

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::UnixStream;

use pd_core::prefix::Prefix;
use pd_core::wire;

use super::{writer, Daemon};
use crate::control::{Request, Response, MAX_REQUEST};
use crate::engine::Effect;
use crate::lease::Lease;
use crate::view::LeaseView;

impl Daemon {
    /// Run the effects of one turn in the order durability requires:
    /// Advertises at once (they grant nothing; offers are not persisted);
    /// records, with the Replies and the route and hook effects that must
    /// follow them, to the lease writer. With nothing to write and nothing
    /// in flight, Replies leave at once too.
    pub(super) async fn execute(&mut self, fx: Vec<Effect>) {
        if fx.is_empty() {
            return;
        }
        let mut puts: Vec<Lease> = Vec::new();
        let mut forgets: Vec<Prefix> = Vec::new();
        let mut replies = Vec::new();
        let mut after = Vec::new();
        for e in fx {
            match e {
                Effect::Persist(l) => puts.push(l),
                Effect::Forget(p) => forgets.push(p),
                Effect::Transmit(t) if t.envelope.msg.msg_type == wire::MsgType::Advertise => {
                    self.transmit(&t).await
                }
                Effect::Transmit(t) => replies.push(t),
                Effect::RouteAdd(_) | Effect::RouteDel(_) if self.routes.is_none() => {}
                Effect::Hook(_) if self.hooks.is_none() => {}
                other => after.push(other),
            }
        }
        if puts.is_empty() && forgets.is_empty() && self.writer.idle() {
            for t in &replies {
                self.transmit(t).await;
            }
            self.run_after(after).await;
            return;
        }
        let job = writer::Job {
            clock: self.clock(),
            puts,
            forgets,
            replies,
            after,
        };
        if !self.writer.submit(job) {
            self.writer_stopped();
        }
    }

    /// Route and hook effects, once their records are durable.
    pub(super) async fn run_after(&mut self, fx: Vec<Effect>) {
        for e in fx {
            match e {
                Effect::RouteAdd(r) => {
                    if let Some(w) = &self.routes {
                        w.add(r).await;
                    }
                }
                Effect::RouteDel(r) => {
                    if let Some(w) = &self.routes {
                        w.del(r).await;
                    }
                }
                Effect::Hook(call) => {
                    if let Some(h) = &self.hooks {
                        h.spawn(call);
                    }
                }
                Effect::Persist(_) | Effect::Forget(_) | Effect::Transmit(_) => {}
            }
        }
    }

    async fn transmit(&self, t: &pd_core::effect::Transmit) {
        let bytes = wire::encode(&t.envelope);
        if let Err(e) = self.sock.send(&bytes, t.to, t.ifindex).await {
            tracing::warn!(to = %t.to, ifindex = t.ifindex, error = %e, "send failed");
        }
    }

    /// One control-socket request: read it, act, answer.
    pub(super) async fn control_request(&mut self, mut stream: UnixStream) {
        let mut buf = Vec::with_capacity(256);
        let read = tokio::time::timeout(std::time::Duration::from_secs(2), async {
            let mut chunk = [0u8; 512];
            loop {
                let n = stream.read(&mut chunk).await?;
                buf.extend_from_slice(chunk.get(..n).unwrap_or_default());
                if n == 0 || buf.contains(&b'\n') || buf.len() > MAX_REQUEST {
                    return Ok::<(), std::io::Error>(());
                }
            }
        })
        .await;
        let resp = match (read, serde_json::from_slice::<Request>(buf.trim_ascii())) {
            (Ok(Ok(())), Ok(req)) => self.answer(req).await,
            (Ok(Ok(())), Err(e)) => Response::Error {
                message: format!("bad request: {e}"),
            },
            _ => Response::Error {
                message: "request not received".into(),
            },
        };
        let mut out = serde_json::to_vec(&resp).unwrap_or_default();
        out.push(b'\n');
        let _ = stream.write_all(&out).await;
    }

    async fn answer(&mut self, req: Request) -> Response {
        let clock = self.clock();
        let parse = |s: &str| {
            s.parse::<Prefix>().map_err(|e| Response::Error {
                message: e.to_string(),
            })
        };
        match req {
            Request::List => {
                let mut leases: Vec<LeaseView> = self
                    .engine
                    .leases()
                    .map(|l| LeaseView::of(&l, clock))
                    .collect();
                leases.sort_by(|a, b| a.prefix.cmp(&b.prefix));
                Response::Leases { leases }
            }
            Request::Show { prefix } => match parse(&prefix) {
                Ok(p) => match self.engine.lease(&p) {
                    Some(l) => Response::Leases {
                        leases: vec![LeaseView::of(&l, clock)],
                    },
                    None => Response::Error {
                        message: format!("no lease for {p}"),
                    },
                },
                Err(e) => e,
            },
            Request::Release { prefix } => match parse(&prefix) {
                Ok(p) => match self.engine.admin_release(clock.mono, &p) {
                    Some(fx) => {
                        self.execute(fx).await;
                        tracing::info!(prefix = %p, "lease released by operator");
                        Response::Ok {
                            message: format!("released {p}"),
                        }
                    }
                    None => Response::Error {
                        message: format!("{p} is not an active lease"),
                    },
                },
                Err(e) => e,
            },
            Request::Stats => Response::Stats {
                active: self.engine.active_count() as u64,
                replies: self.engine.replies(),
                drops: self
                    .engine
                    .drops()
                    .iter()
                    .map(|(k, v)| (format!("{k:?}"), *v))
                    .collect(),
                refused: self.engine.refused(),
                syncs: self.writer.sync_times(),
            },
        }
    }
}
