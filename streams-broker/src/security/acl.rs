//! ACL authorization: bindings, filters, and the decision for one action.
//!
//! An ACL binding says that a principal (`User:alice`, or `User:*` for everyone) from a
//! host (or `*`) is allowed or denied an operation on the resources a pattern names: one
//! resource (`LITERAL`, where the name `*` means every resource of the type) or every
//! resource whose name starts with a prefix (`PREFIXED`). The `Authorizer` decides as
//! Kafka's `StandardAuthorizer` (and `AclAuthorizer` before it) does:
//! - a principal in `super.users` may do anything;
//! - otherwise the ACLs matching the resource are consulted: a matching `DENY` wins over
//!   any `ALLOW`; an `ALLOW` of `ALL`, of the operation itself, or of one that implies it
//!   (`READ`, `WRITE`, `DELETE` and `ALTER` imply `DESCRIBE`; `ALTER_CONFIGS` implies
//!   `DESCRIBE_CONFIGS`) allows;
//! - when no ACL at all matches the resource, `allow.everyone.if.no.acl.found` decides
//!   (false by default, as in Kafka).
//!
//! The bindings are kept in memory and written whole and atomically to `acls.json` in the
//! data directory on every change, so they survive restarts (Kafka keeps them in its
//! metadata log).

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::RwLock;

use serde::{Deserialize, Serialize};

use super::principal::KafkaPrincipal;
use crate::error::{Error, Result};
use crate::fs::write_atomic;

/// File in the data directory that holds the ACL bindings.
pub(crate) const ACLS_FILE: &str = "acls.json";

/// The only name of the `CLUSTER` resource, as in Kafka.
pub const CLUSTER_NAME: &str = "kafka-cluster";

/// The wildcard resource name and host.
pub const WILDCARD: &str = "*";

macro_rules! coded_enum {
    ($(#[$doc:meta])* $name:ident { $($(#[$vdoc:meta])* $variant:ident = $code:expr),* $(,)? }) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
        #[serde(rename_all = "SCREAMING_SNAKE_CASE")]
        pub enum $name { $($(#[$vdoc])* $variant),* }

        impl $name {
            /// The wire code, as Kafka's.
            pub fn code(self) -> i8 {
                match self { $($name::$variant => $code),* }
            }
            /// The value of a wire code; `None` for codes Kafka calls `UNKNOWN`.
            pub fn from_code(code: i8) -> Option<$name> {
                match code { $($code => Some($name::$variant),)* _ => None }
            }
        }
    };
}

coded_enum!(
    /// The kind of resource an ACL applies to (Kafka's `ResourceType`).
    ResourceType {
        /// Any resource type: filters only.
        Any = 1,
        /// A topic.
        Topic = 2,
        /// A consumer group.
        Group = 3,
        /// The cluster (named `kafka-cluster`).
        Cluster = 4,
        /// A transactional id.
        TransactionalId = 5,
        /// A delegation token.
        DelegationToken = 6,
        /// A user (for quotas and token creation).
        User = 7,
    }
);

coded_enum!(
    /// How a binding's resource name is matched (Kafka's `PatternType`).
    PatternType {
        /// Any pattern type with the given name: filters only.
        Any = 1,
        /// Every binding that would apply to the given resource name: filters only.
        Match = 2,
        /// The name itself (`*`: every resource of the type).
        Literal = 3,
        /// Every name starting with the given prefix.
        Prefixed = 4,
    }
);

coded_enum!(
    /// An operation on a resource (Kafka's `AclOperation`).
    AclOperation {
        /// Any operation: filters only.
        Any = 1,
        /// Every operation.
        All = 2,
        /// Read (consume, join a group).
        Read = 3,
        /// Write (produce).
        Write = 4,
        /// Create.
        Create = 5,
        /// Delete.
        Delete = 6,
        /// Alter.
        Alter = 7,
        /// Describe.
        Describe = 8,
        /// Inter-broker cluster actions.
        ClusterAction = 9,
        /// Read configurations.
        DescribeConfigs = 10,
        /// Change configurations.
        AlterConfigs = 11,
        /// Idempotent produce.
        IdempotentWrite = 12,
        /// Create delegation tokens.
        CreateTokens = 13,
        /// Describe delegation tokens.
        DescribeTokens = 14,
    }
);

coded_enum!(
    /// Whether a binding allows or denies (Kafka's `AclPermissionType`).
    AclPermissionType {
        /// Either: filters only.
        Any = 1,
        /// Deny; wins over any allow.
        Deny = 2,
        /// Allow.
        Allow = 3,
    }
);

/// One ACL: who may (or may not) do what on which resources.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct AclBinding {
    /// The type of the resources.
    pub resource_type: ResourceType,
    /// The resource name, prefix, or `*`.
    pub resource_name: String,
    /// `Literal` or `Prefixed`.
    pub pattern_type: PatternType,
    /// `type:name`, e.g. `User:alice` or `User:*`.
    pub principal: String,
    /// The client host, or `*`.
    pub host: String,
    /// The operation.
    pub operation: AclOperation,
    /// Allow or deny.
    pub permission: AclPermissionType,
}

impl AclBinding {
    /// Why this binding cannot be stored, with Kafka's messages (they become
    /// `INVALID_REQUEST` errors); `None` if it is valid.
    pub fn invalid_reason(&self) -> Option<String> {
        if matches!(self.resource_type, ResourceType::Any) {
            return Some("Invalid resourceType ANY".into());
        }
        if !matches!(
            self.pattern_type,
            PatternType::Literal | PatternType::Prefixed
        ) {
            return Some(format!("Invalid patternType {:?}", self.pattern_type));
        }
        if matches!(self.operation, AclOperation::Any) {
            return Some("Invalid operation ANY".into());
        }
        if matches!(self.permission, AclPermissionType::Any) {
            return Some("Invalid permissionType ANY".into());
        }
        if self.resource_name.is_empty() {
            return Some("Resource name should not be empty".into());
        }
        if self.resource_type == ResourceType::Cluster && self.resource_name != CLUSTER_NAME {
            return Some(format!(
                "The only valid name for the CLUSTER resource is {CLUSTER_NAME}"
            ));
        }
        if KafkaPrincipal::parse(&self.principal).is_none() {
            return Some(format!("Could not parse principal {}", self.principal));
        }
        if self.host.is_empty() {
            return Some("Invalid host".into());
        }
        None
    }

    /// Whether this binding's pattern covers the resource `name` of `resource_type`.
    fn covers(&self, resource_type: ResourceType, name: &str) -> bool {
        self.resource_type == resource_type
            && match self.pattern_type {
                PatternType::Literal => {
                    self.resource_name == name || self.resource_name == WILDCARD
                }
                PatternType::Prefixed => name.starts_with(&self.resource_name),
                _ => false,
            }
    }
}

/// Selects bindings, for `DescribeAcls` and `DeleteAcls` (Kafka's `AclBindingFilter`):
/// `None` and the `Any` values match everything.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AclBindingFilter {
    /// Resource type, or `Any`.
    pub resource_type: ResourceType,
    /// Resource name; `None` matches any.
    pub resource_name: Option<String>,
    /// `Literal`/`Prefixed` match that pattern type exactly, `Any` any pattern type with
    /// the exact name, `Match` every binding that applies to the named resource.
    pub pattern_type: PatternType,
    /// Principal; `None` matches any.
    pub principal: Option<String>,
    /// Host; `None` matches any.
    pub host: Option<String>,
    /// Operation, or `Any`.
    pub operation: AclOperation,
    /// Permission, or `Any`.
    pub permission: AclPermissionType,
}

impl AclBindingFilter {
    /// A filter that matches every binding.
    pub fn any() -> AclBindingFilter {
        AclBindingFilter {
            resource_type: ResourceType::Any,
            resource_name: None,
            pattern_type: PatternType::Any,
            principal: None,
            host: None,
            operation: AclOperation::Any,
            permission: AclPermissionType::Any,
        }
    }

    /// Whether `binding` is selected (Kafka's `AclBindingFilter.matches`).
    pub fn matches(&self, binding: &AclBinding) -> bool {
        self.matches_pattern(binding)
            && self
                .principal
                .as_ref()
                .is_none_or(|p| *p == binding.principal)
            && self.host.as_ref().is_none_or(|h| *h == binding.host)
            && (self.operation == AclOperation::Any || self.operation == binding.operation)
            && (self.permission == AclPermissionType::Any || self.permission == binding.permission)
    }

    fn matches_pattern(&self, binding: &AclBinding) -> bool {
        if self.resource_type != ResourceType::Any && self.resource_type != binding.resource_type {
            return false;
        }
        let Some(name) = &self.resource_name else {
            // No name: only the pattern type can narrow (MATCH and ANY match all).
            return matches!(self.pattern_type, PatternType::Any | PatternType::Match)
                || self.pattern_type == binding.pattern_type;
        };
        match self.pattern_type {
            PatternType::Any => *name == binding.resource_name,
            PatternType::Match => match binding.pattern_type {
                PatternType::Literal => {
                    *name == binding.resource_name || binding.resource_name == WILDCARD
                }
                PatternType::Prefixed => name.starts_with(&binding.resource_name),
                _ => false,
            },
            exact => exact == binding.pattern_type && *name == binding.resource_name,
        }
    }
}

/// Whether an `ALLOW` of `granted` allows `wanted` (Kafka's implication sets).
fn allow_implies(granted: AclOperation, wanted: AclOperation) -> bool {
    use AclOperation::*;
    granted == All
        || granted == wanted
        || (wanted == Describe && matches!(granted, Read | Write | Delete | Alter))
        || (wanted == DescribeConfigs && granted == AlterConfigs)
}

/// The authorizer's settings: Kafka's `super.users` and
/// `allow.everyone.if.no.acl.found`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuthorizerConfig {
    /// Principals allowed everything (`super.users`, `;`-separated `User:name`s).
    pub super_users: Vec<String>,
    /// Allow actions on resources no ACL matches (`allow.everyone.if.no.acl.found`).
    pub allow_everyone_if_no_acl_found: bool,
}

/// The ACL authorizer of a broker (Kafka's `StandardAuthorizer`).
#[derive(Debug)]
pub(crate) struct Authorizer {
    super_users: HashSet<String>,
    allow_if_no_acl: bool,
    acls: RwLock<Vec<AclBinding>>,
    /// Where the bindings are persisted; `None` keeps them in memory only (tests).
    path: Option<PathBuf>,
}

impl Authorizer {
    /// An authorizer with the bindings persisted in `data_dir`, loading what is there.
    pub(crate) fn open(data_dir: &Path, config: &AuthorizerConfig) -> Result<Authorizer> {
        let path = data_dir.join(ACLS_FILE);
        let acls = match std::fs::read(&path) {
            Ok(bytes) => serde_json::from_slice(&bytes).map_err(|e| Error::CorruptMetadata {
                path: path.clone(),
                reason: e.to_string(),
            })?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
            Err(e) => return Err(Error::io(&path, e)),
        };
        let mut authorizer = Authorizer::in_memory(config);
        authorizer.acls = RwLock::new(acls);
        authorizer.path = Some(path);
        Ok(authorizer)
    }

    /// An authorizer without persistence.
    pub(crate) fn in_memory(config: &AuthorizerConfig) -> Authorizer {
        Authorizer {
            super_users: config.super_users.iter().cloned().collect(),
            allow_if_no_acl: config.allow_everyone_if_no_acl_found,
            acls: RwLock::new(Vec::new()),
            path: None,
        }
    }

    /// Whether `principal` from `host` may perform `operation` on the resource `name` of
    /// type `resource_type`.
    pub(crate) fn authorize(
        &self,
        principal: &KafkaPrincipal,
        host: &str,
        operation: AclOperation,
        resource_type: ResourceType,
        name: &str,
    ) -> bool {
        let principal_text = principal.to_string();
        if self.super_users.contains(&principal_text) {
            return true;
        }
        let acls = self.acls.read().unwrap_or_else(|e| e.into_inner());
        let mut found_resource_acl = false;
        let mut allowed = false;
        for acl in acls.iter().filter(|a| a.covers(resource_type, name)) {
            found_resource_acl = true;
            let principal_matches = acl.principal == principal_text
                || (acl.principal == "User:*" && principal.principal_type == "User");
            if !principal_matches || (acl.host != WILDCARD && acl.host != host) {
                continue;
            }
            match acl.permission {
                AclPermissionType::Deny
                    if acl.operation == AclOperation::All || acl.operation == operation =>
                {
                    return false;
                }
                AclPermissionType::Allow if allow_implies(acl.operation, operation) => {
                    allowed = true;
                }
                _ => {}
            }
        }
        allowed || (!found_resource_acl && self.allow_if_no_acl)
    }

    /// Whether `principal` may perform `operation` on at least one resource of
    /// `resource_type` (Kafka's `authorizeByResourceType`, simplified): a super user, an
    /// `ALLOW` that applies to the principal and is not cancelled by a `DENY` of the same
    /// operation on every resource (literal `*`), or no ACL of that type at all with
    /// `allow.everyone.if.no.acl.found`.
    pub(crate) fn authorize_any(
        &self,
        principal: &KafkaPrincipal,
        host: &str,
        operation: AclOperation,
        resource_type: ResourceType,
    ) -> bool {
        let principal_text = principal.to_string();
        if self.super_users.contains(&principal_text) {
            return true;
        }
        let acls = self.acls.read().unwrap_or_else(|e| e.into_inner());
        let applies = |acl: &&AclBinding| {
            acl.resource_type == resource_type
                && (acl.principal == principal_text || acl.principal == "User:*")
                && (acl.host == WILDCARD || acl.host == host)
        };
        let denied_everywhere = acls.iter().filter(applies).any(|a| {
            a.permission == AclPermissionType::Deny
                && a.pattern_type == PatternType::Literal
                && a.resource_name == WILDCARD
                && (a.operation == AclOperation::All || a.operation == operation)
        });
        if denied_everywhere {
            return false;
        }
        let allowed = acls.iter().filter(applies).any(|a| {
            a.permission == AclPermissionType::Allow && allow_implies(a.operation, operation)
        });
        allowed || (self.allow_if_no_acl && !acls.iter().any(|a| a.resource_type == resource_type))
    }

    /// Adds bindings (already validated); bindings already present are kept once.
    pub(crate) fn create(&self, bindings: &[AclBinding]) -> Result<()> {
        let mut acls = self.acls.write().unwrap_or_else(|e| e.into_inner());
        let mut next = acls.clone();
        for b in bindings {
            if !next.contains(b) {
                next.push(b.clone());
            }
        }
        self.persist(&next)?;
        *acls = next;
        Ok(())
    }

    /// Removes the bindings each filter matches; returns them per filter.
    pub(crate) fn delete(&self, filters: &[AclBindingFilter]) -> Result<Vec<Vec<AclBinding>>> {
        let mut acls = self.acls.write().unwrap_or_else(|e| e.into_inner());
        let removed: Vec<Vec<AclBinding>> = filters
            .iter()
            .map(|f| acls.iter().filter(|b| f.matches(b)).cloned().collect())
            .collect();
        let next: Vec<AclBinding> = acls
            .iter()
            .filter(|b| !filters.iter().any(|f| f.matches(b)))
            .cloned()
            .collect();
        self.persist(&next)?;
        *acls = next;
        Ok(removed)
    }

    /// The bindings `filter` matches.
    pub(crate) fn describe(&self, filter: &AclBindingFilter) -> Vec<AclBinding> {
        let acls = self.acls.read().unwrap_or_else(|e| e.into_inner());
        acls.iter().filter(|b| filter.matches(b)).cloned().collect()
    }

    fn persist(&self, acls: &[AclBinding]) -> Result<()> {
        let Some(path) = &self.path else {
            return Ok(());
        };
        let json = serde_json::to_vec_pretty(acls).map_err(|e| Error::CorruptMetadata {
            path: path.clone(),
            reason: e.to_string(),
        })?;
        write_atomic(path, &json)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use AclOperation::*;
    use AclPermissionType::{Allow, Deny};
    use ResourceType::{Cluster, Group, Topic};

    fn acl(
        rt: ResourceType,
        name: &str,
        pt: PatternType,
        principal: &str,
        host: &str,
        op: AclOperation,
        perm: AclPermissionType,
    ) -> AclBinding {
        AclBinding {
            resource_type: rt,
            resource_name: name.into(),
            pattern_type: pt,
            principal: principal.into(),
            host: host.into(),
            operation: op,
            permission: perm,
        }
    }

    fn lit(rt: ResourceType, name: &str, principal: &str, op: AclOperation) -> AclBinding {
        acl(rt, name, PatternType::Literal, principal, "*", op, Allow)
    }

    fn authorizer(super_users: &[&str], allow_if_no_acl: bool) -> Authorizer {
        Authorizer::in_memory(&AuthorizerConfig {
            super_users: super_users.iter().map(|s| s.to_string()).collect(),
            allow_everyone_if_no_acl_found: allow_if_no_acl,
        })
    }

    fn user(name: &str) -> KafkaPrincipal {
        KafkaPrincipal::user(name)
    }

    /// Without ACLs on a resource `allow.everyone.if.no.acl.found` decides (Kafka's
    /// `StandardAuthorizerTest.testGetDefaultResult`); an ACL for anyone else on the
    /// resource makes it "found".
    #[test]
    fn no_acl_found_follows_the_flag() {
        let strict = authorizer(&[], false);
        assert!(!strict.authorize(&user("alice"), "1.1.1.1", Read, Topic, "t"));
        let open = authorizer(&[], true);
        assert!(open.authorize(&user("alice"), "1.1.1.1", Read, Topic, "t"));
        // An ACL on the resource for someone else: no longer "no ACL found".
        open.create(&[lit(Topic, "t", "User:bob", Read)]).unwrap();
        assert!(!open.authorize(&user("alice"), "1.1.1.1", Read, Topic, "t"));
        assert!(open.authorize(&user("alice"), "1.1.1.1", Read, Topic, "other"));
    }

    /// Super users pass even a DENY.
    #[test]
    fn super_users_bypass_acls() {
        let a = authorizer(&["User:superuser1", "User:superuser2"], false);
        a.create(&[acl(
            Topic,
            "t",
            PatternType::Literal,
            "User:*",
            "*",
            All,
            Deny,
        )])
        .unwrap();
        assert!(a.authorize(&user("superuser1"), "1.1.1.1", Read, Topic, "t"));
        assert!(a.authorize(&user("superuser2"), "1.1.1.1", Write, Topic, "t"));
        assert!(!a.authorize(&user("alice"), "1.1.1.1", Read, Topic, "t"));
    }

    /// Principal, host and operation must all match; DENY wins.
    #[test]
    fn deny_beats_allow_and_hosts_and_principals_must_match() {
        let a = authorizer(&[], false);
        let host1 = "192.168.1.1";
        let host2 = "192.168.1.2";
        a.create(&[
            acl(
                Topic,
                "t",
                PatternType::Literal,
                "User:rob",
                host1,
                Read,
                Allow,
            ),
            acl(
                Topic,
                "t",
                PatternType::Literal,
                "User:rob",
                host2,
                Read,
                Allow,
            ),
            acl(
                Topic,
                "t",
                PatternType::Literal,
                "User:rob",
                host1,
                Write,
                Allow,
            ),
            acl(
                Topic,
                "t",
                PatternType::Literal,
                "User:bob",
                host1,
                Write,
                Allow,
            ),
            acl(
                Topic,
                "t",
                PatternType::Literal,
                "User:bob",
                "*",
                Read,
                Deny,
            ),
            acl(Topic, "t", PatternType::Literal, "User:*", "*", Read, Allow),
        ])
        .unwrap();
        assert!(a.authorize(&user("rob"), host1, Read, Topic, "t"));
        assert!(a.authorize(&user("rob"), host2, Read, Topic, "t"));
        assert!(a.authorize(&user("rob"), host1, Write, Topic, "t"));
        assert!(!a.authorize(&user("rob"), host2, Write, Topic, "t"));
        assert!(a.authorize(&user("bob"), host1, Write, Topic, "t"));
        // bob is denied READ although User:* may read.
        assert!(!a.authorize(&user("bob"), host1, Read, Topic, "t"));
        assert!(a.authorize(&user("alice"), host2, Read, Topic, "t"));
        // Implied DESCRIBE from READ/WRITE.
        assert!(a.authorize(&user("alice"), host2, Describe, Topic, "t"));
        assert!(!a.authorize(&user("alice"), host2, Write, Topic, "t"));
    }

    /// `ALL` covers every operation, in ALLOW and in DENY.
    #[test]
    fn operation_all_allows_and_denies_everything() {
        let a = authorizer(&[], false);
        a.create(&[lit(Group, "g", "User:*", All)]).unwrap();
        for op in [Read, Write, Describe, Delete, Alter, DescribeConfigs] {
            assert!(a.authorize(&user("x"), "h", op, Group, "g"), "{op:?}");
        }
        a.create(&[acl(
            Group,
            "g",
            PatternType::Literal,
            "User:x",
            "h",
            All,
            Deny,
        )])
        .unwrap();
        assert!(!a.authorize(&user("x"), "h", Read, Group, "g"));
        assert!(a.authorize(&user("x"), "other", Read, Group, "g"));
    }

    /// DENY of one operation does not deny an implied one (DENY READ leaves DESCRIBE), and
    /// implications only work for ALLOW.
    #[test]
    fn implications_as_kafka() {
        let a = authorizer(&[], false);
        a.create(&[
            lit(Topic, "t", "User:a", Read),
            acl(
                Topic,
                "t",
                PatternType::Literal,
                "User:b",
                "*",
                Describe,
                Deny,
            ),
            lit(Topic, "t", "User:b", Write),
            lit(Topic, "t", "User:c", AlterConfigs),
            lit(Topic, "t", "User:d", Describe),
        ])
        .unwrap();
        assert!(a.authorize(&user("a"), "h", Describe, Topic, "t"));
        assert!(!a.authorize(&user("a"), "h", Write, Topic, "t"));
        assert!(!a.authorize(&user("b"), "h", Describe, Topic, "t"));
        assert!(a.authorize(&user("b"), "h", Write, Topic, "t"));
        assert!(a.authorize(&user("c"), "h", DescribeConfigs, Topic, "t"));
        assert!(!a.authorize(&user("c"), "h", Describe, Topic, "t"));
        // DESCRIBE implies nothing.
        assert!(!a.authorize(&user("d"), "h", Read, Topic, "t"));
    }

    /// A literal `*` and prefixes cover names; a prefix that does not start the name does
    /// not.
    #[test]
    fn wildcard_and_prefixed_resources() {
        let a = authorizer(&[], false);
        a.create(&[
            lit(Topic, "*", "User:w", Read),
            acl(
                Topic,
                "foo",
                PatternType::Prefixed,
                "User:p",
                "*",
                Write,
                Allow,
            ),
        ])
        .unwrap();
        assert!(a.authorize(&user("w"), "h", Read, Topic, "anything"));
        assert!(a.authorize(&user("p"), "h", Write, Topic, "foo"));
        assert!(a.authorize(&user("p"), "h", Write, Topic, "foobar"));
        assert!(!a.authorize(&user("p"), "h", Write, Topic, "fo"));
        assert!(!a.authorize(&user("p"), "h", Write, Topic, "barfoo"));
        // A prefixed DENY wins over a literal ALLOW.
        a.create(&[acl(
            Topic,
            "fo",
            PatternType::Prefixed,
            "User:w",
            "*",
            Read,
            Deny,
        )])
        .unwrap();
        assert!(!a.authorize(&user("w"), "h", Read, Topic, "foo"));
        assert!(a.authorize(&user("w"), "h", Read, Topic, "bar"));
        // Other resource types are separate.
        assert!(!a.authorize(&user("w"), "h", Read, Group, "bar"));
    }

    /// Authorization by resource type, as `InitProducerId` uses it for idempotent
    /// producers (a simplification of Kafka's `authorizeByResourceType`).
    #[test]
    fn authorize_by_resource_type() {
        let a = authorizer(&[], false);
        assert!(!a.authorize_any(&user("u"), "h", Write, Topic));
        a.create(&[acl(
            Topic,
            "x",
            PatternType::Prefixed,
            "User:u",
            "*",
            Write,
            Allow,
        )])
        .unwrap();
        assert!(a.authorize_any(&user("u"), "h", Write, Topic));
        assert!(!a.authorize_any(&user("v"), "h", Write, Topic));
        a.create(&[acl(
            Topic,
            "*",
            PatternType::Literal,
            "User:u",
            "*",
            Write,
            Deny,
        )])
        .unwrap();
        assert!(!a.authorize_any(&user("u"), "h", Write, Topic));
        assert!(authorizer(&[], true).authorize_any(&user("u"), "h", Write, Topic));
    }

    /// The filters of `DescribeAcls`/`DeleteAcls`: ANY and MATCH pattern types, and null
    /// fields, as Kafka's `ResourcePatternFilter.matches`.
    #[test]
    fn filters_match_as_kafka() {
        let literal = lit(Topic, "foo", "User:a", Read);
        let wildcard = lit(Topic, "*", "User:a", Read);
        let prefixed = acl(
            Topic,
            "fo",
            PatternType::Prefixed,
            "User:a",
            "*",
            Read,
            Allow,
        );
        let cluster = lit(Cluster, CLUSTER_NAME, "User:b", Alter);
        let all = [&literal, &wildcard, &prefixed, &cluster];
        let pick = |f: &AclBindingFilter| {
            all.iter()
                .filter(|b| f.matches(b))
                .map(|b| (*b).clone())
                .collect::<Vec<_>>()
        };
        assert_eq!(pick(&AclBindingFilter::any()).len(), 4);
        let named = |pt| AclBindingFilter {
            resource_type: Topic,
            resource_name: Some("foo".into()),
            pattern_type: pt,
            ..AclBindingFilter::any()
        };
        assert_eq!(pick(&named(PatternType::Any)), vec![literal.clone()]);
        assert_eq!(
            pick(&named(PatternType::Match)),
            vec![literal.clone(), wildcard.clone(), prefixed.clone()]
        );
        assert_eq!(pick(&named(PatternType::Literal)), vec![literal.clone()]);
        assert!(pick(&named(PatternType::Prefixed)).is_empty());
        let by_type = AclBindingFilter {
            pattern_type: PatternType::Prefixed,
            ..AclBindingFilter::any()
        };
        assert_eq!(pick(&by_type), vec![prefixed.clone()]);
        let by_principal = AclBindingFilter {
            principal: Some("User:b".into()),
            operation: Alter,
            ..AclBindingFilter::any()
        };
        assert_eq!(pick(&by_principal), vec![cluster.clone()]);
    }

    // Ported from Kafka's `StandardAuthorizerTest` (metadata module), inputs and expected
    // results unchanged: `foo_` is a PREFIXED topic ACL for `User:bob`, `bar` a LITERAL
    // group ACL for `User:*`.
    fn foo_acl(op: AclOperation, perm: AclPermissionType) -> AclBinding {
        acl(
            Topic,
            "foo_",
            PatternType::Prefixed,
            "User:bob",
            "*",
            op,
            perm,
        )
    }

    fn bar_acl(op: AclOperation, perm: AclPermissionType) -> AclBinding {
        acl(Group, "bar", PatternType::Literal, "User:*", "*", op, perm)
    }

    /// Kafka's `findResult` for one ACL: `Some(true)` allowed, `Some(false)` denied,
    /// `None` no decision; here an authorizer holding only that ACL, with the default
    /// result told apart by a second check against an ALLOW-everything default.
    fn find_result(
        op: AclOperation,
        rt: ResourceType,
        name: &str,
        who: &str,
        b: AclBinding,
    ) -> Option<bool> {
        let a = authorizer(&[], false);
        a.create(std::slice::from_ref(&b)).unwrap();
        let decided = a.authorize(&user(who), "127.0.0.1", op, rt, name);
        // Another principal's ALLOW of the operation on the same resource: if `b` gave no
        // decision for `who`, the result is the same as without `b`.
        let with_allow = authorizer(&[], false);
        with_allow
            .create(&[
                b,
                acl(
                    rt,
                    name,
                    PatternType::Literal,
                    &format!("User:{who}"),
                    "*",
                    op,
                    Allow,
                ),
            ])
            .unwrap();
        let decided_with_allow = with_allow.authorize(&user(who), "127.0.0.1", op, rt, name);
        match (decided, decided_with_allow) {
            (true, _) => Some(true),
            (false, false) => Some(false),
            (false, true) => None,
        }
    }

    /// `StandardAuthorizerTest.testFindResultImplication`.
    #[test]
    fn kafka_find_result_implication() {
        for op in [Describe, Read, Write, Delete, Alter] {
            assert_eq!(
                find_result(Describe, Topic, "foo_bar", "bob", foo_acl(op, Allow)),
                Some(true),
                "{op:?}"
            );
        }
        assert_eq!(
            find_result(Describe, Topic, "foo_bar", "bob", foo_acl(Create, Allow)),
            None
        );
        for op in [Read, Write, Delete, Alter] {
            assert_eq!(
                find_result(Describe, Topic, "foo_bar", "bob", foo_acl(op, Deny)),
                None,
                "{op:?}"
            );
        }
        assert_eq!(
            find_result(Describe, Topic, "foo_bar", "bob", foo_acl(Describe, Deny)),
            Some(false)
        );
        for op in [DescribeConfigs, AlterConfigs] {
            assert_eq!(
                find_result(DescribeConfigs, Topic, "foo_bar", "bob", foo_acl(op, Allow)),
                Some(true)
            );
        }
        assert_eq!(
            find_result(
                DescribeConfigs,
                Topic,
                "foo_bar",
                "bob",
                foo_acl(AlterConfigs, Deny)
            ),
            None
        );
        assert_eq!(
            find_result(
                AlterConfigs,
                Topic,
                "foo_bar",
                "bob",
                foo_acl(AlterConfigs, Deny)
            ),
            Some(false)
        );
    }

    /// `StandardAuthorizerTest.testFindResultPrincipalMatching`.
    #[test]
    fn kafka_find_result_principal_matching() {
        assert_eq!(
            find_result(Read, Topic, "foo_bar", "bob", foo_acl(Read, Allow)),
            Some(true)
        );
        assert_eq!(
            find_result(Read, Topic, "foo_bar", "alice", foo_acl(Read, Allow)),
            None
        );
        assert_eq!(
            find_result(Read, Group, "bar", "alice", bar_acl(Read, Deny)),
            Some(false)
        );
    }

    /// `StandardAuthorizerTest.testSimpleAuthorizations`.
    #[test]
    fn kafka_simple_authorizations() {
        let a = authorizer(&[], false);
        a.create(&[
            foo_acl(Read, Allow),
            foo_acl(Write, Allow),
            bar_acl(DescribeConfigs, Allow),
            bar_acl(AlterConfigs, Allow),
        ])
        .unwrap();
        assert!(a.authorize(&user("bob"), "h", Read, Topic, "foo_"));
        assert!(a.authorize(&user("fred"), "h", AlterConfigs, Group, "bar"));
    }

    /// `StandardAuthorizerTest.testTopicAclWithOperationAll`.
    #[test]
    fn kafka_topic_acl_with_operation_all() {
        let a = authorizer(&[], false);
        a.create(&[
            acl(
                Topic,
                "foo",
                PatternType::Literal,
                "User:*",
                "*",
                All,
                Allow,
            ),
            acl(
                Topic,
                "bar",
                PatternType::Prefixed,
                "User:alice",
                "*",
                All,
                Allow,
            ),
            acl(
                Topic,
                "baz",
                PatternType::Literal,
                "User:bob",
                "*",
                All,
                Allow,
            ),
        ])
        .unwrap();
        let check = |who: &str, actions: [(AclOperation, &str); 3]| {
            actions.map(|(op, name)| a.authorize(&user(who), "h", op, Topic, name))
        };
        assert_eq!(
            check(
                "alice",
                [(Write, "foo"), (DescribeConfigs, "bar"), (Describe, "baz")]
            ),
            [true, true, false]
        );
        assert_eq!(
            check("bob", [(Write, "foo"), (Read, "bar"), (Describe, "baz")]),
            [true, false, true]
        );
        assert_eq!(
            check("malory", [(Describe, "foo"), (Write, "bar"), (Read, "baz")]),
            [true, false, false]
        );
    }

    /// `StandardAuthorizerTest.testAuthorizationWithManyAcls`.
    #[test]
    fn kafka_authorization_with_many_acls() {
        let a = authorizer(&[], false);
        let lit = PatternType::Literal;
        let pre = PatternType::Prefixed;
        a.create(&[
            acl(Topic, "green2", lit, "User:*", "*", Read, Allow),
            acl(Topic, "green", pre, "User:bob", "*", Read, Allow),
            acl(Topic, "betamax4", lit, "User:bob", "*", Read, Allow),
            acl(Topic, "betamax", lit, "User:bob", "*", Read, Allow),
            acl(Topic, "beta", pre, "User:*", "*", Read, Allow),
            acl(Topic, "alpha", pre, "User:*", "*", Read, Allow),
            acl(Topic, "alp", pre, "User:bob", "*", Read, Deny),
            acl(Group, "*", lit, "User:bob", "*", Write, Allow),
            acl(Group, "wheel", lit, "User:*", "*", Write, Deny),
        ])
        .unwrap();
        let bob = user("bob");
        assert!(a.authorize(&bob, "h", Read, Topic, "green1"));
        assert!(!a.authorize(&bob, "h", Write, Group, "wheel"));
        assert!(!a.authorize(&bob, "h", Read, Topic, "alpha"));
        assert!(a.authorize(&bob, "h", Write, Group, "arbitrary"));
        assert!(!a.authorize(&bob, "h", Read, Topic, "ala"));
    }

    /// Kafka's validation of new bindings (`AclControlManager.validateNewAcl`).
    #[test]
    fn invalid_bindings_are_refused() {
        let good = lit(Topic, "t", "User:a", Read);
        assert_eq!(good.invalid_reason(), None);
        let bad = [
            AclBinding {
                resource_type: ResourceType::Any,
                ..good.clone()
            },
            AclBinding {
                pattern_type: PatternType::Match,
                ..good.clone()
            },
            AclBinding {
                operation: AclOperation::Any,
                ..good.clone()
            },
            AclBinding {
                permission: AclPermissionType::Any,
                ..good.clone()
            },
            AclBinding {
                principal: "alice".into(),
                ..good.clone()
            },
            AclBinding {
                resource_type: Cluster,
                resource_name: "my-cluster".into(),
                ..good.clone()
            },
            AclBinding {
                resource_name: String::new(),
                ..good.clone()
            },
        ];
        for b in bad {
            assert!(b.invalid_reason().is_some(), "{b:?}");
        }
    }

    /// Bindings persist atomically and are loaded again; deletes return what they removed.
    #[test]
    fn bindings_survive_reopening() {
        let dir = tempfile::tempdir().unwrap();
        let config = AuthorizerConfig::default();
        let a = Authorizer::open(dir.path(), &config).unwrap();
        a.create(&[
            lit(Topic, "t", "User:a", Read),
            lit(Group, "g", "User:a", Read),
        ])
        .unwrap();
        drop(a);
        let a = Authorizer::open(dir.path(), &config).unwrap();
        assert!(a.authorize(&user("a"), "h", Read, Topic, "t"));
        let removed = a
            .delete(&[AclBindingFilter {
                resource_type: Group,
                ..AclBindingFilter::any()
            }])
            .unwrap();
        assert_eq!(removed[0], vec![lit(Group, "g", "User:a", Read)]);
        drop(a);
        let a = Authorizer::open(dir.path(), &config).unwrap();
        assert_eq!(a.describe(&AclBindingFilter::any()).len(), 1);
    }
}
