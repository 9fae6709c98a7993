//! `pd-server leases …`: through the control socket when the daemon runs,
//! straight from the database when it does not.

use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use anyhow::{bail, Context};
use pd_core::prefix::Prefix;
use pd_core::time::Timestamp;

use crate::cli::LeaseOp;
use crate::control::{Request, Response};
use crate::lease::LeaseState;
use crate::store::{Clock, LeaseStore, SledStore};
use crate::view::LeaseView;

/// Where to find the daemon's state.
pub struct Target {
    /// The state directory.
    pub state_dir: PathBuf,
    /// The control socket.
    pub control: PathBuf,
}

/// Run a lease operation; returns the text to print.
pub fn run(target: &Target, op: LeaseOp) -> anyhow::Result<String> {
    let req = match &op {
        LeaseOp::List { .. } => Request::List,
        LeaseOp::Show { prefix, .. } => Request::Show {
            prefix: prefix.clone(),
        },
        LeaseOp::Release { prefix } => Request::Release {
            prefix: prefix.clone(),
        },
    };
    let resp = match UnixStream::connect(&target.control) {
        Ok(s) => ask(s, &req)?,
        Err(_) => offline(&target.state_dir, &req)?,
    };
    render(&op, resp)
}

/// `pd-server stats`: counters from the running daemon (JSON).
pub fn stats(target: &Target) -> anyhow::Result<String> {
    let s = UnixStream::connect(&target.control)
        .with_context(|| format!("no daemon answering on {}", target.control.display()))?;
    match ask(s, &Request::Stats)? {
        r @ Response::Stats { .. } => Ok(serde_json::to_string_pretty(&r)?),
        Response::Error { message } => bail!(message),
        other => bail!("unexpected answer {other:?}"),
    }
}

fn ask(mut s: UnixStream, req: &Request) -> anyhow::Result<Response> {
    let mut line = serde_json::to_vec(req)?;
    line.push(b'\n');
    s.write_all(&line)?;
    let mut out = String::new();
    BufReader::new(s)
        .read_line(&mut out)
        .context("no answer from the daemon")?;
    serde_json::from_str(&out).context("bad answer from the daemon")
}

fn clock() -> Clock {
    Clock::at(
        Timestamp::ZERO,
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default(),
    )
}

fn offline(dir: &Path, req: &Request) -> anyhow::Result<Response> {
    if !dir.join("leases").exists() {
        bail!(
            "no lease database in {} (and no daemon answering)",
            dir.display()
        );
    }
    let store = SledStore::open(dir)?;
    let clock = clock();
    let leases = store.load(clock)?;
    let find = |p: &str| -> anyhow::Result<Option<crate::lease::Lease>> {
        let p: Prefix = p.parse()?;
        Ok(leases.iter().find(|l| l.prefix == p).cloned())
    };
    Ok(match req {
        Request::List => {
            let mut v: Vec<LeaseView> = leases.iter().map(|l| LeaseView::of(l, clock)).collect();
            v.sort_by(|a, b| a.prefix.cmp(&b.prefix));
            Response::Leases { leases: v }
        }
        Request::Show { prefix } => match find(prefix)? {
            Some(l) => Response::Leases {
                leases: vec![LeaseView::of(&l, clock)],
            },
            None => Response::Error {
                message: format!("no lease for {prefix}"),
            },
        },
        Request::Release { prefix } => {
            match find(prefix)? {
                Some(mut l) if l.state == LeaseState::Active => {
                    l.state = LeaseState::Released;
                    store.write(clock, &[l], &[])?;
                    Response::Ok {
                    message: format!("released {prefix} (daemon not running: its route goes at the next start)"),
                }
                }
                _ => Response::Error {
                    message: format!("{prefix} is not an active lease"),
                },
            }
        }
        Request::Stats => Response::Error {
            message: "stats need the running daemon".into(),
        },
    })
}

fn render(op: &LeaseOp, resp: Response) -> anyhow::Result<String> {
    let json = matches!(
        op,
        LeaseOp::List { json: true } | LeaseOp::Show { json: true, .. }
    );
    match resp {
        Response::Leases { leases } if json => Ok(serde_json::to_string_pretty(&leases)?),
        Response::Leases { leases } if leases.is_empty() => Ok("no leases".into()),
        Response::Leases { leases } => Ok(leases
            .iter()
            .map(|l| l.line())
            .collect::<Vec<_>>()
            .join("\n")),
        Response::Ok { message } => Ok(message),
        r @ Response::Stats { .. } => Ok(serde_json::to_string_pretty(&r)?),
        Response::Error { message } => bail!(message),
    }
}
