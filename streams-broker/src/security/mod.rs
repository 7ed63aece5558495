//! Broker security: who a client is and what it may do.
//!
//! - [`principal`]: the principal of a connection (Kafka's `KafkaPrincipal`) and the
//!   per-connection request context the handlers see.
//! - [`acl`]: ACL bindings and the authorizer (Kafka's `StandardAuthorizer`), enabled by
//!   `authorizer.class.name`; without it every request is allowed, as in Kafka.
//! - [`scram`]: SCRAM-SHA-256/512 credentials and the server side of the exchange
//!   (Kafka's `ScramFormatter`, `ScramSaslServer`); [`credentials`]: the persisted store
//!   of users' SCRAM credentials.
//! - [`plain`]: SASL/PLAIN (Kafka's `PlainSaslServer`), checked against a JAAS user list
//!   or the SCRAM store; [`oauthbearer`]: SASL/OAUTHBEARER with unsecured JWS tokens
//!   (Kafka's `OAuthBearerUnsecuredJws`), for development.
//!
//! - `authenticator`: a connection's SASL state on a `SASL_PLAINTEXT` listener (Kafka's
//!   `SaslServerAuthenticator`): `SaslHandshake`, then `SaslAuthenticate` tokens fed to the
//!   mechanisms above, which are pure state machines; the result is the connection's
//!   principal. Connections on `PLAINTEXT` listeners stay `User:ANONYMOUS`; TLS is not
//!   supported yet.

pub mod acl;
pub(crate) mod authenticator;
pub mod credentials;
pub mod oauthbearer;
pub mod plain;
pub mod principal;
pub mod scram;
