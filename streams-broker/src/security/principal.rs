//! Who a request comes from: a principal (`User:alice`) and the host it connects from.
//!
//! Like Kafka's `KafkaPrincipal` and `RequestContext`: every connection has a principal,
//! `User:ANONYMOUS` until authentication sets another one (a plaintext listener never
//! does), and the authorizer decides on (principal, host). The network layer creates one
//! `RequestContext` per connection and hands it to every request of that connection.

use std::fmt;
use std::net::SocketAddr;

/// The principal type of users, the only one Kafka's authenticators produce.
pub const USER_TYPE: &str = "User";

/// An authenticated (or anonymous) identity, `type:name` as Kafka writes it.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct KafkaPrincipal {
    /// The principal type, `User` for every principal the broker creates.
    pub principal_type: String,
    /// The name: a user name, `ANONYMOUS`, or `*` (every user) in an ACL.
    pub name: String,
}

impl KafkaPrincipal {
    /// `User:name`.
    pub fn user(name: &str) -> KafkaPrincipal {
        KafkaPrincipal {
            principal_type: USER_TYPE.to_string(),
            name: name.to_string(),
        }
    }

    /// `User:ANONYMOUS`, the principal of unauthenticated connections.
    pub fn anonymous() -> KafkaPrincipal {
        KafkaPrincipal::user("ANONYMOUS")
    }

    /// Parses `type:name` (Kafka's `SecurityUtils.parseKafkaPrincipal`): both parts must
    /// be non-empty; the name may itself contain `:`.
    pub fn parse(s: &str) -> Option<KafkaPrincipal> {
        let (principal_type, name) = s.split_once(':')?;
        if principal_type.is_empty() || name.is_empty() {
            return None;
        }
        Some(KafkaPrincipal {
            principal_type: principal_type.to_string(),
            name: name.to_string(),
        })
    }

    /// Whether this is the wildcard principal `User:*` of ACLs.
    pub fn is_wildcard(&self) -> bool {
        self.principal_type == USER_TYPE && self.name == "*"
    }
}

impl fmt::Display for KafkaPrincipal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.principal_type, self.name)
    }
}

/// What the handlers know of the connection a request came on, like Kafka's
/// `RequestContext`: the client's address and its principal.
#[derive(Debug, Clone)]
pub(crate) struct RequestContext {
    /// The client's address; `None` for requests that did not come over a socket (tests).
    pub peer: Option<SocketAddr>,
    /// Who the client is; `User:ANONYMOUS` until SASL or TLS authenticates it.
    pub principal: KafkaPrincipal,
    /// The advertised endpoint of the listener the connection came in on; `None` uses the
    /// broker's default (its first listener).
    pub endpoint: Option<(String, i32)>,
    /// Whether the connection came in on a SASL listener (which advertises the SASL APIs).
    pub sasl: bool,
}

impl RequestContext {
    /// An unauthenticated connection from `peer`.
    pub(crate) fn anonymous(peer: Option<SocketAddr>) -> RequestContext {
        RequestContext {
            peer,
            principal: KafkaPrincipal::anonymous(),
            endpoint: None,
            sasl: false,
        }
    }

    /// The host and port to advertise to this client: its listener's (Kafka answers
    /// Metadata with the endpoints of the listener a request came in on).
    pub(crate) fn endpoint<'a>(&'a self, broker: &'a crate::broker::Broker) -> (&'a str, i32) {
        match &self.endpoint {
            Some((host, port)) => (host, *port),
            None => broker.advertised(),
        }
    }

    /// The client's host as ACLs name it (`*` matches any); unknown hosts are `""`.
    pub(crate) fn host(&self) -> String {
        self.peer.map(|p| p.ip().to_string()).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_prints_type_and_name() {
        let p = KafkaPrincipal::parse("User:alice").unwrap();
        assert_eq!(p, KafkaPrincipal::user("alice"));
        assert_eq!(p.to_string(), "User:alice");
        // Names may contain the separator (TLS distinguished names do).
        assert_eq!(KafkaPrincipal::parse("User:CN=a:b").unwrap().name, "CN=a:b");
        assert!(KafkaPrincipal::parse("alice").is_none());
        assert!(KafkaPrincipal::parse("User:").is_none());
        assert!(KafkaPrincipal::parse(":alice").is_none());
        assert!(KafkaPrincipal::parse("User:*").unwrap().is_wildcard());
    }
}
