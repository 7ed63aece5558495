//! Parameter objects of the DSL, named as in Kafka Streams: `Consumed`, `Produced`, `Named`,
//! `Repartitioned`. They carry serdes and optional names; serdes are shared (`Arc`) because every
//! task instance of a node uses the same ones.

use std::sync::Arc;

use crate::serde::{DefaultSerde, Serde};

/// How a topic is read: key and value serdes and an optional source node name.
pub struct Consumed<K, V> {
    pub(crate) key_serde: Arc<dyn Serde<K>>,
    pub(crate) value_serde: Arc<dyn Serde<V>>,
    pub(crate) name: Option<String>,
}

impl<K, V> Consumed<K, V> {
    /// Reads keys with `key_serde` and values with `value_serde`.
    pub fn with(key_serde: impl Serde<K>, value_serde: impl Serde<V>) -> Self {
        Consumed {
            key_serde: Arc::new(key_serde),
            value_serde: Arc::new(value_serde),
            name: None,
        }
    }

    /// Names the source node (Kafka's `Consumed.as`).
    pub fn with_name(mut self, name: impl Into<String>) -> Self {
        self.name = Some(name.into());
        self
    }
}

impl<K: DefaultSerde, V: DefaultSerde> Default for Consumed<K, V> {
    /// The default serdes of `K` and `V`.
    fn default() -> Self {
        Consumed {
            key_serde: K::default_serde(),
            value_serde: V::default_serde(),
            name: None,
        }
    }
}

/// How a stream is written to a topic: key and value serdes and an optional sink node name.
pub struct Produced<K, V> {
    pub(crate) key_serde: Arc<dyn Serde<K>>,
    pub(crate) value_serde: Arc<dyn Serde<V>>,
    pub(crate) name: Option<String>,
}

impl<K, V> Produced<K, V> {
    /// Writes keys with `key_serde` and values with `value_serde`.
    pub fn with(key_serde: impl Serde<K>, value_serde: impl Serde<V>) -> Self {
        Produced {
            key_serde: Arc::new(key_serde),
            value_serde: Arc::new(value_serde),
            name: None,
        }
    }

    /// Names the sink node (Kafka's `Produced.as`).
    pub fn with_name(mut self, name: impl Into<String>) -> Self {
        self.name = Some(name.into());
        self
    }
}

impl<K: DefaultSerde, V: DefaultSerde> Default for Produced<K, V> {
    /// The default serdes of `K` and `V`.
    fn default() -> Self {
        Produced {
            key_serde: K::default_serde(),
            value_serde: V::default_serde(),
            name: None,
        }
    }
}

/// A name for the next operator's processor node, instead of a generated
/// `KSTREAM-<OP>-<counter>` name. Use it through `KStream::named`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Named(pub(crate) String);

impl Named {
    /// The name `name` (Kafka's `Named.as`).
    pub fn as_(name: impl Into<String>) -> Self {
        Named(name.into())
    }
}

impl From<&str> for Named {
    fn from(name: &str) -> Self {
        Named(name.to_string())
    }
}

impl From<String> for Named {
    fn from(name: String) -> Self {
        Named(name)
    }
}

/// How `KStream::repartition` writes and reads its internal topic `<application.id>-<name>-repartition`.
pub struct Repartitioned<K, V> {
    pub(crate) key_serde: Arc<dyn Serde<K>>,
    pub(crate) value_serde: Arc<dyn Serde<V>>,
    pub(crate) name: Option<String>,
    pub(crate) partitions: Option<u32>,
}

impl<K, V> Repartitioned<K, V> {
    /// Writes the repartition topic with these serdes.
    pub fn with(key_serde: impl Serde<K>, value_serde: impl Serde<V>) -> Self {
        Repartitioned {
            key_serde: Arc::new(key_serde),
            value_serde: Arc::new(value_serde),
            name: None,
            partitions: None,
        }
    }

    /// Names the repartition topic and its nodes (Kafka's `Repartitioned.as`).
    pub fn with_name(mut self, name: impl Into<String>) -> Self {
        self.name = Some(name.into());
        self
    }

    /// Asks for a repartition topic with `partitions` partitions.
    pub fn with_number_of_partitions(mut self, partitions: u32) -> Self {
        self.partitions = Some(partitions);
        self
    }
}

impl<K: DefaultSerde, V: DefaultSerde> Default for Repartitioned<K, V> {
    /// The default serdes of `K` and `V`, a generated name and the upstream partition count.
    fn default() -> Self {
        Repartitioned {
            key_serde: K::default_serde(),
            value_serde: V::default_serde(),
            name: None,
            partitions: None,
        }
    }
}
