//! Error answers for APIs the broker knows of but does not serve yet.
//!
//! Clients only send what `ApiVersions` advertised, but tools and hand-written clients do
//! not always ask. Kafka's rule for such a request is a response whose error fields say
//! `UNSUPPORTED_VERSION`, shaped like the request (one entry per group, topic or partition
//! asked about), so the client reports an error instead of seeing its connection drop.
//! APIs leave this list when they are built (the coordinators' and the admin APIs did).

use kafka_protocol::error::ResponseError;
use kafka_protocol::messages::*;

const CODE: i16 = ResponseError::UnsupportedVersion.code();

/// The error response to `request`, or `None` if the API has no way to carry one (the
/// connection is then closed, as Kafka does).
pub(super) fn error_response(request: RequestKind) -> Option<ResponseKind> {
    let response = match request {
        RequestKind::SaslHandshake(_) => {
            ResponseKind::SaslHandshake(SaslHandshakeResponse::default().with_error_code(CODE))
        }
        RequestKind::ListPartitionReassignments(_) => ResponseKind::ListPartitionReassignments(
            ListPartitionReassignmentsResponse::default().with_error_code(CODE),
        ),
        _ => return None,
    };
    Some(response)
}
