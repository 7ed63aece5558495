//! The broker's SCRAM credential store: users and their salted, hashed credentials.
//!
//! Kafka keeps SCRAM credentials in its metadata log (`UserScramCredentialRecord`) and
//! manages them with `AlterUserScramCredentials`/`DescribeUserScramCredentials` or,
//! before the cluster starts, with `kafka-storage format --add-scram`. Here they live
//! in `scram-credentials.json` in the data directory, replaced whole and atomically on
//! every change, holding per user and mechanism the salt, iteration count, `StoredKey`
//! and `ServerKey` (never a password). `rill broker users` edits the file of a stopped
//! broker; a running broker changes it through the admin APIs.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::RwLock;

use super::scram::{ScramCredential, ScramMechanism, MAX_ITERATIONS, MIN_ITERATIONS};
use crate::error::{Error, Result};
use crate::fs::write_atomic;

/// File in the data directory that holds the SCRAM credentials.
pub const CREDENTIALS_FILE: &str = "scram-credentials.json";

type Users = BTreeMap<String, BTreeMap<ScramMechanism, ScramCredential>>;

/// Users' SCRAM credentials, persisted in a data directory.
#[derive(Debug)]
pub struct CredentialStore {
    path: PathBuf,
    users: RwLock<Users>,
}

/// Checks an iteration count against Kafka's bounds (4096 to 16384).
pub fn check_iterations(user: &str, iterations: i64) -> Result<u32> {
    let invalid = |reason: &str| Error::InvalidCredential {
        user: user.to_string(),
        reason: reason.to_string(),
    };
    if iterations < i64::from(MIN_ITERATIONS) {
        return Err(invalid("Too few iterations"));
    }
    if iterations > i64::from(MAX_ITERATIONS) {
        return Err(invalid("Too many iterations"));
    }
    u32::try_from(iterations).map_err(|_| invalid("Too many iterations"))
}

impl CredentialStore {
    /// Opens the store of `data_dir` (empty if it has none yet).
    pub fn open(data_dir: &Path) -> Result<CredentialStore> {
        let path = data_dir.join(CREDENTIALS_FILE);
        let users = match std::fs::read(&path) {
            Ok(bytes) => serde_json::from_slice(&bytes).map_err(|e| Error::CorruptMetadata {
                path: path.clone(),
                reason: e.to_string(),
            })?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Users::new(),
            Err(e) => return Err(Error::io(&path, e)),
        };
        Ok(CredentialStore {
            path,
            users: RwLock::new(users),
        })
    }

    /// The credential of `user` for `mechanism`.
    pub fn get(&self, user: &str, mechanism: ScramMechanism) -> Option<ScramCredential> {
        let users = self.users.read().unwrap_or_else(|e| e.into_inner());
        users.get(user)?.get(&mechanism).cloned()
    }

    /// Every user with the mechanisms and iteration counts of their credentials.
    pub fn describe(&self) -> Vec<(String, Vec<(ScramMechanism, u32)>)> {
        let users = self.users.read().unwrap_or_else(|e| e.into_inner());
        users
            .iter()
            .map(|(u, creds)| {
                let infos = creds.iter().map(|(m, c)| (*m, c.iterations)).collect();
                (u.clone(), infos)
            })
            .collect()
    }

    /// Adds or replaces `user`'s credential for `mechanism`.
    pub fn upsert(
        &self,
        user: &str,
        mechanism: ScramMechanism,
        credential: ScramCredential,
    ) -> Result<()> {
        if user.is_empty() {
            return Err(Error::InvalidCredential {
                user: String::new(),
                reason: "Username must not be empty".into(),
            });
        }
        check_iterations(user, i64::from(credential.iterations))?;
        self.change(|users| {
            users
                .entry(user.to_string())
                .or_default()
                .insert(mechanism, credential);
            true
        })
    }

    /// Sets `user`'s password for `mechanism`, with a fresh salt.
    pub fn set_password(
        &self,
        user: &str,
        mechanism: ScramMechanism,
        password: &str,
        iterations: u32,
    ) -> Result<()> {
        check_iterations(user, i64::from(iterations))?;
        self.upsert(
            user,
            mechanism,
            mechanism.new_credential(password, iterations)?,
        )
    }

    /// Removes `user`'s credential for `mechanism`; `false` if there was none.
    pub fn delete(&self, user: &str, mechanism: ScramMechanism) -> Result<bool> {
        let mut removed = false;
        self.change(|users| {
            if let Some(creds) = users.get_mut(user) {
                removed = creds.remove(&mechanism).is_some();
                if creds.is_empty() {
                    users.remove(user);
                }
            }
            removed
        })?;
        Ok(removed)
    }

    /// Applies `f` to a copy, persists it if `f` says it changed, then publishes it.
    fn change(&self, f: impl FnOnce(&mut Users) -> bool) -> Result<()> {
        let mut users = self.users.write().unwrap_or_else(|e| e.into_inner());
        let mut next = users.clone();
        if !f(&mut next) {
            return Ok(());
        }
        let json = serde_json::to_vec_pretty(&next).map_err(|e| Error::CorruptMetadata {
            path: self.path.clone(),
            reason: e.to_string(),
        })?;
        write_atomic(&self.path, &json)?;
        *users = next;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_persist_without_passwords() {
        let dir = tempfile::tempdir().unwrap();
        let store = CredentialStore::open(dir.path()).unwrap();
        store
            .set_password("alice", ScramMechanism::Sha512, "alice-secret", 4096)
            .unwrap();
        store
            .set_password("alice", ScramMechanism::Sha256, "alice-secret", 8192)
            .unwrap();
        assert!(store
            .set_password("bob", ScramMechanism::Sha256, "x", 4095)
            .is_err());
        assert!(store
            .set_password("bob", ScramMechanism::Sha256, "x", 16385)
            .is_err());
        assert!(store
            .set_password("", ScramMechanism::Sha256, "x", 4096)
            .is_err());
        let text = std::fs::read_to_string(dir.path().join(CREDENTIALS_FILE)).unwrap();
        assert!(!text.contains("alice-secret"));
        drop(store);
        let store = CredentialStore::open(dir.path()).unwrap();
        assert_eq!(
            store.describe(),
            vec![(
                "alice".to_string(),
                vec![
                    (ScramMechanism::Sha256, 8192),
                    (ScramMechanism::Sha512, 4096)
                ]
            )]
        );
        let c = store.get("alice", ScramMechanism::Sha512).unwrap();
        let expected = ScramMechanism::Sha512.credential("alice-secret", &c.salt, 4096);
        assert_eq!(c, expected);
        assert!(store.delete("alice", ScramMechanism::Sha512).unwrap());
        assert!(!store.delete("alice", ScramMechanism::Sha512).unwrap());
        assert!(store.delete("alice", ScramMechanism::Sha256).unwrap());
        assert!(store.describe().is_empty());
    }
}
