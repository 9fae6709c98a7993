//! The local control socket: one JSON request per connection, one JSON
//! answer. Lets `pd-server leases …` work while the daemon holds sled's
//! exclusive lock. The socket is created mode 0600 (root only).

use serde::{Deserialize, Serialize};

use crate::driver::histogram::Summary;
use crate::view::LeaseView;

/// A request from the command line.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "cmd", rename_all = "kebab-case")]
pub enum Request {
    /// Every lease record.
    List,
    /// One lease.
    Show {
        /// The prefix.
        prefix: String,
    },
    /// Release one lease.
    Release {
        /// The prefix.
        prefix: String,
    },
    /// Counters.
    Stats,
}

/// The daemon's answer.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "result", rename_all = "kebab-case")]
pub enum Response {
    /// Leases.
    Leases {
        /// The records.
        leases: Vec<LeaseView>,
    },
    /// Done.
    Ok {
        /// What happened.
        message: String,
    },
    /// Counters.
    Stats {
        /// Active bindings.
        active: u64,
        /// Messages answered.
        replies: u64,
        /// Messages dropped, by reason.
        drops: Vec<(String, u64)>,
        /// New bindings refused by the per-link caps.
        refused: u64,
        /// How long the lease journal's fdatasyncs took (none counted
        /// without durable writes). Absent from an older daemon's answer.
        #[serde(default)]
        syncs: Summary,
    },
    /// Refused.
    Error {
        /// Why.
        message: String,
    },
}

/// Largest request accepted.
pub const MAX_REQUEST: usize = 4096;

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn an_older_daemons_stats_answer_still_reads() {
        // Before the daemon reported its fdatasync times.
        let old = r#"{"result":"stats","active":3,"replies":6,"drops":[],"refused":0}"#;
        let r: Response = serde_json::from_str(old).unwrap();
        assert_eq!(
            r,
            Response::Stats {
                active: 3,
                replies: 6,
                drops: Vec::new(),
                refused: 0,
                syncs: Summary::default(),
            }
        );
    }
}
