//! Carry out the apply layer's host operations through rtnetlink, and
//! reconcile our routes at start-up.

use pd_core::effect::RouteKind;
use pd_core::sys::routing::{RouteSpec, Router, RoutingError, RTPROT_PD};

use crate::apply::{AddrSpec, Desired, Op};

/// Metric of the unreachable routes (the kernel's default, explicit so a
/// delete matches exactly).
pub const UNREACHABLE_METRIC: u32 = 1024;

/// The unreachable route for `dst`, with our protocol number.
pub fn unreachable(dst: pd_core::prefix::Prefix) -> RouteSpec {
    RouteSpec {
        dst,
        kind: RouteKind::Unreachable,
        metric: UNREACHABLE_METRIC,
        protocol: RTPROT_PD,
    }
}

async fn ifindex(router: &Router, a: &AddrSpec) -> Option<u32> {
    match router.link_index(&a.iface).await {
        Ok(Some(i)) => Some(i),
        Ok(None) => {
            tracing::warn!(iface = %a.iface, addr = %a.addr, "interface not found; address skipped");
            None
        }
        Err(e) => {
            tracing::warn!(iface = %a.iface, error = %e, "interface lookup failed");
            None
        }
    }
}

/// Execute `ops` in order; failures are logged, never fatal.
pub async fn execute(router: &Router, ops: &[Op]) {
    for op in ops {
        let r: Result<(), RoutingError> = match op {
            Op::AddUnreachable(p) => router.route_replace(&unreachable(*p)).await,
            Op::DelUnreachable(p) => router.route_delete(&unreachable(*p)).await,
            Op::AddAddress(a) => match ifindex(router, a).await {
                Some(i) => router.address_add(i, a.addr, a.len, false).await,
                None => Ok(()),
            },
            Op::DelAddress(a) => match ifindex(router, a).await {
                Some(i) => router.address_delete(i, a.addr, a.len).await,
                None => Ok(()),
            },
        };
        match r {
            Ok(()) => tracing::info!(op = %op, "host updated"),
            Err(e) => tracing::warn!(op = %op, error = %e, "host operation failed"),
        }
    }
}

/// Remove unreachable routes of our protocol that the desired state does
/// not have (left from an earlier lease). Routes of other kinds with our
/// protocol number belong to pd-server and are left alone.
pub async fn reconcile(router: &Router, desired: &Desired) -> Result<usize, RoutingError> {
    let mut removed = 0;
    for r in router.routes_by_protocol(RTPROT_PD).await? {
        if r.kind == RouteKind::Unreachable && !desired.unreachable.contains(&r.dst) {
            router.route_delete(&r).await?;
            tracing::info!(route = %r, "removed stale route");
            removed += 1;
        }
    }
    Ok(removed)
}
