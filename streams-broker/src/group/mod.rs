//! The group coordinator: consumer groups (the classic protocol and the consumer
//! protocol of KIP-848) and committed offsets.
//!
//! Consumers that share a `group.id` divide a topic's partitions among themselves. The
//! coordinator keeps each group's members and generation, runs rebalances (JoinGroup,
//! SyncGroup), watches sessions (Heartbeat) and stores committed offsets durably in the
//! internal topic `__consumer_offsets`, like Kafka's `GroupCoordinator` with its
//! `GroupMetadataManager`. The broker only relays assignments: the group's leader (a
//! client) computes them, so every client-side assignor (range, round-robin,
//! cooperative-sticky) works unchanged.
//!
//! - [`state`]: one group's state machine (Kafka's `GroupMetadata`);
//! - `member`: one member (Kafka's `MemberMetadata`);
//! - [`consumer`]: groups of the new consumer protocol (`ConsumerGroupHeartbeat`), where
//!   the coordinator itself assigns partitions with an [`assignor`], as Kafka 4 serves
//!   them beside classic groups (Kafka's `ConsumerGroup`);
//! - [`offsets`]: committed offsets and their records in `__consumer_offsets`.
//!
//! Both kinds of group share one map and one offsets store: a group id is either kind,
//! an empty group turns into the kind of its next member, and a group with members
//! refuses members of the other protocol.
//!
//! Requests that must wait for the rest of the group (JoinGroup, SyncGroup) park a
//! channel and are answered when the group gets there; deadlines run on one timer task
//! ([`GroupCoordinator::run`]), so no thread ever blocks on a group.

pub(crate) mod assignor;
pub(crate) mod consumer;
mod member;
pub(crate) mod offsets;
pub(crate) mod state;

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use bytes::Bytes;
use kafka_protocol::error::ResponseError;
use tokio::sync::{watch, Notify};
use tokio::time::Instant;

use crate::clock::now_ms;
use crate::config::GroupConfig;
use crate::error::{Error, Result};
use crate::log::PartitionLog;
use offsets::{GroupRecord, OffsetLog, StoredRecord};
use state::{Group, JoinOutcome, SyncOutcome};

pub(crate) use assignor::ServerAssignor;
use consumer::ConsumerGroup;
pub(crate) use consumer::{
    ConsumerGroupDescription, ConsumerHeartbeat, ConsumerHeartbeatResponse, TopicMeta,
    TopicsSnapshot,
};
pub use offsets::OffsetAndMetadata;
pub(crate) use offsets::{PartitionOffset, OFFSETS_TOPIC, OFFSETS_TOPIC_CONFIG};
pub use state::GroupState;

/// How long the timer task sleeps when no deadline is pending.
const IDLE_TICK: Duration = Duration::from_secs(60);

/// A JoinGroup request, decoded from any version.
#[derive(Debug, Clone)]
pub(crate) struct JoinRequest {
    /// The group.
    pub group_id: String,
    /// The member id, empty on a first join.
    pub member_id: String,
    /// `group.instance.id` for static members.
    pub instance_id: Option<String>,
    /// The client's `client.id`.
    pub client_id: String,
    /// The client's address as Kafka shows it (`/127.0.0.1`).
    pub client_host: String,
    /// `session.timeout.ms`.
    pub session_timeout: Duration,
    /// How long a rebalance waits for this member (v0: the session timeout).
    pub rebalance_timeout: Duration,
    /// `consumer` for consumers.
    pub protocol_type: String,
    /// Supported protocols with the member's metadata, in order of preference.
    pub protocols: Vec<(String, Bytes)>,
    /// Whether a first join must fetch a member id first (KIP-394, JoinGroup v4+).
    pub require_known_member_id: bool,
    /// Whether the client understands `skip_assignment` (KIP-814, JoinGroup v9+).
    pub supports_skip_assignment: bool,
}

/// One member as the leader sees it in the JoinGroup answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct JoinedMember {
    /// The member id.
    pub member_id: String,
    /// The member's `group.instance.id`.
    pub instance_id: Option<String>,
    /// The member's metadata for the selected protocol.
    pub metadata: Bytes,
}

/// The answer to a JoinGroup.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct JoinResponse {
    /// 0 or a Kafka error code.
    pub error: i16,
    /// The generation that starts (-1 on error).
    pub generation: i32,
    /// The group's protocol type.
    pub protocol_type: Option<String>,
    /// The selected protocol.
    pub protocol_name: Option<String>,
    /// The leader's member id.
    pub leader: String,
    /// The leader must not compute a new assignment (KIP-814).
    pub skip_assignment: bool,
    /// The member's id (also set with `MEMBER_ID_REQUIRED`).
    pub member_id: String,
    /// The members with their metadata; only the leader gets them.
    pub members: Vec<JoinedMember>,
}

/// A SyncGroup request.
#[derive(Debug, Clone)]
pub(crate) struct SyncRequest {
    /// The group.
    pub group_id: String,
    /// The member.
    pub member_id: String,
    /// The member's `group.instance.id`.
    pub instance_id: Option<String>,
    /// The generation the member joined.
    pub generation: i32,
    /// The protocol type the member expects (v5+).
    pub protocol_type: Option<String>,
    /// The protocol the member expects (v5+).
    pub protocol_name: Option<String>,
    /// The leader's assignments by member id (empty from followers).
    pub assignments: Vec<(String, Bytes)>,
}

/// The answer to a SyncGroup.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SyncResponse {
    /// 0 or a Kafka error code.
    pub error: i16,
    /// The group's protocol type.
    pub protocol_type: Option<String>,
    /// The selected protocol.
    pub protocol_name: Option<String>,
    /// The member's assignment.
    pub assignment: Bytes,
}

/// A member as `DescribeGroups` shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemberDescription {
    /// The member id.
    pub member_id: String,
    /// The member's `group.instance.id`.
    pub instance_id: Option<String>,
    /// The client's `client.id`.
    pub client_id: String,
    /// The client's address.
    pub client_host: String,
    /// The member's metadata for the selected protocol (Stable groups only).
    pub metadata: Bytes,
    /// The member's assignment (Stable groups only).
    pub assignment: Bytes,
}

/// A group as `DescribeGroups` shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupDescription {
    /// The state.
    pub state: GroupState,
    /// The protocol type (empty if none).
    pub protocol_type: String,
    /// The selected protocol (Stable groups only, else empty).
    pub protocol: String,
    /// The members.
    pub members: Vec<MemberDescription>,
}

/// A group as `ListGroups` shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct GroupListing {
    /// The group id.
    pub group_id: String,
    /// The protocol type (empty if none).
    pub protocol_type: String,
    /// The state's name (a classic or a consumer-protocol state).
    pub state: &'static str,
    /// `classic` or `consumer` (ListGroups v5).
    pub group_type: &'static str,
}

/// One partition's answer to an OffsetFetch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct FetchedOffset {
    /// The topic.
    pub topic: String,
    /// The partition.
    pub partition: i32,
    /// The committed offset, `None` if the group has none for the partition.
    pub offset: Option<OffsetAndMetadata>,
    /// An open transaction holds an offset for the partition that is not visible yet
    /// (OffsetFetch with `require_stable` answers `UNSTABLE_OFFSET_COMMIT`).
    pub unstable: bool,
}

/// The group coordinator. Owned by the [`Broker`](crate::Broker) (`broker.groups()`).
#[derive(Debug)]
pub(crate) struct GroupCoordinator {
    config: GroupConfig,
    store: OffsetLog,
    groups: Mutex<HashMap<String, Group>>,
    /// Wakes the timer task when a deadline may have moved closer.
    wake: Notify,
}

/// Maps a failed write to `__consumer_offsets` to the error code clients see: a batch
/// that is too large is the client's doing, anything else is retriable (Kafka's
/// mapping in `GroupMetadataManager`).
fn storage_error_code(e: &Error) -> i16 {
    match e {
        Error::BatchTooLarge { .. } => ResponseError::InvalidCommitOffsetSize.code(),
        _ => ResponseError::CoordinatorNotAvailable.code(),
    }
}

impl GroupCoordinator {
    /// Opens the coordinator over the partition log of `__consumer_offsets`, rebuilding
    /// every group's committed offsets (and last generation) from it.
    pub(crate) fn open(config: GroupConfig, log: Arc<PartitionLog>) -> Result<GroupCoordinator> {
        let store = OffsetLog::new(log);
        let mut groups: HashMap<String, Group> = HashMap::new();
        for record in store.load()? {
            match record {
                StoredRecord::Offset {
                    group,
                    topic,
                    partition,
                    value,
                } => {
                    let g = groups
                        .entry(group.clone())
                        .or_insert_with(|| Group::new(&group));
                    match value {
                        Some(v) => {
                            g.offsets.insert((topic, partition), v);
                        }
                        None => {
                            g.offsets.remove(&(topic, partition));
                        }
                    }
                }
                StoredRecord::Group { group, value } => match value {
                    Some(v) => {
                        let g = groups
                            .entry(group.clone())
                            .or_insert_with(|| Group::new(&group));
                        g.generation = v.generation;
                        g.protocol_type = Some(v.protocol_type).filter(|t| !t.is_empty());
                        g.state_timestamp = v.state_timestamp;
                        g.persisted_generation = Some(v.generation);
                    }
                    None => {
                        // The group's offsets have their own tombstones (deletion), or
                        // stay (the group became a consumer-protocol group).
                        if let Some(g) = groups.get_mut(&group) {
                            g.generation = 0;
                            g.protocol_type = None;
                            g.persisted_generation = None;
                        }
                    }
                },
                StoredRecord::ConsumerGroup { group, epoch } => match epoch {
                    Some(epoch) => {
                        let g = groups
                            .entry(group.clone())
                            .or_insert_with(|| Group::new(&group));
                        g.consumer = Some(ConsumerGroup::restored(epoch));
                    }
                    None => {
                        if let Some(g) = groups.get_mut(&group) {
                            g.consumer = None;
                        }
                    }
                },
            }
        }
        groups.retain(|_, g| {
            !g.offsets.is_empty() || g.persisted_generation.is_some() || g.consumer.is_some()
        });
        tracing::info!(groups = groups.len(), "group coordinator loaded");
        Ok(GroupCoordinator {
            config,
            store,
            groups: Mutex::new(groups),
            wake: Notify::new(),
        })
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<String, Group>> {
        self.groups.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The coordinator's configuration.
    #[cfg(test)]
    pub fn config(&self) -> &GroupConfig {
        &self.config
    }

    /// After an operation on `group_id`: persists a new generation, drops the group if
    /// nothing is left of it, and lets the timer task see new deadlines.
    fn after_change(&self, groups: &mut HashMap<String, Group>, group_id: &str) {
        if let Some(g) = groups.get_mut(group_id) {
            self.persist_consumer_group(g);
            if g.is_disposable() {
                if g.consumer
                    .as_ref()
                    .is_some_and(|c| c.persisted_epoch.is_some())
                {
                    let tombstone = StoredRecord::ConsumerGroup {
                        group: group_id.to_string(),
                        epoch: None,
                    };
                    if let Err(e) = self.store.append(&[tombstone]) {
                        tracing::warn!(group = group_id, error = %e, "could not write a group tombstone");
                    }
                }
                if g.persisted_generation.is_some() {
                    let tombstone = StoredRecord::Group {
                        group: group_id.to_string(),
                        value: None,
                    };
                    if let Err(e) = self.store.append(&[tombstone]) {
                        tracing::warn!(group = group_id, error = %e, "could not write a group tombstone");
                    }
                }
                groups.remove(group_id);
            } else if g.consumer.is_none()
                && g.persisted_generation != Some(g.generation)
                && g.generation > 0
            {
                let record = StoredRecord::Group {
                    group: group_id.to_string(),
                    value: Some(GroupRecord {
                        protocol_type: g.protocol_type.clone().unwrap_or_default(),
                        generation: g.generation,
                        protocol: g.protocol_name.clone(),
                        leader: g.leader.clone(),
                        state_timestamp: g.state_timestamp,
                    }),
                };
                match self.store.append(&[record]) {
                    Ok(()) => g.persisted_generation = Some(g.generation),
                    Err(e) => {
                        tracing::warn!(group = group_id, error = %e, "could not persist the group's generation")
                    }
                }
            }
        }
        self.wake.notify_one();
    }

    /// Writes a consumer-protocol group's new epoch; when a group changed kind, writes
    /// the tombstone of its record of the other kind, so that a restart restores the
    /// right kind.
    fn persist_consumer_group(&self, g: &mut Group) {
        let group = g.id.clone();
        let Some(c) = g.consumer.as_mut() else {
            return;
        };
        if g.persisted_generation.is_some() {
            let tombstone = StoredRecord::Group {
                group: group.clone(),
                value: None,
            };
            match self.store.append(&[tombstone]) {
                Ok(()) => g.persisted_generation = None,
                Err(e) => {
                    tracing::warn!(group = %group, error = %e, "could not write a group tombstone")
                }
            }
        }
        if c.epoch > 0 && c.persisted_epoch != Some(c.epoch) {
            let record = StoredRecord::ConsumerGroup {
                group: group.clone(),
                epoch: Some(c.epoch),
            };
            match self.store.append(&[record]) {
                Ok(()) => c.persisted_epoch = Some(c.epoch),
                Err(e) => {
                    tracing::warn!(group = %group, error = %e, "could not persist the group's epoch")
                }
            }
        }
    }

    /// Turns an empty consumer-protocol group into a classic one (a classic member
    /// joins), forgetting its record of the other kind.
    fn make_classic(&self, g: &mut Group) {
        if let Some(c) = g.consumer.take() {
            tracing::info!(group = %g.id, "empty consumer group becomes a classic group");
            if c.persisted_epoch.is_some() {
                let tombstone = StoredRecord::ConsumerGroup {
                    group: g.id.clone(),
                    epoch: None,
                };
                if let Err(e) = self.store.append(&[tombstone]) {
                    tracing::warn!(group = %g.id, error = %e, "could not write a group tombstone");
                }
            }
        }
    }

    // ----- Membership ------------------------------------------------------------------

    /// JoinGroup: answers at once (errors, `MEMBER_ID_REQUIRED`, a repeated answer) or
    /// when the join phase completes.
    pub(crate) async fn join_group(&self, req: JoinRequest) -> JoinResponse {
        let error = |code: ResponseError| JoinResponse {
            error: code.code(),
            generation: -1,
            protocol_type: None,
            protocol_name: None,
            leader: String::new(),
            skip_assignment: false,
            member_id: req.member_id.clone(),
            members: Vec::new(),
        };
        if req.group_id.is_empty() {
            return error(ResponseError::InvalidGroupId);
        }
        if req.session_timeout < self.config.min_session_timeout
            || req.session_timeout > self.config.max_session_timeout
        {
            return error(ResponseError::InvalidSessionTimeout);
        }
        let outcome = {
            let mut groups = self.lock();
            let now = Instant::now();
            if !groups.contains_key(&req.group_id) {
                if !req.member_id.is_empty() {
                    return error(ResponseError::UnknownMemberId);
                }
                groups.insert(req.group_id.clone(), Group::new(&req.group_id));
            }
            if let Some(g) = groups.get_mut(&req.group_id) {
                if g.consumer.as_ref().is_some_and(|c| !c.members.is_empty()) {
                    // Kafka 4 without migration between protocols refuses classic members
                    // in a consumer group that has members.
                    return error(ResponseError::InconsistentGroupProtocol);
                }
                self.make_classic(g);
            }
            let outcome = match groups.get_mut(&req.group_id) {
                Some(g) => g.join(&req, now, &self.config),
                None => return error(ResponseError::CoordinatorNotAvailable),
            };
            self.after_change(&mut groups, &req.group_id);
            outcome
        };
        match outcome {
            JoinOutcome::Done(r) => r,
            JoinOutcome::Wait(rx) => rx
                .await
                .unwrap_or_else(|_| error(ResponseError::CoordinatorNotAvailable)),
        }
    }

    /// SyncGroup: the leader's assignments are handed out; followers wait for them.
    pub(crate) async fn sync_group(&self, req: SyncRequest) -> SyncResponse {
        let error = |code: ResponseError| SyncResponse {
            error: code.code(),
            protocol_type: None,
            protocol_name: None,
            assignment: Bytes::new(),
        };
        if req.group_id.is_empty() {
            return error(ResponseError::InvalidGroupId);
        }
        let outcome = {
            let mut groups = self.lock();
            let Some(g) = groups.get_mut(&req.group_id) else {
                return error(ResponseError::UnknownMemberId);
            };
            let outcome = g.sync(&req, Instant::now());
            self.after_change(&mut groups, &req.group_id);
            outcome
        };
        match outcome {
            SyncOutcome::Done(r) => r,
            SyncOutcome::Wait(rx) => rx
                .await
                .unwrap_or_else(|_| error(ResponseError::CoordinatorNotAvailable)),
        }
    }

    /// Heartbeat: the error code (`REBALANCE_IN_PROGRESS` tells the member to rejoin).
    pub(crate) fn heartbeat(
        &self,
        group_id: &str,
        member_id: &str,
        instance_id: Option<&str>,
        generation: i32,
    ) -> i16 {
        if group_id.is_empty() {
            return ResponseError::InvalidGroupId.code();
        }
        let mut groups = self.lock();
        let Some(g) = groups.get_mut(group_id) else {
            return ResponseError::UnknownMemberId.code();
        };
        let code = g.heartbeat(member_id, instance_id, generation, Instant::now());
        self.after_change(&mut groups, group_id);
        code
    }

    /// LeaveGroup: removes each `(member id, instance id)`; the error code for each, or
    /// `Err` with a code for the whole request.
    pub(crate) fn leave_group(
        &self,
        group_id: &str,
        members: &[(String, Option<String>)],
    ) -> std::result::Result<Vec<i16>, i16> {
        if group_id.is_empty() {
            return Err(ResponseError::InvalidGroupId.code());
        }
        let mut groups = self.lock();
        let Some(g) = groups.get_mut(group_id) else {
            return Ok(vec![ResponseError::UnknownMemberId.code(); members.len()]);
        };
        let now = Instant::now();
        let codes = members
            .iter()
            .map(|(m, i)| g.leave(m, i.as_deref(), now, &self.config))
            .collect();
        self.after_change(&mut groups, group_id);
        Ok(codes)
    }

    // ----- The consumer group protocol (KIP-848) -----------------------------------------

    /// ConsumerGroupHeartbeat: joins, heartbeats, reconciles and leaves members of a
    /// consumer-protocol group, with the cluster's `topics` as they are now. A group id
    /// that a classic group with members uses is refused with `GROUP_ID_NOT_FOUND`, as
    /// Kafka does; an empty classic group (only offsets) becomes a consumer group.
    pub(crate) fn consumer_heartbeat(
        &self,
        req: &ConsumerHeartbeat,
        topics: &TopicsSnapshot,
    ) -> ConsumerHeartbeatResponse {
        let mut groups = self.lock();
        let now = Instant::now();
        let group_id = req.group_id.as_str();
        match groups.get_mut(group_id) {
            None if req.member_epoch != 0 => {
                // Members are not restored after a restart: the member must rejoin.
                return ConsumerHeartbeatResponse::error(
                    ResponseError::UnknownMemberId,
                    format!(
                        "Member {} is not a member of group {group_id}.",
                        req.member_id
                    ),
                );
            }
            None => {
                let mut g = Group::new(group_id);
                g.consumer = Some(ConsumerGroup::new());
                groups.insert(group_id.to_string(), g);
            }
            Some(g) if g.consumer.is_none() => {
                if g.state != GroupState::Empty || !g.members.is_empty() {
                    return ConsumerHeartbeatResponse::error(
                        ResponseError::GroupIdNotFound,
                        format!("Group {group_id} is not a consumer group."),
                    );
                }
                if req.member_epoch != 0 {
                    return ConsumerHeartbeatResponse::error(
                        ResponseError::UnknownMemberId,
                        format!(
                            "Member {} is not a member of group {group_id}.",
                            req.member_id
                        ),
                    );
                }
                tracing::info!(
                    group = group_id,
                    "empty classic group becomes a consumer group"
                );
                // The classic generation continues as the group epoch.
                let mut c = ConsumerGroup::new();
                c.epoch = g.generation.max(0);
                c.assignment_epoch = c.epoch;
                g.consumer = Some(c);
            }
            Some(_) => {}
        }
        let response = match groups.get_mut(group_id).and_then(|g| {
            let id = g.id.clone();
            g.consumer
                .as_mut()
                .map(|c| c.heartbeat(&id, req, topics, now, &self.config))
        }) {
            Some(r) => r,
            None => ConsumerHeartbeatResponse::error(
                ResponseError::CoordinatorNotAvailable,
                "the group vanished",
            ),
        };
        self.after_change(&mut groups, group_id);
        response
    }

    /// ConsumerGroupDescribe for one group: `Ok(None)` if the coordinator does not know
    /// it, `Err(())` if it is a classic group.
    pub(crate) fn describe_consumer_group(
        &self,
        group_id: &str,
    ) -> std::result::Result<Option<ConsumerGroupDescription>, ()> {
        let groups = self.lock();
        match groups.get(group_id) {
            None => Ok(None),
            Some(g) => match &g.consumer {
                Some(c) => Ok(Some(c.describe())),
                None => Err(()),
            },
        }
    }

    /// The configured server-side assignors (`group.consumer.assignors`).
    pub(crate) fn assignors(&self) -> &[String] {
        &self.config.consumer_assignors
    }

    /// Whether `group_id` is a consumer-protocol group.
    pub(crate) fn is_consumer_group(&self, group_id: &str) -> bool {
        self.lock()
            .get(group_id)
            .is_some_and(Group::is_consumer_group)
    }

    /// Checks an OffsetFetch's member fields (v9+) for consumer-protocol groups: 0 or
    /// the group's error code. Classic groups do not check them, as in Kafka.
    pub(crate) fn validate_offset_fetch(&self, group_id: &str, member_id: &str, epoch: i32) -> i16 {
        match self.lock().get(group_id).and_then(|g| g.consumer.as_ref()) {
            Some(c) => c.validate_fetch(member_id, epoch),
            None => 0,
        }
    }

    // ----- Offsets ---------------------------------------------------------------------

    /// OffsetCommit from a client: checks the member and generation (generation -1 with
    /// an empty group is a "standalone" commit, as `assign()`-based consumers make),
    /// then stores every offset durably. Returns one error code per entry of `offsets`.
    /// A commit with a generation to a group the coordinator does not know gets
    /// `missing_group`: Kafka answers `GROUP_ID_NOT_FOUND` from OffsetCommit v9 and
    /// `ILLEGAL_GENERATION` before.
    pub(crate) fn commit_member_offsets(
        &self,
        group_id: &str,
        member_id: &str,
        instance_id: Option<&str>,
        generation: i32,
        offsets: &[PartitionOffset],
        missing_group: ResponseError,
    ) -> Vec<i16> {
        let mut groups = self.lock();
        if !groups.contains_key(group_id) {
            if generation >= 0 {
                return vec![missing_group.code(); offsets.len()];
            }
            groups.insert(group_id.to_string(), Group::new(group_id));
        }
        let code = match groups.get_mut(group_id) {
            Some(g) => match &g.consumer {
                Some(c) => c.validate_commit(member_id, instance_id, generation, false),
                None => {
                    g.validate_commit(member_id, instance_id, generation, false, Instant::now())
                }
            },
            None => ResponseError::CoordinatorNotAvailable.code(),
        };
        let codes = if code != 0 {
            vec![code; offsets.len()]
        } else {
            self.store_offsets(&mut groups, group_id, offsets)
        };
        self.after_change(&mut groups, group_id);
        codes
    }

    /// Stores offsets for `group_id` without any member or generation check, creating
    /// the group if needed: what the transaction coordinator calls at `EndTxn` (commit)
    /// to make a transaction's `TxnOffsetCommit`s visible. The offsets are durable in
    /// `__consumer_offsets` when this returns `Ok`. Metadata longer than
    /// `offset.metadata.max.bytes` is refused like a client's commit.
    pub(crate) fn commit_offsets(&self, group_id: &str, offsets: &[PartitionOffset]) -> Result<()> {
        let mut groups = self.lock();
        groups
            .entry(group_id.to_string())
            .or_insert_with(|| Group::new(group_id));
        let codes = self.store_offsets(&mut groups, group_id, offsets);
        self.after_change(&mut groups, group_id);
        match codes.iter().find(|c| **c != 0) {
            None => Ok(()),
            Some(code) => Err(Error::OffsetCommitFailed {
                group: group_id.to_string(),
                code: *code,
            }),
        }
    }

    /// Checks a `TxnOffsetCommit`'s group fields (KIP-447) before the transaction
    /// coordinator records the pending offsets: 0, or the error code to answer
    /// (`UNKNOWN_MEMBER_ID`, `ILLEGAL_GENERATION`, `FENCED_INSTANCE_ID`). A group the
    /// coordinator does not know passes without a generation (the commit will create
    /// it) and is `ILLEGAL_GENERATION` with one, as in Kafka.
    pub(crate) fn validate_txn_offset_commit(
        &self,
        group_id: &str,
        member_id: &str,
        instance_id: Option<&str>,
        generation: i32,
    ) -> i16 {
        if group_id.is_empty() {
            return ResponseError::InvalidGroupId.code();
        }
        let mut groups = self.lock();
        match groups.get_mut(group_id) {
            Some(g) => match &g.consumer {
                Some(c) => c.validate_commit(member_id, instance_id, generation, true),
                None => g.validate_commit(member_id, instance_id, generation, true, Instant::now()),
            },
            None if generation >= 0 => ResponseError::IllegalGeneration.code(),
            None => 0,
        }
    }

    /// Notes that the transaction of `producer_id` holds offsets of `group_id` for
    /// `partitions` (the transaction coordinator calls this for an accepted
    /// `TxnOffsetCommit`). Until [`end_txn_offsets`](Self::end_txn_offsets), an OffsetFetch
    /// with `require_stable` (`read_committed` consumers) answers those partitions with
    /// `UNSTABLE_OFFSET_COMMIT`, so a consumer does not start from an offset that the
    /// transaction is about to replace.
    pub(crate) fn begin_txn_offsets(
        &self,
        group_id: &str,
        producer_id: i64,
        partitions: &[(String, i32)],
    ) {
        let mut groups = self.lock();
        let g = groups
            .entry(group_id.to_string())
            .or_insert_with(|| Group::new(group_id));
        for p in partitions {
            g.pending_txn_offsets.insert(p.clone(), producer_id);
        }
    }

    /// The transaction of `producer_id` ended (after [`commit_offsets`](Self::commit_offsets)
    /// on commit, alone on abort): its partitions of `group_id` are stable again.
    pub(crate) fn end_txn_offsets(&self, group_id: &str, producer_id: i64) {
        let mut groups = self.lock();
        if let Some(g) = groups.get_mut(group_id) {
            g.pending_txn_offsets.retain(|_, p| *p != producer_id);
        }
        self.after_change(&mut groups, group_id);
    }

    /// Writes offsets to `__consumer_offsets`, then to the group: one code per entry.
    fn store_offsets(
        &self,
        groups: &mut HashMap<String, Group>,
        group_id: &str,
        offsets: &[PartitionOffset],
    ) -> Vec<i16> {
        let max_metadata = self.config.offset_metadata_max_bytes.min(i16::MAX as usize);
        let now = now_ms();
        let mut codes = Vec::with_capacity(offsets.len());
        let mut records = Vec::new();
        for o in offsets {
            if o.metadata.len() > max_metadata {
                codes.push(ResponseError::OffsetMetadataTooLarge.code());
                continue;
            }
            codes.push(0);
            records.push(StoredRecord::Offset {
                group: group_id.to_string(),
                topic: o.topic.clone(),
                partition: o.partition,
                value: Some(OffsetAndMetadata {
                    offset: o.offset,
                    leader_epoch: o.leader_epoch,
                    metadata: o.metadata.clone(),
                    commit_timestamp: now,
                }),
            });
        }
        if let Err(e) = self.store.append(&records) {
            tracing::error!(group = group_id, error = %e, "could not store committed offsets");
            let code = storage_error_code(&e);
            return codes
                .into_iter()
                .map(|c| if c == 0 { code } else { c })
                .collect();
        }
        if let Some(g) = groups.get_mut(group_id) {
            for record in records {
                if let StoredRecord::Offset {
                    topic,
                    partition,
                    value: Some(v),
                    ..
                } = record
                {
                    g.offsets.insert((topic, partition), v);
                }
            }
        }
        codes
    }

    /// The committed offset of `group_id` for a partition.
    pub(crate) fn committed_offset(
        &self,
        group_id: &str,
        topic: &str,
        partition: i32,
    ) -> Option<OffsetAndMetadata> {
        self.lock()
            .get(group_id)
            .and_then(|g| g.offsets.get(&(topic.to_string(), partition)).cloned())
    }

    /// OffsetFetch: the committed offsets of `partitions` (`None`: every partition the
    /// group has an offset for). An unknown group has no offsets.
    pub(crate) fn fetch_offsets(
        &self,
        group_id: &str,
        partitions: Option<&[(String, i32)]>,
    ) -> Vec<FetchedOffset> {
        let groups = self.lock();
        let group = groups.get(group_id);
        match partitions {
            Some(wanted) => wanted
                .iter()
                .map(|(topic, partition)| {
                    let key = (topic.clone(), *partition);
                    FetchedOffset {
                        topic: topic.clone(),
                        partition: *partition,
                        offset: group.and_then(|g| g.offsets.get(&key).cloned()),
                        unstable: group.is_some_and(|g| g.pending_txn_offsets.contains_key(&key)),
                    }
                })
                .collect(),
            None => group
                .map(|g| {
                    g.offsets
                        .iter()
                        .map(|(key, o)| FetchedOffset {
                            topic: key.0.clone(),
                            partition: key.1,
                            offset: Some(o.clone()),
                            unstable: g.pending_txn_offsets.contains_key(key),
                        })
                        .collect()
                })
                .unwrap_or_default(),
        }
    }

    // ----- Administration --------------------------------------------------------------

    /// ListGroups: every group, optionally only those in one of `states` (Kafka's state
    /// names, compared case-insensitively).
    pub(crate) fn list_groups(&self, states: &[String]) -> Vec<GroupListing> {
        let groups = self.lock();
        let mut out: Vec<GroupListing> = groups
            .values()
            .map(|g| match &g.consumer {
                Some(c) => GroupListing {
                    group_id: g.id.clone(),
                    protocol_type: "consumer".to_string(),
                    state: c.state().name(),
                    group_type: "consumer",
                },
                None => GroupListing {
                    group_id: g.id.clone(),
                    protocol_type: g.protocol_type.clone().unwrap_or_default(),
                    state: g.state.name(),
                    group_type: "classic",
                },
            })
            .filter(|l| states.is_empty() || states.iter().any(|s| s.eq_ignore_ascii_case(l.state)))
            .collect();
        out.sort_by(|a, b| a.group_id.cmp(&b.group_id));
        out
    }

    /// DescribeGroups for one group; `None` if the coordinator does not know it.
    pub(crate) fn describe_group(&self, group_id: &str) -> Option<GroupDescription> {
        let groups = self.lock();
        let g = groups.get(group_id).filter(|g| !g.is_consumer_group())?;
        let stable = g.state == GroupState::Stable;
        let protocol = if stable {
            g.protocol_name.clone().unwrap_or_default()
        } else {
            String::new()
        };
        let members = g
            .members
            .values()
            .map(|m| MemberDescription {
                member_id: m.id.clone(),
                instance_id: m.instance_id.clone(),
                client_id: m.client_id.clone(),
                client_host: m.client_host.clone(),
                metadata: if stable {
                    m.metadata(&protocol)
                } else {
                    Bytes::new()
                },
                assignment: if stable {
                    m.assignment.clone()
                } else {
                    Bytes::new()
                },
            })
            .collect();
        Some(GroupDescription {
            state: g.state,
            protocol_type: g.protocol_type.clone().unwrap_or_default(),
            protocol,
            members,
        })
    }

    /// DeleteGroups for one group: 0, `GROUP_ID_NOT_FOUND`, `NON_EMPTY_GROUP` while
    /// members remain, or a storage error. The group's offsets get tombstones.
    pub(crate) fn delete_group(&self, group_id: &str) -> i16 {
        let mut groups = self.lock();
        let Some(g) = groups.get(group_id) else {
            return ResponseError::GroupIdNotFound.code();
        };
        if g.state != GroupState::Empty
            || !g.members.is_empty()
            || g.consumer.as_ref().is_some_and(|c| !c.members.is_empty())
        {
            return ResponseError::NonEmptyGroup.code();
        }
        let mut records: Vec<StoredRecord> = g
            .offsets
            .keys()
            .map(|(topic, partition)| StoredRecord::Offset {
                group: group_id.to_string(),
                topic: topic.clone(),
                partition: *partition,
                value: None,
            })
            .collect();
        records.push(if g.is_consumer_group() {
            StoredRecord::ConsumerGroup {
                group: group_id.to_string(),
                epoch: None,
            }
        } else {
            StoredRecord::Group {
                group: group_id.to_string(),
                value: None,
            }
        });
        if let Err(e) = self.store.append(&records) {
            tracing::error!(group = group_id, error = %e, "could not delete group");
            return storage_error_code(&e);
        }
        groups.remove(group_id);
        tracing::info!(group = group_id, "group deleted");
        0
    }

    /// OffsetDelete (Kafka's `deleteOffsets`): removes `group_id`'s committed offsets of
    /// `partitions`. `Err` is a group-level error (`GROUP_ID_NOT_FOUND`, storage); each
    /// partition gets 0, or `GROUP_SUBSCRIBED_TO_TOPIC` while a member of a non-empty consumer
    /// group subscribes to its topic (its offsets are in use).
    pub(crate) fn delete_offsets(
        &self,
        group_id: &str,
        partitions: &[(String, i32)],
    ) -> std::result::Result<Vec<i16>, i16> {
        let mut groups = self.lock();
        let Some(g) = groups.get_mut(group_id) else {
            return Err(ResponseError::GroupIdNotFound.code());
        };
        let subscribed = subscribed_topics(g);
        let codes: Vec<i16> = partitions
            .iter()
            .map(|(topic, _)| {
                if subscribed.contains(topic.as_str()) {
                    ResponseError::GroupSubscribedToTopic.code()
                } else {
                    0
                }
            })
            .collect();
        let tombstones: Vec<StoredRecord> = partitions
            .iter()
            .zip(&codes)
            .filter(|((topic, partition), code)| {
                **code == 0 && g.offsets.contains_key(&(topic.clone(), *partition))
            })
            .map(|((topic, partition), _)| StoredRecord::Offset {
                group: group_id.to_string(),
                topic: topic.clone(),
                partition: *partition,
                value: None,
            })
            .collect();
        if !tombstones.is_empty() {
            if let Err(e) = self.store.append(&tombstones) {
                tracing::error!(group = group_id, error = %e, "could not delete offsets");
                return Err(storage_error_code(&e));
            }
            for record in &tombstones {
                if let StoredRecord::Offset {
                    topic, partition, ..
                } = record
                {
                    g.offsets.remove(&(topic.clone(), *partition));
                }
            }
            tracing::info!(
                group = group_id,
                deleted = tombstones.len(),
                "offsets deleted"
            );
        }
        Ok(codes)
    }

    // ----- Timers ----------------------------------------------------------------------

    /// Applies every deadline that has passed (sessions, join and sync phases).
    pub(crate) fn expire(&self) {
        let now = Instant::now();
        let mut groups = self.lock();
        let due: Vec<String> = groups
            .values()
            .filter(|g| g.next_deadline().is_some_and(|d| d <= now))
            .map(|g| g.id.clone())
            .collect();
        for id in due {
            if let Some(g) = groups.get_mut(&id) {
                g.expire(now, &self.config);
            }
            self.after_change(&mut groups, &id);
        }
    }

    /// Removes offsets past `offsets.retention.minutes` at wall-clock time `now` (ms)
    /// and writes their tombstones; a group left with nothing is removed too. Returns how
    /// many offsets expired. The timer task runs this every
    /// `offsets.retention.check.interval.ms`.
    pub(crate) fn expire_offsets(&self, now: i64) -> usize {
        let mut groups = self.lock();
        let mut expired_total = 0;
        let ids: Vec<String> = groups.keys().cloned().collect();
        for id in ids {
            let Some(g) = groups.get_mut(&id) else {
                continue;
            };
            let expired = g.expired_offsets(now, self.config.offsets_retention);
            if expired.is_empty() {
                continue;
            }
            let tombstones: Vec<StoredRecord> = expired
                .iter()
                .map(|(topic, partition)| StoredRecord::Offset {
                    group: id.clone(),
                    topic: topic.clone(),
                    partition: *partition,
                    value: None,
                })
                .collect();
            if let Err(e) = self.store.append(&tombstones) {
                tracing::warn!(group = %id, error = %e, "could not expire offsets");
                continue;
            }
            for key in &expired {
                g.offsets.remove(key);
            }
            expired_total += expired.len();
            tracing::info!(group = %id, offsets = expired.len(), "expired committed offsets");
            self.after_change(&mut groups, &id);
        }
        expired_total
    }

    /// Forgets every group's offsets for a deleted `topic`, writing their tombstones (a
    /// topic created later under the same name starts without them), like Kafka's
    /// clean-up when partitions are deleted. Returns how many offsets went.
    pub(crate) fn delete_topic_offsets(&self, topic: &str) -> usize {
        let mut groups = self.lock();
        let mut removed = 0;
        let ids: Vec<String> = groups.keys().cloned().collect();
        for id in ids {
            let Some(g) = groups.get_mut(&id) else {
                continue;
            };
            let keys: Vec<(String, i32)> = g
                .offsets
                .keys()
                .filter(|(t, _)| t == topic)
                .cloned()
                .collect();
            if keys.is_empty() {
                continue;
            }
            let tombstones: Vec<StoredRecord> = keys
                .iter()
                .map(|(t, p)| StoredRecord::Offset {
                    group: id.clone(),
                    topic: t.clone(),
                    partition: *p,
                    value: None,
                })
                .collect();
            if let Err(e) = self.store.append(&tombstones) {
                tracing::warn!(group = %id, topic, error = %e, "could not remove a deleted topic's offsets");
                continue;
            }
            for key in &keys {
                g.offsets.remove(key);
            }
            removed += keys.len();
            self.after_change(&mut groups, &id);
        }
        removed
    }

    fn next_deadline(&self) -> Option<Instant> {
        self.lock().values().filter_map(Group::next_deadline).min()
    }

    /// The timer task: sleeps until the earliest deadline of any group (or until a
    /// request moves one closer) and applies it, and expires old offsets every
    /// `offsets.retention.check.interval.ms`; returns when `shutdown` turns true.
    pub(crate) async fn run(self: Arc<Self>, mut shutdown: watch::Receiver<bool>) {
        let retention_every = self.config.offsets_retention_check_interval;
        let mut retention_at = Instant::now() + retention_every;
        loop {
            let next = self
                .next_deadline()
                .unwrap_or_else(|| Instant::now() + IDLE_TICK)
                .min(retention_at);
            tokio::select! {
                _ = shutdown.changed() => break,
                _ = self.wake.notified() => {}
                _ = tokio::time::sleep_until(next) => {}
            }
            self.expire();
            if Instant::now() >= retention_at {
                self.expire_offsets(now_ms());
                retention_at = Instant::now() + retention_every;
            }
        }
    }
}

#[cfg(test)]
mod tests;

/// The topics the members of a non-empty `consumer` group subscribe to, from their
/// subscriptions (Kafka's `ConsumerProtocolSubscription`); empty for an empty group or
/// another protocol type, whose offsets are not in use.
fn subscribed_topics(g: &state::Group) -> std::collections::BTreeSet<String> {
    use kafka_protocol::messages::ConsumerProtocolSubscription;
    use kafka_protocol::protocol::Decodable;
    if let Some(c) = &g.consumer {
        return c.subscribed_topic_names();
    }
    let mut topics = std::collections::BTreeSet::new();
    if g.members.is_empty() || g.protocol_type.as_deref() != Some("consumer") {
        return topics;
    }
    let protocol = g.protocol_name.clone().unwrap_or_default();
    for member in g.members.values() {
        let mut metadata = member.metadata(&protocol);
        if metadata.len() < 2 {
            continue;
        }
        // The subscription's version prefixes it; a member whose metadata cannot be read
        // is taken to subscribe to nothing, as Kafka's coordinator does.
        let version = i16::from_be_bytes([metadata[0], metadata[1]]);
        bytes::Buf::advance(&mut metadata, 2);
        if let Ok(subscription) =
            ConsumerProtocolSubscription::decode(&mut metadata, version.clamp(0, 3))
        {
            topics.extend(subscription.topics.iter().map(|t| t.to_string()));
        }
    }
    topics
}
