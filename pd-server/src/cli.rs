//! Command line (clap).

use std::path::PathBuf;

use clap::{Parser, Subcommand, ValueEnum};

/// DHCPv6 prefix-delegation server (RFC 9915).
#[derive(Debug, Parser)]
#[command(name = "pd-server", version, about, long_about = None)]
pub struct Cli {
    /// Log format on stderr.
    #[arg(long, value_enum, default_value_t = LogFormat::Compact, global = true)]
    pub log_format: LogFormat,
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// Log formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    /// One human-readable line per event.
    Compact,
    /// One JSON object per event.
    Json,
}

/// Subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the server in the foreground (systemd: Type=notify).
    Run {
        /// Configuration file.
        #[arg(long, short, default_value = "/etc/pd-server/pd-server.toml")]
        config: PathBuf,
    },
    /// Validate a configuration file; exit 0 if valid, 1 naming the key and reason if not.
    CheckConfig {
        /// Configuration file.
        file: PathBuf,
    },
    /// Inspect or change leases (through the running daemon, or the database when it is stopped).
    Leases {
        /// Configuration file (to find the state-dir and control socket).
        #[arg(long, short, default_value = "/etc/pd-server/pd-server.toml")]
        config: PathBuf,
        /// State directory (instead of reading it from the configuration).
        #[arg(long)]
        state_dir: Option<PathBuf>,
        /// Which lease operation.
        #[command(subcommand)]
        op: LeaseOp,
    },
    /// Counters of the running daemon: bindings, replies, dropped messages by reason, refused bindings, and how long the lease fdatasyncs took.
    Stats {
        /// Configuration file (to find the control socket).
        #[arg(long, short, default_value = "/etc/pd-server/pd-server.toml")]
        config: PathBuf,
        /// State directory (instead of reading it from the configuration).
        #[arg(long)]
        state_dir: Option<PathBuf>,
    },
    /// Print shell completions.
    Completions {
        /// Shell.
        shell: clap_complete::Shell,
    },
}

/// Lease operations.
#[derive(Debug, Subcommand)]
pub enum LeaseOp {
    /// List every lease record.
    List {
        /// JSON output (an array).
        #[arg(long)]
        json: bool,
    },
    /// Show one lease.
    Show {
        /// Delegated prefix, e.g. 2001:db8:2222:1::/64.
        prefix: String,
        /// JSON output.
        #[arg(long)]
        json: bool,
    },
    /// Release one lease now (route withdrawn, delete hook run).
    Release {
        /// Delegated prefix.
        prefix: String,
    },
}
