//! `DescribeUserScramCredentials` and `AlterUserScramCredentials`: the SCRAM users.
//!
//! As Kafka (`ControllerApis`, `ScramControlManager`): describing needs `DESCRIBE` on the
//! cluster, altering `ALTER` on the cluster (`CLUSTER_AUTHORIZATION_FAILED`). Describing
//! all users (no list) answers every user with a credential; a named user without one
//! is `RESOURCE_NOT_FOUND`, a user named twice `DUPLICATE_RESOURCE`. Altering answers one
//! result per user: an empty name or an iteration count outside 4096..=16384 is
//! `UNACCEPTABLE_CREDENTIAL`, an unknown mechanism `UNSUPPORTED_SASL_MECHANISM`, deleting
//! a credential that does not exist `RESOURCE_NOT_FOUND`, and a user changed twice for
//! the same mechanism `DUPLICATE_RESOURCE`. Upsertions carry the salted password: the
//! client salts, the password never reaches the broker.

use std::collections::{HashMap, HashSet};

use kafka_protocol::error::ResponseError;
use kafka_protocol::messages::alter_user_scram_credentials_response::AlterUserScramCredentialsResult;
use kafka_protocol::messages::describe_user_scram_credentials_response::{
    CredentialInfo, DescribeUserScramCredentialsResult,
};
use kafka_protocol::messages::*;

use super::str_bytes;
use crate::broker::Broker;
use crate::security::acl::AclOperation;
use crate::security::credentials::check_iterations;
use crate::security::principal::RequestContext;
use crate::security::scram::ScramMechanism;

const NOT_FOUND: i16 = ResponseError::ResourceNotFound.code();
const DUPLICATE: i16 = ResponseError::DuplicateResource.code();
const UNACCEPTABLE: i16 = ResponseError::UnacceptableCredential.code();

/// `DescribeUserScramCredentials`.
pub(super) fn describe(
    broker: &Broker,
    ctx: &RequestContext,
    request: DescribeUserScramCredentialsRequest,
) -> DescribeUserScramCredentialsResponse {
    if !super::authz::cluster(broker, ctx, AclOperation::Describe) {
        return DescribeUserScramCredentialsResponse::default()
            .with_error_code(super::authz::CLUSTER_DENIED);
    }
    let known: HashMap<String, Vec<(ScramMechanism, u32)>> =
        broker.credentials().describe().into_iter().collect();
    let result = |user: &str, infos: &[(ScramMechanism, u32)]| {
        DescribeUserScramCredentialsResult::default()
            .with_user(str_bytes(user))
            .with_credential_infos(
                infos
                    .iter()
                    .map(|(m, i)| {
                        CredentialInfo::default()
                            .with_mechanism(m.id())
                            .with_iterations(i32::try_from(*i).unwrap_or(i32::MAX))
                    })
                    .collect(),
            )
    };
    let results = match request.users.filter(|u| !u.is_empty()) {
        None => {
            let mut all: Vec<_> = known.iter().collect();
            all.sort();
            all.into_iter().map(|(u, infos)| result(u, infos)).collect()
        }
        Some(users) => {
            let mut counts: HashMap<&str, usize> = HashMap::new();
            for u in &users {
                *counts.entry(u.name.as_str()).or_default() += 1;
            }
            let mut seen = HashSet::new();
            users
                .iter()
                .filter(|u| seen.insert(u.name.as_str()))
                .map(|u| {
                    let name = u.name.as_str();
                    let error = |code: i16, message: String| {
                        DescribeUserScramCredentialsResult::default()
                            .with_user(str_bytes(name))
                            .with_error_code(code)
                            .with_error_message(Some(str_bytes(&message)))
                    };
                    if counts[name] > 1 {
                        return error(DUPLICATE, format!("Cannot describe SCRAM credentials for the same user twice in a single request: {name}"));
                    }
                    match known.get(name) {
                        Some(infos) => result(name, infos),
                        None => error(
                            NOT_FOUND,
                            format!("Attempt to describe a user credential that does not exist: {name}"),
                        ),
                    }
                })
                .collect()
        }
    };
    DescribeUserScramCredentialsResponse::default().with_results(results)
}

/// `AlterUserScramCredentials`.
pub(super) fn alter(
    broker: &Broker,
    ctx: &RequestContext,
    request: AlterUserScramCredentialsRequest,
) -> AlterUserScramCredentialsResponse {
    let mut users: Vec<String> = Vec::new();
    for name in request
        .deletions
        .iter()
        .map(|d| d.name.as_str())
        .chain(request.upsertions.iter().map(|u| u.name.as_str()))
    {
        if !users.iter().any(|u| u == name) {
            users.push(name.to_string());
        }
    }
    let allowed = super::authz::cluster(broker, ctx, AclOperation::Alter);
    // Per user: the first error, if any.
    let mut errors: HashMap<String, (i16, String)> = HashMap::new();
    fn fail(errors: &mut HashMap<String, (i16, String)>, user: &str, code: i16, message: String) {
        errors.entry(user.to_string()).or_insert((code, message));
    }
    let mut changed: HashSet<(String, i8)> = HashSet::new();
    let mechanisms = request
        .deletions
        .iter()
        .map(|d| (d.name.as_str(), d.mechanism))
        .chain(
            request
                .upsertions
                .iter()
                .map(|u| (u.name.as_str(), u.mechanism)),
        );
    for (user, mechanism) in mechanisms {
        if !allowed {
            fail(
                &mut errors,
                user,
                super::authz::CLUSTER_DENIED,
                String::new(),
            );
        } else if user.is_empty() {
            fail(
                &mut errors,
                user,
                UNACCEPTABLE,
                "Username must not be empty".into(),
            );
        } else if ScramMechanism::from_id(mechanism).is_none() {
            fail(
                &mut errors,
                user,
                ResponseError::UnsupportedSaslMechanism.code(),
                format!("Unknown SCRAM mechanism {mechanism}"),
            );
        } else if !changed.insert((user.to_string(), mechanism)) {
            fail(
                &mut errors,
                user,
                DUPLICATE,
                "A user credential cannot be altered twice in the same request".into(),
            );
        }
    }
    for u in &request.upsertions {
        if let Err(e) = check_iterations(u.name.as_str(), i64::from(u.iterations)) {
            let reason = match e {
                crate::error::Error::InvalidCredential { reason, .. } => reason,
                other => other.to_string(),
            };
            fail(&mut errors, u.name.as_str(), UNACCEPTABLE, reason);
        }
        if u.salt.is_empty() || u.salted_password.is_empty() {
            fail(
                &mut errors,
                u.name.as_str(),
                UNACCEPTABLE,
                "Empty salt or salted password".into(),
            );
        }
    }
    let store = broker.credentials();
    for d in &request.deletions {
        let user = d.name.as_str();
        let Some(m) = ScramMechanism::from_id(d.mechanism) else {
            continue;
        };
        if errors.contains_key(user) {
            continue;
        }
        match store.delete(user, m) {
            Ok(true) => {}
            Ok(false) => fail(
                &mut errors,
                user,
                NOT_FOUND,
                format!("Attempt to delete a user credential that does not exist: {user}"),
            ),
            Err(e) => fail(
                &mut errors,
                user,
                ResponseError::UnknownServerError.code(),
                e.to_string(),
            ),
        }
    }
    for u in &request.upsertions {
        let user = u.name.as_str();
        let Some(m) = ScramMechanism::from_id(u.mechanism) else {
            continue;
        };
        if errors.contains_key(user) {
            continue;
        }
        // Iterations were checked above.
        let iterations = u32::try_from(u.iterations).unwrap_or(0);
        let credential = m.credential_from_salted(&u.salted_password, &u.salt, iterations);
        if let Err(e) = store.upsert(user, m, credential) {
            fail(&mut errors, user, UNACCEPTABLE, e.to_string());
        } else {
            tracing::info!(user, mechanism = m.name(), principal = %ctx.principal, "SCRAM credential set");
        }
    }
    let results = users
        .iter()
        .map(|user| {
            let r = AlterUserScramCredentialsResult::default().with_user(str_bytes(user));
            match errors.get(user) {
                Some((code, message)) => r
                    .with_error_code(*code)
                    .with_error_message((!message.is_empty()).then(|| str_bytes(message))),
                None => r,
            }
        })
        .collect();
    AlterUserScramCredentialsResponse::default().with_results(results)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::BrokerConfig;
    use crate::security::scram::ScramServer;
    use alter_user_scram_credentials_request::{ScramCredentialDeletion, ScramCredentialUpsertion};
    use bytes::Bytes;

    fn upsert(
        user: &str,
        m: ScramMechanism,
        password: &str,
        iterations: i32,
    ) -> ScramCredentialUpsertion {
        let salt = b"0123456789abcdef".to_vec();
        let salted = m.salted_password(password.as_bytes(), &salt, iterations as u32);
        ScramCredentialUpsertion::default()
            .with_name(str_bytes(user))
            .with_mechanism(m.id())
            .with_iterations(iterations)
            .with_salt(Bytes::from(salt))
            .with_salted_password(Bytes::from(salted))
    }

    /// Upserted credentials authenticate with the password the client salted; errors are
    /// Kafka's, one result per user.
    #[test]
    fn alter_then_describe_and_authenticate() {
        let dir = tempfile::tempdir().unwrap();
        let broker = Broker::open(
            BrokerConfig::with_data_dir(dir.path()),
            dir.path(),
            "127.0.0.1:9092".parse().unwrap(),
        )
        .unwrap();
        let ctx = RequestContext::anonymous(None);
        let request = AlterUserScramCredentialsRequest::default()
            .with_upsertions(vec![
                upsert("alice", ScramMechanism::Sha512, "pw", 4096),
                upsert("weak", ScramMechanism::Sha256, "pw", 1000),
                upsert("twice", ScramMechanism::Sha256, "pw", 4096),
                upsert("twice", ScramMechanism::Sha256, "pw", 4096),
            ])
            .with_deletions(vec![ScramCredentialDeletion::default()
                .with_name(str_bytes("nobody"))
                .with_mechanism(1)]);
        let response = alter(&broker, &ctx, request);
        let codes: Vec<(String, i16)> = response
            .results
            .iter()
            .map(|r| (r.user.to_string(), r.error_code))
            .collect();
        assert_eq!(
            codes,
            vec![
                ("nobody".to_string(), NOT_FOUND),
                ("alice".to_string(), 0),
                ("weak".to_string(), UNACCEPTABLE),
                ("twice".to_string(), DUPLICATE),
            ]
        );
        let described = describe(
            &broker,
            &ctx,
            DescribeUserScramCredentialsRequest::default(),
        );
        assert_eq!(described.results.len(), 1);
        assert_eq!(described.results[0].credential_infos[0].mechanism, 2);
        let asked = describe(
            &broker,
            &ctx,
            DescribeUserScramCredentialsRequest::default().with_users(Some(vec![
                describe_user_scram_credentials_request::UserName::default()
                    .with_name(str_bytes("ghost")),
            ])),
        );
        assert_eq!(asked.results[0].error_code, NOT_FOUND);

        // The stored credential checks the password in a SCRAM exchange.
        let credential = broker
            .credentials()
            .get("alice", ScramMechanism::Sha512)
            .unwrap();
        let mut server = ScramServer::new(ScramMechanism::Sha512).unwrap();
        let first = server
            .evaluate(b"n,,n=alice,r=nonce", |_| Some(credential.clone()))
            .unwrap();
        let first = String::from_utf8(first).unwrap();
        let last = crate::security::scram::tests::client_final(
            ScramMechanism::Sha512,
            "pw",
            "n=alice,r=nonce",
            &first,
            false,
        );
        server.evaluate(last.as_bytes(), |_| None).unwrap();
        assert_eq!(server.authorized_id(), Some("alice"));
    }
}
