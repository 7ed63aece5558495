//! SASL/PLAIN (RFC 4616): a user name and password sent as they are, so only over TLS
//! outside development.
//!
//! The client's single message is `authzid NUL authcid NUL password`. [`PlainServer`]
//! checks it as Kafka's `PlainSaslServer` does (three tokens, a non-empty user and
//! password, an authorization id that is empty or the user itself) and asks a
//! [`PlainVerifier`] whether the password is right: a configured user list, as Kafka's
//! `PlainLoginModule` reads from JAAS options `user_<name>="<password>"`
//! ([`parse_jaas_users`]), or the broker's SCRAM credential store (the password is
//! salted with the stored salt and compared with the stored key).

use std::collections::HashMap;

use super::credentials::CredentialStore;
use super::scram::ScramMechanism;
use crate::error::{Error, Result};

/// Where PLAIN passwords are checked.
#[derive(Debug)]
pub enum PlainVerifier<'a> {
    /// Users and passwords from configuration (JAAS `user_<name>` options).
    Users(&'a HashMap<String, String>),
    /// The SCRAM credential store: any mechanism the user has a credential for.
    Scram(&'a CredentialStore),
}

impl PlainVerifier<'_> {
    /// Whether `password` is `user`'s.
    pub fn verify(&self, user: &str, password: &str) -> bool {
        match self {
            PlainVerifier::Users(users) => users
                .get(user)
                .is_some_and(|p| super::scram::constant_time_eq(p.as_bytes(), password.as_bytes())),
            PlainVerifier::Scram(store) => ScramMechanism::ALL.into_iter().any(|m| {
                store.get(user, m).is_some_and(|stored| {
                    let candidate = m.credential(password, &stored.salt, stored.iterations);
                    super::scram::constant_time_eq(&candidate.stored_key, &stored.stored_key)
                })
            }),
        }
    }
}

/// Reads `user_<name>="<password>"` options from a JAAS configuration entry such as
/// `org.apache.kafka.common.security.plain.PlainLoginModule required username="admin"
/// password="admin-secret" user_admin="admin-secret" user_alice="alice-secret";`.
pub fn parse_jaas_users(jaas: &str) -> HashMap<String, String> {
    let mut users = HashMap::new();
    let mut rest = jaas;
    while let Some(start) = rest.find("user_") {
        rest = &rest[start + 5..];
        let Some(eq) = rest.find('=') else { break };
        let name = rest[..eq].trim().to_string();
        let after = rest[eq + 1..].trim_start();
        let Some(quoted) = after.strip_prefix('"') else {
            continue;
        };
        let Some(end) = quoted.find('"') else { break };
        if !name.is_empty() && !name.contains(char::is_whitespace) {
            users.insert(name, quoted[..end].to_string());
        }
        rest = &quoted[end + 1..];
    }
    users
}

/// The server side of one PLAIN exchange (Kafka's `PlainSaslServer`).
#[derive(Debug, Default)]
pub struct PlainServer {
    authorized_id: Option<String>,
    done: bool,
}

impl PlainServer {
    /// A server waiting for the client's message.
    pub fn new() -> PlainServer {
        PlainServer::default()
    }

    /// Checks the client's message; the answer is empty on success.
    pub fn evaluate(&mut self, response: &[u8], verifier: &PlainVerifier<'_>) -> Result<Vec<u8>> {
        let fail = |reason: &str| Error::Authentication {
            mechanism: "PLAIN".into(),
            reason: reason.to_string(),
        };
        if self.done {
            return Err(fail("the exchange is already finished"));
        }
        self.done = true;
        let text = std::str::from_utf8(response)
            .map_err(|_| fail("Invalid SASL/PLAIN response: not UTF-8"))?;
        let tokens: Vec<&str> = text.split('\0').collect();
        let [authzid, user, password] = tokens[..] else {
            return Err(fail(&format!(
                "Invalid SASL/PLAIN response: expected 3 tokens, got {}",
                tokens.len()
            )));
        };
        if user.is_empty() {
            return Err(fail("Authentication failed: username not specified"));
        }
        if password.is_empty() {
            return Err(fail("Authentication failed: password not specified"));
        }
        if !authzid.is_empty() && authzid != user {
            return Err(fail(
                "Authentication failed: Client requested an authorization id that is different from username",
            ));
        }
        if !verifier.verify(user, password) {
            return Err(fail("Authentication failed: Invalid username or password"));
        }
        self.authorized_id = Some(user.to_string());
        Ok(Vec::new())
    }

    /// The authenticated user after a successful exchange.
    pub fn authorized_id(&self) -> Option<&str> {
        self.authorized_id.as_deref()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const JAAS: &str = r#"org.apache.kafka.common.security.plain.PlainLoginModule required
        username="admin" password="admin-secret"
        user_admin="admin-secret" user_alice="alice-secret";"#;

    #[test]
    fn jaas_user_options_are_read() {
        let users = parse_jaas_users(JAAS);
        assert_eq!(users.len(), 2);
        assert_eq!(users["alice"], "alice-secret");
    }

    /// `PlainSaslServerTest`: no authorization id, one equal to the user, and one that
    /// differs (refused); plus Kafka's messages for malformed input.
    #[test]
    fn plain_exchanges_as_kafka() {
        let users = parse_jaas_users(JAAS);
        let v = PlainVerifier::Users(&users);
        let ok = |msg: &[u8]| {
            let mut s = PlainServer::new();
            s.evaluate(msg, &v)
                .map(|_| s.authorized_id().map(str::to_string))
        };
        assert_eq!(
            ok(b"\0alice\0alice-secret").unwrap().as_deref(),
            Some("alice")
        );
        assert_eq!(ok(b"alice\0alice-secret\0alice-secret").ok(), None);
        assert_eq!(
            ok(b"alice\0alice\0alice-secret").unwrap().as_deref(),
            Some("alice")
        );
        for bad in [
            &b"admin\0alice\0alice-secret"[..],
            b"\0alice\0wrong",
            b"\0nobody\0x",
            b"\0\0x",
            b"\0alice\0",
            b"alice-secret",
        ] {
            assert!(ok(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn plain_checks_scram_credentials() {
        let dir = tempfile::tempdir().unwrap();
        let store = CredentialStore::open(dir.path()).unwrap();
        store
            .set_password("bob", ScramMechanism::Sha256, "bob-pw", 4096)
            .unwrap();
        let v = PlainVerifier::Scram(&store);
        assert!(v.verify("bob", "bob-pw"));
        assert!(!v.verify("bob", "nope"));
        assert!(!v.verify("alice", "bob-pw"));
    }
}
