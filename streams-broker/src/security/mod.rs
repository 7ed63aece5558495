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
//! The SASL mechanisms are pure state machines, fed the bytes of `SaslAuthenticate`
//! requests. Wiring them to connections (`SaslHandshake`, `SaslAuthenticate`, SASL and
//! TLS listeners) comes with the listener work; until then every connection is
//! `User:ANONYMOUS`.

pub mod acl;
pub(crate) mod authenticator;
pub mod credentials;
pub mod oauthbearer;
pub mod plain;
pub mod principal;
pub mod scram;
