//! `FindCoordinator`: which broker coordinates a group or a transactional id.
//!
//! With a single node the answer is always this broker, for consumer groups (key type 0)
//! and transactional ids (key type 1), like Kafka's answer when one broker leads every
//! partition of `__consumer_offsets` and `__transaction_state`. Versions 0–3 ask about one
//! key; v4+ (KIP-699) about several at once.
//!
//! A minimal version written for the transactional producer's needs; the group
//! coordinator's branch has its own, and the two are to be reconciled at merge.

use std::sync::Arc;

use kafka_protocol::error::ResponseError;
use kafka_protocol::messages::find_coordinator_response::Coordinator;
use kafka_protocol::messages::{BrokerId, FindCoordinatorRequest, FindCoordinatorResponse};

use super::str_bytes;
use crate::broker::Broker;

/// Key types this broker coordinates: groups and transactions.
fn known_key_type(key_type: i8) -> bool {
    matches!(key_type, 0 | 1)
}

pub(super) fn handle(
    broker: &Arc<Broker>,
    request: FindCoordinatorRequest,
    version: i16,
) -> FindCoordinatorResponse {
    let (host, port) = broker.advertised();
    let node = BrokerId(broker.node_id());
    let code = if known_key_type(request.key_type) {
        0
    } else {
        ResponseError::InvalidRequest.code()
    };
    if version < 4 {
        let response = FindCoordinatorResponse::default().with_error_code(code);
        return if code == 0 {
            response
                .with_node_id(node)
                .with_host(str_bytes(host))
                .with_port(port)
        } else {
            response.with_node_id(BrokerId(-1)).with_port(-1)
        };
    }
    let coordinators = request
        .coordinator_keys
        .into_iter()
        .map(|key| {
            let c = Coordinator::default().with_key(key).with_error_code(code);
            if code == 0 {
                c.with_node_id(node)
                    .with_host(str_bytes(host))
                    .with_port(port)
            } else {
                c.with_node_id(BrokerId(-1)).with_port(-1)
            }
        })
        .collect();
    FindCoordinatorResponse::default().with_coordinators(coordinators)
}
