//! Command line (clap).

use std::path::PathBuf;

use clap::{Parser, Subcommand, ValueEnum};

use crate::config::DEFAULT_STATE_DIR;

/// Default configuration file of `pd-client run`.
pub const DEFAULT_CONFIG: &str = "/etc/pd-client/pd-client.toml";

/// DHCPv6 prefix-delegation client for a requesting router (RFC 9915, RFC 7084).
#[derive(Debug, Parser)]
#[command(name = "pd-client", version, about, long_about = None)]
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
    /// Obtain a prefix once and print it (exit 0; 2 NoPrefixAvail; 3 no answer; 1 error).
    Request {
        /// Upstream interface.
        #[arg(long, short)]
        interface: String,
        /// Prefix-length hint (sent as ::/N).
        #[arg(long)]
        prefix_length: Option<u8>,
        /// Prefix hint, e.g. 2001:db8:ab00::/56 (default: the saved lease's prefix).
        #[arg(long)]
        hint: Option<String>,
        /// IA_PD identifier (default: FNV-1a-32 of the interface name).
        #[arg(long)]
        iaid: Option<u32>,
        /// Ask for Rapid Commit (two-message exchange).
        #[arg(long)]
        rapid_commit: bool,
        /// Print one JSON object instead of text.
        #[arg(long)]
        json: bool,
        /// Give up after this many seconds without a lease.
        #[arg(long, default_value_t = 10)]
        timeout: u64,
        /// Where the DUID and the lease are kept.
        #[arg(long, default_value = DEFAULT_STATE_DIR)]
        state_dir: PathBuf,
    },
    /// Release the saved lease of an interface.
    Release {
        /// Upstream interface.
        #[arg(long, short)]
        interface: String,
        /// Where the lease is kept.
        #[arg(long, default_value = DEFAULT_STATE_DIR)]
        state_dir: PathBuf,
    },
    /// Show the saved leases with the seconds left to T1, T2 and expiry.
    Status {
        /// JSON output (an array).
        #[arg(long)]
        json: bool,
        /// Where the leases are kept.
        #[arg(long, default_value = DEFAULT_STATE_DIR)]
        state_dir: PathBuf,
    },
    /// Run the daemon in the foreground (systemd: Type=notify).
    Run {
        /// Configuration file.
        #[arg(long, short, default_value = DEFAULT_CONFIG)]
        config: PathBuf,
    },
    /// Validate a configuration file; exit 0 if valid, 1 naming the key and reason if not.
    CheckConfig {
        /// Configuration file.
        file: PathBuf,
    },
    /// Print shell completions.
    Completions {
        /// Shell.
        shell: clap_complete::Shell,
    },
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn cli_is_consistent_and_parses() {
        Cli::command().debug_assert();
        let c = Cli::try_parse_from([
            "pd-client",
            "request",
            "-i",
            "wan0",
            "--prefix-length",
            "56",
            "--json",
        ]);
        match c.map(|c| c.command) {
            Ok(Command::Request {
                interface,
                prefix_length,
                json,
                timeout,
                ..
            }) => {
                assert_eq!(
                    (interface.as_str(), prefix_length, json, timeout),
                    ("wan0", Some(56), true, 10)
                );
            }
            other => panic!("{other:?}"),
        }
        assert!(Cli::try_parse_from(["pd-client", "request"]).is_err());
        let c = Cli::try_parse_from(["pd-client", "--log-format", "json", "run", "-c", "/x.toml"]);
        assert!(matches!(
            c.map(|c| (c.log_format, c.command)),
            Ok((LogFormat::Json, Command::Run { .. }))
        ));
    }
}
