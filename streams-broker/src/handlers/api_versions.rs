//! `ApiVersions`: the first request of every client connection.
//!
//! The client learns which APIs and versions the broker speaks and picks, for each API,
//! the highest version both sides know. Clients open with v3 or v4 (flexible, with their
//! software name); a broker that does not know that version answers in v0 with
//! `UNSUPPORTED_VERSION` and its own list (KIP-511), and the client retries. Tagged fields
//! are only written when they differ from their defaults, which older librdkafka releases
//! (kcat on Debian 12) depend on.

use kafka_protocol::messages::api_versions_response::ApiVersion;
use kafka_protocol::messages::ApiVersionsResponse;

use super::{SASL_APIS, SUPPORTED_APIS};

/// The `ApiVersions` response, with `error_code` (0 or `UNSUPPORTED_VERSION`); `sasl`
/// adds the SASL APIs of a `SASL_PLAINTEXT` listener.
pub(super) fn response(error_code: i16, sasl: bool) -> ApiVersionsResponse {
    let sasl_apis = if sasl { SASL_APIS } else { &[] };
    let api_keys = SUPPORTED_APIS
        .iter()
        .chain(sasl_apis)
        .map(|a| {
            ApiVersion::default()
                .with_api_key(a.key as i16)
                .with_min_version(a.min)
                .with_max_version(a.max)
        })
        .collect();
    ApiVersionsResponse::default()
        .with_error_code(error_code)
        .with_api_keys(api_keys)
}

#[cfg(test)]
mod tests {
    use super::*;
    use kafka_protocol::protocol::Encodable;

    /// The v3 body ends with an empty tagged-field section: no default-valued
    /// `SupportedFeatures`, `FinalizedFeaturesEpoch` or `ZkMigrationReady` fields, which
    /// librdkafka 2.0 (Debian's kcat) rejects.
    #[test]
    fn v3_response_has_no_tagged_fields() {
        let response = response(0, false);
        let mut buf = bytes::BytesMut::new();
        response.encode(&mut buf, 3).unwrap();
        // error_code (2) + compact array length (1) + 7 bytes per key (2+2+2 + empty tags)
        // + throttle_time_ms (4) + tagged-field count (1).
        let keys = super::SUPPORTED_APIS.len();
        assert_eq!(buf.len(), 2 + 1 + keys * 7 + 4 + 1);
        assert_eq!(buf[buf.len() - 1], 0, "no tagged fields");
    }

    /// SASL listeners advertise SaslHandshake v1 and SaslAuthenticate v0–2; plaintext
    /// listeners do not advertise them at all.
    #[test]
    fn sasl_apis_are_advertised_on_sasl_listeners_only() {
        use kafka_protocol::messages::ApiKey;
        let range = |sasl, key: ApiKey| {
            response(0, sasl)
                .api_keys
                .iter()
                .find(|k| k.api_key == key as i16)
                .map(|k| (k.min_version, k.max_version))
        };
        assert_eq!(range(true, ApiKey::SaslHandshake), Some((1, 1)));
        assert_eq!(range(true, ApiKey::SaslAuthenticate), Some((0, 2)));
        assert_eq!(range(false, ApiKey::SaslHandshake), None);
        assert_eq!(range(false, ApiKey::SaslAuthenticate), None);
    }
}
