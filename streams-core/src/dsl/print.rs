//! `KStream::print` and `Printed`: a terminal operator writing each record as a line of text,
//! like Kafka Streams' `KStream#print`, `Printed` and `PrintForeachAction` (node
//! `KSTREAM-PRINTER-…`).
//!
//! Each line is `[label]: <mapped>`, where the mapper gives `key, value` by default (Kafka's
//! `String.format("%s, %s", key, value)`; a `None` prints as `null`, as Java prints a null) and
//! the label defaults to the name of the node the printer is attached to, as in Kafka. The
//! destination is shared by every task of the application: standard output (flushed after each
//! line), a file opened when the `Printed` is made (Kafka's `Printed.toFile`), or any writer.

use std::fmt::Write as _;
use std::io::Write;
use std::path::Path;
use std::sync::{Arc, Mutex};

use super::kstream::KStream;
use super::windows::Windowed;
use crate::error::{Error, Result};
use crate::processor::{Data, Processor, ProcessorContext};
use crate::record::Record;

const PRINTING_NAME: &str = "KSTREAM-PRINTER-";

/// How a key or value prints by default: as Java's `String.valueOf` would show it (`null` for
/// `None`, `[key@start/end]` for a windowed key). Implemented for strings, numbers, `bool`,
/// `char`, `Option` and `Windowed`; print other types with
/// [`Printed::with_key_value_mapper`].
pub trait Printable {
    /// Appends this value's text to `out`.
    fn print_to(&self, out: &mut String);
}

macro_rules! printable_by_display {
    ($($ty:ty),*) => {$(
        impl Printable for $ty {
            fn print_to(&self, out: &mut String) {
                // Writing into a String cannot fail.
                let _ = write!(out, "{self}");
            }
        }
    )*};
}

printable_by_display!(
    String, str, bool, char, i8, i16, i32, i64, i128, isize, u8, u16, u32, u64, u128, usize, f32,
    f64
);

impl<T: Printable + ?Sized> Printable for &T {
    fn print_to(&self, out: &mut String) {
        (**self).print_to(out);
    }
}

impl<T: Printable> Printable for Option<T> {
    fn print_to(&self, out: &mut String) {
        match self {
            Some(value) => value.print_to(out),
            None => out.push_str("null"),
        }
    }
}

impl<K: Printable> Printable for Windowed<K> {
    /// Kafka's `Windowed#toString`: `[key@start/end]`.
    fn print_to(&self, out: &mut String) {
        out.push('[');
        self.key.print_to(out);
        let _ = write!(out, "@{}/{}]", self.window.start_ms, self.window.end_ms);
    }
}

/// Turns a key and value into the text after `[label]: `.
type PrintMapper<K, V> = Arc<dyn Fn(&K, &V) -> String + Send + Sync>;

/// Where printed lines go; one destination shared by all tasks, as Kafka shares its stream.
#[derive(Clone)]
enum Destination {
    /// Standard output, flushed after every line (Kafka flushes `System.out` each time).
    StdOut,
    /// A file or any other writer, flushed when the printing task closes.
    Writer(Arc<Mutex<dyn Write + Send>>),
}

/// How `KStream::print` prints (Kafka's `Printed`): where to, under which label, and how a key
/// and value become text.
pub struct Printed<K, V> {
    destination: Destination,
    label: Option<String>,
    mapper: PrintMapper<K, V>,
    name: Option<String>,
}

impl<K: Printable, V: Printable> Printed<K, V> {
    /// Prints to standard output (Kafka's `Printed.toSysOut()`).
    pub fn to_sys_out() -> Self {
        Self::with_destination(Destination::StdOut)
    }

    /// Prints to the file at `path`, created (or truncated) now (Kafka's `Printed.toFile`).
    /// An empty path or a file that cannot be created is an [`Error::InvalidTopology`], as
    /// Kafka's `TopologyException`.
    pub fn to_file(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref();
        if path.as_os_str().is_empty() {
            return Err(Error::InvalidTopology(
                "the file path to print to must not be empty".to_string(),
            ));
        }
        let file = std::fs::File::create(path).map_err(|e| {
            Error::InvalidTopology(format!(
                "unable to write stream to file at [{}]: {e}",
                path.display()
            ))
        })?;
        Ok(Self::to_writer(std::io::BufWriter::new(file)))
    }

    /// Prints to `writer` (what Kafka's `Printed` does with any `OutputStream`), flushed when
    /// the printing task closes.
    pub fn to_writer(writer: impl Write + Send + 'static) -> Self {
        Self::with_destination(Destination::Writer(Arc::new(Mutex::new(writer))))
    }

    fn with_destination(destination: Destination) -> Self {
        Printed {
            destination,
            label: None,
            mapper: Arc::new(|key: &K, value: &V| {
                let mut text = String::new();
                key.print_to(&mut text);
                text.push_str(", ");
                value.print_to(&mut text);
                text
            }),
            name: None,
        }
    }
}

impl<K, V> Printed<K, V> {
    /// Prints `[label]: ` before each line instead of the parent node's name (Kafka's
    /// `withLabel`).
    pub fn with_label(mut self, label: impl Into<String>) -> Self {
        self.label = Some(label.into());
        self
    }

    /// Prints what `mapper` makes of each key and value instead of `key, value` (Kafka's
    /// `withKeyValueMapper`); works for any key and value types.
    pub fn with_key_value_mapper<F>(mut self, mapper: F) -> Self
    where
        F: Fn(&K, &V) -> String + Send + Sync + 'static,
    {
        self.mapper = Arc::new(mapper);
        self
    }

    /// Names the printer's node instead of `KSTREAM-PRINTER-<n>` (Kafka's `withName`).
    pub fn with_name(mut self, name: impl Into<String>) -> Self {
        self.name = Some(name.into());
        self
    }
}

impl<K: Data, V: Data> KStream<K, V> {
    /// Prints each record as `[label]: key, value`, as `printed` says; a terminal operation
    /// for debugging (Kafka's `print`).
    ///
    /// ```
    /// use std::sync::{Arc, Mutex};
    /// use streams_core::dsl::Printed;
    /// use streams_core::prelude::*;
    ///
    /// #[derive(Clone, Default)]
    /// struct Lines(Arc<Mutex<Vec<u8>>>);
    /// impl std::io::Write for Lines {
    ///     fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
    ///         self.0.lock().unwrap().write(buf)
    ///     }
    ///     fn flush(&mut self) -> std::io::Result<()> { Ok(()) }
    /// }
    ///
    /// let lines = Lines::default();
    /// let builder = StreamsBuilder::new();
    /// builder
    ///     .stream("numbers", Consumed::with(Serdes::i32(), Serdes::string()))
    ///     .print(Printed::to_writer(lines.clone()).with_label("test-stream"));
    /// let driver = TopologyTestDriver::new(builder.build()?)?;
    /// let input = driver.create_input_topic("numbers", Serdes::i32(), Serdes::string());
    /// input.pipe_input(0, "zero");
    /// input.pipe_input(1, "one");
    /// let printed = String::from_utf8(lines.0.lock().unwrap().clone()).unwrap();
    /// assert_eq!(printed, "[test-stream]: 0, zero\n[test-stream]: 1, one\n");
    /// # Ok::<(), streams_core::Error>(())
    /// ```
    pub fn print(&self, printed: Printed<K, V>) {
        // Kafka draws a generated name even for a named printer.
        let generated = self.node_name(PRINTING_NAME);
        let name = printed.name.unwrap_or(generated);
        // Kafka labels the lines with the name of the stream's node (the printer's parent).
        let label: Arc<str> = match printed.label {
            Some(label) => Arc::from(label),
            None => Arc::from(self.graph().borrow().nodes[self.node].name.as_str()),
        };
        let (destination, mapper) = (printed.destination, printed.mapper);
        let _ = self.add_processor::<K, V, _, _>(name, Vec::new(), move || PrintProcessor {
            destination: destination.clone(),
            label: Arc::clone(&label),
            mapper: Arc::clone(&mapper),
        });
    }
}

/// Writes each record as a line, like Kafka's `KStreamPrint` with its `PrintForeachAction`.
struct PrintProcessor<K, V> {
    destination: Destination,
    label: Arc<str>,
    mapper: PrintMapper<K, V>,
}

impl<K: Data, V: Data> Processor<K, V, K, V> for PrintProcessor<K, V> {
    fn process(
        &mut self,
        record: Record<K, V>,
        ctx: &mut ProcessorContext<'_, K, V>,
    ) -> Result<()> {
        let line = format!(
            "[{}]: {}\n",
            self.label,
            (self.mapper)(&record.key, &record.value)
        );
        let written = match &self.destination {
            Destination::StdOut => {
                let mut out = std::io::stdout().lock();
                out.write_all(line.as_bytes()).and_then(|()| out.flush())
            }
            Destination::Writer(writer) => writer
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner())
                .write_all(line.as_bytes()),
        };
        written.map_err(|e| Error::Processor {
            node: ctx.node_name().to_string(),
            source: Box::new(e),
        })
    }

    fn close(&mut self) -> Result<()> {
        if let Destination::Writer(writer) = &self.destination {
            writer
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner())
                .flush()
                .map_err(|e| Error::Processor {
                    node: "printer".to_string(),
                    source: Box::new(e),
                })?;
        }
        Ok(())
    }
}
