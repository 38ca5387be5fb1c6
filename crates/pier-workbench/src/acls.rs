//! ACL rules as the HTTP API, the CLI and the UI see them: the same rules
//! as `pier_kafka::acl`, with TypeScript and OpenAPI schemas.

use pier_kafka::acl::{self, AclError};
use serde::{Deserialize, Serialize};
use ts_rs::TS;
use utoipa::ToSchema;

use crate::{Workbench, WorkbenchError};

/// What a rule is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema, TS)]
#[serde(rename_all = "lowercase")]
pub enum AclResource {
    Topic,
    Group,
}

/// What a rule allows; `describe` is implied by `read`, `write` and
/// `create`, and `all` is everything.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema, TS)]
#[serde(rename_all = "lowercase")]
pub enum AclOperation {
    Read,
    Write,
    Create,
    Describe,
    All,
}

/// One allow rule. With authorization on (`pier serve --authorization`),
/// a Kafka request is served only if some rule allows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema, TS)]
#[serde(deny_unknown_fields)]
pub struct AclRule {
    /// A SASL user name, `ANONYMOUS` (clients of listeners without SASL),
    /// or `*` (everyone). Kafka's `User:` prefix is accepted and dropped.
    pub principal: String,
    pub resource: AclResource,
    /// An exact name, a prefix ending in `*` (`orders*`), or `*`.
    pub pattern: String,
    pub operations: Vec<AclOperation>,
}

impl From<acl::AclRule> for AclRule {
    fn from(r: acl::AclRule) -> Self {
        Self {
            principal: r.principal,
            resource: match r.resource {
                acl::Resource::Topic => AclResource::Topic,
                acl::Resource::Group => AclResource::Group,
            },
            pattern: r.pattern,
            operations: r
                .operations
                .into_iter()
                .map(|op| match op {
                    acl::Operation::Read => AclOperation::Read,
                    acl::Operation::Write => AclOperation::Write,
                    acl::Operation::Create => AclOperation::Create,
                    acl::Operation::Describe => AclOperation::Describe,
                    acl::Operation::All => AclOperation::All,
                })
                .collect(),
        }
    }
}

impl From<AclRule> for acl::AclRule {
    fn from(r: AclRule) -> Self {
        Self {
            principal: r.principal,
            resource: match r.resource {
                AclResource::Topic => acl::Resource::Topic,
                AclResource::Group => acl::Resource::Group,
            },
            pattern: r.pattern,
            operations: r
                .operations
                .into_iter()
                .map(|op| match op {
                    AclOperation::Read => acl::Operation::Read,
                    AclOperation::Write => acl::Operation::Write,
                    AclOperation::Create => acl::Operation::Create,
                    AclOperation::Describe => acl::Operation::Describe,
                    AclOperation::All => acl::Operation::All,
                })
                .collect(),
        }
    }
}

impl Workbench {
    /// The rules, in the order they were added.
    pub fn acls(&self) -> Vec<AclRule> {
        let rules = self.broker().config.acls.list();
        rules.into_iter().map(AclRule::from).collect()
    }

    /// Adds a rule; returns it as stored and whether it is new.
    pub fn add_acl(&self, rule: AclRule) -> Result<(AclRule, bool), WorkbenchError> {
        let (stored, added) = self
            .broker()
            .config
            .acls
            .add(rule.into())
            .map_err(acl_error)?;
        Ok((stored.into(), added))
    }

    /// Removes the rule equal to `rule`; returns it as it was stored.
    pub fn delete_acl(&self, rule: AclRule) -> Result<AclRule, WorkbenchError> {
        let removed = self.broker().config.acls.remove(rule.into());
        removed.map(AclRule::from).map_err(acl_error)
    }

    /// Whether Kafka requests are checked against the rules.
    pub fn authorization(&self) -> bool {
        self.broker().config.authorization
    }
}

fn acl_error(e: AclError) -> WorkbenchError {
    match e {
        AclError::InvalidRule(_) | AclError::TooMany => WorkbenchError::invalid(e.to_string()),
        AclError::Unknown(_) => WorkbenchError::not_found(e.to_string()),
        AclError::Io { .. } | AclError::Unreadable { .. } => {
            WorkbenchError::unavailable(e.to_string())
        }
    }
}
