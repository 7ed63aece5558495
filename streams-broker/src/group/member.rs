//! One member of a classic consumer group, like Kafka's `MemberMetadata`.
//!
//! A member is a client that joined with a member id: it has a session (kept alive by
//! heartbeats, joins, syncs and commits), the protocols it supports with their metadata
//! (for consumers: the assignors and the subscription), and the assignment the leader gave
//! it. While a JoinGroup or SyncGroup request of the member waits for the rest of the
//! group, its answer channel is parked here until the rebalance gets that far.

use std::time::Duration;

use bytes::Bytes;
use tokio::sync::oneshot;
use tokio::time::Instant;

use super::{JoinResponse, SyncResponse};

/// A new member whose JoinGroup is parked for this long without the rebalance completing
/// is dropped (Kafka's `NewMemberJoinTimeoutMs`): its client retries if it is still there.
pub(crate) const NEW_MEMBER_JOIN_TIMEOUT: Duration = Duration::from_secs(300);

/// A member of a group.
#[derive(Debug)]
pub(crate) struct Member {
    /// The id the coordinator gave the member.
    pub id: String,
    /// `group.instance.id` of a static member.
    pub instance_id: Option<String>,
    /// The client's `client.id`.
    pub client_id: String,
    /// The client's address, as Kafka shows it (`/127.0.0.1`).
    pub client_host: String,
    /// `session.timeout.ms`.
    pub session_timeout: Duration,
    /// `max.poll.interval.ms` for consumers: how long a rebalance waits for the member.
    pub rebalance_timeout: Duration,
    /// The protocols (assignors) the member supports, in its order of preference, with
    /// the member's metadata for each.
    pub protocols: Vec<(String, Bytes)>,
    /// The member's assignment in the current generation.
    pub assignment: Bytes,
    /// The answer channel of a parked JoinGroup.
    pub join_waiter: Option<oneshot::Sender<JoinResponse>>,
    /// The answer channel of a parked SyncGroup.
    pub sync_waiter: Option<oneshot::Sender<SyncResponse>>,
    /// When the session expires unless the member shows a sign of life.
    pub session_deadline: Instant,
    /// True until the member's first JoinGroup completes.
    pub is_new: bool,
    /// When the member last joined (bounds how long a new member's join is parked).
    pub joined_at: Instant,
}

impl Member {
    /// Whether the member has a JoinGroup parked.
    pub(crate) fn awaiting_join(&self) -> bool {
        self.join_waiter.is_some()
    }

    /// Whether the member has a SyncGroup parked.
    pub(crate) fn awaiting_sync(&self) -> bool {
        self.sync_waiter.is_some()
    }

    /// The member's metadata for `protocol` (empty if it does not support it).
    pub(crate) fn metadata(&self, protocol: &str) -> Bytes {
        self.protocols
            .iter()
            .find(|(name, _)| name == protocol)
            .map(|(_, m)| m.clone())
            .unwrap_or_default()
    }

    /// Whether `protocols` are exactly the member's current ones (names, order, metadata).
    pub(crate) fn matches(&self, protocols: &[(String, Bytes)]) -> bool {
        self.protocols == protocols
    }

    /// The member's first preference among `candidates`.
    pub(crate) fn vote<'a>(&'a self, candidates: &[&str]) -> Option<&'a str> {
        self.protocols
            .iter()
            .map(|(name, _)| name.as_str())
            .find(|name| candidates.contains(name))
    }

    /// A sign of life: the session starts over.
    pub(crate) fn touch(&mut self, now: Instant) {
        self.session_deadline = now + self.session_timeout;
    }

    /// When the member is due to be expired, given what it is waiting for: a member
    /// waiting in a rebalance is kept (the rebalance has its own timeouts) unless it is
    /// new and its join has waited too long.
    pub(crate) fn expiry(&self) -> Option<Instant> {
        if self.awaiting_join() {
            self.is_new
                .then_some(self.joined_at + NEW_MEMBER_JOIN_TIMEOUT)
        } else if self.awaiting_sync() {
            None
        } else {
            Some(self.session_deadline)
        }
    }
}
