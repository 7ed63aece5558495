//! The classic group protocol's state machine for one group, like Kafka's `GroupMetadata`
//! and the rebalance logic of its `GroupCoordinator`.
//!
//! A group moves Empty → PreparingRebalance (members (re)join) → CompletingRebalance (the
//! leader computes assignments) → Stable (everyone has its assignment), and back to
//! PreparingRebalance whenever a member joins, leaves, changes its subscription or misses
//! its session. Every rebalance ends a generation: requests carrying an older generation
//! are fenced with `ILLEGAL_GENERATION`. Nothing here blocks or sleeps: a JoinGroup or
//! SyncGroup that must wait parks a channel in its member, and deadlines (the initial
//! delay, the rebalance timeout, sessions, the sync timeout) are checked by
//! `Group::expire`, which the coordinator's timer task calls when the earliest is due.
//! A [`Group`] of the consumer protocol (KIP-848) keeps its members in
//! [`ConsumerGroup`] instead, and shares only the committed offsets kept here.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::time::Duration;

use bytes::Bytes;
use kafka_protocol::error::ResponseError;
use tokio::sync::oneshot;
use tokio::time::Instant;

use super::consumer::ConsumerGroup;
use super::member::Member;
use super::offsets::OffsetAndMetadata;
use super::{JoinRequest, JoinResponse, JoinedMember, SyncRequest, SyncResponse};
use crate::clock::now_ms;
use crate::config::GroupConfig;

/// How long a join phase that could not complete (only absent static members are left)
/// waits at least before it is tried again.
const MIN_RETRY_DELAY: Duration = Duration::from_millis(100);

/// The states of a classic group, with Kafka's names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GroupState {
    /// No members (the group may still hold committed offsets).
    Empty,
    /// Waiting for members to (re)join.
    PreparingRebalance,
    /// Joined; waiting for the leader's assignments.
    CompletingRebalance,
    /// Every member has its assignment.
    Stable,
    /// Deleted (answered for groups the coordinator does not know).
    Dead,
}

impl GroupState {
    /// The state's name as Kafka reports it in `DescribeGroups` and `ListGroups`.
    pub fn name(self) -> &'static str {
        match self {
            GroupState::Empty => "Empty",
            GroupState::PreparingRebalance => "PreparingRebalance",
            GroupState::CompletingRebalance => "CompletingRebalance",
            GroupState::Stable => "Stable",
            GroupState::Dead => "Dead",
        }
    }
}

/// The pending completion of the join phase (Kafka's `DelayedJoin` and
/// `InitialDelayedJoin`).
#[derive(Debug, Clone, Copy)]
pub(crate) struct JoinTimer {
    /// When the join phase ends at the latest.
    pub deadline: Instant,
    /// For the initial delay of an empty group: the rebalance time left after this delay,
    /// which further delays may use while new members keep arriving. The join phase then
    /// only ends at the deadline, never early.
    pub initial_remaining: Option<Duration>,
}

/// What a JoinGroup gets: an answer now, or a channel that delivers it when the join phase
/// completes.
#[derive(Debug)]
pub(crate) enum JoinOutcome {
    /// Answer now.
    Done(JoinResponse),
    /// Wait for the answer.
    Wait(oneshot::Receiver<JoinResponse>),
}

/// What a SyncGroup gets, as for [`JoinOutcome`].
#[derive(Debug)]
pub(crate) enum SyncOutcome {
    /// Answer now.
    Done(SyncResponse),
    /// Wait for the leader's assignment.
    Wait(oneshot::Receiver<SyncResponse>),
}

/// One group: its members, generation, protocol and committed offsets.
#[derive(Debug)]
pub(crate) struct Group {
    /// The group id.
    pub id: String,
    /// The current state.
    pub state: GroupState,
    /// When the group entered its current state (ms since the epoch).
    pub state_timestamp: i64,
    /// The generation; 0 before the first rebalance.
    pub generation: i32,
    /// The protocol type all members share (`consumer`, …).
    pub protocol_type: Option<String>,
    /// The protocol (assignor) selected for the current generation.
    pub protocol_name: Option<String>,
    /// The leader's member id.
    pub leader: Option<String>,
    /// The members, by id.
    pub members: BTreeMap<String, Member>,
    /// Member ids handed out with `MEMBER_ID_REQUIRED` (KIP-394) whose owners have not
    /// joined with them yet, with the time they expire.
    pub pending_members: HashMap<String, Instant>,
    /// `group.instance.id` → member id of static members.
    pub static_members: HashMap<String, String>,
    /// Members that have not sent SyncGroup for the current generation.
    pub pending_sync: HashSet<String>,
    /// When members that have not synced yet are removed.
    pub sync_deadline: Option<Instant>,
    /// The pending end of the join phase.
    pub join_timer: Option<JoinTimer>,
    /// A member joined during the initial delay: the delay may be extended.
    pub new_member_added: bool,
    /// Committed offsets by (topic, partition).
    pub offsets: BTreeMap<(String, i32), OffsetAndMetadata>,
    /// Partitions whose offsets an open transaction has committed (`TxnOffsetCommit`),
    /// with the producer id: not visible yet, and "unstable" to `require_stable` fetches.
    pub pending_txn_offsets: HashMap<(String, i32), i64>,
    /// The generation last written to `__consumer_offsets` (None: never written).
    pub persisted_generation: Option<i32>,
    /// Set when the group is a group of the consumer protocol (KIP-848): its members and
    /// assignment live there, and the classic fields above stay empty.
    pub consumer: Option<ConsumerGroup>,
}

fn error_join(code: ResponseError, member_id: &str) -> JoinResponse {
    JoinResponse {
        error: code.code(),
        generation: -1,
        protocol_type: None,
        protocol_name: None,
        leader: String::new(),
        skip_assignment: false,
        member_id: member_id.to_string(),
        members: Vec::new(),
    }
}

fn error_sync(code: ResponseError) -> SyncResponse {
    SyncResponse {
        error: code.code(),
        protocol_type: None,
        protocol_name: None,
        assignment: Bytes::new(),
    }
}

impl Group {
    /// A new, empty group.
    pub(crate) fn new(id: &str) -> Group {
        Group {
            id: id.to_string(),
            state: GroupState::Empty,
            state_timestamp: now_ms(),
            generation: 0,
            protocol_type: None,
            protocol_name: None,
            leader: None,
            members: BTreeMap::new(),
            pending_members: HashMap::new(),
            static_members: HashMap::new(),
            pending_sync: HashSet::new(),
            sync_deadline: None,
            join_timer: None,
            new_member_added: false,
            offsets: BTreeMap::new(),
            pending_txn_offsets: HashMap::new(),
            persisted_generation: None,
            consumer: None,
        }
    }

    /// Whether the group holds nothing worth keeping: no members, no member ids handed
    /// out, no offsets.
    pub(crate) fn is_disposable(&self) -> bool {
        self.state == GroupState::Empty
            && self.members.is_empty()
            && self.pending_members.is_empty()
            && self.offsets.is_empty()
            && self.pending_txn_offsets.is_empty()
            && self.consumer.as_ref().is_none_or(|c| c.members.is_empty())
    }

    /// Whether this is a consumer-protocol group.
    pub(crate) fn is_consumer_group(&self) -> bool {
        self.consumer.is_some()
    }

    fn transition(&mut self, state: GroupState) {
        tracing::debug!(group = %self.id, from = self.state.name(), to = state.name(), generation = self.generation, "group state");
        self.state = state;
        self.state_timestamp = now_ms();
    }

    /// The longest rebalance timeout of any member: how long a join phase may last.
    fn rebalance_timeout(&self) -> Duration {
        self.members
            .values()
            .map(|m| m.rebalance_timeout)
            .max()
            .unwrap_or_default()
    }

    /// Protocols every member supports.
    fn candidate_protocols(&self) -> Vec<&str> {
        let Some(first) = self.members.values().next() else {
            return Vec::new();
        };
        first
            .protocols
            .iter()
            .map(|(n, _)| n.as_str())
            .filter(|name| {
                self.members
                    .values()
                    .all(|m| m.protocols.iter().any(|(n, _)| n == name))
            })
            .collect()
    }

    /// Kafka's `supportsProtocols`: a first member needs a protocol type and at least one
    /// protocol; later ones the group's type and one protocol every member supports.
    fn supports_protocols(&self, protocol_type: &str, protocols: &[(String, Bytes)]) -> bool {
        if self.state == GroupState::Empty || self.members.is_empty() {
            !protocol_type.is_empty() && !protocols.is_empty()
        } else {
            let candidates = self.candidate_protocols();
            self.protocol_type.as_deref() == Some(protocol_type)
                && protocols
                    .iter()
                    .any(|(n, _)| candidates.contains(&n.as_str()))
        }
    }

    /// Each member votes for its first preference among the protocols all support; the
    /// protocol with the most votes wins (ties go to the earlier candidate).
    fn select_protocol(&self) -> Option<String> {
        let candidates = self.candidate_protocols();
        let mut votes: Vec<(&str, usize)> = candidates.iter().map(|c| (*c, 0)).collect();
        for m in self.members.values() {
            if let Some(choice) = m.vote(&candidates) {
                if let Some(v) = votes.iter_mut().find(|(c, _)| *c == choice) {
                    v.1 += 1;
                }
            }
        }
        let best = votes.iter().map(|(_, n)| *n).max()?;
        votes
            .iter()
            .find(|(_, n)| *n == best)
            .map(|(c, _)| c.to_string())
    }

    /// Kafka's `validateMember`: a static member must be the current incarnation of its
    /// instance id (`FENCED_INSTANCE_ID` for an older one), a dynamic member must exist
    /// (`UNKNOWN_MEMBER_ID`).
    fn validate_member(&self, member_id: &str, instance_id: Option<&str>) -> Option<ResponseError> {
        match instance_id {
            Some(instance) => match self.static_members.get(instance) {
                None => Some(ResponseError::UnknownMemberId),
                Some(current) if current != member_id => Some(ResponseError::FencedInstanceId),
                Some(_) => None,
            },
            None if !self.members.contains_key(member_id) => Some(ResponseError::UnknownMemberId),
            None => None,
        }
    }

    fn is_leader(&self, member_id: &str) -> bool {
        self.leader.as_deref() == Some(member_id)
    }

    fn all_members_joined(&self) -> bool {
        self.pending_members.is_empty() && self.members.values().all(Member::awaiting_join)
    }

    /// The members with their metadata for the selected protocol, as the leader gets them.
    fn member_list(&self) -> Vec<JoinedMember> {
        let protocol = self.protocol_name.as_deref().unwrap_or_default();
        self.members
            .values()
            .map(|m| JoinedMember {
                member_id: m.id.clone(),
                instance_id: m.instance_id.clone(),
                metadata: m.metadata(protocol),
            })
            .collect()
    }

    /// The answer describing the current generation to `member_id`.
    fn current_generation(&self, member_id: &str, members: Vec<JoinedMember>) -> JoinResponse {
        JoinResponse {
            error: 0,
            generation: self.generation,
            protocol_type: self.protocol_type.clone(),
            protocol_name: self.protocol_name.clone(),
            leader: self.leader.clone().unwrap_or_default(),
            skip_assignment: false,
            member_id: member_id.to_string(),
            members,
        }
    }

    // ----- JoinGroup -----------------------------------------------------------------

    /// Handles a JoinGroup whose session timeout the coordinator has already checked.
    pub(crate) fn join(
        &mut self,
        req: &JoinRequest,
        now: Instant,
        config: &GroupConfig,
    ) -> JoinOutcome {
        let outcome = if req.member_id.is_empty() {
            self.join_new_member(req, now, config)
        } else {
            self.join_known_member(req, now, config)
        };
        self.maybe_complete_join(now);
        outcome
    }

    fn join_new_member(
        &mut self,
        req: &JoinRequest,
        now: Instant,
        config: &GroupConfig,
    ) -> JoinOutcome {
        if self.state == GroupState::Dead {
            return JoinOutcome::Done(error_join(ResponseError::CoordinatorNotAvailable, ""));
        }
        if !self.supports_protocols(&req.protocol_type, &req.protocols) {
            return JoinOutcome::Done(error_join(ResponseError::InconsistentGroupProtocol, ""));
        }
        let member_id = format!("{}-{}", req.client_id, crate::ids::random_uuid());
        if let Some(instance) = req.instance_id.as_deref() {
            if let Some(old) = self.static_members.get(instance).cloned() {
                return self.replace_static_member(&old, &member_id, req, now, config);
            }
            return JoinOutcome::Wait(self.add_member_and_rebalance(&member_id, req, now, config));
        }
        if req.require_known_member_id {
            // KIP-394: hand out the id first, so that a client whose JoinGroup times out
            // rejoins as the same member instead of leaving a ghost behind.
            self.pending_members
                .insert(member_id.clone(), now + req.session_timeout);
            return JoinOutcome::Done(error_join(ResponseError::MemberIdRequired, &member_id));
        }
        JoinOutcome::Wait(self.add_member_and_rebalance(&member_id, req, now, config))
    }

    fn join_known_member(
        &mut self,
        req: &JoinRequest,
        now: Instant,
        config: &GroupConfig,
    ) -> JoinOutcome {
        let id = req.member_id.as_str();
        if self.state == GroupState::Dead {
            return JoinOutcome::Done(error_join(ResponseError::CoordinatorNotAvailable, id));
        }
        if !self.supports_protocols(&req.protocol_type, &req.protocols) {
            return JoinOutcome::Done(error_join(ResponseError::InconsistentGroupProtocol, id));
        }
        if self.pending_members.contains_key(id) {
            return JoinOutcome::Wait(self.add_member_and_rebalance(id, req, now, config));
        }
        if let Some(code) = self.validate_member(id, req.instance_id.as_deref()) {
            return JoinOutcome::Done(error_join(code, id));
        }
        let Some(member) = self.members.get(id) else {
            return JoinOutcome::Done(error_join(ResponseError::UnknownMemberId, id));
        };
        let matches = member.matches(&req.protocols);
        match self.state {
            GroupState::PreparingRebalance => {
                JoinOutcome::Wait(self.update_member_and_rebalance(req, now, config))
            }
            GroupState::CompletingRebalance if matches => {
                // The member did not get its JoinGroup answer: repeat it.
                let members = if self.is_leader(id) {
                    self.member_list()
                } else {
                    Vec::new()
                };
                JoinOutcome::Done(self.current_generation(id, members))
            }
            GroupState::Stable if matches && !self.is_leader(id) => {
                // A follower without changes gets the current generation and syncs.
                JoinOutcome::Done(self.current_generation(id, Vec::new()))
            }
            GroupState::CompletingRebalance | GroupState::Stable => {
                // A changed subscription, or the leader asking for a new assignment.
                JoinOutcome::Wait(self.update_member_and_rebalance(req, now, config))
            }
            GroupState::Empty | GroupState::Dead => {
                JoinOutcome::Done(error_join(ResponseError::UnknownMemberId, id))
            }
        }
    }

    fn add_member_and_rebalance(
        &mut self,
        member_id: &str,
        req: &JoinRequest,
        now: Instant,
        config: &GroupConfig,
    ) -> oneshot::Receiver<JoinResponse> {
        let (tx, rx) = oneshot::channel();
        let member = Member {
            id: member_id.to_string(),
            instance_id: req.instance_id.clone(),
            client_id: req.client_id.clone(),
            client_host: req.client_host.clone(),
            session_timeout: req.session_timeout,
            rebalance_timeout: req.rebalance_timeout,
            protocols: req.protocols.clone(),
            assignment: Bytes::new(),
            join_waiter: Some(tx),
            sync_waiter: None,
            session_deadline: now + req.session_timeout,
            is_new: true,
            joined_at: now,
        };
        if self.members.is_empty() {
            self.protocol_type = Some(req.protocol_type.clone());
        }
        if self.leader.is_none() {
            self.leader = Some(member_id.to_string());
        }
        if let Some(instance) = &req.instance_id {
            self.static_members
                .insert(instance.clone(), member_id.to_string());
        }
        self.pending_members.remove(member_id);
        if self.state == GroupState::PreparingRebalance && self.generation == 0 {
            self.new_member_added = true;
        }
        tracing::info!(group = %self.id, member = member_id, "member joins");
        self.members.insert(member_id.to_string(), member);
        self.maybe_prepare_rebalance(now, config);
        rx
    }

    fn update_member_and_rebalance(
        &mut self,
        req: &JoinRequest,
        now: Instant,
        config: &GroupConfig,
    ) -> oneshot::Receiver<JoinResponse> {
        let (tx, rx) = oneshot::channel();
        if let Some(m) = self.members.get_mut(&req.member_id) {
            m.protocols = req.protocols.clone();
            m.session_timeout = req.session_timeout;
            m.rebalance_timeout = req.rebalance_timeout;
            m.client_id = req.client_id.clone();
            m.client_host = req.client_host.clone();
            m.join_waiter = Some(tx);
            m.joined_at = now;
            m.touch(now);
        }
        self.maybe_prepare_rebalance(now, config);
        rx
    }

    /// A static member rejoined without a member id: it replaces its old incarnation,
    /// whose parked requests are fenced. In a stable group whose protocol would not
    /// change, no rebalance is needed: the member gets the current generation back.
    fn replace_static_member(
        &mut self,
        old_id: &str,
        new_id: &str,
        req: &JoinRequest,
        now: Instant,
        config: &GroupConfig,
    ) -> JoinOutcome {
        let Some(mut member) = self.members.remove(old_id) else {
            return JoinOutcome::Wait(self.add_member_and_rebalance(new_id, req, now, config));
        };
        if let Some(tx) = member.join_waiter.take() {
            let _ = tx.send(error_join(ResponseError::FencedInstanceId, old_id));
        }
        if let Some(tx) = member.sync_waiter.take() {
            let _ = tx.send(error_sync(ResponseError::FencedInstanceId));
        }
        let leader_before = self.leader.clone().unwrap_or_default();
        if self.is_leader(old_id) {
            self.leader = Some(new_id.to_string());
        }
        if self.pending_sync.remove(old_id) {
            self.pending_sync.insert(new_id.to_string());
        }
        let (tx, rx) = oneshot::channel();
        member.id = new_id.to_string();
        member.protocols = req.protocols.clone();
        member.session_timeout = req.session_timeout;
        member.rebalance_timeout = req.rebalance_timeout;
        member.client_id = req.client_id.clone();
        member.client_host = req.client_host.clone();
        member.joined_at = now;
        member.touch(now);
        member.join_waiter = Some(tx);
        if let Some(instance) = &req.instance_id {
            self.static_members
                .insert(instance.clone(), new_id.to_string());
        }
        self.members.insert(new_id.to_string(), member);
        tracing::info!(group = %self.id, old = old_id, new = new_id, "static member replaced");
        match self.state {
            GroupState::Stable if self.select_protocol() == self.protocol_name => {
                let is_leader = self.is_leader(new_id);
                let skip = is_leader && req.supports_skip_assignment;
                let members = if skip { self.member_list() } else { Vec::new() };
                let mut response = self.current_generation(new_id, members);
                // Before KIP-814 (JoinGroup v9) the old leader id is reported, so that a
                // rejoining leader does not compute a new assignment: it syncs and gets
                // its stored one. From v9 it is told it leads but must skip assigning.
                if !req.supports_skip_assignment {
                    response.leader = leader_before;
                }
                response.skip_assignment = skip;
                if let Some(m) = self.members.get_mut(new_id) {
                    m.join_waiter = None;
                }
                drop(rx);
                JoinOutcome::Done(response)
            }
            GroupState::PreparingRebalance => JoinOutcome::Wait(rx),
            _ => {
                // In CompletingRebalance the old id may already be in the leader's
                // assignment; a new rebalance keeps ids and assignments consistent.
                self.prepare_rebalance(now, config);
                JoinOutcome::Wait(rx)
            }
        }
    }

    fn maybe_prepare_rebalance(&mut self, now: Instant, config: &GroupConfig) {
        if matches!(
            self.state,
            GroupState::Stable | GroupState::CompletingRebalance | GroupState::Empty
        ) {
            self.prepare_rebalance(now, config);
        }
    }

    /// Starts a join phase: parked syncs learn that a rebalance is in progress, and the
    /// join phase ends when every member has rejoined or the rebalance timeout passes
    /// (for an empty group: after the initial delay, extended while members arrive).
    fn prepare_rebalance(&mut self, now: Instant, config: &GroupConfig) {
        if self.state == GroupState::CompletingRebalance {
            for m in self.members.values_mut() {
                m.assignment = Bytes::new();
                if let Some(tx) = m.sync_waiter.take() {
                    // The session restarts with the answer: it was on hold while parked.
                    m.touch(now);
                    let _ = tx.send(error_sync(ResponseError::RebalanceInProgress));
                }
            }
        }
        self.pending_sync.clear();
        self.sync_deadline = None;
        let rebalance_timeout = self.rebalance_timeout();
        self.join_timer = Some(if self.state == GroupState::Empty {
            let delay = config.initial_rebalance_delay;
            JoinTimer {
                deadline: now + delay,
                initial_remaining: Some(rebalance_timeout.saturating_sub(delay)),
            }
        } else {
            JoinTimer {
                deadline: now + rebalance_timeout,
                initial_remaining: None,
            }
        });
        self.transition(GroupState::PreparingRebalance);
        self.maybe_complete_join(now);
    }

    /// Ends the join phase early once everyone has rejoined (never during an initial
    /// delay, which always runs its course).
    fn maybe_complete_join(&mut self, now: Instant) {
        let early = self
            .join_timer
            .is_some_and(|t| t.initial_remaining.is_none());
        if self.state == GroupState::PreparingRebalance && early && self.all_members_joined() {
            self.complete_join(now);
        }
    }

    /// Ends the join phase: members that did not rejoin are dropped (static ones keep
    /// their place), a new generation starts, and every parked JoinGroup is answered (the
    /// leader's answer lists the members with their metadata).
    fn complete_join(&mut self, now: Instant) {
        self.join_timer = None;
        let absent: Vec<String> = self
            .members
            .values()
            .filter(|m| !m.awaiting_join() && m.instance_id.is_none())
            .map(|m| m.id.clone())
            .collect();
        for id in absent {
            tracing::info!(group = %self.id, member = %id, "member did not rejoin in time; removed");
            self.remove_member(&id);
        }
        if !self.elect_joined_leader() && !self.members.is_empty() {
            // Only static members that have not rejoined are left: give them time (at
            // least a moment, so that a zero rebalance timeout cannot spin the timer).
            self.join_timer = Some(JoinTimer {
                deadline: now + self.rebalance_timeout().max(MIN_RETRY_DELAY),
                initial_remaining: None,
            });
            return;
        }
        self.generation += 1;
        if self.members.is_empty() {
            self.protocol_name = None;
            self.leader = None;
            self.transition(GroupState::Empty);
            return;
        }
        self.protocol_name = self.select_protocol();
        self.transition(GroupState::CompletingRebalance);
        tracing::info!(group = %self.id, generation = self.generation, members = self.members.len(), protocol = ?self.protocol_name, "join phase complete");
        let leader_members = self.member_list();
        let ids: Vec<String> = self.members.keys().cloned().collect();
        for id in &ids {
            let members = if self.is_leader(id) {
                leader_members.clone()
            } else {
                Vec::new()
            };
            let response = self.current_generation(id, members);
            if let Some(m) = self.members.get_mut(id) {
                m.is_new = false;
                m.touch(now);
                if let Some(tx) = m.join_waiter.take() {
                    let _ = tx.send(response);
                }
            }
        }
        self.pending_sync = ids.into_iter().collect();
        self.sync_deadline = Some(now + self.rebalance_timeout());
    }

    /// Keeps the leader if it rejoined, else picks a member that did.
    fn elect_joined_leader(&mut self) -> bool {
        let Some(leader) = self.leader.clone() else {
            return false;
        };
        if self.members.get(&leader).is_some_and(Member::awaiting_join) {
            return true;
        }
        match self.members.values().find(|m| m.awaiting_join()) {
            Some(m) => {
                self.leader = Some(m.id.clone());
                true
            }
            None => false,
        }
    }

    /// Removes a member; parked requests learn it is unknown now.
    fn remove_member(&mut self, member_id: &str) {
        let Some(mut m) = self.members.remove(member_id) else {
            return;
        };
        if let Some(tx) = m.join_waiter.take() {
            let _ = tx.send(error_join(ResponseError::UnknownMemberId, ""));
        }
        if let Some(tx) = m.sync_waiter.take() {
            let _ = tx.send(error_sync(ResponseError::UnknownMemberId));
        }
        if let Some(instance) = &m.instance_id {
            if self.static_members.get(instance).map(String::as_str) == Some(member_id) {
                self.static_members.remove(instance);
            }
        }
        self.pending_sync.remove(member_id);
        if self.is_leader(member_id) {
            self.leader = self.members.keys().next().cloned();
        }
    }

    /// Removes a member and rebalances what remains (Kafka's `removeMemberAndUpdateGroup`).
    fn remove_member_and_update(&mut self, member_id: &str, now: Instant, config: &GroupConfig) {
        self.remove_member(member_id);
        match self.state {
            GroupState::Stable | GroupState::CompletingRebalance => {
                self.prepare_rebalance(now, config)
            }
            GroupState::PreparingRebalance => self.maybe_complete_join(now),
            GroupState::Empty | GroupState::Dead => {}
        }
    }

    // ----- SyncGroup, Heartbeat, LeaveGroup --------------------------------------------

    /// Handles a SyncGroup: the leader's assignments are stored and handed to every
    /// member; followers wait for them.
    pub(crate) fn sync(&mut self, req: &SyncRequest, now: Instant) -> SyncOutcome {
        let id = req.member_id.as_str();
        let invalid = self.validate_member(id, req.instance_id.as_deref());
        let code = if self.state == GroupState::Dead {
            Some(ResponseError::CoordinatorNotAvailable)
        } else if invalid.is_some() {
            invalid
        } else if req.generation != self.generation {
            Some(ResponseError::IllegalGeneration)
        } else if req
            .protocol_type
            .as_ref()
            .is_some_and(|t| self.protocol_type.as_ref() != Some(t))
            || req
                .protocol_name
                .as_ref()
                .is_some_and(|n| self.protocol_name.as_ref() != Some(n))
        {
            Some(ResponseError::InconsistentGroupProtocol)
        } else {
            match self.state {
                GroupState::Empty => Some(ResponseError::UnknownMemberId),
                GroupState::PreparingRebalance => Some(ResponseError::RebalanceInProgress),
                _ => None,
            }
        };
        if let Some(code) = code {
            return SyncOutcome::Done(error_sync(code));
        }
        self.pending_sync.remove(id);
        if self.pending_sync.is_empty() {
            self.sync_deadline = None;
        }
        if self.state == GroupState::Stable {
            let Some(m) = self.members.get_mut(id) else {
                return SyncOutcome::Done(error_sync(ResponseError::UnknownMemberId));
            };
            m.touch(now);
            return SyncOutcome::Done(SyncResponse {
                error: 0,
                protocol_type: self.protocol_type.clone(),
                protocol_name: self.protocol_name.clone(),
                assignment: m.assignment.clone(),
            });
        }
        // CompletingRebalance: park, and if this is the leader, hand out everything.
        let (tx, rx) = oneshot::channel();
        if let Some(m) = self.members.get_mut(id) {
            m.sync_waiter = Some(tx);
        }
        if self.is_leader(id) {
            let assignments: HashMap<&str, &Bytes> = req
                .assignments
                .iter()
                .map(|(member, a)| (member.as_str(), a))
                .collect();
            let missing = self
                .members
                .keys()
                .filter(|m| !assignments.contains_key(m.as_str()))
                .count();
            if missing > 0 {
                tracing::warn!(group = %self.id, missing, "leader's assignment leaves members out; they get an empty one");
            }
            let protocol_type = self.protocol_type.clone();
            let protocol_name = self.protocol_name.clone();
            for m in self.members.values_mut() {
                m.assignment = assignments
                    .get(m.id.as_str())
                    .map(|a| (*a).clone())
                    .unwrap_or_default();
                if let Some(tx) = m.sync_waiter.take() {
                    m.touch(now);
                    let _ = tx.send(SyncResponse {
                        error: 0,
                        protocol_type: protocol_type.clone(),
                        protocol_name: protocol_name.clone(),
                        assignment: m.assignment.clone(),
                    });
                }
            }
            self.transition(GroupState::Stable);
            tracing::info!(group = %self.id, generation = self.generation, "group stable");
        }
        SyncOutcome::Wait(rx)
    }

    /// Handles a Heartbeat: the error code to answer.
    pub(crate) fn heartbeat(
        &mut self,
        member_id: &str,
        instance_id: Option<&str>,
        generation: i32,
        now: Instant,
    ) -> i16 {
        let code = if self.state == GroupState::Dead {
            ResponseError::CoordinatorNotAvailable
        } else if let Some(code) = self.validate_member(member_id, instance_id) {
            code
        } else if generation != self.generation {
            ResponseError::IllegalGeneration
        } else {
            match self.state {
                GroupState::Empty | GroupState::Dead => ResponseError::UnknownMemberId,
                GroupState::PreparingRebalance => {
                    if let Some(m) = self.members.get_mut(member_id) {
                        m.touch(now);
                    }
                    ResponseError::RebalanceInProgress
                }
                GroupState::CompletingRebalance | GroupState::Stable => {
                    if let Some(m) = self.members.get_mut(member_id) {
                        m.touch(now);
                    }
                    return 0;
                }
            }
        };
        code.code()
    }

    /// Handles one member of a LeaveGroup: the error code for it. An empty member id
    /// with an instance id removes that static member (administrative removal).
    pub(crate) fn leave(
        &mut self,
        member_id: &str,
        instance_id: Option<&str>,
        now: Instant,
        config: &GroupConfig,
    ) -> i16 {
        if member_id.is_empty() {
            let current = instance_id.and_then(|i| self.static_members.get(i).cloned());
            return match current {
                Some(id) => {
                    tracing::info!(group = %self.id, member = %id, "static member removed");
                    self.remove_member_and_update(&id, now, config);
                    0
                }
                None => ResponseError::UnknownMemberId.code(),
            };
        }
        if self.pending_members.remove(member_id).is_some() {
            self.maybe_complete_join(now);
            return 0;
        }
        if let Some(code) = self.validate_member(member_id, instance_id) {
            return code.code();
        }
        tracing::info!(group = %self.id, member = member_id, "member leaves");
        self.remove_member_and_update(member_id, now, config);
        0
    }

    /// Checks an offset commit's group fields as Kafka's classic groups do
    /// (`validateOffsetCommit`): with generation -1 an empty group accepts commits from
    /// anyone (clients that use the group only to store offsets); a member id, instance
    /// id or generation, when given, must be the current member and generation; a
    /// commit without them is refused while the group has members, unless it is
    /// transactional; and a member that has joined but not synced is told the
    /// rebalance is in progress. A valid member's commit counts as a sign of life.
    /// Returns 0 or the error code for every partition.
    pub(crate) fn validate_commit(
        &mut self,
        member_id: &str,
        instance_id: Option<&str>,
        generation: i32,
        transactional: bool,
        now: Instant,
    ) -> i16 {
        if self.state == GroupState::Dead {
            return ResponseError::CoordinatorNotAvailable.code();
        }
        if generation < 0 && self.state == GroupState::Empty {
            return 0;
        }
        if generation >= 0 || !member_id.is_empty() || instance_id.is_some() {
            if let Some(code) = self.validate_member(member_id, instance_id) {
                return code.code();
            }
            if generation != self.generation {
                return ResponseError::IllegalGeneration.code();
            }
        } else if !transactional && self.state != GroupState::Empty {
            return ResponseError::UnknownMemberId.code();
        }
        if !transactional && self.state == GroupState::CompletingRebalance {
            return ResponseError::RebalanceInProgress.code();
        }
        if let Some(m) = self.members.get_mut(member_id) {
            m.touch(now);
        }
        0
    }

    /// Offsets past their retention at wall-clock time `now` (ms), as Kafka's
    /// `removeExpiredOffsets` decides: all of an empty consumer group's offsets once it
    /// has been empty for `retention`; a standalone group's offsets (no protocol, only
    /// commits) each `retention` after its commit. Offsets of groups with members, and
    /// partitions an open transaction holds, never expire.
    pub(crate) fn expired_offsets(&self, now: i64, retention: Duration) -> Vec<(String, i32)> {
        let retention = i64::try_from(retention.as_millis()).unwrap_or(i64::MAX);
        let base = |o: &OffsetAndMetadata| -> Option<i64> {
            if let Some(c) = &self.consumer {
                return c.members.is_empty().then_some(c.empty_since);
            }
            match (&self.protocol_type, self.state) {
                (None, GroupState::Empty) => Some(o.commit_timestamp),
                (Some(_), GroupState::Empty) => Some(self.state_timestamp),
                _ => None,
            }
        };
        self.offsets
            .iter()
            .filter(|(key, o)| {
                !self.pending_txn_offsets.contains_key(*key)
                    && base(o).is_some_and(|b| now.saturating_sub(b) >= retention)
            })
            .map(|(key, _)| key.clone())
            .collect()
    }

    // ----- Timers ----------------------------------------------------------------------

    /// The earliest deadline of the group, if any.
    pub(crate) fn next_deadline(&self) -> Option<Instant> {
        let members = self.members.values().filter_map(Member::expiry);
        let pending = self.pending_members.values().copied();
        let timers = self
            .join_timer
            .map(|t| t.deadline)
            .into_iter()
            .chain(self.sync_deadline);
        let consumer = self
            .consumer
            .as_ref()
            .and_then(ConsumerGroup::next_deadline);
        members.chain(pending).chain(timers).chain(consumer).min()
    }

    /// Applies every deadline that has passed at `now`: expired pending member ids and
    /// sessions, the end of a join phase, members that never synced.
    pub(crate) fn expire(&mut self, now: Instant, config: &GroupConfig) {
        if let Some(c) = self.consumer.as_mut() {
            c.expire(&self.id, now, config);
        }
        let before = self.pending_members.len();
        self.pending_members.retain(|_, deadline| *deadline > now);
        if self.pending_members.len() != before {
            self.maybe_complete_join(now);
        }
        let expired: Vec<String> = self
            .members
            .values()
            .filter(|m| m.expiry().is_some_and(|d| d <= now))
            .map(|m| m.id.clone())
            .collect();
        for id in expired {
            tracing::info!(group = %self.id, member = %id, "member session expired");
            self.remove_member_and_update(&id, now, config);
        }
        if let Some(timer) = self.join_timer.filter(|t| t.deadline <= now) {
            match timer.initial_remaining {
                Some(remaining) if self.new_member_added && !remaining.is_zero() => {
                    self.new_member_added = false;
                    let delay = config.initial_rebalance_delay.min(remaining);
                    self.join_timer = Some(JoinTimer {
                        deadline: now + delay,
                        initial_remaining: Some(remaining.saturating_sub(delay)),
                    });
                }
                _ => self.complete_join(now),
            }
        }
        if self.sync_deadline.is_some_and(|d| d <= now) {
            self.sync_deadline = None;
            let missing: Vec<String> = self.pending_sync.drain().collect();
            if !missing.is_empty()
                && matches!(
                    self.state,
                    GroupState::CompletingRebalance | GroupState::Stable
                )
            {
                for id in &missing {
                    tracing::info!(group = %self.id, member = %id, "member did not sync in time; removed");
                    self.remove_member(id);
                }
                self.prepare_rebalance(now, config);
            }
        }
    }
}
