//! SASL/OAUTHBEARER (RFC 7628) with unsecured JWS tokens, for development only.
//!
//! Kafka ships an unsecured OAuth flavour (`OAuthBearerUnsecuredJws`,
//! `OAuthBearerUnsecuredValidatorCallbackHandler`): the token is a JWS compact
//! serialization with `"alg":"none"` and an empty signature, so anyone can mint one;
//! it exists so that applications can be developed against OAUTHBEARER before an
//! identity provider is wired in. [`OAuthBearerServer`] parses the client's initial
//! response (`n,[a=authzid],^Aauth=Bearer <token>^A[key=value^A]…^A`), validates the
//! token as Kafka does (principal claim `sub` present, `exp` in the future, `iat` not in
//! the future, required scopes present; with an allowed clock skew) and yields the
//! principal. A rejected token is answered with Kafka's JSON error
//! (`{"status":"invalid_token"}`), after which the client's `^A` ends the exchange
//! with an authentication error, as RFC 7628 prescribes.

use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64URL;
use base64::Engine as _;
use serde_json::Value;

use crate::error::{Error, Result};

/// Settings of the unsecured validator (Kafka's `unsecuredValidator*` JAAS options).
#[derive(Debug, Clone)]
pub struct UnsecuredJwsConfig {
    /// Claim holding the principal name (`unsecuredValidatorPrincipalClaimName`, `sub`).
    pub principal_claim: String,
    /// Claim holding the scopes (`unsecuredValidatorScopeClaimName`, `scope`).
    pub scope_claim: String,
    /// Scopes a token must have (`unsecuredValidatorRequiredScope`).
    pub required_scopes: Vec<String>,
    /// Allowed clock skew, ms (`unsecuredValidatorAllowableClockSkewMs`, 0).
    pub allowable_clock_skew_ms: i64,
}

impl Default for UnsecuredJwsConfig {
    fn default() -> Self {
        UnsecuredJwsConfig {
            principal_claim: "sub".into(),
            scope_claim: "scope".into(),
            required_scopes: Vec::new(),
            allowable_clock_skew_ms: 0,
        }
    }
}

/// A validated token: the principal name, its scopes and lifetime.
#[derive(Debug, Clone, PartialEq)]
pub struct UnsecuredJws {
    /// The principal claim's value.
    pub principal: String,
    /// The scopes granted.
    pub scopes: Vec<String>,
    /// Expiry, ms since the epoch.
    pub lifetime_ms: i64,
}

/// Why a token is refused: the `status` of Kafka's JSON error, and details for the log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenError {
    /// `invalid_token` or `insufficient_scope`.
    pub status: &'static str,
    /// What was wrong.
    pub reason: String,
}

fn invalid(reason: impl Into<String>) -> TokenError {
    TokenError {
        status: "invalid_token",
        reason: reason.into(),
    }
}

fn json_part(
    part: &str,
    what: &str,
) -> std::result::Result<serde_json::Map<String, Value>, TokenError> {
    let bytes = B64URL
        .decode(part.trim_end_matches('='))
        .map_err(|_| invalid(format!("the {what} is not base64url")))?;
    match serde_json::from_slice(&bytes) {
        Ok(Value::Object(map)) => Ok(map),
        _ => Err(invalid(format!("the {what} is not a JSON object"))),
    }
}

/// Seconds in a JWT number claim as milliseconds.
fn claim_ms(
    claims: &serde_json::Map<String, Value>,
    name: &str,
) -> std::result::Result<Option<i64>, TokenError> {
    match claims.get(name) {
        None => Ok(None),
        Some(Value::Number(n)) => n
            .as_f64()
            .map(|s| Some((s * 1000.0) as i64))
            .ok_or_else(|| invalid(format!("claim {name} is not a number"))),
        Some(_) => Err(invalid(format!("claim {name} is not a number"))),
    }
}

/// Validates an unsecured JWS compact serialization at time `now_ms`.
pub fn validate(
    token: &str,
    config: &UnsecuredJwsConfig,
    now_ms: i64,
) -> std::result::Result<UnsecuredJws, TokenError> {
    let parts: Vec<&str> = token.split('.').collect();
    let [header, payload, signature] = parts[..] else {
        return Err(invalid("a JWS compact serialization has exactly 2 periods"));
    };
    if !signature.is_empty() {
        return Err(invalid("an unsecured JWS must have an empty signature"));
    }
    let header = json_part(header, "header")?;
    if header.get("alg").and_then(Value::as_str) != Some("none") {
        return Err(invalid("an unsecured JWS must have \"alg\":\"none\""));
    }
    let claims = json_part(payload, "payload")?;
    let principal = match claims.get(&config.principal_claim) {
        Some(Value::String(s)) if !s.trim().is_empty() => s.clone(),
        _ => {
            return Err(invalid(format!(
                "no principal claim {} in the token",
                config.principal_claim
            )))
        }
    };
    let skew = config.allowable_clock_skew_ms;
    let Some(exp) = claim_ms(&claims, "exp")? else {
        return Err(invalid("no exp claim in the token"));
    };
    if now_ms >= exp.saturating_add(skew) {
        return Err(invalid(format!("the token expired at {exp} ms")));
    }
    if let Some(iat) = claim_ms(&claims, "iat")? {
        if iat > now_ms.saturating_add(skew) {
            return Err(invalid(format!(
                "the token was issued in the future ({iat} ms)"
            )));
        }
    }
    let scopes: Vec<String> = match claims.get(&config.scope_claim) {
        None => Vec::new(),
        Some(Value::String(s)) => s.split_whitespace().map(str::to_string).collect(),
        Some(Value::Array(items)) => items
            .iter()
            .filter_map(|v| v.as_str().map(str::to_string))
            .collect(),
        Some(_) => return Err(invalid("the scope claim is neither a string nor a list")),
    };
    let missing: Vec<&String> = config
        .required_scopes
        .iter()
        .filter(|s| !scopes.contains(s))
        .collect();
    if !missing.is_empty() {
        return Err(TokenError {
            status: "insufficient_scope",
            reason: format!("missing required scopes {missing:?}"),
        });
    }
    Ok(UnsecuredJws {
        principal,
        scopes,
        lifetime_ms: exp,
    })
}

#[derive(Debug)]
enum State {
    Initial,
    /// A token was refused; the client must send `^A` and then fails.
    Refused(String),
    Complete,
    Failed,
}

/// The server side of one OAUTHBEARER exchange (Kafka's `OAuthBearerSaslServer` with
/// the unsecured validator).
#[derive(Debug)]
pub struct OAuthBearerServer {
    config: UnsecuredJwsConfig,
    state: State,
    token: Option<UnsecuredJws>,
}

impl OAuthBearerServer {
    /// A server validating with `config`.
    pub fn new(config: UnsecuredJwsConfig) -> OAuthBearerServer {
        OAuthBearerServer {
            config,
            state: State::Initial,
            token: None,
        }
    }

    fn fail(&mut self, reason: impl Into<String>) -> Error {
        self.state = State::Failed;
        Error::Authentication {
            mechanism: "OAUTHBEARER".into(),
            reason: reason.into(),
        }
    }

    /// Handles the client's next message at time `now_ms`: the answer is empty when
    /// the token is accepted, Kafka's JSON error when it is refused.
    pub fn evaluate(&mut self, response: &[u8], now_ms: i64) -> Result<Vec<u8>> {
        match std::mem::replace(&mut self.state, State::Failed) {
            State::Initial => {}
            State::Refused(reason) => {
                // RFC 7628 3.2.3: the client acknowledges the error with a single ^A.
                return Err(self.fail(reason));
            }
            State::Complete | State::Failed => {
                return Err(self.fail("the exchange is already finished"))
            }
        }
        let Ok(text) = std::str::from_utf8(response) else {
            return Err(self.fail("the client's response is not UTF-8"));
        };
        let Some((gs2, rest)) = text.split_once('\u{1}') else {
            return Err(self.fail("invalid OAUTHBEARER initial response"));
        };
        let mut gs2_parts = gs2.split(',');
        let (Some(cb), Some(authzid), Some("")) =
            (gs2_parts.next(), gs2_parts.next(), gs2_parts.next())
        else {
            return Err(self.fail("invalid GS2 header"));
        };
        if cb != "n" && cb != "y" {
            return Err(self.fail("channel binding is not supported"));
        }
        let Some(kvpairs) = rest.strip_suffix("\u{1}\u{1}") else {
            return Err(self.fail("invalid OAUTHBEARER initial response"));
        };
        let mut token = None;
        for kv in kvpairs.split('\u{1}') {
            match kv.split_once('=') {
                Some(("auth", v)) => token = v.strip_prefix("Bearer ").map(str::trim),
                // SASL extensions (KIP-342) are accepted and not interpreted.
                Some((k, _)) if !k.is_empty() && k.chars().all(|c| c.is_ascii_alphabetic()) => {}
                _ => return Err(self.fail("invalid key/value pair")),
            }
        }
        let Some(token) = token else {
            return Err(self.fail("no auth=Bearer token"));
        };
        match validate(token, &self.config, now_ms) {
            Ok(jws) => {
                if let Some(a) = authzid.strip_prefix("a=") {
                    if a != jws.principal {
                        return Err(self.fail(format!(
                            "authorization id {a} is not the token's principal {}",
                            jws.principal
                        )));
                    }
                } else if !authzid.is_empty() {
                    return Err(self.fail("invalid GS2 header"));
                }
                self.token = Some(jws);
                self.state = State::Complete;
                Ok(Vec::new())
            }
            Err(e) => {
                tracing::debug!(reason = %e.reason, "OAUTHBEARER token refused");
                let body = serde_json::json!({ "status": e.status }).to_string();
                self.state = State::Refused(e.reason);
                Ok(body.into_bytes())
            }
        }
    }

    /// The validated token once the exchange is complete.
    pub fn token(&self) -> Option<&UnsecuredJws> {
        match self.state {
            State::Complete => self.token.as_ref(),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn jws(header: &str, claims: &str) -> String {
        format!("{}.{}.", B64URL.encode(header), B64URL.encode(claims))
    }

    const NOW: i64 = 1_000_000_000_000;

    /// `OAuthBearerUnsecuredJwsTest`/`OAuthBearerUnsecuredValidatorCallbackHandlerTest`:
    /// a valid token, an expired one, a missing principal, a signed one, one issued in the
    /// future, and required scopes.
    #[test]
    fn unsecured_tokens_validate_as_kafka() {
        let config = UnsecuredJwsConfig::default();
        let header = r#"{"alg":"none"}"#;
        let good = jws(
            header,
            r#"{"sub":"alice","exp":1000000001,"iat":999999999,"scope":"a b"}"#,
        );
        let t = validate(&good, &config, NOW).unwrap();
        assert_eq!(t.principal, "alice");
        assert_eq!(t.scopes, vec!["a", "b"]);
        assert_eq!(t.lifetime_ms, 1_000_000_001_000);

        let expired = jws(header, r#"{"sub":"alice","exp":999999999}"#);
        assert_eq!(
            validate(&expired, &config, NOW).unwrap_err().status,
            "invalid_token"
        );
        let skewed = UnsecuredJwsConfig {
            allowable_clock_skew_ms: 5000,
            ..UnsecuredJwsConfig::default()
        };
        assert!(validate(&expired, &skewed, NOW).is_ok());
        for bad in [
            jws(header, r#"{"exp":1000000001}"#),
            jws(header, r#"{"sub":"","exp":1000000001}"#),
            jws(header, r#"{"sub":"alice"}"#),
            jws(
                header,
                r#"{"sub":"alice","exp":1000000001,"iat":1000000005}"#,
            ),
            jws(r#"{"alg":"HS256"}"#, r#"{"sub":"alice","exp":1000000001}"#),
            format!("{}sig", jws(header, r#"{"sub":"alice","exp":1000000001}"#)),
            "not-a-token".to_string(),
        ] {
            assert!(validate(&bad, &config, NOW).is_err(), "{bad}");
        }
        let scoped = UnsecuredJwsConfig {
            required_scopes: vec!["b".into(), "c".into()],
            ..UnsecuredJwsConfig::default()
        };
        assert_eq!(
            validate(&good, &scoped, NOW).unwrap_err().status,
            "insufficient_scope"
        );
    }

    /// `OAuthBearerSaslServerTest`: a token with and without an authorization id and
    /// extensions; a refused token gets the JSON error and then fails.
    #[test]
    fn server_exchange() {
        let token = jws(r#"{"alg":"none"}"#, r#"{"sub":"alice","exp":1000000001}"#);
        let ok = format!("n,,\u{1}auth=Bearer {token}\u{1}\u{1}");
        let mut s = OAuthBearerServer::new(UnsecuredJwsConfig::default());
        assert!(s.evaluate(ok.as_bytes(), NOW).unwrap().is_empty());
        assert_eq!(s.token().unwrap().principal, "alice");

        let with_authzid = format!("n,a=alice,\u{1}auth=Bearer {token}\u{1}traceId=1\u{1}\u{1}");
        let mut s = OAuthBearerServer::new(UnsecuredJwsConfig::default());
        assert!(s.evaluate(with_authzid.as_bytes(), NOW).is_ok());
        let other = format!("n,a=bob,\u{1}auth=Bearer {token}\u{1}\u{1}");
        let mut s = OAuthBearerServer::new(UnsecuredJwsConfig::default());
        assert!(s.evaluate(other.as_bytes(), NOW).is_err());

        let mut s = OAuthBearerServer::new(UnsecuredJwsConfig::default());
        let answer = s.evaluate(ok.as_bytes(), NOW + 10_000).unwrap();
        assert_eq!(answer, br#"{"status":"invalid_token"}"#);
        assert!(s.token().is_none());
        assert!(s.evaluate(b"\x01", NOW).is_err());

        for bad in [
            &b""[..],
            b"n,,",
            b"n,,\x01auth=Basic x\x01\x01",
            b"p=x,,\x01\x01",
        ] {
            let mut s = OAuthBearerServer::new(UnsecuredJwsConfig::default());
            assert!(s.evaluate(bad, NOW).is_err(), "{bad:?}");
        }
    }
}
