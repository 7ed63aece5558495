//! The coordinator's state machine, against real partition logs.

use super::*;
use crate::config::TopicConfig;
use crate::log::batch::tests::make_producer_batch;
use crate::log::Isolation;

fn registry(dir: &Path) -> TopicRegistry {
    let reg = TopicRegistry::open(dir, TopicConfig::default(), FlushPolicy::Never).unwrap();
    if reg.get("t").is_none() {
        reg.create("t", 2, &[]).unwrap();
    }
    reg
}

fn coordinator(dir: &Path) -> TransactionCoordinator {
    TransactionCoordinator::open(dir, FlushPolicy::Never, 900_000).unwrap()
}

fn parts(ps: &[i32]) -> Vec<(String, i32)> {
    ps.iter().map(|&p| ("t".to_string(), p)).collect()
}

/// A transactional produce through the coordinator's check, as the handler does it.
fn produce(
    c: &TransactionCoordinator,
    reg: &TopicRegistry,
    pid: i64,
    epoch: i16,
    p: i32,
    seq: i32,
) -> TxnResult<i64> {
    let log = reg.get("t").unwrap().partition(p).unwrap().clone();
    c.verify_produce(pid, epoch, "t", p, || {
        log.append(&mut make_producer_batch(&[1], pid, epoch, seq, true))
    })?
    .map(|i| i.base_offset)
    .map_err(|e| match e {
        crate::error::Error::Producer { .. } => ResponseError::InvalidProducerEpoch,
        _ => ResponseError::KafkaStorageError,
    })
}

fn lso(reg: &TopicRegistry, p: i32) -> i64 {
    reg.get("t")
        .unwrap()
        .partition(p)
        .unwrap()
        .last_stable_offset()
}

#[test]
fn producer_ids_are_never_reused_across_restarts() {
    let dir = tempfile::tempdir().unwrap();
    let reg = registry(dir.path());
    let c = coordinator(dir.path());
    let (a, ea) = c.init_producer_id(None, 0, (-1, -1), &reg).unwrap();
    let (b, _) = c.init_producer_id(None, 0, (-1, -1), &reg).unwrap();
    assert_eq!(ea, 0);
    assert!(b > a);
    drop(c);
    let c = coordinator(dir.path());
    let (d, _) = c.init_producer_id(None, 0, (-1, -1), &reg).unwrap();
    assert!(d > b, "{d} after {b}");
}

#[test]
fn a_second_registration_fences_the_first() {
    let dir = tempfile::tempdir().unwrap();
    let reg = registry(dir.path());
    let c = coordinator(dir.path());
    let (pid, e0) = c
        .init_producer_id(Some("app"), 60_000, (-1, -1), &reg)
        .unwrap();
    c.add_partitions("app", pid, e0, &parts(&[0])).unwrap();
    assert_eq!(produce(&c, &reg, pid, e0, 0, 0), Ok(0));
    assert_eq!(
        lso(&reg, 0),
        0,
        "the open transaction holds the stable offset"
    );

    // Same transactional id: same producer id, higher epoch; the open transaction is
    // aborted with a marker that fences the old epoch in the partition.
    let (pid2, e1) = c
        .init_producer_id(Some("app"), 60_000, (-1, -1), &reg)
        .unwrap();
    assert_eq!(pid2, pid);
    assert!(e1 > e0);
    assert_eq!(lso(&reg, 0), 2, "data and abort marker are stable");
    assert_eq!(
        c.add_partitions("app", pid, e0, &parts(&[1])),
        Err(ResponseError::ProducerFenced)
    );
    assert_eq!(
        c.end_txn("app", pid, e0, true, &reg),
        Err(ResponseError::ProducerFenced)
    );
    assert_eq!(
        produce(&c, &reg, pid, e0, 0, 1),
        Err(ResponseError::InvalidProducerEpoch)
    );
    let log = reg.get("t").unwrap().partition(0).unwrap().clone();
    let r = log
        .read_isolated_into(
            0,
            1 << 20,
            &mut Default::default(),
            Isolation::ReadCommitted,
        )
        .unwrap();
    assert_eq!(r.aborted.len(), 1, "the zombie's data is listed as aborted");
    // A client that presents a stale producer id and epoch is fenced too (KIP-360).
    assert_eq!(
        c.init_producer_id(Some("app"), 60_000, (pid, e0), &reg),
        Err(ResponseError::ProducerFenced)
    );
    assert_eq!(
        c.add_partitions("other", pid, e1, &parts(&[1])),
        Err(ResponseError::InvalidProducerIdMapping)
    );
}

#[test]
fn commit_and_abort_write_markers_to_every_partition() {
    let dir = tempfile::tempdir().unwrap();
    let reg = registry(dir.path());
    let c = coordinator(dir.path());
    let (pid, e) = c
        .init_producer_id(Some("app"), 60_000, (-1, -1), &reg)
        .unwrap();
    assert_eq!(
        c.end_txn("app", pid, e, true, &reg),
        Err(ResponseError::InvalidTxnState),
        "nothing to commit"
    );
    // A partition not added to the transaction refuses transactional data.
    assert_eq!(
        produce(&c, &reg, pid, e, 1, 0),
        Err(ResponseError::InvalidTxnState)
    );
    c.add_partitions("app", pid, e, &parts(&[0, 1])).unwrap();
    produce(&c, &reg, pid, e, 0, 0).unwrap();
    produce(&c, &reg, pid, e, 1, 0).unwrap();
    assert_eq!((lso(&reg, 0), lso(&reg, 1)), (0, 0));
    c.end_txn("app", pid, e, true, &reg).unwrap();
    assert_eq!(
        (lso(&reg, 0), lso(&reg, 1)),
        (2, 2),
        "commit markers at offset 1"
    );
    assert_eq!(c.describe("app").unwrap().state, TxnState::CompleteCommit);
    assert_eq!(
        c.end_txn("app", pid, e, true, &reg),
        Ok(()),
        "a retry succeeds"
    );
    assert_eq!(
        c.end_txn("app", pid, e, false, &reg),
        Err(ResponseError::InvalidTxnState)
    );
    // The next transaction continues the sequence and aborts.
    c.add_partitions("app", pid, e, &parts(&[0])).unwrap();
    produce(&c, &reg, pid, e, 0, 1).unwrap();
    c.end_txn("app", pid, e, false, &reg).unwrap();
    assert_eq!(lso(&reg, 0), 4);
    assert_eq!(
        lso(&reg, 1),
        2,
        "partition 1 was not in the aborted transaction"
    );
    let log = reg.get("t").unwrap().partition(0).unwrap().clone();
    let r = log
        .read_isolated_into(
            0,
            1 << 20,
            &mut Default::default(),
            Isolation::ReadCommitted,
        )
        .unwrap();
    assert_eq!(r.aborted.len(), 1);
    assert_eq!(
        (r.aborted[0].first_offset, r.aborted[0].last_offset),
        (2, 3)
    );
}

#[test]
fn expired_transactions_are_aborted_and_their_producer_fenced() {
    let dir = tempfile::tempdir().unwrap();
    let reg = registry(dir.path());
    let c = coordinator(dir.path());
    let (pid, e) = c
        .init_producer_id(Some("slow"), 1_000, (-1, -1), &reg)
        .unwrap();
    c.add_partitions("slow", pid, e, &parts(&[0])).unwrap();
    produce(&c, &reg, pid, e, 0, 0).unwrap();
    assert_eq!(c.abort_expired(now_ms(), &reg), 0, "not yet expired");
    assert_eq!(c.abort_expired(now_ms() + 5_000, &reg), 1);
    assert_eq!(lso(&reg, 0), 2);
    let m = c.describe("slow").unwrap();
    assert_eq!(m.state, TxnState::CompleteAbort);
    assert_eq!(m.producer_epoch, e + 1);
    assert_eq!(
        c.end_txn("slow", pid, e, true, &reg),
        Err(ResponseError::ProducerFenced)
    );
    assert_eq!(
        c.init_producer_id(Some("x"), 1_000_000, (-1, -1), &reg),
        Err(ResponseError::InvalidTransactionTimeout)
    );
}

#[test]
fn state_survives_a_restart_and_open_transactions_are_resolved() {
    let dir = tempfile::tempdir().unwrap();
    let reg = registry(dir.path());
    let c = coordinator(dir.path());
    let (pid, e) = c
        .init_producer_id(Some("open"), 60_000, (-1, -1), &reg)
        .unwrap();
    c.add_partitions("open", pid, e, &parts(&[0])).unwrap();
    produce(&c, &reg, pid, e, 0, 0).unwrap();
    let (pid2, e2) = c
        .init_producer_id(Some("decided"), 60_000, (-1, -1), &reg)
        .unwrap();
    c.add_partitions("decided", pid2, e2, &parts(&[1])).unwrap();
    produce(&c, &reg, pid2, e2, 1, 0).unwrap();
    // Simulate a crash after the commit decision, before any marker was written.
    {
        let mut inner = c.lock();
        inner
            .prepare("decided", ControlType::Commit, false)
            .unwrap();
    }
    drop(c);
    drop(reg);

    let reg = registry(dir.path());
    assert_eq!(
        (lso(&reg, 0), lso(&reg, 1)),
        (0, 0),
        "both open in the logs"
    );
    let c = coordinator(dir.path());
    assert_eq!(c.recover(&reg).unwrap(), 2);
    assert_eq!((lso(&reg, 0), lso(&reg, 1)), (2, 2));
    let open = c.describe("open").unwrap();
    assert_eq!(open.state, TxnState::CompleteAbort);
    assert_eq!((open.producer_id, open.producer_epoch), (pid, e + 1));
    assert_eq!(
        c.describe("decided").unwrap().state,
        TxnState::CompleteCommit
    );
    let log = reg.get("t").unwrap().partition(1).unwrap().clone();
    let r = log
        .read_isolated_into(
            0,
            1 << 20,
            &mut Default::default(),
            Isolation::ReadCommitted,
        )
        .unwrap();
    assert!(r.aborted.is_empty(), "the decided transaction committed");
    // The registration itself persisted: same producer id, next epoch.
    let (again, e3) = c
        .init_producer_id(Some("open"), 60_000, (-1, -1), &reg)
        .unwrap();
    assert_eq!((again, e3), (pid, e + 2));
}

#[test]
fn transactional_offsets_are_buffered_until_commit() {
    #[derive(Debug, Default)]
    struct Recorder(Mutex<Vec<(String, Vec<PendingOffset>)>>, Mutex<Vec<String>>);
    impl OffsetSink for Recorder {
        fn commit_offsets(&self, group_id: &str, offsets: &[PendingOffset]) -> Result<()> {
            self.0
                .lock()
                .unwrap()
                .push((group_id.to_string(), offsets.to_vec()));
            Ok(())
        }
        fn hold_offsets(&self, group_id: &str, _: i64, partitions: &[(String, i32)]) {
            self.1
                .lock()
                .unwrap()
                .push(format!("hold {group_id} {partitions:?}"));
        }
        fn release_offsets(&self, group_id: &str, _: i64) {
            self.1.lock().unwrap().push(format!("release {group_id}"));
        }
    }
    let dir = tempfile::tempdir().unwrap();
    let reg = registry(dir.path());
    let c = coordinator(dir.path());
    let sink = Arc::new(Recorder::default());
    c.set_offset_sink(sink.clone());
    let (pid, e) = c
        .init_producer_id(Some("eos"), 60_000, (-1, -1), &reg)
        .unwrap();
    let offset = |o| PendingOffset {
        topic: "in".into(),
        partition: 0,
        offset: o,
        leader_epoch: -1,
        metadata: None,
    };
    assert_eq!(
        c.txn_offset_commit("eos", "g", pid, e, vec![offset(1)]),
        Err(ResponseError::InvalidTxnState),
        "the group was not added"
    );
    c.add_offsets("eos", pid, e, "g").unwrap();
    c.txn_offset_commit("eos", "g", pid, e, vec![offset(5)])
        .unwrap();
    c.end_txn("eos", pid, e, false, &reg).unwrap();
    assert!(
        sink.0.lock().unwrap().is_empty(),
        "aborted: nothing committed"
    );
    c.add_offsets("eos", pid, e, "g").unwrap();
    c.txn_offset_commit("eos", "g", pid, e, vec![offset(7)])
        .unwrap();
    c.txn_offset_commit("eos", "g", pid, e, vec![offset(9)])
        .unwrap();
    c.end_txn("eos", pid, e, true, &reg).unwrap();
    assert_eq!(
        *sink.0.lock().unwrap(),
        vec![("g".to_string(), vec![offset(9)])]
    );
    // Each buffered commit holds its partitions until the transaction ends, either way.
    let hold = r#"hold g [("in", 0)]"#.to_string();
    assert_eq!(
        *sink.1.lock().unwrap(),
        [
            hold.clone(),
            "release g".to_string(),
            hold.clone(),
            hold,
            "release g".to_string()
        ]
    );
}
