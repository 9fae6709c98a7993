//! pd-client binary.

use std::process::ExitCode;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::Context;
use clap::{CommandFactory, Parser};
use pd_client::cli::{Cli, Command, LogFormat};
use pd_client::config::Config;
use pd_client::driver::{self, RequestArgs, RequestOutcome};
use pd_client::report::StatusReport;
use pd_client::state::StateDir;
use tracing_subscriber::EnvFilter;

fn init_logs(format: LogFormat, default_level: &str) {
    let filter =
        EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default_level));
    let b = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()));
    match format {
        LogFormat::Compact => b.compact().init(),
        LogFormat::Json => b.json().init(),
    }
}

fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?)
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match real_main(cli) {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            eprintln!("pd-client: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn real_main(cli: Cli) -> anyhow::Result<u8> {
    match cli.command {
        Command::Request {
            interface,
            prefix_length,
            hint,
            iaid,
            rapid_commit,
            json,
            timeout,
            state_dir,
        } => {
            init_logs(cli.log_format, "warn");
            let args = RequestArgs {
                interface,
                prefix_length,
                hint,
                iaid,
                rapid_commit,
                timeout: Duration::from_secs(timeout),
                state_dir,
            };
            let outcome = runtime()?.block_on(driver::request(args))?;
            match &outcome {
                RequestOutcome::Bound(r) if json => println!("{}", r.json()),
                RequestOutcome::Bound(r) => println!("{}", r.human()),
                RequestOutcome::NoPrefixAvail => {
                    eprintln!("pd-client: the server has no prefix available (NoPrefixAvail)")
                }
                RequestOutcome::Timeout => {
                    eprintln!("pd-client: no server answered within {timeout} s")
                }
            }
            Ok(outcome.exit_code())
        }
        Command::Release {
            interface,
            state_dir,
        } => {
            init_logs(cli.log_format, "warn");
            let released = runtime()?.block_on(driver::release(&interface, state_dir))?;
            for p in released {
                println!("released {p}");
            }
            Ok(0)
        }
        Command::Status { json, state_dir } => {
            let now = SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map(|d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
                .unwrap_or(0);
            let reports: Vec<StatusReport> = StateDir::new(state_dir)
                .records()?
                .iter()
                .map(|r| StatusReport::new(r, now))
                .collect();
            if json {
                println!("{}", serde_json::to_string(&reports)?);
            } else if reports.is_empty() {
                println!("no saved lease");
            } else {
                let text: Vec<String> = reports.iter().map(StatusReport::human).collect();
                println!("{}", text.join("\n\n"));
            }
            Ok(0)
        }
        Command::Run { config } => {
            let cfg = Config::load(&config)?;
            init_logs(cli.log_format, "info");
            runtime()?
                .block_on(driver::run(config.clone(), cfg))
                .with_context(|| format!("pd-client run --config {}", config.display()))?;
            Ok(0)
        }
        Command::CheckConfig { file } => {
            Config::load(&file)?;
            println!("{}: ok", file.display());
            Ok(0)
        }
        Command::Completions { shell } => {
            clap_complete::generate(
                shell,
                &mut Cli::command(),
                "pd-client",
                &mut std::io::stdout(),
            );
            Ok(0)
        }
    }
}
