//! What a failure leads to, decided by the application: the uncaught-exception handler for a
//! failed stream thread (Kafka's `StreamsUncaughtExceptionHandler`) and the production exception
//! handler for a record the producer could not send (Kafka's `ProductionExceptionHandler`).

use crate::error::Error;

/// What to do when a stream thread fails, like Kafka's `StreamThreadExceptionResponse`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StreamThreadExceptionResponse {
    /// Start a new stream thread in place of the failed one; its tasks are reassigned by a
    /// rebalance and restored.
    ReplaceThread,
    /// Stop every stream thread of this instance; the state ends in ERROR. (The default, as
    /// in Kafka when no handler is set.)
    ShutdownClient,
    /// In Kafka, also asks every other instance to shut down through the group protocol.
    /// librdkafka's consumer cannot send that request, so here it shuts down this instance
    /// only, like [`ShutdownClient`](Self::ShutdownClient), and logs that the others keep
    /// running.
    ShutdownApplication,
}

/// What to do with a record the producer could not send, like Kafka's
/// `ProductionExceptionHandlerResponse`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProductionExceptionResponse {
    /// Fail the stream thread (the default, as Kafka's `DefaultProductionExceptionHandler`).
    Fail,
    /// Drop the record, log it and count it in `records_skipped`; processing goes on.
    Continue,
}

/// A record the producer could not send, as the production exception handler sees it.
#[derive(Debug)]
#[non_exhaustive]
pub struct ProductionError<'a> {
    /// The topic the record was for.
    pub topic: &'a str,
    /// Its partition, if one was chosen.
    pub partition: Option<i32>,
    /// Why it could not be sent.
    pub error: &'a (dyn std::error::Error + 'static),
}

/// A production exception handler: decides whether a failed send fails the thread. It is
/// asked only for sink and repartition records under at-least-once: a lost changelog record
/// would corrupt restored state, and under exactly-once a failed send aborts the transaction,
/// so those always fail.
pub type ProductionExceptionHandler =
    dyn Fn(&ProductionError<'_>) -> ProductionExceptionResponse + Send + Sync;

/// An uncaught-exception handler: decides what a stream thread's failure leads to.
pub type UncaughtExceptionHandler = dyn Fn(&Error) -> StreamThreadExceptionResponse + Send + Sync;
