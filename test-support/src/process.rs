//! Child processes the end-to-end tests and benchmarks drive: `rill broker`, the example
//! binaries, and the third-party clients (kcat, kafka-python) whose compatibility is tested.

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use crate::workspace_root;

/// Starts `rill broker` (the binary at `rill`, which a test or bench of the `rill` package
/// names as `env!("CARGO_BIN_EXE_rill")`) on an ephemeral loopback port with its data in
/// `data_dir`; returns the child and its address, read from the "broker listening" log line.
pub fn start_rill_broker(rill: impl AsRef<Path>, data_dir: &Path) -> (Child, SocketAddr) {
    let data_dir = data_dir.as_os_str();
    start_rill_broker_with_args(
        rill,
        &[
            "--data-dir".as_ref(),
            data_dir,
            "--listen".as_ref(),
            "127.0.0.1:0".as_ref(),
        ],
    )
}

/// Starts `rill broker` with `args` (which must make it listen on a loopback port) and waits
/// for its "broker listening" log line, like [`start_rill_broker`].
pub fn start_rill_broker_with_args(
    rill: impl AsRef<Path>,
    args: &[&std::ffi::OsStr],
) -> (Child, SocketAddr) {
    let mut child = Command::new(rill.as_ref())
        .arg("broker")
        .args(args)
        .env("RUST_LOG", "info")
        .env("NO_COLOR", "1")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("rill broker starts");
    let stderr = child.stderr.take().expect("the child's stderr is piped");
    let (tx, rx) = std::sync::mpsc::channel();
    // The thread keeps draining stderr after the address is found, so the broker never blocks
    // on a full pipe.
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if line.contains("broker listening") {
                let addr = line
                    .split_whitespace()
                    .find_map(|w| w.strip_prefix("addr="))
                    .and_then(|a| {
                        a.trim_matches(|c: char| !c.is_ascii_digit() && c != '.' && c != ':')
                            .parse()
                            .ok()
                    });
                let _ = tx.send(addr);
            }
        }
    });
    let addr = rx
        .recv_timeout(Duration::from_secs(20))
        .expect("the \"broker listening\" log line within 20 s")
        .expect("an address in the \"broker listening\" log line");
    (child, addr)
}

/// Starts `rill broker` with `args` and returns the process with the name and address of
/// every listener it bound, read from its `listener bound` log lines.
pub fn start_rill_broker_listeners(
    rill: impl AsRef<Path>,
    args: &[&std::ffi::OsStr],
) -> (Child, Vec<(String, SocketAddr)>) {
    let mut child = Command::new(rill.as_ref())
        .arg("broker")
        .args(args)
        .env("RUST_LOG", "info")
        .env("NO_COLOR", "1")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("rill broker starts");
    let stderr = child.stderr.take().expect("the child's stderr is piped");
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut listeners = Vec::new();
        let field = |line: &str, name: &str| {
            line.split_whitespace()
                .find_map(|w| w.strip_prefix(name))
                .map(|v| v.trim_matches(|c: char| c == '"' || c == ',').to_string())
        };
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if line.contains("listener bound") {
                if let (Some(name), Some(addr)) = (field(&line, "listener="), field(&line, "addr="))
                {
                    if let Ok(addr) = addr.parse() {
                        listeners.push((name, addr));
                    }
                }
            } else if line.contains("broker listening") {
                let _ = tx.send(std::mem::take(&mut listeners));
            }
        }
    });
    let listeners = rx
        .recv_timeout(Duration::from_secs(20))
        .expect("the \"broker listening\" log line within 20 s");
    (child, listeners)
}

/// Sends signal `name` (`TERM`, `INT`, ...) to `child` with `kill`.
pub fn signal(child: &Child, name: &str) {
    let status = Command::new("kill")
        .args([&format!("-{name}"), &child.id().to_string()])
        .status()
        .expect("kill runs");
    assert!(status.success(), "kill -{name} {}: {status}", child.id());
}

/// Waits up to `timeout` for `child` to exit; panics if it has not.
pub fn wait_exit(child: &mut Child, timeout: Duration) -> ExitStatus {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(status) = child.try_wait().expect("wait for the child") {
            return status;
        }
        assert!(
            Instant::now() < deadline,
            "process {} did not exit within {timeout:?}",
            child.id()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// SIGTERM, then the exit status within `timeout`.
pub fn terminate(child: &mut Child, timeout: Duration) -> ExitStatus {
    signal(child, "TERM");
    wait_exit(child, timeout)
}

/// The example binary `name`, built alongside the tests (`cargo test` builds examples; a
/// filtered run builds it here).
pub fn example(name: &str) -> PathBuf {
    let exe = std::env::current_exe().expect("test binary path");
    let debug_dir = exe
        .parent()
        .and_then(|deps| deps.parent())
        .expect("target directory");
    let binary = debug_dir.join("examples").join(name);
    if !binary.exists() {
        let status = Command::new(env!("CARGO"))
            .args(["build", "--quiet", "--example", name])
            .current_dir(workspace_root())
            .status()
            .expect("cargo build --example runs");
        assert!(status.success(), "cargo build --example {name}: {status}");
    }
    binary
}

/// Whether `kcat` is installed. A test without it is skipped (with a note on stderr), except
/// in CI (`CI` set), where a missing kcat is a failure.
pub fn kcat_available() -> bool {
    let found = Command::new("kcat")
        .arg("-V")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok();
    if !found {
        assert!(
            std::env::var_os("CI").is_none(),
            "kcat missing in CI: run `make deps`"
        );
        eprintln!("skipped: kcat is not installed (run `make deps`)");
    }
    found
}

/// The Python interpreter with kafka-python: `RILL_KAFKA_PYTHON`, else the venv `make pyvenv`
/// creates (`target/pyvenv`), if it exists.
pub fn kafka_python() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("RILL_KAFKA_PYTHON") {
        return Some(PathBuf::from(p));
    }
    let venv = workspace_root().join("target/pyvenv/bin/python");
    venv.exists().then_some(venv)
}
