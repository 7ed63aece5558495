//! Specification: the broker keeps SCRAM users, salted and hashed, across restarts, and
//! they are managed offline with `rill broker users` and online with kafka-python's
//! `alter_user_scram_credentials`/`describe_user_scram_credentials`.
//!
//! `rill broker users add` creates `alice` (SCRAM-SHA-512) in a data directory; a broker
//! started on it describes her; kafka-python adds `bob` (SCRAM-SHA-256, 8192 iterations)
//! and is refused 1000 iterations (`UNACCEPTABLE_CREDENTIAL`: too few) and the deletion of
//! a credential that does not exist (`RESOURCE_NOT_FOUND`). While the broker runs, the
//! offline tool refuses to touch its data directory. After a restart both users are
//! there, and the file on disk holds no password.
//!
//! SASL authentication with these users on a `SASL_PLAINTEXT` listener is specified in
//! `tests/broker_sasl.rs`.
//!
//! kafka-python is the virtualenv of `make pyvenv` (or `RILL_KAFKA_PYTHON`); without it
//! the test is skipped, except in CI.

use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};

use rill_test_support::process::kafka_python;
use streams_broker::{BrokerConfig, EmbeddedBroker};

const ALTER: &str = r#"
import sys
from kafka.admin import KafkaAdminClient
from kafka.admin._users import (ScramMechanism, UserScramCredentialUpsertion,
                                UserScramCredentialDeletion)

admin = KafkaAdminClient(bootstrap_servers=sys.argv[1])
users = admin.describe_user_scram_credentials()
assert users == {'alice': {'error': None, 'credential_infos': [
    {'mechanism': ScramMechanism.SCRAM_SHA_512, 'iterations': 4096}]}}, users
result = admin.alter_user_scram_credentials([
    UserScramCredentialUpsertion('bob', 'SCRAM-SHA-256', 'bob-secret', iterations=8192),
    UserScramCredentialUpsertion('weak', 'SCRAM-SHA-256', 'pw', iterations=1000),
    UserScramCredentialDeletion('ghost', 'SCRAM-SHA-512'),
])
assert result['bob'] is None, result
assert result['weak'] == 'Too few iterations', result
assert 'does not exist' in result['ghost'], result
print("OK alter")
"#;

const DESCRIBE: &str = r#"
import sys
from kafka.admin import KafkaAdminClient
from kafka.admin._users import ScramMechanism

admin = KafkaAdminClient(bootstrap_servers=sys.argv[1])
users = admin.describe_user_scram_credentials()
assert sorted(users) == ['alice', 'bob'], users
assert users['bob']['credential_infos'] == [
    {'mechanism': ScramMechanism.SCRAM_SHA_256, 'iterations': 8192}], users
named = admin.describe_user_scram_credentials(['bob', 'nobody'])
assert named['nobody']['error'], named
print("OK describe")
"#;

fn run_python(python: &Path, script: &str, bootstrap: &str) -> String {
    let mut child = Command::new(python)
        .arg("-")
        .arg(bootstrap)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("python runs");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(script.as_bytes())
        .expect("script written");
    let out = child.wait_with_output().expect("python finishes");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "kafka-python failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

fn rill_users(args: &[&str], stdin: &str) -> std::process::Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_rill"))
        .args(["broker", "users"])
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("rill runs");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(stdin.as_bytes())
        .expect("stdin written");
    child.wait_with_output().expect("rill finishes")
}

#[test]
fn scram_users_are_managed_offline_and_online_and_survive_restarts() {
    let Some(python) = kafka_python() else {
        assert!(
            std::env::var_os("CI").is_none(),
            "kafka-python venv missing in CI: run `make pyvenv`"
        );
        eprintln!("skipped: no kafka-python venv (run `make pyvenv`)");
        return;
    };
    let dir = tempfile::tempdir().expect("dir");
    let data = dir.path().to_str().expect("utf-8 path");
    // The password comes on standard input, out of the process list.
    let out = rill_users(
        &[
            "add",
            "--data-dir",
            data,
            "--user",
            "alice",
            "--mechanism",
            "SCRAM-SHA-512",
        ],
        "alice-secret\n",
    );
    assert!(out.status.success(), "{out:?}");

    let broker = EmbeddedBroker::start(BrokerConfig::with_data_dir(dir.path())).expect("broker");
    let out = run_python(&python, ALTER, &broker.bootstrap());
    assert!(out.contains("OK alter"), "{out}");
    let out = rill_users(&["list", "--data-dir", data], "");
    assert!(
        !out.status.success(),
        "the tool refuses a running broker's data"
    );
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("is running"),
        "{out:?}"
    );
    broker.shutdown().expect("shutdown");

    let out = rill_users(&["list", "--data-dir", data], "");
    assert!(out.status.success(), "{out:?}");
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "alice SCRAM-SHA-512(iterations=4096)\nbob SCRAM-SHA-256(iterations=8192)\n"
    );
    let broker = EmbeddedBroker::start(BrokerConfig::with_data_dir(dir.path())).expect("restart");
    let out = run_python(&python, DESCRIBE, &broker.bootstrap());
    assert!(out.contains("OK describe"), "{out}");
    broker.shutdown().expect("shutdown");
    let stored = std::fs::read_to_string(dir.path().join("scram-credentials.json")).expect("file");
    assert!(!stored.contains("secret"), "no password on disk");
}
