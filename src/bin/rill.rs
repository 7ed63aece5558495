//! The `rill` command line.
//!
//! `rill broker --data-dir DIR [--listen 127.0.0.1:9092] [--config server.properties]
//! [--config KEY=VALUE]…` runs the bundled Kafka-protocol broker as a standalone process. It logs with `tracing` (filter with `RUST_LOG`), keeps
//! its data in `DIR` across restarts and shuts down cleanly on SIGINT or SIGTERM.
//!
//! `rill broker users add|delete|list --data-dir DIR …` manages the SCRAM users of a
//! stopped broker's data directory, as Kafka's `kafka-storage format --add-scram` (a
//! running broker takes `AlterUserScramCredentials` instead).

#![forbid(unsafe_code)]

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(name = "rill", version, about = "Kafka Streams for Rust")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the bundled Kafka-protocol broker.
    Broker {
        /// Directory holding the partition logs (created if missing); Kafka's `log.dirs` in a
        /// config file does the same.
        #[arg(long)]
        data_dir: Option<PathBuf>,
        /// Address of the single PLAINTEXT listener (replaces `listeners` from a config
        /// file; several named listeners are set with `--config listeners=...`); loopback
        /// unless told otherwise.
        #[arg(long)]
        listen: Option<SocketAddr>,
        /// Host name to advertise to clients (defaults to the listen address).
        #[arg(long)]
        advertised_host: Option<String>,
        /// A Kafka `server.properties` file, or one property as `KEY=VALUE`, e.g.
        /// `--config log.retention.hours=24`. Repeatable; applied in order, before the flags
        /// above.
        #[arg(long = "config", value_name = "FILE|KEY=VALUE")]
        configs: Vec<String>,
        /// Offline tools for the broker's data directory.
        #[command(subcommand)]
        tool: Option<BrokerTool>,
    },
}

#[derive(Debug, Subcommand)]
enum BrokerTool {
    /// Manage the SCRAM users of a stopped broker (salted and hashed; no password is kept).
    #[command(subcommand)]
    Users(UsersCommand),
}

#[derive(Debug, Subcommand)]
enum UsersCommand {
    /// Add a user, or change its password, for one SCRAM mechanism.
    Add {
        /// The broker's data directory.
        #[arg(long)]
        data_dir: PathBuf,
        /// The user name.
        #[arg(long)]
        user: String,
        /// `SCRAM-SHA-256` or `SCRAM-SHA-512`.
        #[arg(long, default_value = "SCRAM-SHA-512")]
        mechanism: String,
        /// The password; read from the first line of standard input when absent (keeps
        /// it out of the process list).
        #[arg(long)]
        password: Option<String>,
        /// PBKDF2 iterations (4096 to 16384).
        #[arg(long, default_value_t = 4096)]
        iterations: u32,
    },
    /// Remove a user's credential for one SCRAM mechanism.
    Delete {
        /// The broker's data directory.
        #[arg(long)]
        data_dir: PathBuf,
        /// The user name.
        #[arg(long)]
        user: String,
        /// `SCRAM-SHA-256` or `SCRAM-SHA-512`.
        #[arg(long)]
        mechanism: String,
    },
    /// List the users and their mechanisms and iteration counts.
    List {
        /// The broker's data directory.
        #[arg(long)]
        data_dir: PathBuf,
    },
}

/// Refuses to edit the data directory of a running broker, whose next change would
/// overwrite the edit (the broker's `.lock` file names a live process).
fn ensure_stopped(data_dir: &std::path::Path) -> Result<(), String> {
    let pid = std::fs::read_to_string(data_dir.join(".lock"))
        .ok()
        .and_then(|s| s.trim().parse::<u32>().ok());
    match pid {
        Some(pid) if std::path::Path::new(&format!("/proc/{pid}")).exists() => Err(format!(
            "a broker (pid {pid}) is running on {}: stop it, or use AlterUserScramCredentials",
            data_dir.display()
        )),
        _ => Ok(()),
    }
}

fn run_users(command: UsersCommand) -> Result<(), String> {
    use streams_broker::security::credentials::CredentialStore;
    use streams_broker::security::scram::ScramMechanism;
    let mechanism = |name: &str| {
        ScramMechanism::from_name(name)
            .ok_or_else(|| format!("unknown mechanism {name}: use SCRAM-SHA-256 or SCRAM-SHA-512"))
    };
    let open = |dir: &std::path::Path| {
        ensure_stopped(dir)?;
        std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        CredentialStore::open(dir).map_err(|e| e.to_string())
    };
    match command {
        UsersCommand::Add {
            data_dir,
            user,
            mechanism: m,
            password,
            iterations,
        } => {
            let m = mechanism(&m)?;
            let password = match password {
                Some(p) => p,
                None => {
                    let mut line = String::new();
                    std::io::stdin()
                        .read_line(&mut line)
                        .map_err(|e| format!("cannot read the password: {e}"))?;
                    line.trim_end_matches(['\r', '\n']).to_string()
                }
            };
            if password.is_empty() {
                return Err("the password must not be empty".into());
            }
            open(&data_dir)?
                .set_password(&user, m, &password, iterations)
                .map_err(|e| e.to_string())?;
            println!(
                "{user}: {} credential set ({iterations} iterations)",
                m.name()
            );
        }
        UsersCommand::Delete {
            data_dir,
            user,
            mechanism: m,
        } => {
            let m = mechanism(&m)?;
            if !open(&data_dir)?
                .delete(&user, m)
                .map_err(|e| e.to_string())?
            {
                return Err(format!("{user} has no {} credential", m.name()));
            }
            println!("{user}: {} credential deleted", m.name());
        }
        UsersCommand::List { data_dir } => {
            for (user, infos) in open(&data_dir)?.describe() {
                let infos: Vec<String> = infos
                    .iter()
                    .map(|(m, i)| format!("{}(iterations={i})", m.name()))
                    .collect();
                println!("{user} {}", infos.join(" "));
            }
        }
    }
    Ok(())
}

fn run_broker(
    data_dir: Option<PathBuf>,
    listen: Option<SocketAddr>,
    advertised_host: Option<String>,
    configs: Vec<String>,
) -> Result<(), String> {
    let mut config = streams_broker::BrokerConfig::default();
    for item in &configs {
        // A property has `=`; anything else names a properties file.
        match item.split_once('=') {
            Some((k, v)) => config.set(k.trim(), v.trim()).map_err(|e| e.to_string())?,
            None => config
                .load_properties(std::path::Path::new(item))
                .map_err(|e| e.to_string())?,
        }
    }
    if let Some(dir) = data_dir {
        config.data_dir = Some(dir);
    }
    if config.data_dir.is_none() {
        return Err("no data directory: pass --data-dir or set log.dirs in a --config file".into());
    }
    if let Some(listen) = listen {
        // `--listen` is the single PLAINTEXT listener, replacing any `listeners`.
        config.listen = listen;
        config.listeners.clear();
    }
    if advertised_host.is_some() {
        config.advertised_host = advertised_host;
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start the runtime: {e}"))?;
    runtime.block_on(async move {
        let server = streams_broker::Server::bind(config)
            .await
            .map_err(|e| e.to_string())?;
        server
            .run(shutdown_signal())
            .await
            .map_err(|e| e.to_string())
    })
}

async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = ctrl_c => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                let _ = ctrl_c.await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = ctrl_c.await;
    }
    tracing::info!("shutdown signal received");
}

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Broker {
            data_dir,
            listen,
            advertised_host,
            configs,
            tool,
        } => match tool {
            Some(BrokerTool::Users(command)) => run_users(command),
            None => run_broker(data_dir, listen, advertised_host, configs),
        },
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!("{e}");
            eprintln!("rill: {e}");
            ExitCode::FAILURE
        }
    }
}
