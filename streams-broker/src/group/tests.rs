//! The coordinator's state machine driven directly, on tokio's paused clock: timeouts of
//! seconds pass instantly and exactly, so each test states the timing it relies on.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use kafka_protocol::error::ResponseError;
use tokio::sync::watch;
use tokio::time::Instant;

use super::*;
use crate::config::{FlushPolicy, TopicConfig};

const SESSION: Duration = Duration::from_secs(10);
const REBALANCE: Duration = Duration::from_secs(30);
const DELAY: Duration = Duration::from_secs(3);

fn code(e: ResponseError) -> i16 {
    e.code()
}

struct Harness {
    dir: tempfile::TempDir,
    c: Arc<GroupCoordinator>,
    _stop: watch::Sender<bool>,
}

fn open_coordinator(dir: &std::path::Path, delay: Duration) -> GroupCoordinator {
    let mut config = TopicConfig::default();
    for (k, v) in OFFSETS_TOPIC_CONFIG {
        config.set(k, v).unwrap();
    }
    let log = PartitionLog::open(dir, OFFSETS_TOPIC, 0, Arc::new(config), FlushPolicy::Never)
        .map(Arc::new)
        .unwrap();
    let group = GroupConfig {
        initial_rebalance_delay: delay,
        min_session_timeout: Duration::from_millis(10),
        ..GroupConfig::default()
    };
    GroupCoordinator::open(group, log).unwrap()
}

/// A coordinator with its timer task running.
fn harness(delay: Duration) -> Harness {
    let dir = tempfile::tempdir().unwrap();
    let c = Arc::new(open_coordinator(dir.path(), delay));
    let (stop, rx) = watch::channel(false);
    tokio::spawn(c.clone().run(rx));
    Harness {
        dir,
        c,
        _stop: stop,
    }
}

fn request(group: &str, member_id: &str, protocols: &[(&str, &str)]) -> JoinRequest {
    JoinRequest {
        group_id: group.into(),
        member_id: member_id.into(),
        instance_id: None,
        client_id: "client".into(),
        client_host: "/127.0.0.1".into(),
        session_timeout: SESSION,
        rebalance_timeout: REBALANCE,
        protocol_type: "consumer".into(),
        protocols: protocols
            .iter()
            .map(|(n, m)| (n.to_string(), Bytes::copy_from_slice(m.as_bytes())))
            .collect(),
        require_known_member_id: true,
        supports_skip_assignment: false,
    }
}

const RANGE: &[(&str, &str)] = &[("range", "sub")];

/// Starts a JoinGroup in its own task.
fn spawn_join(
    c: &Arc<GroupCoordinator>,
    req: JoinRequest,
) -> tokio::task::JoinHandle<JoinResponse> {
    let c = c.clone();
    tokio::spawn(async move { c.join_group(req).await })
}

fn spawn_sync(
    c: &Arc<GroupCoordinator>,
    group: &str,
    member: &str,
    generation: i32,
    assignments: Vec<(String, Bytes)>,
) -> tokio::task::JoinHandle<SyncResponse> {
    let c = c.clone();
    let req = SyncRequest {
        group_id: group.into(),
        member_id: member.into(),
        instance_id: None,
        generation,
        protocol_type: Some("consumer".into()),
        protocol_name: None,
        assignments,
    };
    tokio::spawn(async move { c.sync_group(req).await })
}

/// The KIP-394 first step: a member id is handed out.
async fn member_id(c: &GroupCoordinator, group: &str) -> String {
    let r = c.join_group(request(group, "", RANGE)).await;
    assert_eq!(r.error, code(ResponseError::MemberIdRequired));
    assert_eq!(r.generation, -1);
    assert!(r.member_id.starts_with("client-"), "{}", r.member_id);
    r.member_id
}

/// Brings `n` members into a stable group: returns their ids (leader first) and the
/// generation.
async fn stable_group(h: &Harness, group: &str, n: usize) -> (Vec<String>, i32) {
    let mut ids = Vec::new();
    for _ in 0..n {
        ids.push(member_id(&h.c, group).await);
    }
    let joins: Vec<_> = ids
        .iter()
        .map(|id| spawn_join(&h.c, request(group, id, RANGE)))
        .collect();
    let mut responses = Vec::new();
    for j in joins {
        responses.push(j.await.unwrap());
    }
    let generation = responses[0].generation;
    let leader = responses[0].leader.clone();
    for r in &responses {
        assert_eq!(r.error, 0);
        assert_eq!(r.generation, generation);
        assert_eq!(r.leader, leader);
    }
    let assignments: Vec<(String, Bytes)> = ids
        .iter()
        .map(|id| (id.clone(), Bytes::from(format!("assigned-to-{id}"))))
        .collect();
    let syncs: Vec<_> = ids
        .iter()
        .map(|id| {
            let a = if *id == leader {
                assignments.clone()
            } else {
                Vec::new()
            };
            spawn_sync(&h.c, group, id, generation, a)
        })
        .collect();
    for (id, s) in ids.iter().zip(syncs) {
        let s = s.await.unwrap();
        assert_eq!(s.error, 0);
        assert_eq!(s.assignment, Bytes::from(format!("assigned-to-{id}")));
    }
    ids.sort_by_key(|id| *id != leader);
    (ids, generation)
}

#[tokio::test(start_paused = true)]
async fn first_join_waits_out_the_initial_delay_and_leads() {
    let h = harness(DELAY);
    let id = member_id(&h.c, "g").await;
    let start = Instant::now();
    let r = h.c.join_group(request("g", &id, RANGE)).await;
    assert_eq!(
        start.elapsed(),
        DELAY,
        "the initial rebalance delay runs its course"
    );
    assert_eq!(r.error, 0);
    assert_eq!(r.generation, 1);
    assert_eq!(r.leader, id);
    assert_eq!(r.member_id, id);
    assert_eq!(r.protocol_type.as_deref(), Some("consumer"));
    assert_eq!(r.protocol_name.as_deref(), Some("range"));
    assert_eq!(
        r.members,
        vec![JoinedMember {
            member_id: id.clone(),
            instance_id: None,
            metadata: Bytes::from_static(b"sub"),
        }]
    );
    let d = h.c.describe_group("g").unwrap();
    assert_eq!(d.state, GroupState::CompletingRebalance);
}

#[tokio::test(start_paused = true)]
async fn members_joining_during_the_delay_share_one_generation_and_sync_relays_assignments() {
    let h = harness(DELAY);
    let (ids, generation) = stable_group(&h, "g", 3).await;
    assert_eq!(generation, 1, "one rebalance for all three");
    let d = h.c.describe_group("g").unwrap();
    assert_eq!(d.state, GroupState::Stable);
    assert_eq!(d.protocol, "range");
    assert_eq!(d.members.len(), 3);
    for m in &d.members {
        assert_eq!(
            m.assignment,
            Bytes::from(format!("assigned-to-{}", m.member_id))
        );
        assert_eq!(m.client_host, "/127.0.0.1");
    }
    // A SyncGroup in a stable group returns the member's assignment at once.
    let s = spawn_sync(&h.c, "g", &ids[1], generation, Vec::new())
        .await
        .unwrap();
    assert_eq!(s.assignment, Bytes::from(format!("assigned-to-{}", ids[1])));
    assert_eq!(s.protocol_name.as_deref(), Some("range"));
    let listed = h.c.list_groups(&[]);
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].state, "Stable");
    assert!(h.c.list_groups(&["empty".into()]).is_empty());
    assert_eq!(h.c.list_groups(&["STABLE".into()]).len(), 1);
}

#[tokio::test(start_paused = true)]
async fn followers_wait_for_the_leaders_sync() {
    let h = harness(DELAY);
    let a = member_id(&h.c, "g").await;
    let b = member_id(&h.c, "g").await;
    let ja = spawn_join(&h.c, request("g", &a, RANGE));
    let jb = spawn_join(&h.c, request("g", &b, RANGE));
    let (ra, rb) = (ja.await.unwrap(), jb.await.unwrap());
    let (leader, follower) = if ra.leader == a { (a, b) } else { (b, a) };
    assert_eq!(rb.generation, ra.generation);
    let follower_sync = spawn_sync(&h.c, "g", &follower, ra.generation, Vec::new());
    tokio::time::sleep(Duration::from_secs(5)).await;
    assert!(
        !follower_sync.is_finished(),
        "the follower waits for the leader"
    );
    let assignments = vec![
        (leader.clone(), Bytes::from_static(b"L")),
        (follower.clone(), Bytes::from_static(b"F")),
    ];
    let l = spawn_sync(&h.c, "g", &leader, ra.generation, assignments)
        .await
        .unwrap();
    assert_eq!(l.assignment, Bytes::from_static(b"L"));
    assert_eq!(
        follower_sync.await.unwrap().assignment,
        Bytes::from_static(b"F")
    );
}

#[tokio::test(start_paused = true)]
async fn protocols_are_voted_and_must_be_compatible() {
    let h = harness(DELAY);
    let a = member_id(&h.c, "g").await;
    let b = member_id(&h.c, "g").await;
    let c = member_id(&h.c, "g").await;
    let prefs_a = &[("roundrobin", "a"), ("range", "a")];
    let prefs_b = &[("range", "b"), ("roundrobin", "b")];
    let prefs_c = &[("roundrobin", "c"), ("sticky", "c"), ("range", "c")];
    let ja = spawn_join(&h.c, request("g", &a, prefs_a));
    let jb = spawn_join(&h.c, request("g", &b, prefs_b));
    let jc = spawn_join(&h.c, request("g", &c, prefs_c));
    let r = ja.await.unwrap();
    jb.await.unwrap();
    jc.await.unwrap();
    assert_eq!(
        r.protocol_name.as_deref(),
        Some("roundrobin"),
        "two votes of three"
    );
    // A member that shares no protocol, or another protocol type, is refused.
    let d = member_id(&h.c, "g").await;
    let r = h.c.join_group(request("g", &d, &[("sticky", "d")])).await;
    assert_eq!(r.error, code(ResponseError::InconsistentGroupProtocol));
    let mut other_type = request("g", "", RANGE);
    other_type.protocol_type = "connect".into();
    let r = h.c.join_group(other_type).await;
    assert_eq!(r.error, code(ResponseError::InconsistentGroupProtocol));
    // An empty group's first member needs a protocol type and a protocol.
    let r = h.c.join_group(request("other", "", &[])).await;
    assert_eq!(r.error, code(ResponseError::InconsistentGroupProtocol));
    let mut short = request("g", "", RANGE);
    short.session_timeout = Duration::from_millis(1);
    let r = h.c.join_group(short).await;
    assert_eq!(r.error, code(ResponseError::InvalidSessionTimeout));
    let r = h.c.join_group(request("", "", RANGE)).await;
    assert_eq!(r.error, code(ResponseError::InvalidGroupId));
    let r = h.c.join_group(request("nope", "ghost", RANGE)).await;
    assert_eq!(r.error, code(ResponseError::UnknownMemberId));
}

#[tokio::test(start_paused = true)]
async fn heartbeats_are_fenced_by_member_and_generation() {
    let h = harness(DELAY);
    let (ids, generation) = stable_group(&h, "g", 2).await;
    let hb = |id: &str, generation| h.c.heartbeat("g", id, None, generation);
    assert_eq!(hb(&ids[0], generation), 0);
    assert_eq!(hb(&ids[1], generation), 0);
    assert_eq!(
        hb(&ids[0], generation - 1),
        code(ResponseError::IllegalGeneration)
    );
    assert_eq!(
        hb("ghost", generation),
        code(ResponseError::UnknownMemberId)
    );
    assert_eq!(
        h.c.heartbeat("unknown-group", &ids[0], None, generation),
        code(ResponseError::UnknownMemberId)
    );
    assert_eq!(
        h.c.heartbeat("", &ids[0], None, generation),
        code(ResponseError::InvalidGroupId)
    );
    // A new member makes the others rejoin.
    let c = member_id(&h.c, "g").await;
    let jc = spawn_join(&h.c, request("g", &c, RANGE));
    tokio::task::yield_now().await;
    assert_eq!(
        hb(&ids[0], generation),
        code(ResponseError::RebalanceInProgress)
    );
    // Syncing an old generation, or during the join phase, is refused.
    let s = spawn_sync(&h.c, "g", &ids[0], generation, Vec::new())
        .await
        .unwrap();
    assert_eq!(s.error, code(ResponseError::RebalanceInProgress));
    let s = spawn_sync(&h.c, "g", &ids[0], generation + 5, Vec::new())
        .await
        .unwrap();
    assert_eq!(s.error, code(ResponseError::IllegalGeneration));
    let s = spawn_sync(&h.c, "g", "ghost", generation, Vec::new())
        .await
        .unwrap();
    assert_eq!(s.error, code(ResponseError::UnknownMemberId));
    let j0 = spawn_join(&h.c, request("g", &ids[0], RANGE));
    let j1 = spawn_join(&h.c, request("g", &ids[1], RANGE));
    let r = jc.await.unwrap();
    assert_eq!(
        r.generation,
        generation + 1,
        "everyone rejoined: no waiting"
    );
    assert_eq!(j0.await.unwrap().generation, generation + 1);
    assert_eq!(j1.await.unwrap().generation, generation + 1);
    let mut wrong = SyncRequest {
        group_id: "g".into(),
        member_id: c.clone(),
        instance_id: None,
        generation: generation + 1,
        protocol_type: None,
        protocol_name: Some("roundrobin".into()),
        assignments: Vec::new(),
    };
    let s = h.c.sync_group(wrong.clone()).await;
    assert_eq!(s.error, code(ResponseError::InconsistentGroupProtocol));
    wrong.protocol_name = None;
    wrong.protocol_type = Some("connect".into());
    let s = h.c.sync_group(wrong).await;
    assert_eq!(s.error, code(ResponseError::InconsistentGroupProtocol));
    // Heartbeats while the leader computes the assignment are fine.
    assert_eq!(hb(&c, generation + 1), 0);
}

#[tokio::test(start_paused = true)]
async fn members_that_do_not_rejoin_within_the_rebalance_timeout_are_removed() {
    let h = harness(DELAY);
    let (ids, generation) = stable_group(&h, "g", 2).await;
    let c = member_id(&h.c, "g").await;
    let start = Instant::now();
    let jc = spawn_join(&h.c, request("g", &c, RANGE));
    let j0 = spawn_join(&h.c, request("g", &ids[0], RANGE));
    // ids[1] keeps heartbeating (so its session stays alive) but never rejoins.
    let c2 = h.c.clone();
    let silent = ids[1].clone();
    let beats = tokio::spawn(async move {
        loop {
            tokio::time::sleep(Duration::from_secs(3)).await;
            if c2.heartbeat("g", &silent, None, generation)
                != code(ResponseError::RebalanceInProgress)
            {
                break;
            }
        }
    });
    let r = jc.await.unwrap();
    assert_eq!(
        start.elapsed(),
        REBALANCE,
        "the join phase waits the rebalance timeout"
    );
    assert_eq!(r.generation, generation + 1);
    let r0 = j0.await.unwrap();
    assert_eq!(r0.generation, generation + 1);
    let leader_view = if r.leader == c { r.members } else { r0.members };
    assert_eq!(
        leader_view.len(),
        2,
        "the silent member is not in the new generation"
    );
    beats.await.unwrap();
    assert_eq!(
        h.c.heartbeat("g", &ids[1], None, generation + 1),
        code(ResponseError::UnknownMemberId)
    );
    assert_eq!(h.c.describe_group("g").unwrap().members.len(), 2);
}

#[tokio::test(start_paused = true)]
async fn a_silent_member_expires_after_its_session_timeout() {
    let h = harness(DELAY);
    let (ids, generation) = stable_group(&h, "g", 2).await;
    let start = Instant::now();
    // ids[0] heartbeats every second; ids[1] goes silent.
    let mut answer = 0;
    while answer == 0 {
        tokio::time::sleep(Duration::from_secs(1)).await;
        answer = h.c.heartbeat("g", &ids[0], None, generation);
    }
    assert_eq!(answer, code(ResponseError::RebalanceInProgress));
    let noticed = start.elapsed();
    assert!(
        noticed >= SESSION && noticed <= SESSION + Duration::from_secs(1),
        "noticed at the first heartbeat after the session expired: {noticed:?}"
    );
    let r = h.c.join_group(request("g", &ids[0], RANGE)).await;
    assert_eq!(r.generation, generation + 1);
    assert_eq!(r.members.len(), 1, "only the live member is left");
}

#[tokio::test(start_paused = true)]
async fn leaving_rebalances_the_rest_and_the_last_leaver_empties_the_group() {
    let h = harness(DELAY);
    let (ids, generation) = stable_group(&h, "g", 2).await;
    let codes =
        h.c.leave_group("g", &[(ids[1].clone(), None), ("ghost".into(), None)])
            .unwrap();
    assert_eq!(codes, vec![0, code(ResponseError::UnknownMemberId)]);
    assert_eq!(
        h.c.heartbeat("g", &ids[0], None, generation),
        code(ResponseError::RebalanceInProgress)
    );
    let r = h.c.join_group(request("g", &ids[0], RANGE)).await;
    assert_eq!(r.generation, generation + 1);
    assert_eq!(r.leader, ids[0]);
    assert_eq!(
        h.c.leave_group("g", &[(ids[0].clone(), None)]).unwrap(),
        vec![0]
    );
    // The group is empty now, and with no offsets it is gone.
    assert!(h.c.describe_group("g").is_none());
    assert_eq!(
        h.c.leave_group("g", &[(ids[0].clone(), None)]).unwrap(),
        vec![code(ResponseError::UnknownMemberId)]
    );
    assert_eq!(
        h.c.leave_group("", &[]),
        Err(code(ResponseError::InvalidGroupId))
    );
}

#[tokio::test(start_paused = true)]
async fn a_member_id_handed_out_but_never_used_holds_a_rebalance_only_for_a_session() {
    let h = harness(DELAY);
    let (ids, generation) = stable_group(&h, "g", 1).await;
    let _unused = member_id(&h.c, "g").await;
    let start = Instant::now();
    // The leader rejoins (a rebalance); the pending member id keeps it waiting.
    let r = h.c.join_group(request("g", &ids[0], RANGE)).await;
    assert_eq!(
        start.elapsed(),
        SESSION,
        "the handed-out id expires with its session"
    );
    assert_eq!(r.generation, generation + 1);
}

#[tokio::test(start_paused = true)]
async fn leaders_that_never_sync_are_removed_after_the_rebalance_timeout() {
    let h = harness(DELAY);
    let a = member_id(&h.c, "g").await;
    let b = member_id(&h.c, "g").await;
    let ja = spawn_join(&h.c, request("g", &a, RANGE));
    let jb = spawn_join(&h.c, request("g", &b, RANGE));
    let (ra, _) = (ja.await.unwrap(), jb.await.unwrap());
    let follower = if ra.leader == a { b } else { a };
    let start = Instant::now();
    // The leader stays alive (heartbeats, as a client computing an assignment does) but
    // never sends its SyncGroup: the sync phase's own timeout removes it.
    let c2 = h.c.clone();
    let (leader, generation) = (ra.leader.clone(), ra.generation);
    tokio::spawn(async move {
        while c2.heartbeat("g", &leader, None, generation) == 0 {
            tokio::time::sleep(Duration::from_secs(3)).await;
        }
    });
    let s = spawn_sync(&h.c, "g", &follower, ra.generation, Vec::new())
        .await
        .unwrap();
    assert_eq!(start.elapsed(), REBALANCE);
    assert_eq!(s.error, code(ResponseError::RebalanceInProgress));
    let r = h.c.join_group(request("g", &follower, RANGE)).await;
    assert_eq!(r.leader, follower);
    assert_eq!(r.members.len(), 1);
}

#[tokio::test(start_paused = true)]
async fn a_static_member_rejoining_replaces_its_old_incarnation_without_a_rebalance() {
    let h = harness(DELAY);
    let mut req = request("g", "", RANGE);
    req.instance_id = Some("instance-1".into());
    let r = h.c.join_group(req.clone()).await;
    assert_eq!(r.error, 0, "static members get no MEMBER_ID_REQUIRED");
    let old = r.member_id.clone();
    let s = spawn_sync(
        &h.c,
        "g",
        &old,
        r.generation,
        vec![(old.clone(), Bytes::from_static(b"A"))],
    )
    .await
    .unwrap();
    assert_eq!(s.assignment, Bytes::from_static(b"A"));
    // The same instance restarts and joins without its member id.
    let again = h.c.join_group(req).await;
    assert_eq!(again.error, 0);
    assert_ne!(again.member_id, old);
    assert_eq!(again.generation, r.generation, "no rebalance");
    assert_eq!(
        again.leader, old,
        "pre-v9 leaders are not told to lead again"
    );
    let s = spawn_sync(&h.c, "g", &again.member_id, again.generation, Vec::new())
        .await
        .unwrap();
    assert_eq!(
        s.assignment,
        Bytes::from_static(b"A"),
        "the stored assignment"
    );
    assert_eq!(
        h.c.heartbeat("g", &old, Some("instance-1"), r.generation),
        code(ResponseError::FencedInstanceId)
    );
    assert_eq!(
        h.c.heartbeat("g", &again.member_id, Some("instance-1"), r.generation),
        0
    );
}

#[tokio::test(start_paused = true)]
async fn offset_commits_are_fenced_like_heartbeats() {
    let h = harness(DELAY);
    let offsets = |o: i64| {
        vec![PartitionOffset {
            topic: "t".into(),
            partition: 0,
            offset: o,
            leader_epoch: -1,
            metadata: "m".into(),
        }]
    };
    // Standalone commits (generation -1) to a group without members.
    assert_eq!(
        h.c.commit_member_offsets(
            "solo",
            "",
            None,
            -1,
            &offsets(5),
            ResponseError::IllegalGeneration
        ),
        vec![0]
    );
    assert_eq!(h.c.committed_offset("solo", "t", 0).unwrap().offset, 5);
    assert_eq!(
        h.c.commit_member_offsets(
            "none",
            "m",
            None,
            3,
            &offsets(5),
            ResponseError::IllegalGeneration
        ),
        vec![code(ResponseError::IllegalGeneration)]
    );
    assert_eq!(
        h.c.commit_member_offsets(
            "none",
            "m",
            None,
            3,
            &offsets(5),
            ResponseError::GroupIdNotFound
        ),
        vec![code(ResponseError::GroupIdNotFound)],
        "OffsetCommit v9+ names a missing group"
    );
    assert_eq!(
        h.c.validate_txn_offset_commit("none", "m", None, 3),
        code(ResponseError::IllegalGeneration)
    );
    assert_eq!(h.c.validate_txn_offset_commit("none", "", None, -1), 0);
    let (ids, generation) = stable_group(&h, "g", 2).await;
    assert_eq!(
        h.c.commit_member_offsets(
            "g",
            &ids[1],
            None,
            generation,
            &offsets(7),
            ResponseError::IllegalGeneration
        ),
        vec![0]
    );
    assert_eq!(
        h.c.commit_member_offsets(
            "g",
            &ids[1],
            None,
            generation - 1,
            &offsets(8),
            ResponseError::IllegalGeneration
        ),
        vec![code(ResponseError::IllegalGeneration)]
    );
    assert_eq!(
        h.c.commit_member_offsets(
            "g",
            "ghost",
            None,
            generation,
            &offsets(8),
            ResponseError::IllegalGeneration
        ),
        vec![code(ResponseError::UnknownMemberId)]
    );
    assert_eq!(
        h.c.commit_member_offsets(
            "g",
            "",
            None,
            -1,
            &offsets(8),
            ResponseError::IllegalGeneration
        ),
        vec![code(ResponseError::UnknownMemberId)],
        "standalone commits to a group with members are refused"
    );
    let mut long = offsets(9);
    long[0].metadata = "x".repeat(5000);
    assert_eq!(
        h.c.commit_member_offsets(
            "g",
            &ids[0],
            None,
            generation,
            &long,
            ResponseError::IllegalGeneration
        ),
        vec![code(ResponseError::OffsetMetadataTooLarge)]
    );
    assert_eq!(h.c.committed_offset("g", "t", 0).unwrap().offset, 7);
    // During CompletingRebalance a valid member is told to finish the rebalance first.
    let j0 = spawn_join(&h.c, request("g", &ids[0], RANGE));
    tokio::task::yield_now().await; // the leader's rejoin starts the rebalance
    let j1 = spawn_join(&h.c, request("g", &ids[1], RANGE));
    let next = j0.await.unwrap().generation;
    j1.await.unwrap();
    assert_eq!(
        h.c.commit_member_offsets(
            "g",
            &ids[1],
            None,
            next,
            &offsets(9),
            ResponseError::IllegalGeneration
        ),
        vec![code(ResponseError::RebalanceInProgress)]
    );
    // The transactional path skips member checks.
    h.c.commit_offsets("g", &offsets(11)).unwrap();
    assert_eq!(h.c.committed_offset("g", "t", 0).unwrap().offset, 11);
    assert!(matches!(
        h.c.commit_offsets("g", &long),
        Err(Error::OffsetCommitFailed { code: 12, .. })
    ));
    assert_eq!(h.c.validate_txn_offset_commit("g", &ids[0], None, next), 0);
    assert_eq!(h.c.validate_txn_offset_commit("g", "", None, -1), 0);
    assert_eq!(
        h.c.validate_txn_offset_commit("g", "ghost", None, next),
        code(ResponseError::UnknownMemberId)
    );
    assert_eq!(
        h.c.validate_txn_offset_commit("g", &ids[0], None, next + 1),
        code(ResponseError::IllegalGeneration)
    );
}

#[tokio::test(start_paused = true)]
async fn offsets_and_deletions_survive_a_reopen() {
    let h = harness(DELAY);
    let commit = |group: &str, p: i32, o: i64| {
        h.c.commit_offsets(
            group,
            &[PartitionOffset {
                topic: "t".into(),
                partition: p,
                offset: o,
                leader_epoch: 4,
                metadata: format!("meta-{o}"),
            }],
        )
        .unwrap()
    };
    commit("kept", 0, 10);
    commit("kept", 1, 20);
    commit("kept", 0, 11);
    commit("deleted", 0, 30);
    stable_group(&h, "busy", 1).await;
    commit("busy", 0, 40);
    assert_eq!(h.c.delete_group("deleted"), 0);
    assert_eq!(
        h.c.delete_group("deleted"),
        code(ResponseError::GroupIdNotFound)
    );
    assert_eq!(h.c.delete_group("busy"), code(ResponseError::NonEmptyGroup));
    let fetched = h.c.fetch_offsets("kept", None);
    assert_eq!(fetched.len(), 2);

    let reopened = open_coordinator(h.dir.path(), DELAY);
    let kept = reopened.committed_offset("kept", "t", 0).unwrap();
    assert_eq!(
        (kept.offset, kept.leader_epoch, kept.metadata.as_str()),
        (11, 4, "meta-11")
    );
    assert_eq!(
        reopened.committed_offset("kept", "t", 1).unwrap().offset,
        20
    );
    assert!(reopened.committed_offset("deleted", "t", 0).is_none());
    assert!(reopened.describe_group("deleted").is_none());
    assert_eq!(
        reopened.committed_offset("busy", "t", 0).unwrap().offset,
        40
    );
    // Membership is not restored; the group is empty, and its generation continues.
    let busy = reopened.describe_group("busy").unwrap();
    assert_eq!(busy.state, GroupState::Empty);
    assert!(busy.members.is_empty());
    let wanted = [("t".to_string(), 0), ("t".to_string(), 7)];
    let fetched = reopened.fetch_offsets("kept", Some(&wanted));
    assert_eq!(fetched[0].offset.as_ref().map(|o| o.offset), Some(11));
    assert_eq!(fetched[1].offset, None);
}

#[tokio::test(start_paused = true)]
async fn open_transactions_make_their_partitions_unstable_until_they_end() {
    let h = harness(DELAY);
    let offset = |o: i64| PartitionOffset {
        topic: "t".into(),
        partition: 0,
        offset: o,
        leader_epoch: -1,
        metadata: String::new(),
    };
    h.c.commit_offsets("g", &[offset(3)]).unwrap();
    h.c.begin_txn_offsets("g", 7, &[("t".into(), 0)]);
    let wanted = [("t".to_string(), 0), ("t".to_string(), 1)];
    let f = h.c.fetch_offsets("g", Some(&wanted));
    assert!(f[0].unstable, "an open transaction holds t-0");
    assert!(!f[1].unstable);
    assert_eq!(f[0].offset.as_ref().map(|o| o.offset), Some(3));
    assert!(h.c.fetch_offsets("g", None)[0].unstable);
    // Commit: the transaction's offset becomes visible, the partition stable.
    h.c.commit_offsets("g", &[offset(9)]).unwrap();
    h.c.end_txn_offsets("g", 7);
    let f = h.c.fetch_offsets("g", Some(&wanted));
    assert!(!f[0].unstable);
    assert_eq!(f[0].offset.as_ref().map(|o| o.offset), Some(9));
    // Abort: nothing becomes visible, and a group that only held the transaction goes.
    h.c.begin_txn_offsets("aborted", 8, &[("t".into(), 0)]);
    assert!(h.c.describe_group("aborted").is_some());
    h.c.end_txn_offsets("aborted", 8);
    assert!(h.c.describe_group("aborted").is_none());
    assert!(h.c.committed_offset("aborted", "t", 0).is_none());
}

#[tokio::test(start_paused = true)]
async fn offsets_expire_after_retention_once_nobody_uses_them() {
    let h = harness(DELAY);
    let retention = h.c.config().offsets_retention.as_millis() as i64;
    let offset = |p: i32| {
        [PartitionOffset {
            topic: "t".into(),
            partition: p,
            offset: 1,
            leader_epoch: -1,
            metadata: String::new(),
        }]
    };
    // A standalone group (commits only), an active group, an emptied consumer group.
    assert_eq!(
        h.c.commit_member_offsets(
            "solo",
            "",
            None,
            -1,
            &offset(0),
            ResponseError::IllegalGeneration
        ),
        vec![0]
    );
    let (active, generation) = stable_group(&h, "active", 1).await;
    assert_eq!(
        h.c.commit_member_offsets(
            "active",
            &active[0],
            None,
            generation,
            &offset(0),
            ResponseError::IllegalGeneration
        ),
        vec![0]
    );
    let (left, generation) = stable_group(&h, "left", 1).await;
    assert_eq!(
        h.c.commit_member_offsets(
            "left",
            &left[0],
            None,
            generation,
            &offset(0),
            ResponseError::IllegalGeneration
        ),
        vec![0]
    );
    assert_eq!(
        h.c.leave_group("left", &[(left[0].clone(), None)]).unwrap(),
        vec![0]
    );
    h.c.begin_txn_offsets("solo", 5, &[("t".into(), 1)]);
    h.c.commit_offsets("solo", &offset(1)).unwrap();

    let now = crate::clock::now_ms();
    assert_eq!(h.c.expire_offsets(now + retention - 60_000), 0, "not yet");
    assert_eq!(h.c.expire_offsets(now + retention + 60_000), 2);
    assert!(h.c.committed_offset("solo", "t", 0).is_none());
    assert!(
        h.c.committed_offset("solo", "t", 1).is_some(),
        "an open transaction holds it"
    );
    assert!(
        h.c.committed_offset("active", "t", 0).is_some(),
        "the group has members"
    );
    assert!(h.c.committed_offset("left", "t", 0).is_none());
    assert!(
        h.c.describe_group("left").is_none(),
        "nothing left of the group"
    );
    // The tombstones are durable.
    let reopened = open_coordinator(h.dir.path(), DELAY);
    assert!(reopened.committed_offset("solo", "t", 0).is_none());
    assert!(reopened.committed_offset("left", "t", 0).is_none());
    assert!(reopened.describe_group("left").is_none());
    assert!(reopened.committed_offset("active", "t", 0).is_some());
}

#[tokio::test(start_paused = true)]
async fn a_deleted_topics_offsets_are_forgotten() {
    let h = harness(DELAY);
    let offset = |topic: &str| PartitionOffset {
        topic: topic.into(),
        partition: 0,
        offset: 4,
        leader_epoch: -1,
        metadata: String::new(),
    };
    h.c.commit_offsets("a", &[offset("gone"), offset("kept")])
        .unwrap();
    h.c.commit_offsets("b", &[offset("gone")]).unwrap();
    assert_eq!(h.c.delete_topic_offsets("gone"), 2);
    assert!(h.c.committed_offset("a", "gone", 0).is_none());
    assert!(h.c.committed_offset("a", "kept", 0).is_some());
    assert!(
        h.c.describe_group("b").is_none(),
        "b held only offsets of the topic"
    );
    let reopened = open_coordinator(h.dir.path(), DELAY);
    assert!(reopened.committed_offset("a", "gone", 0).is_none());
    assert!(reopened.committed_offset("b", "gone", 0).is_none());
}

// ----- The consumer group protocol (KIP-848) beside classic groups -----------------------

fn kip848_topics() -> TopicsSnapshot {
    TopicsSnapshot::from([(
        "t".to_string(),
        TopicMeta {
            id: uuid::Uuid::from_u128(42),
            partitions: 2,
        },
    )])
}

fn kip848_join(group: &str, member: &str) -> ConsumerHeartbeat {
    ConsumerHeartbeat {
        group_id: group.into(),
        member_id: member.into(),
        member_epoch: 0,
        rebalance_timeout_ms: 30_000,
        subscribed_topic_names: Some(vec!["t".into()]),
        owned: Some(Default::default()),
        ..ConsumerHeartbeat::default()
    }
}

#[tokio::test(start_paused = true)]
async fn consumer_groups_and_classic_groups_keep_to_their_protocol() {
    let h = harness(DELAY);
    // A classic group with a member refuses consumer-protocol members, and the reverse.
    stable_group(&h, "classic", 1).await;
    let r =
        h.c.consumer_heartbeat(&kip848_join("classic", "m"), &kip848_topics());
    assert_eq!(r.error, code(ResponseError::GroupIdNotFound));
    let r =
        h.c.consumer_heartbeat(&kip848_join("new", "m"), &kip848_topics());
    assert_eq!((r.error, r.member_epoch), (0, 1));
    let mut classic_join = request("new", "", RANGE);
    classic_join.require_known_member_id = false;
    let joined = h.c.join_group(classic_join.clone()).await;
    assert_eq!(joined.error, code(ResponseError::InconsistentGroupProtocol));
    // Listed with its type and state; DescribeGroups does not describe it.
    let listed = h.c.list_groups(&[]);
    let new = listed.iter().find(|l| l.group_id == "new").unwrap();
    assert_eq!(
        (new.group_type, new.state, new.protocol_type.as_str()),
        ("consumer", "Stable", "consumer")
    );
    assert!(h.c.describe_group("new").is_none());
    assert!(h.c.describe_consumer_group("classic").is_err());
    assert_eq!(
        h.c.describe_consumer_group("new")
            .unwrap()
            .unwrap()
            .members
            .len(),
        1
    );
    // Commits need the member's epoch.
    let offset = |o: i64| PartitionOffset {
        topic: "t".into(),
        partition: 0,
        offset: o,
        leader_epoch: -1,
        metadata: String::new(),
    };
    let stale = h.c.commit_member_offsets(
        "new",
        "m",
        None,
        0,
        &[offset(5)],
        ResponseError::GroupIdNotFound,
    );
    assert_eq!(stale, vec![code(ResponseError::StaleMemberEpoch)]);
    let ok = h.c.commit_member_offsets(
        "new",
        "m",
        None,
        1,
        &[offset(5)],
        ResponseError::GroupIdNotFound,
    );
    assert_eq!(ok, vec![0]);
    assert_eq!(h.c.validate_offset_fetch("new", "m", 1), 0);
    // OffsetDelete keeps the offsets of topics the members subscribe to.
    assert_eq!(
        h.c.delete_offsets("new", &[("t".to_string(), 0), ("other".to_string(), 0)]),
        Ok(vec![code(ResponseError::GroupSubscribedToTopic), 0])
    );
    assert_eq!(h.c.delete_group("new"), code(ResponseError::NonEmptyGroup));
    // Once it is empty, a classic member may take the group over (its offsets stay).
    let mut leave = kip848_join("new", "m");
    leave.member_epoch = -1;
    assert_eq!(h.c.consumer_heartbeat(&leave, &kip848_topics()).error, 0);
    let classic = spawn_join(&h.c, classic_join);
    tokio::time::sleep(DELAY * 2).await;
    assert_eq!(classic.await.unwrap().error, 0);
    assert!(!h.c.is_consumer_group("new"));
    assert_eq!(h.c.committed_offset("new", "t", 0).unwrap().offset, 5);
}

#[tokio::test(start_paused = true)]
async fn a_consumer_group_and_its_epoch_survive_a_reopen() {
    let h = harness(DELAY);
    let r =
        h.c.consumer_heartbeat(&kip848_join("cg", "m"), &kip848_topics());
    assert_eq!(r.member_epoch, 1);
    let r =
        h.c.consumer_heartbeat(&kip848_join("cg", "n"), &kip848_topics());
    assert_eq!(r.member_epoch, 2);
    h.c.commit_offsets(
        "cg",
        &[PartitionOffset {
            topic: "t".into(),
            partition: 1,
            offset: 9,
            leader_epoch: -1,
            metadata: String::new(),
        }],
    )
    .unwrap();
    // An empty consumer group that never committed is forgotten, tombstone and all.
    h.c.consumer_heartbeat(&kip848_join("gone", "x"), &kip848_topics());
    let mut leave = kip848_join("gone", "x");
    leave.member_epoch = -1;
    h.c.consumer_heartbeat(&leave, &kip848_topics());

    // A classic group with a generation and offsets turns into a consumer group once
    // empty; after a reopen it is a consumer group with its offsets.
    let (ids, generation) = stable_group(&h, "turned", 1).await;
    h.c.commit_member_offsets(
        "turned",
        &ids[0],
        None,
        generation,
        &[PartitionOffset {
            topic: "t".into(),
            partition: 0,
            offset: 3,
            leader_epoch: -1,
            metadata: String::new(),
        }],
        ResponseError::IllegalGeneration,
    );
    assert_eq!(
        h.c.leave_group("turned", &[(ids[0].clone(), None)]),
        Ok(vec![0])
    );
    let r =
        h.c.consumer_heartbeat(&kip848_join("turned", "m"), &kip848_topics());
    assert_eq!(r.error, 0);
    assert!(
        r.member_epoch > generation,
        "the epoch continues the generation"
    );

    let reopened = open_coordinator(h.dir.path(), DELAY);
    assert!(reopened.is_consumer_group("turned"));
    assert_eq!(
        reopened.committed_offset("turned", "t", 0).unwrap().offset,
        3
    );
    assert!(reopened.is_consumer_group("cg"));
    assert!(!reopened.is_consumer_group("gone"));
    let d = reopened.describe_consumer_group("cg").unwrap().unwrap();
    assert_eq!(
        (d.epoch, d.members.len()),
        (2, 0),
        "members rejoin; the epoch continues"
    );
    assert_eq!(reopened.committed_offset("cg", "t", 1).unwrap().offset, 9);
    // A member of the old incarnation must rejoin; its rejoin moves the epoch on.
    let mut old = kip848_join("cg", "m");
    old.member_epoch = 1;
    assert_eq!(
        reopened.consumer_heartbeat(&old, &kip848_topics()).error,
        code(ResponseError::UnknownMemberId)
    );
    let r = reopened.consumer_heartbeat(&kip848_join("cg", "m"), &kip848_topics());
    assert_eq!(r.member_epoch, 3);
}

#[tokio::test(start_paused = true)]
async fn the_timer_fences_a_silent_consumer_group_member() {
    let h = harness(DELAY);
    h.c.consumer_heartbeat(&kip848_join("cg", "m"), &kip848_topics());
    let session = h.c.config().consumer_session_timeout;
    tokio::time::sleep(session - Duration::from_millis(100)).await;
    assert_eq!(
        h.c.describe_consumer_group("cg")
            .unwrap()
            .unwrap()
            .members
            .len(),
        1
    );
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(
        h.c.describe_consumer_group("cg").unwrap().is_none(),
        "the member expired, and the empty group without offsets went with it"
    );
}
