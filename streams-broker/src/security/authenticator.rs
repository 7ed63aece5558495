//! SASL authentication of one connection on a `SASL_PLAINTEXT` listener.
//!
//! Kafka's `SaslServerAuthenticator`: before a client is authenticated it may send only
//! `ApiVersions` and `SaslHandshake` (v1, which names the mechanism), then
//! `SaslAuthenticate` requests carrying the mechanism's tokens until the exchange
//! completes; any other request closes the connection. A failed exchange is answered with
//! `SASL_AUTHENTICATION_FAILED` and Kafka's message, then the connection is closed. Once
//! authenticated, the connection's principal is `User:<name>` and its requests go to the
//! handlers; a `SaslHandshake` then starts re-authentication (KIP-368), which must end
//! with the same principal. With `connections.max.reauth.ms` set, the session lifetime is
//! told to the client in `SaslAuthenticate` and a connection whose session has expired is
//! closed on its next request other than a re-authentication.
//!
//! The v0 handshake (raw SASL tokens without Kafka framing) is not supported: only v1 is
//! advertised, which every current client uses.

use std::collections::HashMap;
use std::sync::Arc;

use bytes::Bytes;
use kafka_protocol::error::ResponseError;
use kafka_protocol::messages::{
    ApiKey, RequestKind, ResponseKind, SaslAuthenticateResponse, SaslHandshakeResponse,
};
use kafka_protocol::protocol::StrBytes;
use tokio::time::Instant;

use super::oauthbearer::{OAuthBearerServer, UnsecuredJwsConfig};
use super::plain::{PlainServer, PlainVerifier};
use super::principal::KafkaPrincipal;
use super::scram::{ScramMechanism, ScramServer};
use crate::broker::Broker;
use crate::error::Error;
use crate::wire::{decode_request, RequestPrefix, Response, ResponseBody};

/// The SASL mechanisms Rill implements, the values `sasl.enabled.mechanisms` may take.
pub const SUPPORTED_MECHANISMS: [&str; 4] =
    ["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512", "OAUTHBEARER"];

/// What the connection does with a request frame, as the authenticator decides.
#[derive(Debug)]
pub(crate) enum Step {
    /// Hand the frame to the request handlers.
    Pass,
    /// Send this response (the authenticator answered the request itself).
    Respond(Response),
    /// Send this response, then close the connection for `reason`.
    Fail(Response, String),
    /// Close the connection without a response.
    Close(String),
}

/// The mechanism of an exchange under way.
#[derive(Debug)]
enum Exchange {
    Plain(PlainServer),
    Scram(ScramServer),
    OAuthBearer(OAuthBearerServer),
}

#[derive(Debug)]
enum State {
    /// Waiting for `SaslHandshake` (and answering `ApiVersions`).
    Handshake,
    /// A mechanism was chosen; waiting for `SaslAuthenticate` tokens.
    Authenticate(String, Box<Exchange>),
    /// Authenticated.
    Complete,
}

/// The SASL state of one connection.
#[derive(Debug)]
pub(crate) struct Authenticator {
    state: State,
    mechanisms: Vec<String>,
    /// PLAIN users of this listener; `None` checks PLAIN against the SCRAM store.
    plain_users: Option<Arc<HashMap<String, String>>>,
    reauth_ms: i64,
    /// The authenticated principal (kept during re-authentication).
    principal: Option<KafkaPrincipal>,
    /// When the session ends, with `connections.max.reauth.ms` set.
    expires: Option<Instant>,
}

impl Authenticator {
    /// An authenticator for a new connection offering `mechanisms`.
    pub(crate) fn new(
        mechanisms: Vec<String>,
        plain_users: Option<Arc<HashMap<String, String>>>,
        reauth_ms: i64,
    ) -> Authenticator {
        Authenticator {
            state: State::Handshake,
            mechanisms,
            plain_users,
            reauth_ms,
            principal: None,
            expires: None,
        }
    }

    /// The authenticated principal, once there is one.
    pub(crate) fn principal(&self) -> Option<&KafkaPrincipal> {
        self.principal.as_ref()
    }

    /// Decides what happens to `frame`, answering the SASL requests itself.
    pub(crate) fn on_frame(&mut self, broker: &Broker, frame: &Bytes) -> Step {
        let Some(prefix) = RequestPrefix::parse(frame) else {
            return Step::Close("request too short for a header during SASL".into());
        };
        let key = ApiKey::try_from(prefix.api_key).ok();
        if matches!(self.state, State::Complete) {
            if key == Some(ApiKey::SaslHandshake) {
                // KIP-368: a handshake on an authenticated connection re-authenticates.
                self.state = State::Handshake;
            } else if key == Some(ApiKey::SaslAuthenticate) {
                return Step::Close("SaslAuthenticate after authentication completed".into());
            } else if self.expires.is_some_and(|e| e <= Instant::now()) {
                return Step::Close("SASL session expired (connections.max.reauth.ms)".into());
            } else {
                return Step::Pass;
            }
        }
        match (&self.state, key) {
            (_, Some(ApiKey::ApiVersions)) => Step::Pass,
            (State::Handshake, Some(ApiKey::SaslHandshake)) => self.handshake(frame, prefix),
            (State::Authenticate(..), Some(ApiKey::SaslAuthenticate)) => {
                self.authenticate(broker, frame, prefix)
            }
            (_, key) => Step::Close(format!(
                "unexpected Kafka request of type {} during SASL authentication",
                key.map_or_else(|| prefix.api_key.to_string(), |k| format!("{k:?}"))
            )),
        }
    }

    fn handshake(&mut self, frame: &Bytes, prefix: RequestPrefix) -> Step {
        let request = match decode(frame, ApiKey::SaslHandshake, prefix.version) {
            Ok(RequestKind::SaslHandshake(r)) => r,
            Ok(_) => return Step::Close("not a SaslHandshake request".into()),
            Err(reason) => return Step::Close(reason),
        };
        let mechanism = request.mechanism.to_string();
        let enabled = self
            .mechanisms
            .iter()
            .map(|m| StrBytes::from_string(m.clone()))
            .collect();
        let mut response = SaslHandshakeResponse::default().with_mechanisms(enabled);
        let exchange = if self.mechanisms.contains(&mechanism) {
            match mechanism.as_str() {
                "PLAIN" => Some(Exchange::Plain(PlainServer::new())),
                "OAUTHBEARER" => Some(Exchange::OAuthBearer(OAuthBearerServer::new(
                    UnsecuredJwsConfig::default(),
                ))),
                m => match ScramMechanism::from_name(m).map(ScramServer::new) {
                    Some(Ok(server)) => Some(Exchange::Scram(server)),
                    Some(Err(e)) => return Step::Close(format!("cannot start {m}: {e}")),
                    None => None,
                },
            }
        } else {
            None
        };
        let respond = |response| Response {
            api_key: ApiKey::SaslHandshake,
            version: prefix.version,
            correlation_id: prefix.correlation_id,
            body: ResponseBody::Message(ResponseKind::SaslHandshake(response)),
        };
        match exchange {
            Some(exchange) => {
                self.state = State::Authenticate(mechanism, Box::new(exchange));
                Step::Respond(respond(response))
            }
            None => {
                response.error_code = ResponseError::UnsupportedSaslMechanism.code();
                Step::Fail(
                    respond(response),
                    format!("unsupported SASL mechanism {mechanism}"),
                )
            }
        }
    }

    fn authenticate(&mut self, broker: &Broker, frame: &Bytes, prefix: RequestPrefix) -> Step {
        let request = match decode(frame, ApiKey::SaslAuthenticate, prefix.version) {
            Ok(RequestKind::SaslAuthenticate(r)) => r,
            Ok(_) => return Step::Close("not a SaslAuthenticate request".into()),
            Err(reason) => return Step::Close(reason),
        };
        let State::Authenticate(mechanism, exchange) = &mut self.state else {
            return Step::Close("SaslAuthenticate before SaslHandshake".into());
        };
        let mut token_left_ms: Option<i64> = None;
        let outcome = match exchange.as_mut() {
            Exchange::Plain(server) => {
                let verifier = match &self.plain_users {
                    Some(users) => PlainVerifier::Users(users),
                    None => PlainVerifier::Scram(broker.credentials()),
                };
                server
                    .evaluate(&request.auth_bytes, &verifier)
                    .map(|out| (out, server.authorized_id().map(str::to_string)))
            }
            Exchange::Scram(server) => server
                .evaluate(&request.auth_bytes, |user| {
                    ScramMechanism::from_name(mechanism)
                        .and_then(|m| broker.credentials().get(user, m))
                })
                .map(|out| (out, server.authorized_id().map(str::to_string))),
            Exchange::OAuthBearer(server) => {
                let now = crate::clock::now_ms();
                server.evaluate(&request.auth_bytes, now).map(|out| {
                    // Kafka ends the session no later than the token expires.
                    token_left_ms = server.token().map(|t| (t.lifetime_ms - now).max(1));
                    (out, server.token().map(|t| t.principal.clone()))
                })
            }
        };
        let respond = |response: SaslAuthenticateResponse| Response {
            api_key: ApiKey::SaslAuthenticate,
            version: prefix.version,
            correlation_id: prefix.correlation_id,
            body: ResponseBody::Message(ResponseKind::SaslAuthenticate(response)),
        };
        let failed = |message: String| {
            SaslAuthenticateResponse::default()
                .with_error_code(ResponseError::SaslAuthenticationFailed.code())
                .with_error_message(Some(StrBytes::from_string(message)))
        };
        match outcome {
            Ok((out, None)) => Step::Respond(respond(
                SaslAuthenticateResponse::default().with_auth_bytes(Bytes::from(out)),
            )),
            Ok((out, Some(user))) => {
                let principal = KafkaPrincipal::user(&user);
                if let Some(previous) = self.principal.as_ref().filter(|p| **p != principal) {
                    let message = format!(
                        "Cannot change principals during re-authentication from {previous}: {principal}"
                    );
                    return Step::Fail(respond(failed(message.clone())), message);
                }
                tracing::debug!(%principal, mechanism = %mechanism, "SASL authentication succeeded");
                // `connections.max.reauth.ms`, shortened to the token's remaining life
                // (Kafka's `SaslServerAuthenticator`); 0 when re-authentication is off.
                let lifetime = match token_left_ms {
                    Some(left) if self.reauth_ms > 0 => self.reauth_ms.min(left),
                    _ => self.reauth_ms,
                };
                self.expires = (lifetime > 0)
                    .then(|| Instant::now() + std::time::Duration::from_millis(lifetime as u64));
                self.principal = Some(principal);
                self.state = State::Complete;
                Step::Respond(respond(
                    SaslAuthenticateResponse::default()
                        .with_auth_bytes(Bytes::from(out))
                        .with_session_lifetime_ms(lifetime),
                ))
            }
            Err(e) => {
                let reason = match &e {
                    Error::Authentication { reason, .. } => reason.clone(),
                    other => other.to_string(),
                };
                // Kafka's `SaslServerAuthenticator`: PLAIN's message is meant for the
                // client; other mechanisms' failures get one message that tells nothing
                // of whether the user exists.
                let message = if mechanism == "PLAIN" {
                    reason.clone()
                } else {
                    format!(
                        "Authentication failed during authentication due to invalid credentials with SASL mechanism {mechanism}"
                    )
                };
                tracing::info!(mechanism = %mechanism, %reason, "SASL authentication failed");
                Step::Fail(
                    respond(failed(message)),
                    format!("SASL authentication failed: {reason}"),
                )
            }
        }
    }
}

fn decode(frame: &Bytes, key: ApiKey, version: i16) -> Result<RequestKind, String> {
    let support = crate::handlers::SASL_APIS
        .iter()
        .find(|a| a.key == key)
        .ok_or_else(|| format!("{key:?} is not supported"))?;
    if version < support.min || version > support.max {
        return Err(format!("{key:?} v{version} is not supported"));
    }
    decode_request(key, version, frame.clone()).map(|(_, r)| r)
}

#[cfg(test)]
mod tests {
    use kafka_protocol::messages::{
        ApiVersionsRequest, MetadataRequest, RequestHeader, SaslAuthenticateRequest,
        SaslHandshakeRequest,
    };
    use kafka_protocol::protocol::Encodable;

    use super::*;
    use crate::config::BrokerConfig;

    fn broker() -> (tempfile::TempDir, Broker) {
        let dir = tempfile::tempdir().unwrap();
        let config = BrokerConfig::with_data_dir(dir.path());
        let broker = Broker::open(config, dir.path(), "127.0.0.1:9092".parse().unwrap()).unwrap();
        (dir, broker)
    }

    fn frame(key: ApiKey, version: i16, request: &impl Encodable) -> Bytes {
        let mut buf = bytes::BytesMut::new();
        RequestHeader::default()
            .with_request_api_key(key as i16)
            .with_request_api_version(version)
            .with_correlation_id(7)
            .with_client_id(Some(StrBytes::from_static_str("test")))
            .encode(&mut buf, key.request_header_version(version))
            .unwrap();
        request.encode(&mut buf, version).unwrap();
        buf.freeze()
    }

    fn handshake(mechanism: &'static str) -> Bytes {
        frame(
            ApiKey::SaslHandshake,
            1,
            &SaslHandshakeRequest::default().with_mechanism(StrBytes::from_static_str(mechanism)),
        )
    }

    fn authenticate(token: &'static [u8]) -> Bytes {
        frame(
            ApiKey::SaslAuthenticate,
            2,
            &SaslAuthenticateRequest::default().with_auth_bytes(Bytes::from_static(token)),
        )
    }

    fn metadata() -> Bytes {
        frame(ApiKey::Metadata, 12, &MetadataRequest::default())
    }

    fn authenticator(reauth_ms: i64) -> Authenticator {
        let users = crate::security::plain::parse_jaas_users(
            r#"PlainLoginModule required user_alice="alice-secret" user_bob="bob-secret";"#,
        );
        Authenticator::new(
            ["PLAIN", "SCRAM-SHA-512"].map(String::from).to_vec(),
            Some(Arc::new(users)),
            reauth_ms,
        )
    }

    fn authenticate_response(step: Step) -> (SaslAuthenticateResponse, bool) {
        let (response, closes) = match step {
            Step::Respond(r) => (r, false),
            Step::Fail(r, _) => (r, true),
            other => panic!("expected a response, got {other:?}"),
        };
        match response.body {
            ResponseBody::Message(ResponseKind::SaslAuthenticate(r)) => (r, closes),
            other => panic!("not a SaslAuthenticate response: {other:?}"),
        }
    }

    /// Kafka's `SaslServerAuthenticatorTest`/`SaslAuthenticatorTest`: before authentication
    /// only ApiVersions and SaslHandshake are served, any other request closes the
    /// connection (`testUnauthenticatedApiVersionsRequest`,
    /// `testOldSaslHandshakeFailsWithNonSaslRequest`-like sequencing).
    #[test]
    fn only_api_versions_and_handshake_before_authentication() {
        let (_dir, broker) = broker();
        let mut auth = authenticator(0);
        let versions = frame(ApiKey::ApiVersions, 3, &ApiVersionsRequest::default());
        assert!(matches!(auth.on_frame(&broker, &versions), Step::Pass));
        assert!(matches!(
            auth.on_frame(&broker, &metadata()),
            Step::Close(_)
        ));
        let mut auth = authenticator(0);
        // SaslAuthenticate before the handshake closes too.
        assert!(matches!(
            auth.on_frame(&broker, &authenticate(b"\0alice\0alice-secret")),
            Step::Close(_)
        ));
        // Between handshake and authentication: only tokens (and ApiVersions).
        let mut auth = authenticator(0);
        assert!(matches!(
            auth.on_frame(&broker, &handshake("PLAIN")),
            Step::Respond(_)
        ));
        assert!(matches!(auth.on_frame(&broker, &versions), Step::Pass));
        assert!(matches!(
            auth.on_frame(&broker, &metadata()),
            Step::Close(_)
        ));
        assert!(auth.principal().is_none());
    }

    /// An unknown or disabled mechanism: UNSUPPORTED_SASL_MECHANISM with the enabled
    /// mechanisms, then the connection closes (`testUnsupportedMechanism`-like).
    #[test]
    fn unsupported_mechanisms_are_refused_with_the_enabled_list() {
        let (_dir, broker) = broker();
        for mechanism in ["GSSAPI", "SCRAM-SHA-256", "OAUTHBEARER"] {
            let mut auth = authenticator(0);
            let Step::Fail(response, _) = auth.on_frame(&broker, &handshake(mechanism)) else {
                panic!("{mechanism} should be refused");
            };
            let ResponseBody::Message(ResponseKind::SaslHandshake(r)) = response.body else {
                panic!("not a handshake response");
            };
            assert_eq!(r.error_code, ResponseError::UnsupportedSaslMechanism.code());
            let offered: Vec<&str> = r.mechanisms.iter().map(|m| m.as_str()).collect();
            assert_eq!(offered, ["PLAIN", "SCRAM-SHA-512"]);
        }
    }

    /// A good PLAIN exchange sets the principal and lets requests through; a wrong
    /// password is SASL_AUTHENTICATION_FAILED with Kafka's PLAIN message, then close.
    #[test]
    fn plain_authenticates_or_fails_with_kafkas_message() {
        let (_dir, broker) = broker();
        let mut auth = authenticator(0);
        auth.on_frame(&broker, &handshake("PLAIN"));
        let (r, closes) =
            authenticate_response(auth.on_frame(&broker, &authenticate(b"\0alice\0alice-secret")));
        assert_eq!((r.error_code, closes, r.session_lifetime_ms), (0, false, 0));
        assert_eq!(auth.principal(), Some(&KafkaPrincipal::user("alice")));
        assert!(matches!(auth.on_frame(&broker, &metadata()), Step::Pass));

        let mut auth = authenticator(0);
        auth.on_frame(&broker, &handshake("PLAIN"));
        let (r, closes) =
            authenticate_response(auth.on_frame(&broker, &authenticate(b"\0alice\0wrong")));
        assert!(closes);
        assert_eq!(r.error_code, ResponseError::SaslAuthenticationFailed.code());
        assert_eq!(
            r.error_message.as_deref(),
            Some("Authentication failed: Invalid username or password")
        );
        assert!(auth.principal().is_none());
    }

    /// SCRAM failures get one message whatever the cause, so users cannot be probed.
    #[test]
    fn scram_failures_do_not_tell_unknown_users_apart() {
        let (_dir, broker) = broker();
        let mut auth = authenticator(0);
        auth.on_frame(&broker, &handshake("SCRAM-SHA-512"));
        let (r, closes) =
            authenticate_response(auth.on_frame(&broker, &authenticate(b"n,,n=nobody,r=abc")));
        assert!(closes);
        assert_eq!(
            r.error_message.as_deref(),
            Some("Authentication failed during authentication due to invalid credentials with SASL mechanism SCRAM-SHA-512")
        );
    }

    /// KIP-368: the session lifetime is `connections.max.reauth.ms`; a handshake on an
    /// authenticated connection re-authenticates, which may not change the principal;
    /// past the lifetime, a request other than a re-authentication closes the connection.
    #[test]
    fn sessions_expire_and_re_authenticate_as_the_same_principal() {
        let (_dir, broker) = broker();
        let mut auth = authenticator(50);
        auth.on_frame(&broker, &handshake("PLAIN"));
        let (r, _) =
            authenticate_response(auth.on_frame(&broker, &authenticate(b"\0alice\0alice-secret")));
        assert_eq!(r.session_lifetime_ms, 50);
        // Re-authentication as alice again.
        assert!(matches!(
            auth.on_frame(&broker, &handshake("PLAIN")),
            Step::Respond(_)
        ));
        let (r, closes) =
            authenticate_response(auth.on_frame(&broker, &authenticate(b"\0alice\0alice-secret")));
        assert_eq!((r.error_code, closes), (0, false));
        // Re-authentication as bob is refused.
        auth.on_frame(&broker, &handshake("PLAIN"));
        let (r, closes) =
            authenticate_response(auth.on_frame(&broker, &authenticate(b"\0bob\0bob-secret")));
        assert!(closes);
        assert_eq!(r.error_code, ResponseError::SaslAuthenticationFailed.code());

        let mut auth = authenticator(1);
        auth.on_frame(&broker, &handshake("PLAIN"));
        auth.on_frame(&broker, &authenticate(b"\0alice\0alice-secret"));
        std::thread::sleep(std::time::Duration::from_millis(5));
        assert!(matches!(
            auth.on_frame(&broker, &metadata()),
            Step::Close(_)
        ));
    }

    /// OAUTHBEARER: the token's `sub` is the principal, and with re-authentication on the
    /// session ends no later than the token expires.
    #[test]
    fn oauthbearer_sessions_end_with_the_token() {
        use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64URL;
        use base64::Engine as _;
        let (_dir, broker) = broker();
        let mut auth = Authenticator::new(vec!["OAUTHBEARER".into()], None, 3_600_000);
        auth.on_frame(&broker, &handshake("OAUTHBEARER"));
        let now_s = crate::clock::now_ms() / 1000;
        let token = format!(
            "{}.{}.",
            B64URL.encode(r#"{"alg":"none"}"#),
            B64URL.encode(format!(
                r#"{{"sub":"dave","iat":{now_s},"exp":{}}}"#,
                now_s + 60
            ))
        );
        let message = format!("n,,\u{1}auth=Bearer {token}\u{1}\u{1}");
        let request = frame(
            ApiKey::SaslAuthenticate,
            2,
            &SaslAuthenticateRequest::default().with_auth_bytes(Bytes::from(message)),
        );
        let (r, closes) = authenticate_response(auth.on_frame(&broker, &request));
        assert_eq!((r.error_code, closes), (0, false));
        assert!(
            (1..=60_000).contains(&r.session_lifetime_ms),
            "{}",
            r.session_lifetime_ms
        );
        assert_eq!(auth.principal(), Some(&KafkaPrincipal::user("dave")));
    }
}
