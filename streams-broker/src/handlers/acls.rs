//! `CreateAcls`, `DescribeAcls`, `DeleteAcls`: managing the authorizer's ACL bindings.
//!
//! As Kafka's `KafkaApis`/`AclApis`: without an authorizer every answer is
//! `SECURITY_DISABLED`; describing needs `DESCRIBE` on the cluster, creating and deleting
//! `ALTER` on the cluster (`CLUSTER_AUTHORIZATION_FAILED` otherwise). A binding that is
//! not valid (an `ANY` or unknown field, an unparsable principal, a cluster resource not
//! named `kafka-cluster`) fails alone with `INVALID_REQUEST`; the others are created.

use kafka_protocol::error::ResponseError;
use kafka_protocol::messages::create_acls_request::AclCreation;
use kafka_protocol::messages::create_acls_response::AclCreationResult;
use kafka_protocol::messages::delete_acls_response::{
    DeleteAclsFilterResult, DeleteAclsMatchingAcl,
};
use kafka_protocol::messages::describe_acls_response::{AclDescription, DescribeAclsResource};
use kafka_protocol::messages::*;
use kafka_protocol::protocol::StrBytes;

use super::str_bytes;
use crate::broker::Broker;
use crate::security::acl::{
    AclBinding, AclBindingFilter, AclOperation, AclPermissionType, PatternType, ResourceType,
    CLUSTER_NAME,
};
use crate::security::principal::RequestContext;

const SECURITY_DISABLED: i16 = ResponseError::SecurityDisabled.code();
const CLUSTER_DENIED: i16 = ResponseError::ClusterAuthorizationFailed.code();
const INVALID_REQUEST: i16 = ResponseError::InvalidRequest.code();

fn binding(c: &AclCreation) -> Result<AclBinding, String> {
    let unknown = |what: &str, code: i8| format!("Unknown {what} {code}");
    Ok(AclBinding {
        resource_type: ResourceType::from_code(c.resource_type)
            .ok_or_else(|| unknown("resourceType", c.resource_type))?,
        resource_name: c.resource_name.to_string(),
        pattern_type: PatternType::from_code(c.resource_pattern_type)
            .ok_or_else(|| unknown("patternType", c.resource_pattern_type))?,
        principal: c.principal.to_string(),
        host: c.host.to_string(),
        operation: AclOperation::from_code(c.operation)
            .ok_or_else(|| unknown("operation", c.operation))?,
        permission: AclPermissionType::from_code(c.permission_type)
            .ok_or_else(|| unknown("permissionType", c.permission_type))?,
    })
}

/// A filter from a request's fields; `None` if one of them is `UNKNOWN`.
#[allow(clippy::too_many_arguments)]
fn filter(
    resource_type: i8,
    name: &Option<StrBytes>,
    pattern_type: i8,
    principal: &Option<StrBytes>,
    host: &Option<StrBytes>,
    operation: i8,
    permission: i8,
) -> Option<AclBindingFilter> {
    Some(AclBindingFilter {
        resource_type: ResourceType::from_code(resource_type)?,
        resource_name: name.as_ref().map(|s| s.to_string()),
        pattern_type: PatternType::from_code(pattern_type)?,
        principal: principal.as_ref().map(|s| s.to_string()),
        host: host.as_ref().map(|s| s.to_string()),
        operation: AclOperation::from_code(operation)?,
        permission: AclPermissionType::from_code(permission)?,
    })
}

/// Error code of a cluster-level check: `None` when the request may go on.
fn cluster_check(broker: &Broker, ctx: &RequestContext, op: AclOperation) -> Option<i16> {
    if broker.authorizer().is_none() {
        return Some(SECURITY_DISABLED);
    }
    (!broker.authorize(ctx, op, ResourceType::Cluster, CLUSTER_NAME)).then_some(CLUSTER_DENIED)
}

/// `CreateAcls`.
pub(super) fn create_acls(
    broker: &Broker,
    ctx: &RequestContext,
    request: CreateAclsRequest,
) -> CreateAclsResponse {
    let result = |code: i16, message: Option<String>| {
        AclCreationResult::default()
            .with_error_code(code)
            .with_error_message(message.map(|m| str_bytes(&m)))
    };
    if let Some(code) = cluster_check(broker, ctx, AclOperation::Alter) {
        let results = request
            .creations
            .iter()
            .map(|_| result(code, None))
            .collect();
        return CreateAclsResponse::default().with_results(results);
    }
    let checked: Vec<Result<AclBinding, String>> = request
        .creations
        .iter()
        .map(|c| {
            let b = binding(c)?;
            match b.invalid_reason() {
                Some(reason) => Err(reason),
                None => Ok(b),
            }
        })
        .collect();
    let valid: Vec<AclBinding> = checked.iter().filter_map(|c| c.clone().ok()).collect();
    let stored = match broker.authorizer().map(|a| a.create(&valid)) {
        Some(Err(e)) => Err(e.to_string()),
        _ => Ok(()),
    };
    let results = checked
        .into_iter()
        .map(|c| match (c, &stored) {
            (Err(reason), _) => result(INVALID_REQUEST, Some(reason)),
            (Ok(_), Err(e)) => result(ResponseError::UnknownServerError.code(), Some(e.clone())),
            (Ok(b), Ok(())) => {
                tracing::info!(principal = %ctx.principal, acl = ?b, "ACL created");
                result(0, None)
            }
        })
        .collect();
    CreateAclsResponse::default().with_results(results)
}

/// `DescribeAcls`: the matching bindings grouped by resource pattern.
pub(super) fn describe_acls(
    broker: &Broker,
    ctx: &RequestContext,
    r: DescribeAclsRequest,
) -> DescribeAclsResponse {
    if let Some(code) = cluster_check(broker, ctx, AclOperation::Describe) {
        return DescribeAclsResponse::default().with_error_code(code);
    }
    let Some(f) = filter(
        r.resource_type_filter,
        &r.resource_name_filter,
        r.pattern_type_filter,
        &r.principal_filter,
        &r.host_filter,
        r.operation,
        r.permission_type,
    ) else {
        return DescribeAclsResponse::default()
            .with_error_code(INVALID_REQUEST)
            .with_error_message(Some(str_bytes("The filter has an UNKNOWN field")));
    };
    let bindings = broker
        .authorizer()
        .map(|a| a.describe(&f))
        .unwrap_or_default();
    let mut resources: Vec<DescribeAclsResource> = Vec::new();
    for b in bindings {
        let acl = AclDescription::default()
            .with_principal(str_bytes(&b.principal))
            .with_host(str_bytes(&b.host))
            .with_operation(b.operation.code())
            .with_permission_type(b.permission.code());
        let same = |r: &&mut DescribeAclsResource| {
            r.resource_type == b.resource_type.code()
                && r.pattern_type == b.pattern_type.code()
                && r.resource_name.as_str() == b.resource_name
        };
        match resources.iter_mut().find(|r| same(r)) {
            Some(r) => r.acls.push(acl),
            None => resources.push(
                DescribeAclsResource::default()
                    .with_resource_type(b.resource_type.code())
                    .with_resource_name(str_bytes(&b.resource_name))
                    .with_pattern_type(b.pattern_type.code())
                    .with_acls(vec![acl]),
            ),
        }
    }
    DescribeAclsResponse::default().with_resources(resources)
}

/// `DeleteAcls`: per filter, the bindings it removed.
pub(super) fn delete_acls(
    broker: &Broker,
    ctx: &RequestContext,
    request: DeleteAclsRequest,
) -> DeleteAclsResponse {
    let failed = |code: i16, message: Option<&str>| {
        DeleteAclsFilterResult::default()
            .with_error_code(code)
            .with_error_message(message.map(str_bytes))
    };
    if let Some(code) = cluster_check(broker, ctx, AclOperation::Alter) {
        let results = request.filters.iter().map(|_| failed(code, None)).collect();
        return DeleteAclsResponse::default().with_filter_results(results);
    }
    let filters: Vec<Option<AclBindingFilter>> = request
        .filters
        .iter()
        .map(|r| {
            filter(
                r.resource_type_filter,
                &r.resource_name_filter,
                r.pattern_type_filter,
                &r.principal_filter,
                &r.host_filter,
                r.operation,
                r.permission_type,
            )
        })
        .collect();
    let valid: Vec<AclBindingFilter> = filters.iter().flatten().cloned().collect();
    let removed = match broker.authorizer().map(|a| a.delete(&valid)) {
        Some(Ok(removed)) => removed,
        Some(Err(e)) => {
            let code = ResponseError::UnknownServerError.code();
            let msg = e.to_string();
            let results = filters.iter().map(|_| failed(code, Some(&msg))).collect();
            return DeleteAclsResponse::default().with_filter_results(results);
        }
        None => Vec::new(),
    };
    let mut removed = removed.into_iter();
    let results = filters
        .iter()
        .map(|f| match f {
            None => failed(INVALID_REQUEST, Some("The filter has an UNKNOWN field")),
            Some(_) => {
                let matching = removed
                    .next()
                    .unwrap_or_default()
                    .into_iter()
                    .map(|b| {
                        tracing::info!(principal = %ctx.principal, acl = ?b, "ACL deleted");
                        DeleteAclsMatchingAcl::default()
                            .with_resource_type(b.resource_type.code())
                            .with_resource_name(str_bytes(&b.resource_name))
                            .with_pattern_type(b.pattern_type.code())
                            .with_principal(str_bytes(&b.principal))
                            .with_host(str_bytes(&b.host))
                            .with_operation(b.operation.code())
                            .with_permission_type(b.permission.code())
                    })
                    .collect();
                DeleteAclsFilterResult::default().with_matching_acls(matching)
            }
        })
        .collect();
    DeleteAclsResponse::default().with_filter_results(results)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::BrokerConfig;
    use kafka_protocol::messages::delete_acls_request::DeleteAclsFilter;

    fn creation(rt: i8, name: &str, pattern: i8, principal: &str, op: i8, perm: i8) -> AclCreation {
        AclCreation::default()
            .with_resource_type(rt)
            .with_resource_name(str_bytes(name))
            .with_resource_pattern_type(pattern)
            .with_principal(str_bytes(principal))
            .with_host(str_bytes("*"))
            .with_operation(op)
            .with_permission_type(perm)
    }

    fn broker(authorizer: bool) -> (tempfile::TempDir, Broker) {
        let dir = tempfile::tempdir().unwrap();
        let mut config = BrokerConfig::with_data_dir(dir.path());
        if authorizer {
            config
                .set("authorizer.class.name", "StandardAuthorizer")
                .unwrap();
            config.set("super.users", "User:ANONYMOUS").unwrap();
        }
        let broker = Broker::open(config, dir.path(), "127.0.0.1:9092".parse().unwrap()).unwrap();
        (dir, broker)
    }

    /// Valid bindings are created and invalid ones refused one by one with
    /// `INVALID_REQUEST`; delete returns what each filter matched.
    #[test]
    fn create_describe_delete() {
        let (_dir, broker) = broker(true);
        let ctx = RequestContext::anonymous(None);
        let request = CreateAclsRequest::default().with_creations(vec![
            creation(2, "t", 3, "User:alice", 3, 3),
            creation(4, "my-cluster", 3, "User:alice", 7, 3),
            creation(2, "t", 2, "User:alice", 3, 3),
            creation(2, "t", 3, "alice", 3, 3),
            creation(2, "t", 3, "User:alice", 1, 3),
            creation(0, "t", 3, "User:alice", 3, 3),
            creation(4, CLUSTER_NAME, 3, "User:bob", 7, 2),
        ]);
        let codes: Vec<i16> = create_acls(&broker, &ctx, request)
            .results
            .iter()
            .map(|r| r.error_code)
            .collect();
        let bad = INVALID_REQUEST;
        assert_eq!(codes, vec![0, bad, bad, bad, bad, bad, 0]);

        let all = DescribeAclsRequest::default()
            .with_resource_type_filter(1)
            .with_resource_name_filter(None)
            .with_pattern_type_filter(1)
            .with_principal_filter(None)
            .with_host_filter(None)
            .with_operation(1)
            .with_permission_type(1);
        let described = describe_acls(&broker, &ctx, all.clone());
        assert_eq!(described.resources.len(), 2);
        let unknown = describe_acls(&broker, &ctx, all.clone().with_operation(0));
        assert_eq!(unknown.error_code, INVALID_REQUEST);

        let delete = DeleteAclsRequest::default().with_filters(vec![
            DeleteAclsFilter::default()
                .with_resource_type_filter(2)
                .with_resource_name_filter(Some(str_bytes("t")))
                .with_pattern_type_filter(2)
                .with_principal_filter(None)
                .with_host_filter(None)
                .with_operation(1)
                .with_permission_type(1),
            DeleteAclsFilter::default().with_operation(0),
        ]);
        let deleted = delete_acls(&broker, &ctx, delete);
        assert_eq!(deleted.filter_results[0].matching_acls.len(), 1);
        assert_eq!(deleted.filter_results[1].error_code, INVALID_REQUEST);
        assert_eq!(describe_acls(&broker, &ctx, all).resources.len(), 1);
    }

    /// Without an authorizer the ACL APIs answer `SECURITY_DISABLED`, as Kafka's.
    #[test]
    fn security_disabled_without_an_authorizer() {
        let (_dir, broker) = broker(false);
        let ctx = RequestContext::anonymous(None);
        let r = describe_acls(&broker, &ctx, DescribeAclsRequest::default());
        assert_eq!(r.error_code, SECURITY_DISABLED);
        let r = create_acls(
            &broker,
            &ctx,
            CreateAclsRequest::default().with_creations(vec![creation(2, "t", 3, "User:a", 3, 3)]),
        );
        assert_eq!(r.results[0].error_code, SECURITY_DISABLED);
    }
}
