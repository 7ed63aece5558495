//! Server-side partition assignors of the consumer group protocol (KIP-848): `uniform`
//! and `range`, like Kafka's `UniformAssignor` and `RangeAssignor` in its group
//! coordinator.
//!
//! With the new protocol the coordinator, not a client leader, computes the group's
//! target assignment whenever the group epoch moves (a member joins, leaves or changes
//! its subscription, or a subscribed topic gains partitions). Both assignors are sticky:
//! a member keeps what it has as far as balance allows, so a rebalance moves few
//! partitions and members keep consuming what is not moved.
//!
//! - `uniform` (the default) spreads all subscribed partitions so that member loads
//!   differ by at most one partition where subscriptions allow it;
//! - `range` gives each member of a topic a contiguous range of that topic's partitions,
//!   so co-partitioned topics land together (joins), also sticky.

use std::collections::{BTreeMap, BTreeSet};

use uuid::Uuid;

/// Partitions by topic id: one member's assignment.
pub(crate) type Assignment = BTreeMap<Uuid, BTreeSet<i32>>;

/// What an assignor knows of a member: its subscription (topic ids that exist) and the
/// assignment it currently has as target.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct MemberSpec {
    /// Subscribed topic ids (only topics that exist).
    pub subscribed: BTreeSet<Uuid>,
    /// The member's current target assignment.
    pub current: Assignment,
}

/// The assignors the coordinator offers (`group.consumer.assignors`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ServerAssignor {
    /// Kafka's `uniform`.
    Uniform,
    /// Kafka's `range`.
    Range,
}

impl ServerAssignor {
    /// The assignor called `name`, if there is one.
    pub(crate) fn from_name(name: &str) -> Option<ServerAssignor> {
        match name {
            "uniform" => Some(ServerAssignor::Uniform),
            "range" => Some(ServerAssignor::Range),
            _ => None,
        }
    }

    /// The assignor's name as clients select it (`group.remote.assignor`).
    pub(crate) fn name(self) -> &'static str {
        match self {
            ServerAssignor::Uniform => "uniform",
            ServerAssignor::Range => "range",
        }
    }

    /// The target assignment of `members` over `topics` (topic id → partition count).
    /// Members that get nothing are absent from the result.
    pub(crate) fn assign(
        self,
        members: &BTreeMap<String, MemberSpec>,
        topics: &BTreeMap<Uuid, i32>,
    ) -> BTreeMap<String, Assignment> {
        let mut out = match self {
            ServerAssignor::Uniform => uniform(members, topics),
            ServerAssignor::Range => range(members, topics),
        };
        out.retain(|_, a| {
            a.retain(|_, ps| !ps.is_empty());
            !a.is_empty()
        });
        out
    }
}

/// Members subscribed to each topic, in member id order.
fn members_per_topic<'a>(
    members: &'a BTreeMap<String, MemberSpec>,
    topics: &BTreeMap<Uuid, i32>,
) -> BTreeMap<Uuid, Vec<&'a str>> {
    let mut per_topic: BTreeMap<Uuid, Vec<&str>> = BTreeMap::new();
    for (id, spec) in members {
        for t in spec.subscribed.iter().filter(|t| topics.contains_key(t)) {
            per_topic.entry(*t).or_default().push(id.as_str());
        }
    }
    per_topic
}

/// The sticky range assignor. Per topic with `n` partitions and `m` subscribed members,
/// every member is owed `n / m` partitions and the first `n % m` members to claim it one
/// more. Members first keep their lowest current partitions up to what they are owed
/// (one more if they had more and extras are left); the partitions left over are then
/// handed out in ascending ranges to the members still owed some, in member id order.
fn range(
    members: &BTreeMap<String, MemberSpec>,
    topics: &BTreeMap<Uuid, i32>,
) -> BTreeMap<String, Assignment> {
    let mut out: BTreeMap<String, Assignment> = BTreeMap::new();
    for (topic, subscribers) in members_per_topic(members, topics) {
        let partitions = topics.get(&topic).copied().unwrap_or(0).max(0);
        let count = i32::try_from(subscribers.len()).unwrap_or(i32::MAX);
        let quota = partitions / count;
        let mut extras = partitions % count;
        let mut kept: BTreeSet<i32> = BTreeSet::new();
        // (member, partitions still owed before extras)
        let mut unfilled: Vec<(&str, i32)> = Vec::new();
        for member in subscribers {
            let current: Vec<i32> = members
                .get(member)
                .and_then(|m| m.current.get(&topic))
                .map(|ps| ps.iter().copied().filter(|p| *p < partitions).collect())
                .unwrap_or_default();
            let have = i32::try_from(current.len()).unwrap_or(i32::MAX);
            let keep = have.min(quota) as usize;
            let mine = out
                .entry(member.to_string())
                .or_default()
                .entry(topic)
                .or_default();
            for p in &current[..keep] {
                kept.insert(*p);
                mine.insert(*p);
            }
            if have > quota && extras > 0 {
                // The member keeps one extra partition too.
                extras -= 1;
                let p = current[quota as usize];
                kept.insert(p);
                mine.insert(p);
            } else {
                unfilled.push((member, quota - have));
            }
        }
        let mut free = (0..partitions).filter(|p| !kept.contains(p));
        for (member, mut owed) in unfilled {
            if extras > 0 {
                owed += 1;
                extras -= 1;
            }
            let mine = out
                .entry(member.to_string())
                .or_default()
                .entry(topic)
                .or_default();
            for _ in 0..owed.max(0) {
                match free.next() {
                    Some(p) => {
                        mine.insert(p);
                    }
                    None => break,
                }
            }
        }
    }
    out
}

/// The uniform assignor: sticky and balanced across all subscribed partitions.
///
/// 1. Every member keeps the partitions it has that still exist and that it still
///    subscribes to, dropping what exceeds its fair share (members are owed `total / m`
///    each and `total % m` of them one more, members that keep the most claiming the
///    extras first). With different subscriptions the share is an upper bound only, and
///    a member keeps the partitions fewest others could take first.
/// 2. Partitions without an owner go, one by one, to the subscribed member with the
///    fewest partitions: partitions of topics with the fewest subscribers first (they
///    have the fewest places to go), ties to the member with the fewest subscriptions
///    (it has the fewest other partitions to get), then member id order.
/// 3. With different subscriptions, partitions then move from the most to the least
///    loaded eligible member while loads differ by more than one.
fn uniform(
    members: &BTreeMap<String, MemberSpec>,
    topics: &BTreeMap<Uuid, i32>,
) -> BTreeMap<String, Assignment> {
    if members.is_empty() {
        return BTreeMap::new();
    }
    let eligible = |member: &str, topic: &Uuid| {
        topics.contains_key(topic)
            && members
                .get(member)
                .is_some_and(|m| m.subscribed.contains(topic))
    };
    // Every partition some member subscribes to.
    let per_topic = members_per_topic(members, topics);
    let all: Vec<(Uuid, i32)> = per_topic
        .keys()
        .flat_map(|t| (0..topics.get(t).copied().unwrap_or(0)).map(move |p| (*t, p)))
        .collect();
    let subscribers = members
        .values()
        .filter(|m| !m.subscribed.is_empty())
        .count();
    let topic_subscribers = |t: &Uuid| per_topic.get(t).map_or(0, Vec::len);
    let subscriptions = |m: &str| members.get(m).map_or(0, |m| m.subscribed.len());
    let base = all.len().checked_div(subscribers).unwrap_or(0);
    let mut extras = all.len().checked_rem(subscribers).unwrap_or(0);
    // Step 1: what each member keeps, most-keeping members first to claim extras.
    let mut valid: Vec<(&str, Vec<(Uuid, i32)>)> = members
        .iter()
        .map(|(id, m)| {
            let mut keep: Vec<(Uuid, i32)> = m
                .current
                .iter()
                .filter(|(t, _)| eligible(id, t))
                .flat_map(|(t, ps)| {
                    let n = topics.get(t).copied().unwrap_or(0);
                    ps.iter().filter(move |p| **p < n).map(move |p| (*t, *p))
                })
                .collect();
            // Stable: topic and partition order among topics as widely subscribed.
            keep.sort_by_key(|(t, _)| topic_subscribers(t));
            (id.as_str(), keep)
        })
        .collect();
    valid.sort_by(|a, b| b.1.len().cmp(&a.1.len()).then(a.0.cmp(b.0)));
    let mut out: BTreeMap<String, Vec<(Uuid, i32)>> =
        members.keys().map(|m| (m.clone(), Vec::new())).collect();
    let mut owner: BTreeMap<(Uuid, i32), String> = BTreeMap::new();
    for (member, keep) in valid {
        let mut share = base;
        if keep.len() > base && extras > 0 {
            share += 1;
            extras -= 1;
        }
        let mine = out.entry(member.to_string()).or_default();
        for tp in keep.into_iter().take(share) {
            if owner.contains_key(&tp) {
                continue; // two members claimed it (should not happen): first one wins
            }
            owner.insert(tp, member.to_string());
            mine.push(tp);
        }
    }
    // Step 2: hand out what has no owner to the least loaded eligible member.
    let mut unowned: Vec<(Uuid, i32)> = all
        .iter()
        .filter(|tp| !owner.contains_key(*tp))
        .copied()
        .collect();
    unowned.sort_by_key(|(t, _)| topic_subscribers(t));
    for tp in &unowned {
        let target = out
            .iter()
            .filter(|(m, _)| eligible(m, &tp.0))
            .min_by(|a, b| {
                a.1.len()
                    .cmp(&b.1.len())
                    .then(subscriptions(a.0).cmp(&subscriptions(b.0)))
                    .then(a.0.cmp(b.0))
            })
            .map(|(m, _)| m.clone());
        if let Some(m) = target {
            owner.insert(*tp, m.clone());
            out.entry(m).or_default().push(*tp);
        }
    }
    // Step 3: even out loads that different subscriptions made uneven (with identical
    // ones, steps 1 and 2 are balanced already). Each move lowers the sum of squared
    // loads, so this ends.
    let first = members.values().next().map(|m| &m.subscribed);
    let mut balancing = !members.values().all(|m| Some(&m.subscribed) == first);
    while balancing {
        let mut moved = false;
        let order: Vec<String> = {
            let mut v: Vec<(&String, usize)> = out.iter().map(|(m, a)| (m, a.len())).collect();
            v.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
            v.into_iter().map(|(m, _)| m.clone()).collect()
        };
        'outer: for from in &order {
            let from_len = out.get(from).map_or(0, Vec::len);
            let candidates: Vec<(Uuid, i32)> = out.get(from).cloned().unwrap_or_default();
            for tp in candidates.iter().rev() {
                let to = out
                    .iter()
                    .filter(|(m, a)| *m != from && a.len() + 1 < from_len && eligible(m, &tp.0))
                    .min_by(|a, b| a.1.len().cmp(&b.1.len()).then(a.0.cmp(b.0)))
                    .map(|(m, _)| m.clone());
                if let Some(to) = to {
                    if let Some(a) = out.get_mut(from) {
                        a.retain(|x| x != tp);
                    }
                    out.entry(to).or_default().push(*tp);
                    moved = true;
                    break 'outer;
                }
            }
        }
        balancing = moved;
    }
    out.into_iter()
        .map(|(m, tps)| {
            let mut a = Assignment::new();
            for (t, p) in tps {
                a.entry(t).or_default().insert(p);
            }
            (m, a)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn topic(n: u128) -> Uuid {
        Uuid::from_u128(n)
    }

    fn spec(subscribed: &[Uuid], current: &[(Uuid, &[i32])]) -> MemberSpec {
        MemberSpec {
            subscribed: subscribed.iter().copied().collect(),
            current: current
                .iter()
                .map(|(t, ps)| (*t, ps.iter().copied().collect()))
                .collect(),
        }
    }

    fn assignment(parts: &[(Uuid, &[i32])]) -> Assignment {
        parts
            .iter()
            .map(|(t, ps)| (*t, ps.iter().copied().collect()))
            .collect()
    }

    /// Every subscribed partition is assigned exactly once, only to a subscriber.
    fn assert_valid(
        members: &BTreeMap<String, MemberSpec>,
        topics: &BTreeMap<Uuid, i32>,
        result: &BTreeMap<String, Assignment>,
    ) {
        let mut seen = BTreeSet::new();
        for (m, a) in result {
            for (t, ps) in a {
                assert!(
                    members[m].subscribed.contains(t),
                    "{m} not subscribed to {t}"
                );
                for p in ps {
                    assert!(*p < topics[t]);
                    assert!(seen.insert((*t, *p)), "{t}-{p} assigned twice");
                }
            }
        }
        let wanted: usize = topics
            .iter()
            .filter(|(t, _)| members.values().any(|m| m.subscribed.contains(t)))
            .map(|(_, n)| *n as usize)
            .sum();
        assert_eq!(seen.len(), wanted, "every subscribed partition is assigned");
    }

    fn loads(result: &BTreeMap<String, Assignment>) -> Vec<usize> {
        result
            .values()
            .map(|a| a.values().map(BTreeSet::len).sum())
            .collect()
    }

    // ----- RangeAssignorTest (Kafka's group coordinator), ported ------------------------

    #[test]
    fn range_first_assignment_two_consumers_two_topics_same_subscriptions() {
        // testFirstAssignmentTwoConsumersTwoTopicsSameSubscriptions
        let (t1, t3) = (topic(1), topic(3));
        let topics = BTreeMap::from([(t1, 3), (t3, 2)]);
        let members = BTreeMap::from([
            ("A".to_string(), spec(&[t1, t3], &[])),
            ("B".to_string(), spec(&[t1, t3], &[])),
        ]);
        let r = ServerAssignor::Range.assign(&members, &topics);
        assert_eq!(r["A"], assignment(&[(t1, &[0, 1]), (t3, &[0])]));
        assert_eq!(r["B"], assignment(&[(t1, &[2]), (t3, &[1])]));
    }

    #[test]
    fn range_first_assignment_three_consumers_three_topics_different_subscriptions() {
        // testFirstAssignmentThreeConsumersThreeTopicsDifferentSubscriptions
        let (t1, t2, t3) = (topic(1), topic(2), topic(3));
        let topics = BTreeMap::from([(t1, 3), (t2, 3), (t3, 2)]);
        let members = BTreeMap::from([
            ("A".to_string(), spec(&[t1, t2], &[])),
            ("B".to_string(), spec(&[t3], &[])),
            ("C".to_string(), spec(&[t2, t3], &[])),
        ]);
        let r = ServerAssignor::Range.assign(&members, &topics);
        assert_eq!(r["A"], assignment(&[(t1, &[0, 1, 2]), (t2, &[0, 1])]));
        assert_eq!(r["B"], assignment(&[(t3, &[0])]));
        assert_eq!(r["C"], assignment(&[(t2, &[2]), (t3, &[1])]));
    }

    #[test]
    fn range_first_assignment_more_consumers_than_partitions() {
        // testFirstAssignmentNumConsumersGreaterThanNumPartitions
        let (t1, t3) = (topic(1), topic(3));
        let topics = BTreeMap::from([(t1, 3), (t3, 2)]);
        let members: BTreeMap<String, MemberSpec> = ["A", "B", "C"]
            .iter()
            .map(|m| (m.to_string(), spec(&[t1, t3], &[])))
            .collect();
        let r = ServerAssignor::Range.assign(&members, &topics);
        assert_eq!(r["A"], assignment(&[(t1, &[0]), (t3, &[0])]));
        assert_eq!(r["B"], assignment(&[(t1, &[1]), (t3, &[1])]));
        assert_eq!(r["C"], assignment(&[(t1, &[2])]));
    }

    #[test]
    fn range_reassignment_more_consumers_than_partitions_when_one_added() {
        // testReassignmentNumConsumersGreaterThanNumPartitionsWhenOneConsumerAdded
        let (t1, t2) = (topic(1), topic(2));
        let topics = BTreeMap::from([(t1, 2), (t2, 2)]);
        let members = BTreeMap::from([
            ("A".to_string(), spec(&[t1, t2], &[(t1, &[0]), (t2, &[0])])),
            ("B".to_string(), spec(&[t1, t2], &[(t1, &[1]), (t2, &[1])])),
            ("C".to_string(), spec(&[t1, t2], &[])),
        ]);
        let r = ServerAssignor::Range.assign(&members, &topics);
        assert_eq!(r["A"], assignment(&[(t1, &[0]), (t2, &[0])]));
        assert_eq!(r["B"], assignment(&[(t1, &[1]), (t2, &[1])]));
        assert!(!r.contains_key("C"), "stickiness: C gets nothing");
    }

    #[test]
    fn range_reassignment_when_one_partition_added() {
        // testReassignmentWhenOnePartitionAddedForTwoConsumersTwoTopics
        let (t1, t2) = (topic(1), topic(2));
        let topics = BTreeMap::from([(t1, 4), (t2, 4)]);
        let members = BTreeMap::from([
            (
                "A".to_string(),
                spec(&[t1, t2], &[(t1, &[0, 1]), (t2, &[0, 1])]),
            ),
            ("B".to_string(), spec(&[t1, t2], &[(t1, &[2]), (t2, &[2])])),
        ]);
        let r = ServerAssignor::Range.assign(&members, &topics);
        assert_eq!(r["A"], assignment(&[(t1, &[0, 1]), (t2, &[0, 1])]));
        assert_eq!(r["B"], assignment(&[(t1, &[2, 3]), (t2, &[2, 3])]));
    }

    #[test]
    fn range_reassignment_when_one_consumer_added() {
        // testReassignmentWhenOneConsumerAddedAfterInitialAssignmentWithTwoConsumersTwoTopics
        let (t1, t2) = (topic(1), topic(2));
        let topics = BTreeMap::from([(t1, 3), (t2, 3)]);
        let members = BTreeMap::from([
            (
                "A".to_string(),
                spec(&[t1, t2], &[(t1, &[0, 1]), (t2, &[0, 1])]),
            ),
            ("B".to_string(), spec(&[t1, t2], &[(t1, &[2]), (t2, &[2])])),
            ("C".to_string(), spec(&[t1, t2], &[])),
        ]);
        let r = ServerAssignor::Range.assign(&members, &topics);
        assert_eq!(r["A"], assignment(&[(t1, &[0]), (t2, &[0])]));
        assert_eq!(r["B"], assignment(&[(t1, &[2]), (t2, &[2])]));
        assert_eq!(r["C"], assignment(&[(t1, &[1]), (t2, &[1])]));
    }

    #[test]
    fn range_one_consumer_without_topics_gets_nothing() {
        // testOneConsumerNoTopic
        let topics = BTreeMap::from([(topic(1), 3)]);
        let members = BTreeMap::from([("A".to_string(), spec(&[], &[]))]);
        assert!(ServerAssignor::Range.assign(&members, &topics).is_empty());
    }

    // ----- OptimizedUniformAssignmentBuilderTest (Kafka's uniform assignor), ported -------
    // Kafka's `checkValidityAndBalance` is `assert_valid` plus loads within one.

    fn assert_balanced(result: &BTreeMap<String, Assignment>) {
        let l = loads(result);
        assert!(
            l.iter().max().unwrap_or(&0) - l.iter().min().unwrap_or(&0) <= 1,
            "{l:?}"
        );
    }

    #[test]
    fn uniform_first_assignment_two_members_two_topics() {
        // testFirstAssignmentTwoMembersTwoTopicsNoMemberRacks
        let (t1, t3) = (topic(1), topic(3));
        let topics = BTreeMap::from([(t1, 3), (t3, 2)]);
        let members = BTreeMap::from([
            ("A".to_string(), spec(&[t1, t3], &[])),
            ("B".to_string(), spec(&[t1, t3], &[])),
        ]);
        let r = ServerAssignor::Uniform.assign(&members, &topics);
        assert_eq!(r["A"], assignment(&[(t1, &[0, 2]), (t3, &[1])]));
        assert_eq!(r["B"], assignment(&[(t1, &[1]), (t3, &[0])]));
        assert_valid(&members, &topics, &r);
        assert_balanced(&r);
    }

    #[test]
    fn uniform_first_assignment_more_members_than_partitions() {
        // testFirstAssignmentNumMembersGreaterThanTotalNumPartitions
        let t3 = topic(3);
        let topics = BTreeMap::from([(t3, 2)]);
        let members: BTreeMap<String, MemberSpec> = ["A", "B", "C"]
            .iter()
            .map(|m| (m.to_string(), spec(&[t3], &[])))
            .collect();
        let r = ServerAssignor::Uniform.assign(&members, &topics);
        assert_eq!(r["A"], assignment(&[(t3, &[0])]));
        assert_eq!(r["B"], assignment(&[(t3, &[1])]));
        assert!(!r.contains_key("C"));
    }

    #[test]
    fn uniform_validity_and_balance_for_a_large_sample() {
        // testValidityAndBalanceForLargeSampleSet: 99 topics of 3 partitions, 49 members.
        let topics: BTreeMap<Uuid, i32> = (1..100).map(|i| (topic(i), 3)).collect();
        let all: Vec<Uuid> = topics.keys().copied().collect();
        let members: BTreeMap<String, MemberSpec> = (1..50)
            .map(|i| (format!("member{i}"), spec(&all, &[])))
            .collect();
        let r = ServerAssignor::Uniform.assign(&members, &topics);
        assert_valid(&members, &topics, &r);
        assert_balanced(&r);
    }

    #[test]
    fn uniform_reassignment_given_an_unbalanced_previous_assignment() {
        // testReassignmentForTwoMembersTwoTopicsGivenUnbalancedPrevAssignment
        let (t1, t2) = (topic(1), topic(2));
        let topics = BTreeMap::from([(t1, 3), (t2, 3)]);
        let members = BTreeMap::from([
            (
                "A".to_string(),
                spec(&[t1, t2], &[(t1, &[0, 1]), (t2, &[0, 1])]),
            ),
            ("B".to_string(), spec(&[t1, t2], &[(t1, &[2]), (t2, &[2])])),
        ]);
        let r = ServerAssignor::Uniform.assign(&members, &topics);
        assert_eq!(r["A"], assignment(&[(t1, &[0, 1]), (t2, &[0])]));
        assert_eq!(r["B"], assignment(&[(t1, &[2]), (t2, &[1, 2])]));
        assert_balanced(&r);
    }

    #[test]
    fn uniform_reassignment_when_partitions_are_added() {
        // testReassignmentWhenPartitionsAreAddedForTwoMembersTwoTopics: 3 and 3 partitions
        // grown to 6 and 5.
        let (t1, t2) = (topic(1), topic(2));
        let topics = BTreeMap::from([(t1, 6), (t2, 5)]);
        let members = BTreeMap::from([
            (
                "A".to_string(),
                spec(&[t1, t2], &[(t1, &[0, 2]), (t2, &[0])]),
            ),
            (
                "B".to_string(),
                spec(&[t1, t2], &[(t1, &[1]), (t2, &[1, 2])]),
            ),
        ]);
        let r = ServerAssignor::Uniform.assign(&members, &topics);
        assert_eq!(r["A"], assignment(&[(t1, &[0, 2, 3, 5]), (t2, &[0, 4])]));
        assert_eq!(r["B"], assignment(&[(t1, &[1, 4]), (t2, &[1, 2, 3])]));
        assert_valid(&members, &topics, &r);
        assert_balanced(&r);
    }

    #[test]
    fn uniform_reassignment_when_one_member_is_added() {
        // testReassignmentWhenOneMemberAddedAfterInitialAssignmentWithTwoMembersTwoTopics
        let (t1, t2) = (topic(1), topic(2));
        let topics = BTreeMap::from([(t1, 3), (t2, 3)]);
        let members = BTreeMap::from([
            (
                "A".to_string(),
                spec(&[t1, t2], &[(t1, &[0, 2]), (t2, &[0])]),
            ),
            (
                "B".to_string(),
                spec(&[t1, t2], &[(t1, &[1]), (t2, &[1, 2])]),
            ),
            ("C".to_string(), spec(&[t1, t2], &[])),
        ]);
        let r = ServerAssignor::Uniform.assign(&members, &topics);
        assert_eq!(r["A"], assignment(&[(t1, &[0, 2])]));
        assert_eq!(r["B"], assignment(&[(t1, &[1]), (t2, &[1])]));
        assert_eq!(r["C"], assignment(&[(t2, &[0, 2])]));
        assert_balanced(&r);
    }

    #[test]
    fn uniform_reassignment_when_one_member_is_removed() {
        // testReassignmentWhenOneMemberRemovedAfterInitialAssignmentWithThreeMembersTwoTopics
        let (t1, t2) = (topic(1), topic(2));
        let topics = BTreeMap::from([(t1, 3), (t2, 3)]);
        let members = BTreeMap::from([
            ("A".to_string(), spec(&[t1, t2], &[(t1, &[0]), (t2, &[0])])),
            ("B".to_string(), spec(&[t1, t2], &[(t1, &[1]), (t2, &[1])])),
        ]);
        let r = ServerAssignor::Uniform.assign(&members, &topics);
        assert_eq!(r["A"], assignment(&[(t1, &[0, 2]), (t2, &[0])]));
        assert_eq!(r["B"], assignment(&[(t1, &[1]), (t2, &[1, 2])]));
    }

    #[test]
    fn uniform_reassignment_when_one_subscription_is_removed() {
        // testReassignmentWhenOneSubscriptionRemovedAfterInitialAssignmentWithTwoMembersTwoTopics
        let (t1, t2) = (topic(1), topic(2));
        let topics = BTreeMap::from([(t1, 2), (t2, 2)]);
        let members = BTreeMap::from([
            ("A".to_string(), spec(&[t2], &[(t1, &[0]), (t2, &[0])])),
            ("B".to_string(), spec(&[t2], &[(t1, &[1]), (t2, &[1])])),
        ]);
        let r = ServerAssignor::Uniform.assign(&members, &topics);
        assert_eq!(r["A"], assignment(&[(t2, &[0])]));
        assert_eq!(r["B"], assignment(&[(t2, &[1])]));
    }

    // ----- UniformHeterogeneousAssignmentBuilderTest, ported -------------------------------

    #[test]
    fn uniform_heterogeneous_first_assignment_two_members_two_topics() {
        // testFirstAssignmentTwoMembersTwoTopics
        let (t1, t3) = (topic(1), topic(3));
        let topics = BTreeMap::from([(t1, 3), (t3, 6)]);
        let members = BTreeMap::from([
            ("A".to_string(), spec(&[t1, t3], &[])),
            ("B".to_string(), spec(&[t3], &[])),
        ]);
        let r = ServerAssignor::Uniform.assign(&members, &topics);
        assert_eq!(r["A"], assignment(&[(t1, &[0, 1, 2]), (t3, &[4])]));
        assert_eq!(r["B"], assignment(&[(t3, &[0, 1, 2, 3, 5])]));
    }

    #[test]
    fn uniform_heterogeneous_more_members_than_partitions() {
        // testFirstAssignmentNumMembersGreaterThanTotalNumPartitions
        let (t1, t3) = (topic(1), topic(3));
        let topics = BTreeMap::from([(t3, 1), (t1, 2)]);
        let members = BTreeMap::from([
            ("A".to_string(), spec(&[t3], &[])),
            ("B".to_string(), spec(&[t3], &[])),
            ("C".to_string(), spec(&[t1], &[])),
        ]);
        let r = ServerAssignor::Uniform.assign(&members, &topics);
        assert_eq!(r["A"], assignment(&[(t3, &[0])]));
        assert!(!r.contains_key("B"));
        assert_eq!(r["C"], assignment(&[(t1, &[0, 1])]));
    }

    #[test]
    fn uniform_heterogeneous_reassignment_when_partitions_are_added() {
        // testReassignmentWhenPartitionsAreAddedForTwoMembers: T1 4 → 6, T2 3 → 5,
        // T3 2 → 3, T4 3.
        let (t1, t2, t3, t4) = (topic(1), topic(2), topic(3), topic(4));
        let topics = BTreeMap::from([(t1, 6), (t2, 5), (t3, 3), (t4, 3)]);
        let members = BTreeMap::from([
            (
                "A".to_string(),
                spec(&[t1, t3], &[(t1, &[0, 1, 2, 3]), (t3, &[0, 1])]),
            ),
            (
                "B".to_string(),
                spec(&[t1, t2, t3, t4], &[(t2, &[0, 1, 2]), (t4, &[0, 1, 2])]),
            ),
        ]);
        let r = ServerAssignor::Uniform.assign(&members, &topics);
        assert_eq!(
            r["A"],
            assignment(&[(t1, &[0, 1, 2, 3, 4, 5]), (t3, &[0, 1, 2])])
        );
        assert_eq!(
            r["B"],
            assignment(&[(t2, &[0, 1, 2, 3, 4]), (t4, &[0, 1, 2])])
        );
    }

    #[test]
    fn uniform_different_subscriptions_are_balanced_where_possible() {
        // Different subscriptions: A: t1, t2; B: t3; C: t2, t3 with 3, 3 and 2 partitions.
        let (t1, t2, t3) = (topic(1), topic(2), topic(3));
        let topics = BTreeMap::from([(t1, 3), (t2, 3), (t3, 2)]);
        let members = BTreeMap::from([
            ("A".to_string(), spec(&[t1, t2], &[])),
            ("B".to_string(), spec(&[t3], &[])),
            ("C".to_string(), spec(&[t2, t3], &[])),
        ]);
        let r = ServerAssignor::Uniform.assign(&members, &topics);
        assert_valid(&members, &topics, &r);
        let l = loads(&r);
        assert!(
            l.iter().max().unwrap() - l.iter().min().unwrap() <= 2,
            "{l:?}"
        );
        assert!(l.iter().all(|n| *n >= 1), "{l:?}");
    }

    #[test]
    fn uniform_partitions_of_removed_topics_and_partitions_go() {
        let (t1, t2) = (topic(1), topic(2));
        let topics = BTreeMap::from([(t1, 2)]);
        let members = BTreeMap::from([(
            "A".to_string(),
            spec(&[t1, t2], &[(t1, &[0, 1, 2]), (t2, &[0])]),
        )]);
        let r = ServerAssignor::Uniform.assign(&members, &topics);
        assert_eq!(r["A"], assignment(&[(t1, &[0, 1])]));
    }
}
