//! How [`KafkaStreams::close_with`](crate::KafkaStreams::close_with) closes an instance, like
//! Kafka Streams' `CloseOptions`: how long to wait for the threads, and whether their
//! consumers leave the consumer group.
//!
//! Leaving matters to the instances that stay: a member that leaves is out of the group at
//! once and its partitions move to the others in the rebalance that follows; a member that
//! does not leave keeps its partitions until the group coordinator misses its heartbeats for
//! `session.timeout.ms`. What "not leaving" can mean depends on the membership:
//!
//! - **Static membership** (`group.instance.id` set): as in Kafka. By default the members stay
//!   in the group (a restart within `session.timeout.ms` gets the same partitions back with no
//!   rebalance); with [`GroupMembershipOperation::LeaveGroup`] they leave.
//! - **Dynamic membership** (the default): librdkafka's consumer always sends a LeaveGroup
//!   when it closes, so the members leave whatever the option says. Kafka's Java consumer can
//!   close without leaving, and Kafka Streams does by default (its members then hold their
//!   partitions until the session times out); here the remaining instances take over at once.

use std::time::Duration;

/// What the instance's group members do when it closes (Kafka's
/// `CloseOptions.GroupMembershipOperation`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum GroupMembershipOperation {
    /// Every stream thread's consumer leaves the group: the other instances rebalance at once.
    LeaveGroup,
    /// The consumers do not leave explicitly (Kafka Streams' default). Only static members
    /// (`group.instance.id`) can stay: see [`CloseOptions`].
    #[default]
    RemainInGroup,
}

/// Options of [`KafkaStreams::close_with`](crate::KafkaStreams::close_with), like Kafka
/// Streams' `CloseOptions`: by default, wait as long as it takes and remain in the group.
///
/// A member that leaves is out of the group at once, and its partitions move to the other
/// instances in the rebalance that follows; one that does not keeps them until the
/// coordinator has missed its heartbeats for `session.timeout.ms`. With static membership
/// (`group.instance.id` set) both work as in Kafka. Dynamic members (the default) always
/// leave: librdkafka's consumer sends a LeaveGroup whenever it closes, where Kafka's Java
/// consumer — and so Kafka Streams, by default — can close without one.
///
/// ```
/// use std::time::Duration;
/// use streams_runtime::{CloseOptions, GroupMembershipOperation};
///
/// let options = CloseOptions::new()
///     .timeout(Duration::from_secs(30))
///     .leave_group(true);
/// assert_eq!(options.group_membership_operation(), GroupMembershipOperation::LeaveGroup);
/// assert_eq!(options.timeout_duration(), Some(Duration::from_secs(30)));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct CloseOptions {
    timeout: Option<Duration>,
    operation: GroupMembershipOperation,
}

impl CloseOptions {
    /// Wait without limit; remain in the group.
    pub fn new() -> Self {
        CloseOptions::default()
    }

    /// Waits at most `timeout` for the threads to stop (Kafka's `withTimeout`).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }

    /// What the group members do (Kafka's `withGroupMembershipOperation`).
    pub fn with_group_membership_operation(mut self, operation: GroupMembershipOperation) -> Self {
        self.operation = operation;
        self
    }

    /// Whether the members leave the group: `true` is
    /// [`GroupMembershipOperation::LeaveGroup`] (Kafka's older `CloseOptions.leaveGroup`).
    pub fn leave_group(self, leave: bool) -> Self {
        self.with_group_membership_operation(if leave {
            GroupMembershipOperation::LeaveGroup
        } else {
            GroupMembershipOperation::RemainInGroup
        })
    }

    /// The timeout; `None` waits without limit.
    pub fn timeout_duration(&self) -> Option<Duration> {
        self.timeout
    }

    /// The group membership operation.
    pub fn group_membership_operation(&self) -> GroupMembershipOperation {
        self.operation
    }
}
