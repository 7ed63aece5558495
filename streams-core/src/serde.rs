//! Serdes turn typed keys and values into the bytes Kafka stores, and back — like Kafka's
//! `Serde`/`Serializer`/`Deserializer`.
//!
//! Kafka records may carry a null key or a null value (a tombstone). Rill keeps that explicit in
//! the types: a `Serde<String>` rejects null, a `Serde<Option<String>>` maps null to `None`, and
//! the unit serde `Serde<()>` is for keys or values that are always null. The numeric serdes are
//! big-endian and byte-compatible with Kafka's Java `IntegerSerde`, `LongSerde` and `DoubleSerde`.

use std::fmt;
use std::marker::PhantomData;

/// Why a serde could not convert a value; the runtime adds topic, partition and offset.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct SerdeError(pub String);

impl SerdeError {
    /// A serde error with the given explanation.
    pub fn new(message: impl Into<String>) -> Self {
        SerdeError(message.into())
    }
}

/// Converts values of type `T` to and from the bytes of a Kafka record's key or value.
///
/// `None` on the wire is Kafka's null. Implementations are shared between tasks and threads,
/// so they must be `Send + Sync`.
pub trait Serde<T>: Send + Sync + 'static {
    /// Serializes `data` for `topic`; `Ok(None)` writes a null.
    fn serialize(&self, topic: &str, data: &T) -> Result<Option<Vec<u8>>, SerdeError>;

    /// Deserializes bytes read from `topic`; `None` is a null on the wire.
    fn deserialize(&self, topic: &str, data: Option<&[u8]>) -> Result<T, SerdeError>;

    /// Serializes `data`, appending its bytes to `buffer`; `Ok(false)` is a null (nothing is
    /// appended). For callers that reuse one buffer: serdes that can write in place override it,
    /// the default appends what [`serialize`](Serde::serialize) returns (moves it into an empty
    /// buffer).
    fn serialize_into(
        &self,
        topic: &str,
        data: &T,
        buffer: &mut Vec<u8>,
    ) -> Result<bool, SerdeError> {
        match self.serialize(topic, data)? {
            None => Ok(false),
            Some(bytes) if buffer.is_empty() => {
                *buffer = bytes;
                Ok(true)
            }
            Some(bytes) => {
                buffer.extend_from_slice(&bytes);
                Ok(true)
            }
        }
    }

    /// Serializes a value the caller gives up. Serdes whose type already is bytes (strings,
    /// byte vectors) override this to hand over the buffer instead of copying it.
    fn serialize_owned(&self, topic: &str, data: T) -> Result<Option<Vec<u8>>, SerdeError> {
        self.serialize(topic, &data)
    }

    /// Whether `data` is Kafka's null (it would serialize to `None`). Operators that drop null
    /// keys or values, as Kafka Streams' aggregations do, ask this instead of serializing.
    fn is_null(&self, data: &T) -> bool {
        let _ = data;
        false
    }

    /// Deserializes bytes the caller gives up; see [`Serde::serialize_owned`].
    fn deserialize_owned(&self, topic: &str, data: Option<Vec<u8>>) -> Result<T, SerdeError> {
        self.deserialize(topic, data.as_deref())
    }
}

/// Which part of a record a serde failed on, with the serde's error.
pub(crate) type PartError = (&'static str, SerdeError);

/// A serialized key and value; `None` is Kafka's null.
pub(crate) type KeyValueBytes = (Option<Vec<u8>>, Option<Vec<u8>>);

/// Serializes a record's key and value for `topic`, consuming them; names the failing part.
pub(crate) fn serialize_key_value<K: 'static, V: 'static>(
    keys: &dyn Serde<K>,
    values: &dyn Serde<V>,
    topic: &str,
    key: K,
    value: V,
) -> Result<KeyValueBytes, PartError> {
    let key = keys.serialize_owned(topic, key).map_err(|e| ("key", e))?;
    let value = values
        .serialize_owned(topic, value)
        .map_err(|e| ("value", e))?;
    Ok((key, value))
}

/// Deserializes a record's key and value read from `topic`; names the failing part.
pub(crate) fn deserialize_key_value<K: 'static, V: 'static>(
    keys: &dyn Serde<K>,
    values: &dyn Serde<V>,
    topic: &str,
    key: Option<Vec<u8>>,
    value: Option<Vec<u8>>,
) -> Result<(K, V), PartError> {
    let key = keys.deserialize_owned(topic, key).map_err(|e| ("key", e))?;
    let value = values
        .deserialize_owned(topic, value)
        .map_err(|e| ("value", e))?;
    Ok((key, value))
}

/// Types with an obvious serde, so that `Consumed::default()` and friends need no arguments.
pub trait DefaultSerde: Sized + 'static {
    /// The serde used for this type when none is given.
    fn default_serde() -> std::sync::Arc<dyn Serde<Self>>;
}

fn expect_non_null<'a>(data: Option<&'a [u8]>, what: &str) -> Result<&'a [u8], SerdeError> {
    data.ok_or_else(|| {
        SerdeError::new(format!(
            "null where {what} was expected; use an Option serde for nullable data"
        ))
    })
}

/// UTF-8 strings, like Kafka's `StringSerde`.
#[derive(Debug, Clone, Copy, Default)]
pub struct StringSerde;

impl Serde<String> for StringSerde {
    fn serialize(&self, _topic: &str, data: &String) -> Result<Option<Vec<u8>>, SerdeError> {
        Ok(Some(data.as_bytes().to_vec()))
    }

    fn deserialize(&self, _topic: &str, data: Option<&[u8]>) -> Result<String, SerdeError> {
        into_string(expect_non_null(data, "a string")?.to_vec())
    }

    fn serialize_owned(&self, _topic: &str, data: String) -> Result<Option<Vec<u8>>, SerdeError> {
        Ok(Some(data.into_bytes()))
    }

    fn serialize_into(
        &self,
        _topic: &str,
        data: &String,
        buffer: &mut Vec<u8>,
    ) -> Result<bool, SerdeError> {
        buffer.extend_from_slice(data.as_bytes());
        Ok(true)
    }

    fn deserialize_owned(&self, _topic: &str, data: Option<Vec<u8>>) -> Result<String, SerdeError> {
        expect_non_null(data.as_deref(), "a string")?;
        into_string(data.unwrap_or_default())
    }
}

/// Checks that `bytes` are UTF-8 and makes them a string. ASCII, which most keys are, is checked
/// first: on the few bytes of a typical key or word that is several times cheaper than the
/// general validator, which takes over for anything else.
#[allow(unsafe_code)] // the one unchecked conversion, justified below
fn into_string(bytes: Vec<u8>) -> Result<String, SerdeError> {
    if bytes.is_ascii() {
        // SAFETY: every ASCII byte sequence is valid UTF-8.
        return Ok(unsafe { String::from_utf8_unchecked(bytes) });
    }
    String::from_utf8(bytes)
        .map_err(|e| SerdeError::new(format!("invalid UTF-8: {}", e.utf8_error())))
}

/// Raw bytes, passed through untouched, like Kafka's `ByteArraySerde`.
#[derive(Debug, Clone, Copy, Default)]
pub struct BytesSerde;

impl Serde<Vec<u8>> for BytesSerde {
    fn serialize(&self, _topic: &str, data: &Vec<u8>) -> Result<Option<Vec<u8>>, SerdeError> {
        Ok(Some(data.clone()))
    }

    fn deserialize(&self, _topic: &str, data: Option<&[u8]>) -> Result<Vec<u8>, SerdeError> {
        Ok(expect_non_null(data, "bytes")?.to_vec())
    }

    fn serialize_owned(&self, _topic: &str, data: Vec<u8>) -> Result<Option<Vec<u8>>, SerdeError> {
        Ok(Some(data))
    }

    fn serialize_into(
        &self,
        _topic: &str,
        data: &Vec<u8>,
        buffer: &mut Vec<u8>,
    ) -> Result<bool, SerdeError> {
        buffer.extend_from_slice(data);
        Ok(true)
    }

    fn deserialize_owned(
        &self,
        _topic: &str,
        data: Option<Vec<u8>>,
    ) -> Result<Vec<u8>, SerdeError> {
        expect_non_null(data.as_deref(), "bytes")?;
        Ok(data.unwrap_or_default())
    }
}

macro_rules! big_endian_serde {
    ($(#[$doc:meta])* $name:ident, $ty:ty, $len:expr) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, Default)]
        pub struct $name;

        impl Serde<$ty> for $name {
            fn serialize(&self, _topic: &str, data: &$ty) -> Result<Option<Vec<u8>>, SerdeError> {
                Ok(Some(data.to_be_bytes().to_vec()))
            }

            fn serialize_into(
                &self,
                _topic: &str,
                data: &$ty,
                buffer: &mut Vec<u8>,
            ) -> Result<bool, SerdeError> {
                buffer.extend_from_slice(&data.to_be_bytes());
                Ok(true)
            }

            fn deserialize(&self, _topic: &str, data: Option<&[u8]>) -> Result<$ty, SerdeError> {
                let bytes = expect_non_null(data, stringify!($ty))?;
                let array: [u8; $len] = bytes.try_into().map_err(|_| {
                    SerdeError::new(format!(
                        "{} needs exactly {} bytes, got {}",
                        stringify!($ty),
                        $len,
                        bytes.len()
                    ))
                })?;
                Ok(<$ty>::from_be_bytes(array))
            }
        }
    };
}

big_endian_serde!(
    /// 32-bit signed integers, big-endian, like Kafka's `IntegerSerde`.
    I32Serde, i32, 4
);
big_endian_serde!(
    /// 64-bit signed integers, big-endian, like Kafka's `LongSerde`.
    I64Serde, i64, 8
);
big_endian_serde!(
    /// 64-bit unsigned integers, big-endian (the same bytes as a Java long of equal bits).
    U64Serde, u64, 8
);
big_endian_serde!(
    /// 64-bit IEEE floats, big-endian, like Kafka's `DoubleSerde`.
    F64Serde, f64, 8
);

/// Always-null data (`()`), like Kafka's `VoidSerde`: a non-null payload is an error.
#[derive(Debug, Clone, Copy, Default)]
pub struct UnitSerde;

impl Serde<()> for UnitSerde {
    fn is_null(&self, _data: &()) -> bool {
        true
    }

    fn serialize(&self, _topic: &str, _data: &()) -> Result<Option<Vec<u8>>, SerdeError> {
        Ok(None)
    }

    fn deserialize(&self, _topic: &str, data: Option<&[u8]>) -> Result<(), SerdeError> {
        match data {
            None => Ok(()),
            Some(bytes) => Err(SerdeError::new(format!(
                "expected null data for the unit serde, got {} bytes",
                bytes.len()
            ))),
        }
    }
}

/// Nullable data: `None` is Kafka's null, `Some` goes through the inner serde.
pub struct OptionSerde<T, S> {
    inner: S,
    _type: PhantomData<fn() -> T>,
}

impl<T, S: Clone> Clone for OptionSerde<T, S> {
    fn clone(&self) -> Self {
        OptionSerde {
            inner: self.inner.clone(),
            _type: PhantomData,
        }
    }
}

impl<T, S: fmt::Debug> fmt::Debug for OptionSerde<T, S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("OptionSerde").field(&self.inner).finish()
    }
}

impl<T, S> OptionSerde<T, S> {
    /// Makes `inner`'s type nullable.
    pub fn new(inner: S) -> Self {
        OptionSerde {
            inner,
            _type: PhantomData,
        }
    }
}

impl<T: 'static, S: Serde<T>> Serde<Option<T>> for OptionSerde<T, S> {
    fn is_null(&self, data: &Option<T>) -> bool {
        data.as_ref().is_none_or(|value| self.inner.is_null(value))
    }

    fn serialize(&self, topic: &str, data: &Option<T>) -> Result<Option<Vec<u8>>, SerdeError> {
        match data {
            None => Ok(None),
            Some(value) => self.inner.serialize(topic, value),
        }
    }

    fn deserialize(&self, topic: &str, data: Option<&[u8]>) -> Result<Option<T>, SerdeError> {
        match data {
            None => Ok(None),
            Some(bytes) => self.inner.deserialize(topic, Some(bytes)).map(Some),
        }
    }

    fn serialize_owned(&self, topic: &str, data: Option<T>) -> Result<Option<Vec<u8>>, SerdeError> {
        match data {
            None => Ok(None),
            Some(value) => self.inner.serialize_owned(topic, value),
        }
    }

    fn serialize_into(
        &self,
        topic: &str,
        data: &Option<T>,
        buffer: &mut Vec<u8>,
    ) -> Result<bool, SerdeError> {
        match data {
            None => Ok(false),
            Some(value) => self.inner.serialize_into(topic, value, buffer),
        }
    }

    fn deserialize_owned(
        &self,
        topic: &str,
        data: Option<Vec<u8>>,
    ) -> Result<Option<T>, SerdeError> {
        match data {
            None => Ok(None),
            Some(bytes) => self.inner.deserialize_owned(topic, Some(bytes)).map(Some),
        }
    }
}

/// JSON through `serde_json`, for any `serde` type, like a Jackson-based serde in Java.
pub struct Json<T> {
    _type: PhantomData<fn() -> T>,
}

impl<T> Json<T> {
    /// A JSON serde for `T`.
    pub fn new() -> Self {
        Json { _type: PhantomData }
    }
}

impl<T> Default for Json<T> {
    fn default() -> Self {
        Self::new()
    }
}

impl<T> Clone for Json<T> {
    fn clone(&self) -> Self {
        Self::new()
    }
}

impl<T> fmt::Debug for Json<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Json<{}>", std::any::type_name::<T>())
    }
}

impl<T> Serde<T> for Json<T>
where
    T: ::serde::Serialize + ::serde::de::DeserializeOwned + 'static,
{
    fn serialize(&self, _topic: &str, data: &T) -> Result<Option<Vec<u8>>, SerdeError> {
        serde_json::to_vec(data)
            .map(Some)
            .map_err(|e| SerdeError::new(format!("JSON: {e}")))
    }

    fn serialize_into(
        &self,
        _topic: &str,
        data: &T,
        buffer: &mut Vec<u8>,
    ) -> Result<bool, SerdeError> {
        let start = buffer.len();
        serde_json::to_writer(&mut *buffer, data).map_err(|e| {
            buffer.truncate(start);
            SerdeError::new(format!("JSON: {e}"))
        })?;
        Ok(true)
    }

    fn deserialize(&self, _topic: &str, data: Option<&[u8]>) -> Result<T, SerdeError> {
        let bytes = expect_non_null(data, "a JSON document")?;
        serde_json::from_slice(bytes).map_err(|e| SerdeError::new(format!("JSON: {e}")))
    }
}

/// Shorthands for the built-in serdes, named like Kafka's `Serdes` factory.
pub struct Serdes;

impl Serdes {
    /// UTF-8 strings.
    pub fn string() -> StringSerde {
        StringSerde
    }
    /// Raw bytes.
    pub fn bytes() -> BytesSerde {
        BytesSerde
    }
    /// Big-endian `i32`.
    pub fn i32() -> I32Serde {
        I32Serde
    }
    /// Big-endian `i64`.
    pub fn i64() -> I64Serde {
        I64Serde
    }
    /// Big-endian `u64`.
    pub fn u64() -> U64Serde {
        U64Serde
    }
    /// Big-endian `f64`.
    pub fn f64() -> F64Serde {
        F64Serde
    }
    /// Always-null data.
    pub fn unit() -> UnitSerde {
        UnitSerde
    }
    /// JSON for any serde-enabled type.
    pub fn json<T>() -> Json<T> {
        Json::new()
    }
    /// Nullable data through `inner`.
    pub fn option<T, S: Serde<T>>(inner: S) -> OptionSerde<T, S> {
        OptionSerde::new(inner)
    }
}

macro_rules! default_serde {
    ($ty:ty, $serde:expr) => {
        impl DefaultSerde for $ty {
            fn default_serde() -> std::sync::Arc<dyn Serde<Self>> {
                std::sync::Arc::new($serde)
            }
        }
    };
}

default_serde!(String, StringSerde);
default_serde!(Vec<u8>, BytesSerde);
default_serde!(i32, I32Serde);
default_serde!(i64, I64Serde);
default_serde!(u64, U64Serde);
default_serde!(f64, F64Serde);
default_serde!((), UnitSerde);

/// Adapts a shared `dyn Serde<T>` so it can sit inside an [`OptionSerde`].
pub(crate) struct SharedSerde<T>(pub(crate) std::sync::Arc<dyn Serde<T>>);

impl<T: 'static> Serde<T> for SharedSerde<T> {
    fn is_null(&self, data: &T) -> bool {
        self.0.is_null(data)
    }

    fn serialize(&self, topic: &str, data: &T) -> Result<Option<Vec<u8>>, SerdeError> {
        self.0.serialize(topic, data)
    }

    fn deserialize(&self, topic: &str, data: Option<&[u8]>) -> Result<T, SerdeError> {
        self.0.deserialize(topic, data)
    }

    fn serialize_owned(&self, topic: &str, data: T) -> Result<Option<Vec<u8>>, SerdeError> {
        self.0.serialize_owned(topic, data)
    }

    fn serialize_into(
        &self,
        topic: &str,
        data: &T,
        buffer: &mut Vec<u8>,
    ) -> Result<bool, SerdeError> {
        self.0.serialize_into(topic, data, buffer)
    }

    fn deserialize_owned(&self, topic: &str, data: Option<Vec<u8>>) -> Result<T, SerdeError> {
        self.0.deserialize_owned(topic, data)
    }
}

impl<T: DefaultSerde> DefaultSerde for Option<T> {
    fn default_serde() -> std::sync::Arc<dyn Serde<Self>> {
        std::sync::Arc::new(OptionSerde::new(SharedSerde(T::default_serde())))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn round_trip<T: PartialEq + fmt::Debug + 'static>(
        serde: &dyn Serde<T>,
        value: T,
    ) -> Option<Vec<u8>> {
        let bytes = serde.serialize("t", &value).expect("serialize");
        let back = serde
            .deserialize("t", bytes.as_deref())
            .expect("deserialize");
        assert_eq!(back, value);
        bytes
    }

    #[test]
    fn numbers_are_big_endian_like_java() {
        assert_eq!(round_trip(&I32Serde, 1), Some(vec![0, 0, 0, 1]));
        assert_eq!(
            round_trip(&I64Serde, -2),
            Some(vec![0xff; 7].into_iter().chain([0xfe]).collect())
        );
        assert_eq!(
            round_trip(&U64Serde, 258),
            Some(vec![0, 0, 0, 0, 0, 0, 1, 2])
        );
        // Java's DoubleSerializer writes Double.doubleToLongBits big-endian.
        assert_eq!(
            round_trip(&F64Serde, 1.5),
            Some(1.5f64.to_bits().to_be_bytes().to_vec())
        );
    }

    #[test]
    fn wrong_width_is_a_clear_error() {
        let err = I64Serde.deserialize("t", Some(&[1, 2, 3])).unwrap_err();
        assert!(err.0.contains("exactly 8 bytes, got 3"), "{err}");
    }

    #[test]
    fn null_needs_an_option_serde() {
        let err = StringSerde.deserialize("t", None).unwrap_err();
        assert!(err.0.contains("null"), "{err}");
        let nullable = Serdes::option(StringSerde);
        assert_eq!(round_trip(&nullable, None), None);
        assert_eq!(
            round_trip(&nullable, Some("x".to_string())),
            Some(b"x".to_vec())
        );
        let default = <Option<i64>>::default_serde();
        assert_eq!(round_trip(default.as_ref(), None), None);
        assert_eq!(
            round_trip(default.as_ref(), Some(7)),
            Some(7i64.to_be_bytes().to_vec())
        );
    }

    /// `serialize_into` appends what `serialize` returns, or nothing for a null.
    fn appends_as_serialized<T: 'static>(serde: &dyn Serde<T>, data: &T) {
        let mut buffer = b"prefix".to_vec();
        let written = serde.serialize_into("t", data, &mut buffer).unwrap();
        let serialized = serde.serialize("t", data).unwrap();
        assert_eq!(written, serialized.is_some());
        let mut expected = b"prefix".to_vec();
        expected.extend(serialized.unwrap_or_default());
        assert_eq!(buffer, expected);
    }

    #[test]
    fn serializing_into_a_buffer_appends_the_serialized_bytes() {
        appends_as_serialized(&StringSerde, &"héllo".to_string());
        appends_as_serialized(&BytesSerde, &vec![1, 2, 3]);
        appends_as_serialized(&I32Serde, &-7);
        appends_as_serialized(&I64Serde, &(1 << 40));
        appends_as_serialized(&U64Serde, &u64::MAX);
        appends_as_serialized(&F64Serde, &1.5);
        appends_as_serialized(&UnitSerde, &());
        appends_as_serialized(&*<Option<i64>>::default_serde(), &Some(3));
        appends_as_serialized(&*<Option<i64>>::default_serde(), &None);
        appends_as_serialized(&Json::<Vec<u32>>::default(), &vec![1, 2]);
        // The default (a serde without its own) moves into an empty buffer.
        struct Upper;
        impl Serde<String> for Upper {
            fn serialize(&self, _: &str, data: &String) -> Result<Option<Vec<u8>>, SerdeError> {
                Ok(Some(data.to_uppercase().into_bytes()))
            }
            fn deserialize(&self, _: &str, _: Option<&[u8]>) -> Result<String, SerdeError> {
                Err(SerdeError::new("unused"))
            }
        }
        appends_as_serialized(&Upper, &"abc".to_string());
        let mut empty = Vec::new();
        assert!(Upper
            .serialize_into("t", &"x".to_string(), &mut empty)
            .unwrap());
        assert_eq!(empty, b"X");
    }

    #[test]
    fn owned_variants_agree_with_borrowed_ones() {
        let bytes = StringSerde.serialize_owned("t", "abc".to_string()).unwrap();
        assert_eq!(bytes.as_deref(), Some(&b"abc"[..]));
        assert_eq!(StringSerde.deserialize_owned("t", bytes).unwrap(), "abc");
        assert!(StringSerde
            .deserialize_owned("t", Some(vec![0xc3]))
            .unwrap_err()
            .0
            .contains("UTF-8"));
        assert!(StringSerde.deserialize_owned("t", None).is_err());
        assert!(BytesSerde.deserialize_owned("t", None).is_err());
        assert_eq!(
            BytesSerde.deserialize_owned("t", Some(vec![1])).unwrap(),
            [1]
        );
        let nullable = <Option<String>>::default_serde();
        assert_eq!(nullable.serialize_owned("t", None).unwrap(), None);
        assert_eq!(
            nullable
                .deserialize_owned("t", Some(b"x".to_vec()))
                .unwrap()
                .as_deref(),
            Some("x")
        );
        assert_eq!(
            I64Serde
                .deserialize_owned("t", I64Serde.serialize_owned("t", 9).unwrap())
                .unwrap(),
            9
        );
    }

    #[test]
    fn strings_bytes_unit_and_json() {
        assert_eq!(
            round_trip(&StringSerde, "héllo".to_string()),
            Some("héllo".as_bytes().to_vec())
        );
        assert!(StringSerde.deserialize("t", Some(&[0xff, 0xfe])).is_err());
        assert!(StringSerde
            .deserialize_owned("t", Some(b"ascii then \xff".to_vec()))
            .is_err());
        assert_eq!(
            StringSerde.deserialize_owned("t", Some("ascii, then ü".as_bytes().to_vec())),
            Ok("ascii, then ü".to_string())
        );
        assert_eq!(round_trip(&BytesSerde, vec![0, 1, 2]), Some(vec![0, 1, 2]));
        assert_eq!(round_trip(&UnitSerde, ()), None);
        assert!(UnitSerde.deserialize("t", Some(b"x")).is_err());

        #[derive(Debug, PartialEq, ::serde::Serialize, ::serde::Deserialize)]
        struct Order {
            id: u32,
            item: String,
        }
        let json = Json::<Order>::new();
        let bytes = round_trip(
            &json,
            Order {
                id: 7,
                item: "tea".into(),
            },
        );
        assert_eq!(bytes.as_deref(), Some(&br#"{"id":7,"item":"tea"}"#[..]));
        assert!(json
            .deserialize("t", Some(b"{not json"))
            .unwrap_err()
            .0
            .starts_with("JSON"));
    }
}
