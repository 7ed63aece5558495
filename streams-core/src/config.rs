//! Application configuration with Kafka Streams' property names, like `StreamsConfig`.
//!
//! Settings are typed fields, and Kafka's property names are accepted as strings too, so that
//! Kafka users can paste what they know: `config.set("application.id", "wordcount")`. Unknown
//! keys are an error rather than silently ignored. Properties join this struct as the parts of
//! Rill that honour them arrive.

use crate::error::{Error, Result};

/// Configuration of a streams application.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamsConfig {
    application_id: String,
    statestore_cache_max_bytes: usize,
}

impl StreamsConfig {
    /// A configuration for application `application_id` (`application.id`), which names the
    /// consumer group and prefixes every internal topic.
    pub fn new(application_id: impl Into<String>) -> Result<Self> {
        let mut config = StreamsConfig {
            application_id: String::new(),
            statestore_cache_max_bytes: streams_state::DEFAULT_CACHE_MAX_BYTES,
        };
        config.set("application.id", &application_id.into())?;
        Ok(config)
    }

    /// Sets a property by its Kafka name.
    pub fn set(&mut self, key: &str, value: &str) -> Result<&mut Self> {
        let invalid = |reason: &str| Error::Config {
            key: key.to_string(),
            value: value.to_string(),
            reason: reason.to_string(),
        };
        match key {
            "application.id" => {
                if value.is_empty()
                    || !value
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
                {
                    return Err(invalid(
                        "must be non-empty ASCII letters, digits, '.', '_' or '-' (it prefixes topic names)",
                    ));
                }
                self.application_id = value.to_string();
            }
            // `cache.max.bytes.buffering` is the name Kafka used before 3.4; both set one value.
            "statestore.cache.max.bytes" | "cache.max.bytes.buffering" => {
                self.statestore_cache_max_bytes = value
                    .parse()
                    .map_err(|_| invalid("must be a number of bytes (0 disables caching)"))?;
            }
            _ => return Err(invalid("unknown configuration key")),
        }
        Ok(self)
    }

    /// A property's current value by its Kafka name.
    pub fn get(&self, key: &str) -> Option<String> {
        match key {
            "application.id" => Some(self.application_id.clone()),
            "statestore.cache.max.bytes" | "cache.max.bytes.buffering" => {
                Some(self.statestore_cache_max_bytes.to_string())
            }
            _ => None,
        }
    }

    /// The application id.
    pub fn application_id(&self) -> &str {
        &self.application_id
    }

    /// Bytes of record cache for the whole application (`statestore.cache.max.bytes`, formerly
    /// `cache.max.bytes.buffering`; default 10 MiB), divided evenly among the cached stores of
    /// its tasks. 0 disables the record caches: every update is forwarded and logged.
    pub fn statestore_cache_max_bytes(&self) -> usize {
        self.statestore_cache_max_bytes
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kafka_names_are_accepted_and_unknown_keys_rejected() {
        let mut config = StreamsConfig::new("app").unwrap();
        config.set("application.id", "wordcount-v2").unwrap();
        assert_eq!(
            config.get("application.id").as_deref(),
            Some("wordcount-v2")
        );
        let err = config.set("no.such.key", "1").unwrap_err();
        assert!(err.to_string().contains("no.such.key"), "{err}");
        assert!(StreamsConfig::new("bad id").is_err());
    }

    #[test]
    fn cache_size_has_kafkas_default_and_both_names() {
        let mut config = StreamsConfig::new("app").unwrap();
        assert_eq!(config.statestore_cache_max_bytes(), 10 * 1024 * 1024);
        config.set("statestore.cache.max.bytes", "1024").unwrap();
        assert_eq!(config.statestore_cache_max_bytes(), 1024);
        config.set("cache.max.bytes.buffering", "0").unwrap();
        assert_eq!(
            config.get("statestore.cache.max.bytes").as_deref(),
            Some("0")
        );
        let err = config.set("statestore.cache.max.bytes", "-1").unwrap_err();
        assert!(
            err.to_string().contains("statestore.cache.max.bytes"),
            "{err}"
        );
    }
}
