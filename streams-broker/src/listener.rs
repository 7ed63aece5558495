//! Named listeners: where the broker accepts connections and with which security protocol.
//!
//! Kafka's `listeners` names each endpoint (`PLAINTEXT://127.0.0.1:9092,CLIENT://:9094`);
//! the name maps to a security protocol through `listener.security.protocol.map` (a
//! listener named after a protocol needs no entry), and `advertised.listeners` says what
//! clients are told to connect to per listener (Kafka's `ListenerName`, `SecurityProtocol`,
//! `EndPoint`). Rill serves `PLAINTEXT` and `SASL_PLAINTEXT`; `SSL` and `SASL_SSL` are
//! refused at start until TLS is implemented.

use std::collections::HashMap;
use std::fmt;
use std::net::SocketAddr;

use crate::error::{Error, Result};

/// How a listener's connections are secured (Kafka's `SecurityProtocol`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SecurityProtocol {
    /// No authentication, no encryption: every client is `User:ANONYMOUS`.
    Plaintext,
    /// SASL authentication without encryption.
    SaslPlaintext,
    /// TLS (not supported yet).
    Ssl,
    /// SASL over TLS (not supported yet).
    SaslSsl,
}

impl SecurityProtocol {
    /// Kafka's name of the protocol.
    pub fn name(self) -> &'static str {
        match self {
            SecurityProtocol::Plaintext => "PLAINTEXT",
            SecurityProtocol::SaslPlaintext => "SASL_PLAINTEXT",
            SecurityProtocol::Ssl => "SSL",
            SecurityProtocol::SaslSsl => "SASL_SSL",
        }
    }

    /// The protocol named `name` (case-insensitive).
    pub fn from_name(name: &str) -> Option<SecurityProtocol> {
        [
            SecurityProtocol::Plaintext,
            SecurityProtocol::SaslPlaintext,
            SecurityProtocol::Ssl,
            SecurityProtocol::SaslSsl,
        ]
        .into_iter()
        .find(|p| p.name().eq_ignore_ascii_case(name.trim()))
    }
}

impl fmt::Display for SecurityProtocol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// One entry of `listeners`: a name (upper case, as Kafka normalizes it) and the address
/// to bind.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListenerSpec {
    /// The listener's name, `PLAINTEXT`, `SASL_PLAINTEXT` or a custom one.
    pub name: String,
    /// The address to bind; an empty host means every interface.
    pub addr: SocketAddr,
}

/// A listener ready to bind: its name, protocol, address, and advertised endpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResolvedListener {
    /// The listener's name.
    pub name: String,
    /// Its security protocol.
    pub protocol: SecurityProtocol,
    /// The address to bind.
    pub addr: SocketAddr,
    /// The host and port from `advertised.listeners`, if set for this listener.
    pub advertised: Option<(String, u16)>,
}

/// Splits `NAME://host:port` into the upper-cased name, the host and the port.
fn split_endpoint(key: &str, entry: &str) -> Result<(String, String, u16)> {
    let invalid = |reason: &str| Error::InvalidConfig {
        key: key.to_string(),
        value: entry.to_string(),
        reason: reason.to_string(),
    };
    let (name, rest) = entry
        .split_once("://")
        .ok_or_else(|| invalid("expected NAME://host:port"))?;
    let (host, port) = rest
        .rsplit_once(':')
        .ok_or_else(|| invalid("expected NAME://host:port"))?;
    let port = port
        .parse::<u16>()
        .map_err(|_| invalid("the port is not a number from 0 to 65535"))?;
    let name = name.trim().to_ascii_uppercase();
    if name.is_empty() {
        return Err(invalid("the listener name is empty"));
    }
    // IPv6 hosts come bracketed, as in Kafka.
    let host = host
        .trim_start_matches('[')
        .trim_end_matches(']')
        .to_string();
    Ok((name, host, port))
}

/// Parses `listeners` (`PLAINTEXT://127.0.0.1:9092,SASL_PLAINTEXT://:9094`): names must be
/// unique; an empty host binds every interface. A bare `host:port` is a `PLAINTEXT`
/// listener (Rill's `--listen`).
pub fn parse_listeners(key: &str, value: &str) -> Result<Vec<ListenerSpec>> {
    let mut out: Vec<ListenerSpec> = Vec::new();
    for entry in value.split(',').map(str::trim).filter(|e| !e.is_empty()) {
        let (name, host, port) = if entry.contains("://") {
            split_endpoint(key, entry)?
        } else {
            let addr: SocketAddr = entry.parse().map_err(|_| Error::InvalidConfig {
                key: key.to_string(),
                value: entry.to_string(),
                reason: "expected NAME://host:port or host:port".into(),
            })?;
            ("PLAINTEXT".to_string(), addr.ip().to_string(), addr.port())
        };
        let host = if host.is_empty() { "0.0.0.0" } else { &host };
        let addr = format!("{host}:{port}")
            .parse::<SocketAddr>()
            .or_else(|_| format!("[{host}]:{port}").parse::<SocketAddr>())
            .map_err(|_| Error::InvalidConfig {
                key: key.to_string(),
                value: entry.to_string(),
                reason: format!("{host} is not an IP address"),
            })?;
        if out.iter().any(|l| l.name == name) {
            return Err(Error::InvalidConfig {
                key: key.to_string(),
                value: value.to_string(),
                reason: format!("listener name {name} appears more than once"),
            });
        }
        out.push(ListenerSpec { name, addr });
    }
    if out.is_empty() {
        return Err(Error::InvalidConfig {
            key: key.to_string(),
            value: value.to_string(),
            reason: "no listener given".into(),
        });
    }
    Ok(out)
}

/// Parses `advertised.listeners` into host and port per listener name.
pub fn parse_advertised(key: &str, value: &str) -> Result<HashMap<String, (String, u16)>> {
    value
        .split(',')
        .map(str::trim)
        .filter(|e| !e.is_empty())
        .map(|entry| split_endpoint(key, entry).map(|(name, host, port)| (name, (host, port))))
        .collect()
}

/// Parses `listener.security.protocol.map` (`CLIENT:SASL_PLAINTEXT,INTERNAL:PLAINTEXT`).
pub fn parse_protocol_map(key: &str, value: &str) -> Result<HashMap<String, SecurityProtocol>> {
    value
        .split(',')
        .map(str::trim)
        .filter(|e| !e.is_empty())
        .map(|entry| {
            let invalid = |reason: String| Error::InvalidConfig {
                key: key.to_string(),
                value: entry.to_string(),
                reason,
            };
            let (name, protocol) = entry
                .split_once(':')
                .ok_or_else(|| invalid("expected NAME:PROTOCOL".into()))?;
            let protocol = SecurityProtocol::from_name(protocol)
                .ok_or_else(|| invalid(format!("{protocol} is not a security protocol")))?;
            Ok((name.trim().to_ascii_uppercase(), protocol))
        })
        .collect()
}

/// Resolves each listener's protocol (from `protocol_map`, else its own name) and
/// advertised endpoint. A TLS listener or a name with no protocol is an error, as is an
/// advertised listener that is not a listener.
pub fn resolve(
    listeners: &[ListenerSpec],
    protocol_map: &HashMap<String, SecurityProtocol>,
    advertised: &HashMap<String, (String, u16)>,
) -> Result<Vec<ResolvedListener>> {
    if let Some(name) = advertised
        .keys()
        .find(|n| !listeners.iter().any(|l| &l.name == *n))
    {
        return Err(Error::InvalidConfig {
            key: "advertised.listeners".into(),
            value: name.clone(),
            reason: format!("{name} is not one of the listeners"),
        });
    }
    listeners
        .iter()
        .map(|l| {
            let protocol = protocol_map
                .get(&l.name)
                .copied()
                .or_else(|| SecurityProtocol::from_name(&l.name))
                .ok_or_else(|| Error::InvalidConfig {
                    key: "listener.security.protocol.map".into(),
                    value: l.name.clone(),
                    reason: format!("no security protocol is given for listener {}", l.name),
                })?;
            if matches!(protocol, SecurityProtocol::Ssl | SecurityProtocol::SaslSsl) {
                return Err(Error::InvalidConfig {
                    key: "listeners".into(),
                    value: format!("{}://{}", l.name, l.addr),
                    reason: format!("TLS listeners are not supported yet ({protocol})"),
                });
            }
            Ok(ResolvedListener {
                name: l.name.clone(),
                protocol,
                addr: l.addr,
                advertised: advertised.get(&l.name).cloned(),
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn listeners_are_named_and_mapped_to_protocols() {
        let specs = parse_listeners(
            "listeners",
            "PLAINTEXT://127.0.0.1:9092, client://:9094,SASL_PLAINTEXT://[::1]:0",
        )
        .unwrap();
        assert_eq!(specs[1].name, "CLIENT");
        assert_eq!(specs[1].addr, "0.0.0.0:9094".parse().unwrap());
        assert_eq!(specs[2].addr, "[::1]:0".parse().unwrap());
        // A custom name needs a protocol.
        assert!(resolve(&specs, &HashMap::new(), &HashMap::new()).is_err());
        let map = parse_protocol_map("m", "CLIENT:SASL_PLAINTEXT").unwrap();
        let adv = parse_advertised("a", "CLIENT://broker.example:19094").unwrap();
        let resolved = resolve(&specs, &map, &adv).unwrap();
        assert_eq!(resolved[0].protocol, SecurityProtocol::Plaintext);
        assert_eq!(resolved[1].protocol, SecurityProtocol::SaslPlaintext);
        assert_eq!(
            resolved[1].advertised,
            Some(("broker.example".to_string(), 19094))
        );
        assert!(parse_listeners("l", "A://1.2.3.4:1,a://1.2.3.4:2").is_err());
        assert_eq!(
            parse_listeners("l", "127.0.0.1:5").unwrap()[0].name,
            "PLAINTEXT"
        );
    }

    #[test]
    fn tls_listeners_are_refused_with_a_clear_error() {
        let specs = parse_listeners("listeners", "SSL://127.0.0.1:9093").unwrap();
        let err = resolve(&specs, &HashMap::new(), &HashMap::new()).unwrap_err();
        assert!(err
            .to_string()
            .contains("TLS listeners are not supported yet"));
        let adv = parse_advertised("a", "OTHER://h:1").unwrap();
        let specs = parse_listeners("listeners", "PLAINTEXT://127.0.0.1:0").unwrap();
        assert!(resolve(&specs, &HashMap::new(), &adv).is_err());
    }
}
