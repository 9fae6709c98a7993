//! pd-server binary.

use std::process::ExitCode;

use anyhow::Context;
use clap::{CommandFactory, Parser};
use pd_server::cli::{Cli, Command, LogFormat};
use pd_server::{config, driver, leases_cmd};
use tracing_subscriber::EnvFilter;

/// mimalloc rather than glibc malloc. The loop allocates per datagram and the
/// lease writer frees what the loop allocated (jobs cross threads), which
/// glibc's arenas handle poorly: malloc/free were about 12 % of the loop
/// thread's samples. Measured in BENCHMARKS.md: about 7 % less CPU per
/// exchange, a 1 M-lease restore 3.2 s -> 2.5 s. Built with `no_thp`: with
/// transparent huge pages the restore peaked at 238 MB instead of 200.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn init_logs(format: LogFormat, level: Option<&str>) {
    let filter = EnvFilter::try_from_default_env()
        .or_else(|_| EnvFilter::try_new(level.unwrap_or("info")))
        .unwrap_or_else(|_| EnvFilter::new("info"));
    let b = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_writer(std::io::stderr);
    match format {
        LogFormat::Compact => b.compact().init(),
        LogFormat::Json => b.json().init(),
    }
}

fn load(path: &std::path::Path) -> anyhow::Result<config::Config> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    config::parse(&text).with_context(|| format!("{} is invalid", path.display()))
}

fn target(
    config: &std::path::Path,
    state_dir: Option<std::path::PathBuf>,
) -> anyhow::Result<leases_cmd::Target> {
    Ok(match state_dir {
        Some(d) => leases_cmd::Target {
            control: d.join("control.sock"),
            state_dir: d,
        },
        None => {
            let c = load(config)?;
            leases_cmd::Target {
                state_dir: c.state_dir,
                control: c.control_socket,
            }
        }
    })
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match real_main(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("pd-server: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn real_main(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::CheckConfig { file } => {
            load(&file)?;
            println!("{}: ok", file.display());
            Ok(())
        }
        Command::Completions { shell } => {
            clap_complete::generate(
                shell,
                &mut Cli::command(),
                "pd-server",
                &mut std::io::stdout(),
            );
            Ok(())
        }
        Command::Leases {
            config,
            state_dir,
            op,
        } => {
            println!("{}", leases_cmd::run(&target(&config, state_dir)?, op)?);
            Ok(())
        }
        Command::Stats { config, state_dir } => {
            println!("{}", leases_cmd::stats(&target(&config, state_dir)?)?);
            Ok(())
        }
        Command::Run { config } => {
            let cfg = load(&config)?;
            init_logs(cli.log_format, cfg.log_level.as_deref());
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()?;
            rt.block_on(driver::run(config, cfg))
        }
    }
}
