//! Broker security: who a client is and what it may do.
//!
//! - [`principal`]: the principal of a connection (Kafka's `KafkaPrincipal`) and the
//!   per-connection request context the handlers see.
//! - [`acl`]: ACL bindings and the authorizer (Kafka's `StandardAuthorizer`), enabled by
//!   `authorizer.class.name`; without it every request is allowed, as in Kafka.
//!
//! Authentication (SASL on the connection, TLS listeners) comes with the listener work;
//! until then every connection is `User:ANONYMOUS`.

pub mod acl;
pub mod credentials;
pub mod principal;
pub mod scram;
