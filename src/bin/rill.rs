//! The `rill` command line.
//!
//! `rill broker --data-dir DIR [--listen 127.0.0.1:9092] [--config server.properties]
//! [--config KEY=VALUE]…` runs the bundled Kafka-protocol broker as a standalone process. It logs with `tracing` (filter with `RUST_LOG`), keeps
//! its data in `DIR` across restarts and shuts down cleanly on SIGINT or SIGTERM.

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
        /// Address to listen on (Kafka's `listeners`); loopback unless told otherwise.
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
    },
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
        config.listen = listen;
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
        } => run_broker(data_dir, listen, advertised_host, configs),
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
