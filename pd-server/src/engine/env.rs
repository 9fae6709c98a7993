//! Hook environment: Dibbler server's variables, so existing Dibbler
//! scripts run unchanged, plus our own `PD_*` ones.

use pd_core::effect::{HookAction, HookCall};
use pd_core::time::Timestamp;

use crate::lease::Lease;

/// Names of the messages behind a hook call (`CLNT_MESSAGE`, `SRV_MESSAGE`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MessageNames {
    /// Client's message, e.g. "REQUEST".
    pub client: &'static str,
    /// Our answer, e.g. "REPLY".
    pub server: &'static str,
}

impl MessageNames {
    /// For events no message caused (expiry, restart, operator release).
    pub fn none() -> Self {
        MessageNames {
            client: "",
            server: "",
        }
    }
}

/// The hook call for `l` at `now`; lifetimes are the seconds left (0 once
/// released or expired, 4294967295 for infinity).
pub fn hook_call(l: &Lease, action: HookAction, names: &MessageNames, now: Timestamp) -> HookCall {
    let prefix_addr = l.prefix.addr().to_string();
    let len = l.prefix.len().to_string();
    let (pref, valid) = match action {
        HookAction::Delete | HookAction::Expire => ("0".to_string(), "0".to_string()),
        HookAction::Add | HookAction::Update => (
            now.remaining_secs(l.preferred_until).to_string(),
            now.remaining_secs(l.valid_until).to_string(),
        ),
    };
    let iface = l.iface.to_string();
    let duid = l.client.duid.to_string();
    let iaid = l.client.iaid.to_string();
    let nh = l.next_hop.to_string();
    let mut env: Vec<(String, String)> = vec![
        // Dibbler server compatibility.
        ("IFACE".into(), iface.clone()),
        ("REMOTE_ADDR".into(), nh.clone()),
        ("PREFIX1".into(), prefix_addr),
        ("PREFIX1LEN".into(), len),
        ("PREFIX1PREF".into(), pref.clone()),
        ("PREFIX1VALID".into(), valid.clone()),
        ("IAID".into(), iaid.clone()),
        ("SRV_OPTION1".into(), duid.clone()),
        // Ours.
        ("PD_EVENT".into(), action.as_str().into()),
        ("PD_PREFIX".into(), l.prefix.to_string()),
        ("PD_DUID".into(), duid),
        ("PD_IAID".into(), iaid),
        ("PD_NEXTHOP".into(), nh),
        ("PD_IFACE".into(), iface),
        ("PD_PREFERRED".into(), pref),
        ("PD_VALID".into(), valid),
    ];
    if !names.client.is_empty() {
        env.push(("CLNT_MESSAGE".into(), names.client.into()));
        env.push(("SRV_MESSAGE".into(), names.server.into()));
    }
    HookCall {
        action,
        key: l.prefix.to_string(),
        env,
    }
}
