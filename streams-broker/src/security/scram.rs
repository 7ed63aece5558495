//! SCRAM (RFC 5802, RFC 7677): salted credentials and the server side of the exchange.
//!
//! A SCRAM credential never contains the password: it keeps a random salt, an iteration
//! count, `StoredKey = H(HMAC(SaltedPassword, "Client Key"))` and
//! `ServerKey = HMAC(SaltedPassword, "Server Key")`, where `SaltedPassword` is PBKDF2
//! (RFC 5802's `Hi`) of the password. [`ScramServer`] is the server's state machine for
//! one exchange: client-first message in, server-first out (combined nonce, salt,
//! iterations), client-final in (proof checked against `StoredKey`), server-final out
//! (the server's signature). It is pure: it does no I/O, so `SaslAuthenticate` only has
//! to feed it the client's bytes. Kafka's counterparts are `ScramFormatter`,
//! `ScramCredential` and `ScramSaslServer`; mechanism ids 1 and 2 are those of
//! `DescribeUserScramCredentials`/`AlterUserScramCredentials`.

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use hmac::{KeyInit, Mac};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256, Sha512};

use crate::error::{Error, Result};

/// Kafka's minimum iteration count for SCRAM credentials.
pub const MIN_ITERATIONS: u32 = 4096;
/// Kafka's maximum iteration count for SCRAM credentials.
pub const MAX_ITERATIONS: u32 = 16384;

/// A SCRAM mechanism.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum ScramMechanism {
    /// `SCRAM-SHA-256` (id 1).
    #[serde(rename = "SCRAM-SHA-256")]
    Sha256,
    /// `SCRAM-SHA-512` (id 2).
    #[serde(rename = "SCRAM-SHA-512")]
    Sha512,
}

impl ScramMechanism {
    /// Both mechanisms.
    pub const ALL: [ScramMechanism; 2] = [ScramMechanism::Sha256, ScramMechanism::Sha512];

    /// The SASL mechanism name.
    pub fn name(self) -> &'static str {
        match self {
            ScramMechanism::Sha256 => "SCRAM-SHA-256",
            ScramMechanism::Sha512 => "SCRAM-SHA-512",
        }
    }

    /// The mechanism of a SASL name.
    pub fn from_name(name: &str) -> Option<ScramMechanism> {
        ScramMechanism::ALL.into_iter().find(|m| m.name() == name)
    }

    /// The id in `DescribeUserScramCredentials`/`AlterUserScramCredentials`.
    pub fn id(self) -> i8 {
        match self {
            ScramMechanism::Sha256 => 1,
            ScramMechanism::Sha512 => 2,
        }
    }

    /// The mechanism of a wire id.
    pub fn from_id(id: i8) -> Option<ScramMechanism> {
        ScramMechanism::ALL.into_iter().find(|m| m.id() == id)
    }

    fn hash(self, data: &[u8]) -> Vec<u8> {
        match self {
            ScramMechanism::Sha256 => Sha256::digest(data).to_vec(),
            ScramMechanism::Sha512 => Sha512::digest(data).to_vec(),
        }
    }

    fn hmac(self, key: &[u8], data: &[u8]) -> Vec<u8> {
        fn mac<M: Mac + KeyInit>(key: &[u8], data: &[u8]) -> Vec<u8> {
            // HMAC takes keys of any length.
            let mut m = <M as KeyInit>::new_from_slice(key).expect("HMAC accepts any key");
            m.update(data);
            m.finalize().into_bytes().to_vec()
        }
        match self {
            ScramMechanism::Sha256 => mac::<hmac::Hmac<Sha256>>(key, data),
            ScramMechanism::Sha512 => mac::<hmac::Hmac<Sha512>>(key, data),
        }
    }

    /// RFC 5802's `Hi(password, salt, i)`: PBKDF2 with this mechanism's HMAC.
    pub fn salted_password(self, password: &[u8], salt: &[u8], iterations: u32) -> Vec<u8> {
        match self {
            ScramMechanism::Sha256 => {
                let mut out = vec![0; 32];
                pbkdf2::pbkdf2_hmac::<Sha256>(password, salt, iterations, &mut out);
                out
            }
            ScramMechanism::Sha512 => {
                let mut out = vec![0; 64];
                pbkdf2::pbkdf2_hmac::<Sha512>(password, salt, iterations, &mut out);
                out
            }
        }
    }

    /// The credential for `password` with `salt` and `iterations` (Kafka's
    /// `ScramFormatter.generateCredential`).
    pub fn credential(self, password: &str, salt: &[u8], iterations: u32) -> ScramCredential {
        let salted = self.salted_password(password.as_bytes(), salt, iterations);
        self.credential_from_salted(&salted, salt, iterations)
    }

    /// The credential for an already salted password, as `AlterUserScramCredentials`
    /// sends it (the client salts; the password never reaches the broker).
    pub fn credential_from_salted(
        self,
        salted: &[u8],
        salt: &[u8],
        iterations: u32,
    ) -> ScramCredential {
        let client_key = self.hmac(salted, b"Client Key");
        ScramCredential {
            salt: salt.to_vec(),
            stored_key: self.hash(&client_key),
            server_key: self.hmac(salted, b"Server Key"),
            iterations,
        }
    }

    /// The credential for `password` with a fresh random salt.
    pub fn new_credential(self, password: &str, iterations: u32) -> Result<ScramCredential> {
        Ok(self.credential(password, &random_bytes(32)?, iterations))
    }
}

/// Random bytes from the operating system.
pub(crate) fn random_bytes(n: usize) -> Result<Vec<u8>> {
    let mut buf = vec![0; n];
    getrandom::fill(&mut buf).map_err(|e| Error::Authentication {
        mechanism: "SCRAM".into(),
        reason: format!("no randomness available: {e}"),
    })?;
    Ok(buf)
}

/// A stored SCRAM credential: what the server needs to check a password, and no more.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScramCredential {
    /// The salt.
    #[serde(with = "b64")]
    pub salt: Vec<u8>,
    /// `H(ClientKey)`.
    #[serde(with = "b64")]
    pub stored_key: Vec<u8>,
    /// `HMAC(SaltedPassword, "Server Key")`.
    #[serde(with = "b64")]
    pub server_key: Vec<u8>,
    /// The PBKDF2 iteration count.
    pub iterations: u32,
}

mod b64 {
    use super::B64;
    use base64::Engine as _;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(v: &[u8], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&B64.encode(v))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
        let s = String::deserialize(d)?;
        B64.decode(s).map_err(serde::de::Error::custom)
    }
}

/// Where the server's state machine is.
#[derive(Debug)]
enum State {
    ReceiveClientFirst,
    ReceiveClientFinal {
        user: String,
        credential: ScramCredential,
        nonce: String,
        client_first_bare: String,
        server_first: String,
        gs2_header: String,
    },
    Complete,
    Failed,
}

/// The server side of one SCRAM exchange (Kafka's `ScramSaslServer`).
#[derive(Debug)]
pub struct ScramServer {
    mechanism: ScramMechanism,
    state: State,
    /// The server's part of the nonce; random unless a test fixes it.
    server_nonce: String,
    authorized_id: Option<String>,
    token_auth: bool,
}

impl ScramServer {
    /// A server for `mechanism` with a random nonce.
    pub fn new(mechanism: ScramMechanism) -> Result<ScramServer> {
        let nonce = B64.encode(random_bytes(24)?);
        Ok(ScramServer::with_nonce(mechanism, &nonce))
    }

    /// A server whose own nonce part is `server_nonce` (for test vectors).
    pub fn with_nonce(mechanism: ScramMechanism, server_nonce: &str) -> ScramServer {
        ScramServer {
            mechanism,
            state: State::ReceiveClientFirst,
            server_nonce: server_nonce.to_string(),
            authorized_id: None,
            token_auth: false,
        }
    }

    fn fail(&mut self, reason: impl Into<String>) -> Error {
        self.state = State::Failed;
        Error::Authentication {
            mechanism: self.mechanism.name().to_string(),
            reason: reason.into(),
        }
    }

    /// Handles the client's next message and returns the server's answer. `lookup`
    /// finds the credential of a user (`None`: unknown user, which fails the exchange
    /// with the same message as a wrong password, so users cannot be probed).
    pub fn evaluate(
        &mut self,
        response: &[u8],
        lookup: impl FnOnce(&str) -> Option<ScramCredential>,
    ) -> Result<Vec<u8>> {
        let Ok(text) = std::str::from_utf8(response) else {
            return Err(self.fail("message is not UTF-8"));
        };
        match std::mem::replace(&mut self.state, State::Failed) {
            State::ReceiveClientFirst => self.client_first(text, lookup),
            State::ReceiveClientFinal {
                user,
                credential,
                nonce,
                client_first_bare,
                server_first,
                gs2_header,
            } => {
                let auth = (
                    credential,
                    nonce,
                    client_first_bare,
                    server_first,
                    gs2_header,
                );
                let out = self.client_final(text, auth)?;
                self.authorized_id = Some(user);
                self.state = State::Complete;
                Ok(out)
            }
            State::Complete | State::Failed => Err(self.fail("the exchange is already finished")),
        }
    }

    fn client_first(
        &mut self,
        text: &str,
        lookup: impl FnOnce(&str) -> Option<ScramCredential>,
    ) -> Result<Vec<u8>> {
        // gs2-header: "n," or "y," (no channel binding), optional "a=authzid", ","
        let mut parts = text.splitn(3, ',');
        let (Some(cb), Some(authzid), Some(bare)) = (parts.next(), parts.next(), parts.next())
        else {
            return Err(self.fail("invalid client-first message"));
        };
        if cb != "n" && cb != "y" {
            return Err(self.fail("channel binding is not supported"));
        }
        let mut user = None;
        let mut nonce = None;
        for attr in bare.split(',') {
            match attr.split_once('=') {
                Some(("n", v)) => user = Some(unescape_name(v)),
                Some(("r", v)) => nonce = Some(v.to_string()),
                // Kafka's extensions (KIP-84, delegation tokens) follow the nonce.
                Some(("tokenauth", v)) => self.token_auth = v == "true",
                Some(("m", _)) => return Err(self.fail("mandatory extensions are not supported")),
                _ => {}
            }
        }
        let (Some(Some(user)), Some(client_nonce)) = (user, nonce) else {
            return Err(self.fail("client-first message lacks a user name or nonce"));
        };
        if client_nonce.is_empty() {
            return Err(self.fail("empty client nonce"));
        }
        if self.token_auth {
            return Err(self.fail("delegation tokens are not supported"));
        }
        if !authzid.is_empty()
            && authzid.strip_prefix("a=").map(unescape_name) != Some(Some(user.clone()))
        {
            return Err(self.fail("the authorization id must be the user name"));
        }
        let Some(credential) = lookup(&user) else {
            return Err(self.fail("invalid credentials"));
        };
        let nonce = format!("{client_nonce}{}", self.server_nonce);
        let server_first = format!(
            "r={nonce},s={},i={}",
            B64.encode(&credential.salt),
            credential.iterations
        );
        let gs2_header = format!("{cb},{authzid},");
        self.state = State::ReceiveClientFinal {
            user,
            credential,
            nonce,
            client_first_bare: bare.to_string(),
            server_first: server_first.clone(),
            gs2_header,
        };
        Ok(server_first.into_bytes())
    }

    fn client_final(
        &mut self,
        text: &str,
        (credential, nonce, client_first_bare, server_first, gs2_header): (
            ScramCredential,
            String,
            String,
            String,
            String,
        ),
    ) -> Result<Vec<u8>> {
        let Some((without_proof, proof)) = text.rsplit_once(",p=") else {
            return Err(self.fail("client-final message lacks a proof"));
        };
        let mut channel_binding = None;
        let mut final_nonce = None;
        for attr in without_proof.split(',') {
            match attr.split_once('=') {
                Some(("c", v)) => channel_binding = Some(v),
                Some(("r", v)) => final_nonce = Some(v),
                _ => {}
            }
        }
        if final_nonce != Some(nonce.as_str()) {
            return Err(self.fail("invalid nonce"));
        }
        if channel_binding.and_then(|c| B64.decode(c).ok()) != Some(gs2_header.into_bytes()) {
            return Err(self.fail("invalid channel binding"));
        }
        let Ok(proof) = B64.decode(proof) else {
            return Err(self.fail("proof is not base64"));
        };
        let auth_message = format!("{client_first_bare},{server_first},{without_proof}");
        let m = self.mechanism;
        let signature = m.hmac(&credential.stored_key, auth_message.as_bytes());
        if proof.len() != signature.len() {
            return Err(self.fail("invalid credentials"));
        }
        let client_key: Vec<u8> = proof.iter().zip(&signature).map(|(a, b)| a ^ b).collect();
        if !constant_time_eq(&m.hash(&client_key), &credential.stored_key) {
            return Err(self.fail("invalid credentials"));
        }
        let server_signature = m.hmac(&credential.server_key, auth_message.as_bytes());
        Ok(format!("v={}", B64.encode(server_signature)).into_bytes())
    }

    /// The authenticated user once the exchange is complete.
    pub fn authorized_id(&self) -> Option<&str> {
        match self.state {
            State::Complete => self.authorized_id.as_deref(),
            _ => None,
        }
    }

    /// Whether the exchange finished successfully.
    pub fn is_complete(&self) -> bool {
        matches!(self.state, State::Complete)
    }
}

/// RFC 5802 names escape `,` as `=2C` and `=` as `=3D`; any other `=` is invalid.
fn unescape_name(s: &str) -> Option<String> {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(i) = rest.find('=') {
        out.push_str(&rest[..i]);
        let esc = rest.get(i..i + 3)?;
        out.push(match esc {
            "=2C" => ',',
            "=3D" => '=',
            _ => return None,
        });
        rest = &rest[i + 3..];
    }
    out.push_str(rest);
    Some(out)
}

/// Compares without an early exit, so timing does not reveal where keys differ.
pub(crate) fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// RFC 7677 section 3's SCRAM-SHA-256 exchange (user "user", password "pencil"), as
    /// Kafka's `ScramFormatterTest.rfc7677Example`.
    #[test]
    fn rfc7677_example() {
        let m = ScramMechanism::Sha256;
        let salt = B64.decode("W22ZaJ0SNY7soEsUEjb6gQ==").unwrap();
        let credential = m.credential("pencil", &salt, 4096);
        let mut server = ScramServer::with_nonce(m, "%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0");
        let first = server
            .evaluate(b"n,,n=user,r=rOprNGfwEbeRWgbNEkqO", |u| {
                (u == "user").then(|| credential.clone())
            })
            .unwrap();
        assert_eq!(
            String::from_utf8(first).unwrap(),
            "r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096"
        );
        let last = server
            .evaluate(
                b"c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=",
                |_| None,
            )
            .unwrap();
        assert_eq!(
            String::from_utf8(last).unwrap(),
            "v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4="
        );
        assert_eq!(server.authorized_id(), Some("user"));
    }

    /// A client side of the exchange, to test the server with both mechanisms.
    pub(crate) fn client_final(
        m: ScramMechanism,
        password: &str,
        first_bare: &str,
        server_first: &str,
        tamper_nonce: bool,
    ) -> String {
        let attrs: Vec<(&str, &str)> = server_first
            .split(',')
            .filter_map(|a| a.split_once('='))
            .collect();
        let nonce = attrs[0].1;
        let salt = B64.decode(attrs[1].1).unwrap();
        let iterations: u32 = attrs[2].1.parse().unwrap();
        let salted = m.salted_password(password.as_bytes(), &salt, iterations);
        let client_key = m.hmac(&salted, b"Client Key");
        let stored_key = m.hash(&client_key);
        let nonce = if tamper_nonce {
            format!("{nonce}x")
        } else {
            nonce.to_string()
        };
        let without_proof = format!("c=biws,r={nonce}");
        let auth = format!("{first_bare},{server_first},{without_proof}");
        let signature = m.hmac(&stored_key, auth.as_bytes());
        let proof: Vec<u8> = client_key
            .iter()
            .zip(&signature)
            .map(|(a, b)| a ^ b)
            .collect();
        format!("{without_proof},p={}", B64.encode(proof))
    }

    fn exchange(
        m: ScramMechanism,
        stored: &str,
        tried: &str,
        tamper_nonce: bool,
    ) -> Result<String> {
        let credential = m.new_credential(stored, MIN_ITERATIONS).unwrap();
        let mut server = ScramServer::new(m).unwrap();
        let first = server.evaluate(b"n,,n=alice,r=clientnonce", |u| {
            (u == "alice").then(|| credential.clone())
        })?;
        let first = String::from_utf8(first).unwrap();
        let last = client_final(m, tried, "n=alice,r=clientnonce", &first, tamper_nonce);
        let out = server.evaluate(last.as_bytes(), |_| None)?;
        assert!(server.is_complete());
        Ok(String::from_utf8(out).unwrap())
    }

    /// `ScramSaslServerTest`: valid exchanges for both mechanisms; a wrong password, an
    /// unknown user, a changed nonce, and `tokenauth` without token support fail.
    #[test]
    fn exchanges_succeed_and_fail_as_kafka() {
        for m in ScramMechanism::ALL {
            assert!(exchange(m, "secret", "secret", false)
                .unwrap()
                .starts_with("v="));
            assert!(matches!(
                exchange(m, "secret", "wrong", false),
                Err(Error::Authentication { .. })
            ));
            assert!(exchange(m, "secret", "secret", true).is_err());
        }
        let mut server = ScramServer::new(ScramMechanism::Sha512).unwrap();
        assert!(server.evaluate(b"n,,n=bob,r=abc", |_| None).is_err());
        assert!(server.authorized_id().is_none());
        let mut server = ScramServer::new(ScramMechanism::Sha512).unwrap();
        let credential = ScramMechanism::Sha512.new_credential("x", 4096).unwrap();
        assert!(server
            .evaluate(b"n,,n=bob,r=abc,tokenauth=true", |_| Some(credential))
            .is_err());
        // Malformed messages fail cleanly.
        for bad in [
            &b""[..],
            b"n",
            b"p=tls-unique,,n=a,r=b",
            b"n,,r=abc",
            b"\xff",
        ] {
            let mut server = ScramServer::new(ScramMechanism::Sha256).unwrap();
            assert!(server.evaluate(bad, |_| None).is_err(), "{bad:?}");
        }
    }

    /// `ScramSaslServerTest`: `noAuthorizationIdSpecified`,
    /// `authorizationIdEqualsAuthenticationId`, `authorizationIdNotEqualsAuthenticationId`
    /// and `validateNonceExchange` (the server nonce extends the client's).
    #[test]
    fn kafka_authorization_ids_and_nonce() {
        let m = ScramMechanism::Sha256;
        let a = m.credential("passwordA", b"salt-a", 4096);
        let b = m.credential("passwordB", b"salt-b", 4096);
        let lookup = |u: &str| match u {
            "userA" => Some(a.clone()),
            "userB" => Some(b.clone()),
            _ => None,
        };
        for first in ["n,,n=userA,r=nonceA", "n,a=userA,n=userA,r=nonceA"] {
            let mut server = ScramServer::new(m).unwrap();
            let challenge =
                String::from_utf8(server.evaluate(first.as_bytes(), lookup).unwrap()).unwrap();
            assert!(challenge.starts_with("r=nonceA"), "{challenge}");
            assert!(challenge.len() > "r=nonceA".len());
        }
        let mut server = ScramServer::new(m).unwrap();
        assert!(server
            .evaluate(b"n,a=userB,n=userA,r=nonceA", lookup)
            .is_err());
    }

    #[test]
    fn names_are_unescaped() {
        assert_eq!(unescape_name("a=2Cb=3Dc").as_deref(), Some("a,b=c"));
        assert_eq!(unescape_name("a=b"), None);
    }

    #[test]
    fn credentials_serialize_as_base64() {
        let c = ScramMechanism::Sha512.credential("p", b"salt", 4096);
        let json = serde_json::to_string(&c).unwrap();
        assert!(json.contains("\"salt\":\"c2FsdA==\""), "{json}");
        assert_eq!(serde_json::from_str::<ScramCredential>(&json).unwrap(), c);
        assert_eq!(c.stored_key.len(), 64);
    }
}
